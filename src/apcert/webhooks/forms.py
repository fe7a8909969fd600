"""The public form a buyer subscribes with (no account)."""

from __future__ import annotations

from django import forms

from apcert.bodies.models import CertificationBody
from apcert.organizations.models import Organization
from apcert.webhooks.choices import PUBLIC_EVENTS, EventType


class PublicWebhookForm(forms.Form):
    email = forms.EmailField(
        label="Your e-mail address",
        help_text="The confirmation link is mailed there, and a notice if deliveries fail.",
    )
    name = forms.CharField(label="Name", max_length=100)
    url = forms.URLField(label="Receiver's address", max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label="Events",
        widget=forms.CheckboxSelectMultiple,
        choices=[(e, EventType(e).label) for e in PUBLIC_EVENTS],
    )
    filter_cb = forms.CharField(
        label="Only certificates of the certification body (code)", required=False, max_length=20
    )
    filter_organization = forms.IntegerField(
        label="Only the holder (its number in the register)", required=False, min_value=1
    )
    filter_country = forms.CharField(
        label="Only holders in the country (two letters)", required=False, max_length=2
    )
    filter_category = forms.CharField(
        label="Only the process category (code)", required=False, max_length=20
    )

    def clean_filter_cb(self) -> CertificationBody | None:
        code = self.cleaned_data["filter_cb"].strip()
        if not code:
            return None
        cb = CertificationBody.objects.filter(code=code).first()
        if cb is None:
            raise forms.ValidationError(f"No certification body has the code {code}.")
        return cb

    def clean_filter_organization(self) -> Organization | None:
        pk = self.cleaned_data["filter_organization"]
        if pk is None:
            return None
        org = Organization.objects.filter(pk=pk).first()
        if org is None:
            raise forms.ValidationError(f"No organization has the number {pk}.")
        return org
