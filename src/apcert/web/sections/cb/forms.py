"""Forms of the certification body's back-office pages. They parse input; the services
decide what is allowed and say why not (shown next to the field they name)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from django import forms
from django.utils import timezone

from apcert.assessments.choices import FindingGrade, RequirementKind
from apcert.certificates.choices import StatusReason
from apcert.certificates.services import SUSPEND_REASONS, WITHDRAW_REASONS
from apcert.web.fields import DATE_HINT, DateField

TEXT = forms.Textarea(attrs={"rows": 3})


def _choices(values: Sequence[str], labels: type[Any]) -> list[tuple[str, str]]:
    return [(v, labels(v).label) for v in values]


def _date(label: str, help_text: str = "Leave empty for today.") -> DateField:
    return DateField(label=label, required=False, help_text=f"{help_text} {DATE_HINT}")


def _set_choices(field: forms.Field, choices: list[tuple[str, str]]) -> None:
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


class ApplicationAcceptForm(forms.Form):
    note = forms.CharField(
        label="Note for the record (optional)", required=False, widget=TEXT, max_length=2000
    )


class ApplicationRejectForm(forms.Form):
    # Not required here: the service says why a reason is needed, next to this field.
    reason = forms.CharField(
        label="Why the application is rejected",
        required=False,
        widget=TEXT,
        max_length=2000,
        help_text="The organization reads this.",
    )


class AssessmentPlanForm(forms.Form):
    """An initial assessment of an application: dates and the team from the CB's staff."""

    start_date = DateField(label="First day")
    end_date = DateField(label="Last day")
    stage1_document_review = forms.BooleanField(
        label="With a stage 1 document review", required=False
    )
    lead = forms.ChoiceField(label="Lead assessor")
    team = forms.MultipleChoiceField(
        label="Team members",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Assessors of the CB. The lead need not be ticked again.",
    )
    experts = forms.MultipleChoiceField(
        label="Technical experts",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Anyone on the CB's staff.",
    )

    def __init__(
        self,
        *args: Any,
        staff: Sequence[tuple[int, str]],
        assessors: Collection[int],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        people = [(str(pk), label) for pk, label in staff]
        qualified = [(str(pk), label) for pk, label in staff if pk in assessors]
        # The lead and the members are offered from the CB's assessors, but any of its
        # active staff is parsed: the service says who may not be on the team and why, next
        # to the team field. Technical experts may hold any role at the CB.
        _set_choices(self.fields["lead"], [("", "Choose the lead assessor"), *people])
        _set_choices(self.fields["team"], people)
        _set_choices(self.fields["experts"], people)
        for name, offered in (
            ("lead", [("", "Choose the lead assessor"), *qualified]),
            ("team", qualified),
        ):
            widget = self.fields[name].widget
            assert isinstance(widget, forms.Select | forms.CheckboxSelectMultiple)
            widget.choices = offered

    def team_roles(self) -> list[tuple[int, str]]:
        """(user id, team role) pairs, the lead first; the lead ticked as a member too is
        listed once."""
        lead = int(self.cleaned_data["lead"])
        pairs = [(lead, "lead")]
        pairs += [(int(pk), "member") for pk in self.cleaned_data["team"] if int(pk) != lead]
        pairs += [(int(pk), "technical_expert") for pk in self.cleaned_data["experts"]]
        return pairs


class FindingForm(forms.Form):
    grade = forms.ChoiceField(label="Grade", choices=FindingGrade.choices)
    requirement_kind = forms.ChoiceField(label="Requirement", choices=RequirementKind.choices)
    requirement_ref = forms.CharField(
        label="Requirement reference",
        max_length=200,
        required=False,
        help_text="e.g. ISO 9001:2015 8.5.1",
    )
    standard = forms.ChoiceField(
        label="Declared standard",
        required=False,
        help_text="For a clause of a declared standard.",
    )
    description = forms.CharField(
        label="What was found", widget=TEXT, required=False, max_length=5000
    )
    raised_on = _date("Raised on", "Leave empty for the assessment's first day.")
    due_date = _date("Due date", "Leave empty for the scheme's default.")

    def __init__(self, *args: Any, standards: Sequence[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self.fields["standard"], [("", "None"), *[(str(k), v) for k, v in standards]])


class ReportForm(forms.Form):
    issued_on = _date("Report issued on")
    summary = forms.CharField(label="Summary", required=False, widget=TEXT, max_length=5000)


class ReviewForm(forms.Form):
    OUTCOMES = (
        ("accept_plan", "Accept the plan (to be verified later)"),
        ("verify", "Verified as effective (closes the finding)"),
        ("reject", "Reject (the finding is open again)"),
    )
    outcome = forms.ChoiceField(label="Outcome", widget=forms.RadioSelect, choices=OUTCOMES)
    comment = forms.CharField(
        label="Comment",
        required=False,
        widget=TEXT,
        max_length=5000,
        help_text="Needed when you reject.",
    )
    reviewed_on = _date("Reviewed on")

    def __init__(self, *args: Any, outcomes: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if outcomes is not None:
            # Show the outcomes the finding's lifecycle allows now; a forced other value
            # still reaches the service, which refuses it.
            outcome = self.fields["outcome"]
            assert isinstance(outcome, forms.ChoiceField)
            outcome.widget.choices = [(v, t) for v, t in self.OUTCOMES if v in outcomes]


class GrantForm(forms.Form):
    decided_on = _date("Decided on")
    rationale = forms.CharField(label="Rationale", required=False, widget=TEXT, max_length=5000)


# --- decisions on a certificate -----------------------------------------------------------
# Each decision's form has no preselected reason and its date filled in with today: a public,
# lasting decision is never taken by a default nobody chose.

REASON_PROMPT = "Choose a reason"


def _public_reason(values: Sequence[str]) -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Reason (public)",
        choices=[("", REASON_PROMPT), *_choices(values, StatusReason)],
        help_text="The public register shows this reason with the status.",
        error_messages={"required": "Choose the reason the public register will show."},
    )


def _record(label: str, help_text: str = "") -> forms.CharField:
    # Not required here: the service says why a reason is needed, next to this field.
    return forms.CharField(
        label=label, required=False, widget=TEXT, max_length=5000, help_text=help_text
    )


def _decided_on() -> DateField:
    return DateField(
        label="Decided on",
        initial=timezone.localdate,
        help_text=f"The day of the decision; the register shows the change from this day. "
        f"{DATE_HINT}",
        error_messages={"required": "Give the day of the decision."},
    )


PRIVATE = "Kept in the certification body's records; the public never sees it."


class SuspendForm(forms.Form):
    reason_category = _public_reason(SUSPEND_REASONS)
    reason = _record("Why, for the record (private)", PRIVATE)
    decided_on = _decided_on()


class RestoreForm(forms.Form):
    reason = _record("How the cause of the suspension was resolved (private)", PRIVATE)
    decided_on = _decided_on()


class WithdrawForm(forms.Form):
    reason_category = _public_reason(WITHDRAW_REASONS)
    reason = _record("Why, for the record (private)", PRIVATE)
    decided_on = _decided_on()


class CancelForm(forms.Form):
    reason = _record(
        "The holder's request, for the record (private)",
        f"Who asked, when and how (a letter, a message). {PRIVATE}",
    )
    decided_on = _decided_on()


class ScopeReductionForm(forms.Form):
    """Remove scope lines: each line of the certificate's last issue, none ticked."""

    remove = forms.MultipleChoiceField(
        label="Scope lines to remove",
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick each line the certificate no longer covers; at least one stays.",
        error_messages={"required": "Tick at least one scope line to remove."},
    )
    reason = _record("Why the scope is reduced (private)", PRIVATE)
    decided_on = _decided_on()

    def __init__(self, *args: Any, lines: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self.fields["remove"], list(lines))


class SiteRemovalForm(forms.Form):
    """Remove a site with all its scope lines: one of the certificate's sites, none chosen."""

    site = forms.ChoiceField(
        label="Site to remove",
        widget=forms.RadioSelect,
        help_text="Every scope line at this site is removed with it.",
        error_messages={"required": "Choose the site to remove."},
    )
    reason = _record("Why the site is removed (private)", PRIVATE)
    decided_on = _decided_on()

    def __init__(self, *args: Any, sites: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self.fields["site"], list(sites))


class ReissueForm(forms.Form):
    """Re-issue a certificate for one change the records already show (the holder or a site
    renamed, a site moved, a new edition of a declared standard): the new issue's reason and
    "what changed" come from that change, not from the form."""

    change = forms.ChoiceField(
        label="The change to certify",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the change the new issue certifies."},
    )
    rationale = _record("Rationale (private)", PRIVATE)
    decided_on = _decided_on()

    def __init__(self, *args: Any, changes: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self.fields["change"], list(changes))


class ResubmitForm(forms.Form):
    """Submit a returned certificate for the Secretariat's review again."""

    note = forms.CharField(
        label="What was done about the Secretariat's reason",
        widget=TEXT,
        max_length=2000,
    )


class FindingEditForm(FindingForm):
    """A correction of a finding: the fields of a new one but the day it was raised, which
    stays as recorded."""

    reason = forms.CharField(
        label="Why is it corrected? (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
    )

    def __init__(self, *args: Any, standards: Sequence[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, standards=standards, **kwargs)
        del self.fields["raised_on"]
        self.fields[
            "due_date"
        ].help_text = "Leave empty to keep it; an observation is due the day it was raised."
