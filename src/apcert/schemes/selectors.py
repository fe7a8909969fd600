"""Reading reference data, and the checks on declared standards."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from apcert.core.errors import NotFound, RuleViolation
from apcert.schemes.choices import StandardStatus
from apcert.schemes.errors import (
    SCHEME_RULES_MISSING,
    SCHEME_UNKNOWN,
    STANDARD_NOT_ACCEPTED,
    STANDARD_SUPERSEDED,
    STANDARD_UNKNOWN,
    STANDARD_WITHDRAWN,
)
from apcert.schemes.models import ProcessCategory, Programme, Scheme, SchemeRules, Standard


def scheme_get(code: str) -> Scheme:
    scheme = Scheme.objects.filter(code=code).first()
    if scheme is None:
        raise NotFound(f"There is no IECQ scheme with the code {code}.", code=SCHEME_UNKNOWN)
    return scheme


def scheme_rules(scheme: Scheme) -> SchemeRules:
    rules = SchemeRules.objects.filter(scheme=scheme).first()
    if rules is None:
        raise RuleViolation(
            f"The rules of {scheme} are not loaded: run 'apcert load-reference'.",
            code=SCHEME_RULES_MISSING,
        )
    return rules


def standard_resolve(reference: str) -> Standard:
    """Find a catalogue entry from ``DESIGNATION:EDITION``."""
    designation, sep, edition = (reference or "").strip().rpartition(":")
    std = None
    if sep:
        std = Standard.objects.filter(
            designation=designation.strip(), edition=edition.strip()
        ).first()
    if std is None:
        raise RuleViolation(
            f"'{reference}' is not in the IECQ standards catalogue. Write it as "
            "DESIGNATION:EDITION, e.g. IEC 61340-5-1:2016.",
            code=STANDARD_UNKNOWN,
            params={"standard": reference},
        )
    return std


def standard_current_edition(std: Standard) -> Standard | None:
    """Follow ``superseded_by`` to the edition in force, or None if the line ends withdrawn."""
    seen: set[int] = set()
    node: Standard | None = std
    while node is not None and node.status != StandardStatus.CURRENT:
        if node.pk in seen:  # a loop in the data: no current edition to name
            return None
        seen.add(node.pk)
        node = node.superseded_by
    return node


def standard_problem(std: Standard, on: dt.date | None = None) -> RuleViolation | None:
    """Why this edition may not be declared (on a date), or None if it may."""
    if not std.accepted_for_iecq:
        return RuleViolation(
            f"{std.reference} is not accepted for use in IECQ.",
            code=STANDARD_NOT_ACCEPTED,
            params={"standard": std.reference},
        )
    withdrawn_by_date = std.withdrawn_on is not None and (on is None or std.withdrawn_on <= on)
    if std.status == StandardStatus.CURRENT and not withdrawn_by_date:
        return None
    current = standard_current_edition(std)
    if std.status == StandardStatus.SUPERSEDED:
        name = current.reference if current is not None else "none (the line was withdrawn)"
        return RuleViolation(
            f"{std.reference} has been superseded; declare the current edition, {name}.",
            code=STANDARD_SUPERSEDED,
            params={"standard": std.reference, "current": name},
        )
    when = f" on {std.withdrawn_on.isoformat()}" if std.withdrawn_on else ""
    instead = (
        f" Its replacement is {current.reference}."
        if current is not None and current.pk != std.pk
        else ""
    )
    return RuleViolation(
        f"{std.reference} was withdrawn{when} and may no longer be declared.{instead}",
        code=STANDARD_WITHDRAWN,
        params={"standard": std.reference},
    )


def category_descendant_codes(category: ProcessCategory) -> set[str]:
    """The codes of a category and everything below it in the tree."""
    codes = {category.code}
    frontier = [category.pk]
    while frontier:
        children = list(
            ProcessCategory.objects.filter(parent_id__in=frontier).values_list("pk", "code")
        )
        frontier = [pk for pk, _ in children]
        codes.update(code for _, code in children)
    return codes


def categories() -> QuerySet[ProcessCategory]:
    return ProcessCategory.objects.select_related("parent").order_by("code")


def schemes_catalogue() -> QuerySet[Scheme]:
    """Every scheme with its rule parameters, by code (reference data, not private)."""
    return Scheme.objects.select_related("rules").order_by("code")


def programmes_catalogue() -> QuerySet[Programme]:
    """Every programme with its scheme and key standards, by code."""
    return (
        Programme.objects.select_related("scheme")
        .prefetch_related("key_standards")
        .order_by("scheme__code", "code")
    )


def standards_catalogue() -> QuerySet[Standard]:
    """The standards catalogue, each edition with the edition that supersedes it."""
    return Standard.objects.select_related("superseded_by")


def standard_by_id(pk: int | None) -> Standard | None:
    """The standard with id ``pk``, or None."""
    return Standard.objects.filter(pk=pk).first() if pk else None


def schemes_with_rules() -> QuerySet[Scheme]:
    """Every scheme with its rules (the Secretariat's settings page)."""
    return Scheme.objects.select_related("rules")


def standards_declarable() -> QuerySet[Standard]:
    """The editions a scope line may declare today: current and accepted for IECQ, by
    designation and edition (each is checked again on the decision's date)."""
    return Standard.objects.filter(status=StandardStatus.CURRENT, accepted_for_iecq=True).order_by(
        "designation", "edition"
    )
