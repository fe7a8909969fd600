"""The example code of ``docs/webhooks.md``, run as written against a real delivery: a
webhook subscribed, a certificate suspended, the request apcert sent to a receiver on
127.0.0.1 verified by each example; a request changed on the way is refused by each."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from tests.factories import World
from tests.test_webhooks import deliver_until_done, subscribe, suspend
from tests.webhooks_support import receiver

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[1] / "docs" / "webhooks.md"


def examples() -> dict[str, Any]:
    """The page's Python blocks, run in one namespace."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 2
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


def test_the_examples_verify_a_real_delivery_and_refuse_a_changed_one(
    world: World, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_DELAYS = [0.05] * 11
    cert = world.granted()
    with receiver() as r:
        new = subscribe(world, url=r.url)
        suspend(world, cert)
        deliver_until_done()
    [got] = r.received
    code = examples()
    event = code["receive"](got.body, got.headers, new.secret)
    assert event["type"] == "certificate.suspended"
    assert event["data"]["certificate"] == cert.number
    assert code["receive"](got.body, got.headers, new.secret) is None  # a repeat is dropped
    assert code["verify_by_hand"](got.body, got.headers, new.secret) == event
    changed = got.body.replace(b'"suspended"', b'"current"')
    assert changed != got.body
    with pytest.raises(WebhookVerificationError):
        code["receive"](changed, got.headers, new.secret)
    with pytest.raises(ValueError, match="no valid signature"):
        code["verify_by_hand"](changed, got.headers, new.secret)
    other_secret = subscribe(world).secret
    with pytest.raises(ValueError, match="no valid signature"):
        code["verify_by_hand"](got.body, got.headers, other_secret)
