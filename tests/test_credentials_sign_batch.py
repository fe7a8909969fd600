"""Signing the credentials of many certificates at once (``apcert credentials-sign``): each
latest public issue signed once, as a certificate service signs it, the key file read once,
the queries a batch the same whatever its size."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_suspend
from apcert.credentials import keyfiles, selectors, services
from apcert.credentials.document import build_credential
from apcert.credentials.models import IssueCredential, SigningKey
from apcert.credentials.verification import verify_credential
from apcert.statuslists import bitstring
from apcert.statuslists.models import StatusList, StatusListEntry
from apcert.statuslists.selectors import status_entries
from tests.credentials_support import key_dir
from tests.factories import World

pytestmark = pytest.mark.django_db

__all__ = ["key_dir"]

NOW = dt.datetime(2026, 6, 2, tzinfo=dt.UTC)


def _certificates(world: World, count: int) -> list[Certificate]:
    """``count`` granted certificates, the second suspended, signed by nobody (the CB has no
    key yet); the first two have lost their places in the status lists, as certificates
    made before the lists had."""
    certificates = [world.granted() for _ in range(count)]
    certificate_suspend(
        actor=world.team.decision_maker, certificate=certificates[1],
        reason_category="complaint", reason="test", decided_on=dt.date(2026, 6, 1),
    )  # fmt: skip
    StatusListEntry.objects.filter(certificate__in=certificates[:2]).delete()
    StatusList.objects.update(bits=bitstring.empty())
    assert not IssueCredential.objects.exists()
    return [Certificate.objects.get(pk=c.pk) for c in certificates]


def _key(world: World) -> SigningKey:
    return services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)


def test_every_latest_public_issue_is_signed_once_as_a_service_signs_it(
    world: World, key_dir: Path
) -> None:
    certificates = _certificates(world, 4)
    key = _key(world)

    signed = services.credentials_sign_missing(batch_size=3)

    assert signed == 4
    trust = selectors.trust_store()
    stored = {c.issue.certificate_id: c for c in IssueCredential.objects.select_related("issue")}
    assert set(stored) == {c.pk for c in certificates}
    for certificate in certificates:
        row = stored[certificate.pk]
        issue = row.issue
        assert issue.issue_number == certificate.current_issue_number
        assert row.signing_key_id == key.pk
        entry = StatusListEntry.objects.get(certificate=certificate)
        unsigned = {k: v for k, v in row.credential.items() if k != "proof"}
        issue.certificate = certificate
        assert unsigned == build_credential(
            issue, status_entries=status_entries(certificate, entry)
        )
        assert verify_credential(row.credential, trust=trust, now=NOW).valid
    # Those that had lost their places got the next free ones, their bits as their status.
    places = dict(StatusListEntry.objects.values_list("certificate_id", "index"))
    assert [places[c.pk] for c in certificates] == [4, 5, 2, 3]
    lists = {lst.purpose: bytes(lst.bits) for lst in StatusList.objects.filter(cb=world.team.cb)}
    assert [i for i in range(6) if bitstring.get(lists["suspension"], i)] == [5]
    assert not any(bitstring.get(lists["revocation"], i) for i in range(6))
    # A second run finds nothing to sign, and a service keeps what the batch stored.
    assert services.credentials_sign_missing() == 0
    issue = certificates[2].issues.get(issue_number=1)
    assert services.credential_for_issue(issue) == stored[certificates[2].pk].credential


def test_the_key_file_is_read_once_a_batch(
    world: World, key_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _certificates(world, 3)
    _key(world)
    reads = []
    read = keyfiles.read_private_key

    def counted(owner: str, public: str):  # type: ignore[no-untyped-def]
        reads.append(public)
        return read(owner, public)

    monkeypatch.setattr(keyfiles, "read_private_key", counted)
    assert services.credentials_sign_missing(batch_size=2) == 3
    assert len(reads) == 1


def test_the_queries_of_a_batch_do_not_grow_with_it(
    world: World, key_dir: Path, django_assert_max_num_queries
) -> None:
    _certificates(world, 6)
    _key(world)
    StatusListEntry.objects.all().delete()
    with django_assert_max_num_queries(20):
        assert services.credentials_sign_missing(batch_size=100) == 6


def test_a_cb_without_a_key_is_passed_over_and_a_missing_key_file_is_a_clear_error(
    world: World, key_dir: Path
) -> None:
    _certificates(world, 2)
    assert services.credentials_sign_missing() == 0  # no key yet: nothing to sign with
    key = _key(world)
    keyfiles.key_path(world.team.cb.code, key.public_key_multibase).unlink()
    with pytest.raises(CommandError, match=r"credentials-sign: The private key file .* missing"):
        call_command("credentials-sign", stdout=StringIO(), stderr=StringIO())
    assert not IssueCredential.objects.exists()


def test_the_command_says_how_many_it_signed(world: World, key_dir: Path) -> None:
    _certificates(world, 2)
    _key(world)
    out = StringIO()
    call_command("credentials-sign", "--cb", world.team.cb.code.lower(), stdout=out)
    assert out.getvalue().strip() == "credentials-sign: 2 credentials signed and stored"
    with pytest.raises(CommandError, match="credentials-sign: There is no certification body"):
        call_command("credentials-sign", "--cb", "NOPE", stdout=StringIO())
