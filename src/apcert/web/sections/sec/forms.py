"""Forms of the Secretariat's pages. They parse input; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms

from apcert.bodies.lifecycle import CB_ACCEPTANCE
from apcert.schemes.models import ProcessCategory, Programme
from apcert.web.fields import DATE_HINT, DateField


class CBForm(forms.Form):
    """A new certification body: the code the Secretariat gives it, its name and country."""

    code = forms.CharField(
        label="Code",
        max_length=20,
        help_text="2 to 8 letters or digits. It appears in every certificate number of the CB.",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )
    name = forms.CharField(label="Name", max_length=200)
    country = forms.CharField(
        label="Country",
        max_length=10,
        help_text="The two letters of ISO 3166-1, e.g. DE.",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 4}),
    )
    website = forms.URLField(label="Website", required=False, assume_scheme="https")


class ProgrammeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Programme) -> str:
        return f"{obj.code}: {obj.name} ({obj.scheme.code})"


class CategoryChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: ProcessCategory) -> str:
        return f"{obj.code}: {obj.name}"


class AcceptanceForm(forms.Form):
    """An acceptance of a CB for one programme, with its dates and, optionally, categories."""

    programme = ProgrammeChoiceField(
        label="Programme",
        queryset=Programme.objects.select_related("scheme").order_by("code"),
        empty_label="Choose a programme",
    )
    accepted_on = DateField(label="Accepted on")
    valid_until = DateField(
        label="Valid until",
        required=False,
        help_text=f"Leave empty for an acceptance without an end date. {DATE_HINT}",
    )
    categories = CategoryChoiceField(
        label="Limited to these process categories",
        queryset=ProcessCategory.objects.order_by("code"),
        required=False,
        help_text="Leave none chosen to accept the whole programme. Hold Ctrl (or Cmd) to "
        "choose several.",
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )


class AcceptanceStatusForm(forms.Form):
    """Suspend, withdraw or restore an acceptance, with the reason (kept in the audit log).
    The actions offered are those the acceptance's lifecycle allows from its status."""

    action = forms.ChoiceField(label="Change", choices=[])
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the acceptance changes. It is kept in the audit log.",
    )

    def __init__(self, *args: Any, current: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        action = self.fields["action"]
        assert isinstance(action, forms.ChoiceField)
        action.choices = [
            (a, ACCEPTANCE_ACTION_LABELS.get(a, a)) for a in CB_ACCEPTANCE.actions_from(current)
        ]


#: How each action of the acceptance lifecycle reads on the form.
ACCEPTANCE_ACTION_LABELS = {
    "suspend": "suspend",
    "restore": "restore (active again)",
    "withdraw": "withdraw",
}


class PublicationApproveForm(forms.Form):
    """Approve a new certificate's publication, with an optional remark."""

    note = forms.CharField(
        label="Remark (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the audit log; not public.",
    )


class PublicationReturnForm(forms.Form):
    """Return a new certificate to its certification body, saying why."""

    reason = forms.CharField(
        label="Why it is returned",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The certification body reads this and answers before submitting again.",
    )


class PublicationReviewSettingForm(forms.Form):
    """Turn the review of new certificates before publication on or off for a scheme."""

    enabled = forms.TypedChoiceField(
        label="Review new certificates before publication",
        choices=[("on", "on"), ("off", "off")],
        coerce=lambda value: value == "on",
    )
