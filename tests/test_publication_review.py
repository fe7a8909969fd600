"""The Secretariat's optional review of a new certificate before publication.

With the review turned on for the scheme, a granted certificate stays a draft, out of the
register and its index, until the Secretariat approves it; a returned one stays out until
the CB submits it again and it is approved. Each step writes one audit event; a refused
step writes nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apcert.audit.models import AuditEvent
from apcert.certificates.choices import PublicationReviewStatus
from apcert.certificates.lifecycle import PUBLICATION_REVIEW
from apcert.certificates.models import Certificate, CertificateStatusChange, PublicationReview
from apcert.certificates.services import (
    certificate_publication_approve,
    certificate_publication_resubmit,
    certificate_publication_return,
)
from apcert.core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from apcert.register.models import SearchEntry
from apcert.schemes.errors import SCHEME_NO_RULES
from apcert.schemes.models import Scheme, SchemeRules
from apcert.schemes.services import reference_load, scheme_publication_review_set
from tests.factories import World

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def _review_on(world: World) -> None:
    scheme_publication_review_set(actor=world.secretariat, scheme=world.scheme, enabled=True)


def _in_register(client: Client, cert: Certificate) -> bool:
    indexed = SearchEntry.objects.filter(certificate_id=cert.pk).exists()
    page = client.get(reverse("register:certificate", args=[cert.number]))
    assert page.status_code in (200, 404)
    assert indexed == (page.status_code == 200)
    return indexed


def _audit(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


# --- the setting -------------------------------------------------------------------------------


def test_without_the_review_a_grant_publishes_at_once(client: Client, world: World) -> None:
    cert = world.granted()
    assert cert.status == "current"
    assert not PublicationReview.objects.filter(certificate=cert).exists()
    assert _in_register(client, cert)


def test_only_the_secretariat_turns_the_review_on_and_a_reload_keeps_it(world: World) -> None:
    with pytest.raises(PermissionDenied):
        scheme_publication_review_set(actor=world.team.manager, scheme=world.scheme, enabled=True)
    assert not SchemeRules.objects.get(scheme=world.scheme).publication_review
    events = _audit("scheme.publication_review_set")
    _review_on(world)
    _review_on(world)  # no change: no second event
    assert _audit("scheme.publication_review_set") == events + 1
    reference_load(
        actor=world.secretariat
    )  # the shipped files do not name it: the Secretariat's choice stays
    assert SchemeRules.objects.get(scheme=world.scheme).publication_review


def test_a_scheme_without_rules_cannot_have_the_review_turned_on(
    client: Client, world: World
) -> None:
    # Given: a scheme row whose rules were never loaded (no service makes one; the files
    # always give a scheme its rules)
    scheme = Scheme.objects.create(code="ZZ", name="No rules yet")
    events = AuditEvent.objects.count()

    # When: the Secretariat turns its review on, through the service and through the page
    with pytest.raises(DomainError) as exc:
        scheme_publication_review_set(actor=world.secretariat, scheme=scheme, enabled=True)
    client.force_login(world.secretariat)
    response = client.post(
        reverse("web:sec:scheme-publication-review", args=[scheme.pk]), {"enabled": "on"}
    )

    # Then: both are refused with the code, and nothing is written
    assert exc.value.code == SCHEME_NO_RULES
    assert response.status_code == 400
    assert response.context["error"].code == SCHEME_NO_RULES
    assert "Scheme ZZ has no rules loaded." in text(response)
    assert not SchemeRules.objects.filter(scheme=scheme).exists()
    assert AuditEvent.objects.count() == events


def test_the_reference_files_set_the_review_only_when_they_name_it(
    world: World, tmp_path: Any
) -> None:
    from apcert.schemes.services import DATA_DIR, FILES

    for name in FILES:
        (tmp_path / name).write_text((DATA_DIR / name).read_text())
    schemes = tmp_path / "schemes.toml"
    original = schemes.read_text()
    marker = "[scheme.rules]\n"
    schemes.write_text(original.replace(marker, marker + "publication_review = true\n", 1))
    reference_load(actor=world.secretariat, data_dir=tmp_path)
    assert SchemeRules.objects.get(scheme=world.scheme).publication_review

    schemes.write_text(original.replace(marker, marker + 'publication_review = "yes"\n', 1))
    with pytest.raises(DomainError) as exc:
        reference_load(actor=world.secretariat, data_dir=tmp_path)
    assert exc.value.code == "reference.bad_value"
    assert "publication_review must be true or false" in exc.value.message


# --- the services ------------------------------------------------------------------------------


def test_a_granted_certificate_waits_for_the_review_then_is_published(
    client: Client, world: World
) -> None:
    # Given the review is on, when the CB grants
    _review_on(world)
    cert = world.granted()

    # Then the certificate is a draft with its first issue, out of the register
    assert (cert.status, cert.current_issue_number) == ("draft", 1)
    review = PublicationReview.objects.get(certificate=cert)
    assert (review.status, review.submitted_by) == ("pending", world.team.decision_maker)
    assert not CertificateStatusChange.objects.filter(certificate=cert).exists()
    assert not _in_register(client, cert)

    # When the Secretariat approves
    events = _audit("certificate.publish")
    on = cert.initial_decision_on
    published = certificate_publication_approve(
        actor=world.secretariat, certificate=cert, note="Scope wording checked", on=on
    )

    # Then it is current from that day, in the register, with one status change and event
    assert (published.status, published.status_since) == ("current", on)
    change = CertificateStatusChange.objects.get(certificate=cert)
    assert (change.from_status, change.to_status, change.reason_category) == (
        "draft",
        "current",
        "granted",
    )
    assert change.decision is not None and change.decision.kind == "grant"
    review.refresh_from_db()
    assert (review.status, review.reviewed_by, review.review_note) == (
        "approved",
        world.secretariat,
        "Scope wording checked",
    )
    assert _audit("certificate.publish") == events + 1
    assert _in_register(client, cert)


def test_a_returned_certificate_stays_out_until_resubmitted_and_approved(
    client: Client, world: World
) -> None:
    _review_on(world)
    cert = world.granted()
    dm = world.team.decision_maker

    # A return needs a reason; without one nothing changes
    with pytest.raises(DomainError) as exc:
        certificate_publication_return(actor=world.secretariat, certificate=cert, reason=" ")
    assert exc.value.code == "invalid.reason_required"
    assert PublicationReview.objects.get(certificate=cert).status == "pending"

    certificate_publication_return(
        actor=world.secretariat, certificate=cert, reason="Scope names a withdrawn edition"
    )
    assert Certificate.objects.get(pk=cert.pk).status == "draft"
    assert not _in_register(client, cert)

    # A returned certificate cannot be approved until it is submitted again
    before = AuditEvent.objects.count()
    with pytest.raises(DomainError) as exc:
        certificate_publication_approve(actor=world.secretariat, certificate=cert)
    assert exc.value.code == "publication.not_pending"
    assert AuditEvent.objects.count() == before

    # Only a decision maker of the CB submits again, with an answer
    with pytest.raises(PermissionDenied):
        certificate_publication_resubmit(actor=world.org_user, certificate=cert, note="Fixed")
    with pytest.raises(DomainError) as exc:
        certificate_publication_resubmit(actor=dm, certificate=cert, note="")
    assert exc.value.code == "invalid.reason_required"
    review = certificate_publication_resubmit(
        actor=dm, certificate=cert, note="The edition is current; the register was stale"
    )
    assert review.status == "pending"
    # ... once: a second submission while one is pending is refused
    with pytest.raises(DomainError) as exc:
        certificate_publication_resubmit(actor=dm, certificate=cert, note="Again")
    assert exc.value.code == "publication.not_returned"

    certificate_publication_approve(actor=world.secretariat, certificate=cert)
    statuses = list(
        PublicationReview.objects.filter(certificate=cert)
        .order_by("submitted_at", "id")
        .values_list("status", flat=True)
    )
    assert statuses == ["returned", "approved"]
    assert _in_register(client, cert)


def test_only_the_secretariat_reviews(world: World) -> None:
    _review_on(world)
    cert = world.granted()
    before = AuditEvent.objects.count()
    for person in (world.team.decision_maker, world.team.manager, world.org_user):
        with pytest.raises(PermissionDenied):
            certificate_publication_approve(actor=person, certificate=cert)
        with pytest.raises(PermissionDenied):
            certificate_publication_return(actor=person, certificate=cert, reason="No")
    assert AuditEvent.objects.count() == before
    assert Certificate.objects.get(pk=cert.pk).status == "draft"


def test_a_certificate_granted_without_the_review_is_not_reviewable(world: World) -> None:
    cert = world.granted()
    with pytest.raises(DomainError) as exc:
        certificate_publication_approve(actor=world.secretariat, certificate=cert)
    assert exc.value.code == "publication.not_pending"
    with pytest.raises(DomainError) as exc:
        certificate_publication_resubmit(
            actor=world.team.decision_maker, certificate=cert, note="Please"
        )
    assert exc.value.code == "publication.not_returned"


@pytest.mark.parametrize(("state", "action"), list(PUBLICATION_REVIEW.pairs()))
def test_every_review_state_and_action_through_the_services(
    world: World, state: str, action: str
) -> None:
    """STYLE rule 3: each (state, action) pair of the review table, applied by its service."""
    _review_on(world)
    cert = world.granted()
    if state == "approved":
        certificate_publication_approve(actor=world.secretariat, certificate=cert)
    elif state == "returned":
        certificate_publication_return(actor=world.secretariat, certificate=cert, reason="No")
    review = PublicationReview.objects.get(certificate=cert)
    assert review.status == state
    apply = {
        "approve": lambda: certificate_publication_approve(
            actor=world.secretariat, certificate=cert
        ),
        "return": lambda: certificate_publication_return(
            actor=world.secretariat, certificate=cert, reason="No"
        ),
    }[action]
    if PUBLICATION_REVIEW.allowed(state, action):
        apply()
        review.refresh_from_db()
        assert review.status == PUBLICATION_REVIEW.next_state(state, action)
    else:
        before = AuditEvent.objects.count()
        with pytest.raises(DomainError) as exc:
            apply()
        # Only a pending review is decided: the service finds none to decide on.
        assert exc.value.code == "publication.not_pending"
        assert AuditEvent.objects.count() == before
        review.refresh_from_db()
        assert review.status == state
        with pytest.raises(TransitionNotAllowed):
            PUBLICATION_REVIEW.next_state(state, action)


# --- the screens -------------------------------------------------------------------------------


def test_the_whole_review_in_the_back_office(client: Client, world: World) -> None:
    # The Secretariat turns the review on from the reference data page
    client.force_login(world.secretariat)
    response = client.post(
        reverse("web:sec:scheme-publication-review", args=[world.scheme.pk]),
        {"enabled": "on"},
        follow=True,
    )
    assert "The review before publication of AP is on." in text(response)

    # The CB grants in the decision screen's service; the certificate awaits review
    cert = world.granted()
    listing = client.get(reverse("web:sec:publication-reviews"), {"status": "pending"})
    assert cert.number in text(listing)
    assert "1 awaiting review" in text(listing)

    # The Secretariat reads the issue and returns it; a return without reason shows the error
    page = reverse("web:sec:publication-review", args=[cert.pk])
    detail = client.get(page)
    assert world.site.name in text(detail) and "Publish " + cert.number in text(detail)
    refused = client.post(
        reverse("web:sec:publication-return", args=[cert.pk]), {"return-reason": ""}
    )
    assert refused.status_code == 400
    assert 'id="id_return-reason_error"' in refused.content.decode()
    client.post(
        reverse("web:sec:publication-return", args=[cert.pk]),
        {"return-reason": "Scope wording too broad"},
    )
    assert PublicationReview.objects.get(certificate=cert).status == "returned"

    # The CB's decision maker sees the reason and submits again
    client.force_login(world.team.decision_maker)
    cb_page = client.get(reverse("web:cb:certificate", args=[cert.pk]))
    assert "Scope wording too broad" in text(cb_page)
    assert f"Submit {cert.number} again" in text(cb_page)
    client.post(
        reverse("web:cb:certificate-resubmit", args=[cert.pk]),
        {"resubmit-note": "Wording narrowed to tin plating"},
    )
    # An assessor of the CB is not offered the form and is refused with 403
    client.force_login(world.team.assessor)
    assert "Submit again" not in text(client.get(reverse("web:cb:certificate", args=[cert.pk])))

    # The Secretariat approves; the certificate is in the register
    client.force_login(world.secretariat)
    response = client.post(
        reverse("web:sec:publication-approve", args=[cert.pk]), {"approve-note": ""}, follow=True
    )
    assert f"{cert.number} is published in the register." in text(response)
    assert Certificate.objects.get(pk=cert.pk).status == "current"
    client.logout()
    assert client.get(reverse("register:certificate", args=[cert.number])).status_code == 200


def test_a_cb_user_cannot_resubmit_for_another_cb(client: Client, world: World) -> None:
    _review_on(world)
    cert = world.granted()
    certificate_publication_return(actor=world.secretariat, certificate=cert, reason="No")
    other = World.build()
    client.force_login(other.team.decision_maker)
    before = AuditEvent.objects.count()
    response = client.post(
        reverse("web:cb:certificate-resubmit", args=[cert.pk]), {"resubmit-note": "Mine"}
    )
    assert response.status_code == 404
    assert AuditEvent.objects.count() == before
    assert (
        PublicationReview.objects.get(certificate=cert).status == PublicationReviewStatus.RETURNED
    )
