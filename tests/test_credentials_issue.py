"""The signed credential of a certificate issue: content, round trip, rotation, compromise,
storage once per issue, and ``apcert verify`` with its exit codes, online and offline."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from apcert.certificates.models import Certificate, CertificateIssue
from apcert.core.errors import RuleViolation, ValidationFailed
from apcert.credentials import keyfiles, selectors, services
from apcert.credentials.models import IssueCredential, SigningKey
from apcert.credentials.verification import verify_credential
from tests.credentials_support import SITE, key_dir, verify_command
from tests.factories import World
from tests.test_api_public import granted_with_unpublished_site

pytestmark = pytest.mark.django_db

__all__ = ["key_dir"]

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _issue(certificate: Certificate) -> CertificateIssue:
    return certificate.issues.select_related("certificate__cb", "certificate__scheme").get(
        issue_number=certificate.current_issue_number
    )


def _key(world: World) -> SigningKey:
    return services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)


def test_the_credential_describes_the_issue_with_public_fields_only(
    world: World, key_dir: Path
) -> None:
    # Given a certificate with a scope line at a site the holder does not publish
    certificate = granted_with_unpublished_site(world)
    issue = _issue(certificate)
    _key(world)

    # When its issue's credential is signed
    credential = services.issue_credential(issue)

    # Then it is a VC 2.0 credential of that issue, issued by the CB's DID
    cb = world.team.cb
    did = f"did:web:register.example:cbs:{cb.code}"
    number = certificate.number.replace(" ", "%20")
    assert credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        f"{SITE}/ns/credentials/v1",
    ]
    assert credential["type"] == ["VerifiableCredential", "IECQApprovedProcessCertificate"]
    assert credential["id"] == f"{SITE}/certificates/{number}#issue-1"
    assert credential["issuer"] == {"id": did, "name": cb.name}
    assert credential["validFrom"] == f"{issue.valid_from.isoformat()}T00:00:00Z"
    assert credential["validUntil"] == f"{issue.valid_until.isoformat()}T23:59:59Z"
    subject = credential["credentialSubject"]
    assert subject["id"] == f"{SITE}/organizations/{world.org.pk}"
    assert subject["certificateNumber"] == certificate.number
    assert subject["issueNumber"] == 1
    assert subject["holder"] == {"name": world.org.legal_name, "country": "DE"}
    assert [s["name"] for s in subject["sites"]] == ["Main plant"]
    assert subject["scheme"] == {"code": "AP", "name": certificate.scheme.name}
    assert [p["code"] for p in subject["programmes"]] == ["AP"]
    assert [(line["category"], line["siteId"]) for line in subject["scopeLines"]] == [
        ("EPL", world.site.pk),
        ("PWB", None),
    ]
    assert subject["standards"][0]["designation"] == "ISO 9001"
    assert subject["certificationBody"]["code"] == cb.code
    assert "credentialStatus" not in credential
    text = json.dumps(credential)
    for private in ("Second plant", "Leipzig", world.org.registration_number, "status"):
        assert private not in text
    assert credential["proof"]["verificationMethod"] == f"{did}#key-1"
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"


def test_status_entries_go_into_the_signed_credential(world: World, key_dir: Path) -> None:
    issue = _issue(world.granted())
    _key(world)
    entry = {"id": f"{SITE}/status/1#7", "type": "BitstringStatusListEntry"}

    credential = services.issue_credential(issue, status_entries=[entry])

    assert credential["credentialStatus"] == entry
    assert verify_credential(credential, trust=selectors.trust_store(), now=NOW).valid


def test_round_trip_issue_sign_verify_and_a_changed_field_fails(
    world: World, key_dir: Path
) -> None:
    issue = _issue(world.granted())
    _key(world)
    credential = services.issue_credential(issue)
    trust = selectors.trust_store()

    good = verify_credential(credential, trust=trust, now=NOW)
    credential["credentialSubject"]["holder"]["name"] = "Someone Else"
    changed = verify_credential(credential, trust=trust, now=NOW)

    assert good.valid and good.issuer is not None and good.issuer.code == world.team.cb.code
    assert changed.code == "proof.signature_mismatch"


def test_rotation_keeps_old_credentials_valid_and_new_ones_use_the_new_key(
    world: World, key_dir: Path
) -> None:
    issue = _issue(world.granted())
    first = _key(world)
    old = services.issue_credential(issue)
    second = _key(world)
    new = services.issue_credential(issue)
    trust = selectors.trust_store()

    assert old["proof"]["verificationMethod"] == first.key_id
    assert new["proof"]["verificationMethod"] == second.key_id
    assert verify_credential(old, trust=trust, now=NOW).valid
    assert verify_credential(new, trust=trust, now=NOW).valid


def test_a_compromised_key_fails_what_it_signed_after_the_date_only(
    world: World, key_dir: Path
) -> None:
    issue = _issue(world.granted())
    with time_machine.travel(dt.datetime(2026, 2, 1, 9, tzinfo=dt.UTC), tick=False):
        key = _key(world)
        before = services.issue_credential(issue)
    with time_machine.travel(dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC), tick=False):
        after = services.issue_credential(issue)

    services.signing_key_compromise(
        actor=None, key_id=key.key_id, since=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    )
    trust = selectors.trust_store()

    assert verify_credential(before, trust=trust, now=NOW).valid
    assert verify_credential(after, trust=trust, now=NOW).code == "key.compromised"
    with pytest.raises(RuleViolation) as caught:
        services.issue_credential(issue)  # the CB has no signing key now
    assert caught.value.code == "key.none"


def test_a_missing_key_file_is_a_clear_error_when_signing(world: World, key_dir: Path) -> None:
    issue = _issue(world.granted())
    key = _key(world)
    keyfiles.key_path(world.team.cb.code, key.public_key_multibase).unlink()

    with pytest.raises(ValidationFailed) as caught:
        services.credential_for_issue(issue)

    assert caught.value.code == "key.file_missing"
    assert not IssueCredential.objects.exists()


def test_credential_for_issue_signs_once_and_keeps_it(world: World, key_dir: Path) -> None:
    issue = _issue(world.granted())
    assert services.credential_for_issue(issue) is None  # no key yet: nothing signed
    assert not IssueCredential.objects.exists()
    key = _key(world)

    first = services.credential_for_issue(issue)
    _key(world)
    again = services.credential_for_issue(issue)

    assert first is not None and again == first
    stored = IssueCredential.objects.get()
    assert stored.issue == issue and stored.signing_key == key
    assert stored.credential == first
    # what the database gives back (jsonb reorders keys on PostgreSQL) still verifies
    stored.refresh_from_db()
    assert verify_credential(stored.credential, trust=selectors.trust_store(), now=NOW).valid


# --- apcert verify ---------------------------------------------------------------------------


@pytest.fixture
def signed(world: World, key_dir: Path, tmp_path: Path) -> dict[str, Any]:
    issue = _issue(world.granted())
    _key(world)
    credential = services.issue_credential(issue)
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(credential))
    bundle = tmp_path / "bundle.json"
    call_command("trust-bundle", "--out", str(bundle), stdout=StringIO())
    return {"credential": credential, "path": path, "bundle": bundle, "tmp": tmp_path}


def _write(tmp: Path, name: str, credential: dict[str, Any]) -> str:
    path = tmp / name
    path.write_text(json.dumps(credential))
    return str(path)


def test_verify_says_valid_who_signed_and_what_is_certified(signed: dict[str, Any]) -> None:
    code, out, _ = verify_command(str(signed["path"]), "--trust-bundle", str(signed["bundle"]))

    subject = signed["credential"]["credentialSubject"]
    assert code == 0
    assert f"issuer: {subject['certificationBody']['name']}" in out
    assert f"certifies: certificate {subject['certificateNumber']} issue 1" in out
    assert "signature: ok: signed by" in out
    assert "validity: " in out
    assert out.rstrip().endswith("result: VALID")


def test_verify_exit_codes(signed: dict[str, Any]) -> None:
    tmp, bundle = signed["tmp"], str(signed["bundle"])
    changed = json.loads(json.dumps(signed["credential"]))
    changed["credentialSubject"]["issueNumber"] = 2
    stranger = json.loads(json.dumps(signed["credential"]))
    stranger["issuer"] = {"id": "did:web:elsewhere.example:cbs:X"}
    (tmp / "junk.json").write_text("{not json")
    (tmp / "bad-bundle.json").write_text('{"type": "other"}')

    assert verify_command(_write(tmp, "c.json", changed), "--trust-bundle", bundle)[:2][0] == 1
    invalid = verify_command(_write(tmp, "c.json", changed), "--trust-bundle", bundle)
    assert "FAILED [proof.signature_mismatch]" in invalid[1]
    assert verify_command(_write(tmp, "s.json", stranger), "--trust-bundle", bundle)[0] == 2
    assert verify_command(str(tmp / "junk.json"), "--trust-bundle", bundle)[0] == 3
    assert verify_command(str(tmp / "missing.json"))[0] == 3
    assert (
        verify_command(str(signed["path"]), "--trust-bundle", str(tmp / "bad-bundle.json"))[0] == 3
    )


def test_verify_without_a_bundle_uses_the_register(signed: dict[str, Any]) -> None:
    assert verify_command(str(signed["path"]))[0] == 0


def test_verify_reports_an_expired_credential(signed: dict[str, Any]) -> None:
    with time_machine.travel(dt.datetime(2040, 1, 1, tzinfo=dt.UTC)):
        code, out, _ = verify_command(str(signed["path"]), "--trust-bundle", str(signed["bundle"]))
    assert code == 1
    assert "signature: ok" in out and "FAILED [credential.expired]" in out


def test_a_pdf_that_is_cut_short_is_unreadable_not_a_traceback(signed: dict[str, Any]) -> None:
    pdf = signed["tmp"] / "certificate.pdf"
    pdf.write_bytes(b"%PDF-1.7\n...")

    code, _, err = verify_command(str(pdf), "--trust-bundle", str(signed["bundle"]))

    assert code == 3
    assert "no credential could be read from the PDF: This PDF is incomplete" in err


def test_verify_offline_in_a_fresh_process_with_no_database(signed: dict[str, Any]) -> None:
    # The trust bundle alone: a separate process, pointed at a database that does not exist.
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
        "APCERT_VAR_DIR": str(signed["tmp"] / "empty-var"),
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    }
    run = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "apcert", "verify", str(signed["path"]), "--trust-bundle",
         str(signed["bundle"]), "--skip-checks"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "result: VALID" in run.stdout


def test_a_credential_claiming_another_cb_as_issuer_fails_on_the_key(
    world: World, key_dir: Path
) -> None:
    # Given two CBs with keys, and a credential signed by the first
    issue = _issue(world.granted())
    _key(world)
    other = World.make_cb(world.secretariat, "ZZ8", dt.date(2020, 1, 1))
    services.signing_key_generate(actor=None, cb=other.cb)
    credential = services.issue_credential(issue)

    # When it names the second CB as its issuer
    credential["issuer"] = {"id": "did:web:register.example:cbs:ZZ8", "name": "x"}

    # Then the first CB's key does not speak for the second
    result = verify_credential(credential, trust=selectors.trust_store(), now=NOW)
    assert result.code == "key.issuer_mismatch"
