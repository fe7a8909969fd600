"""The statuses of a CB's acceptance for a programme and the actions that move between them.

Only the Secretariat changes them (``services.cb_acceptance_transition``). While an acceptance
is suspended or withdrawn the CB cannot take applications or grant under that programme. A CB
has one acceptance per programme, so a CB accepted again after a withdrawal has its
acceptance restored rather than a second one granted.
"""

from apcert.bodies.choices import AcceptanceStatus
from apcert.core.lifecycle import TransitionTable

_S = AcceptanceStatus

CB_ACCEPTANCE = TransitionTable(
    entity="cb_acceptance",
    states=tuple(_S.values),
    actions=("suspend", "restore", "withdraw"),
    transitions={
        (_S.ACTIVE, "suspend"): _S.SUSPENDED,
        (_S.ACTIVE, "withdraw"): _S.WITHDRAWN,
        (_S.SUSPENDED, "restore"): _S.ACTIVE,
        (_S.SUSPENDED, "withdraw"): _S.WITHDRAWN,
        (_S.WITHDRAWN, "restore"): _S.ACTIVE,
    },
)
