"""Back-office forms. They parse input; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms

from apcert.accounts.api_tokens import EXPIRY_DAYS_DEFAULT, EXPIRY_DAYS_MAX
from apcert.accounts.models import ApiTokenScope
from apcert.bodies.choices import CBRole
from apcert.bodies.models import CertificationBody
from apcert.notifications.choices import MessageGroup
from apcert.organizations.choices import OrganizationRole
from apcert.organizations.models import Organization
from apcert.webhooks.choices import EventType

#: The role field's values: "cb:<role>" or "org:<role>".
ROLE_CHOICES = [
    ("At a certification body", [(f"cb:{v}", label) for v, label in CBRole.choices]),
    ("At an organization", [(f"org:{v}", label) for v, label in OrganizationRole.choices]),
]


#: The answer for a place the user may not invite to, and for one that does not exist: the
#: same, so that it tells nobody whether another organization exists.
NOT_A_TARGET = "Choose a certification body or an organization you administer."


class InvitationForm(forms.Form):
    """Invite a colleague: an e-mail address, where, and the role there.

    Where is shown as a chooser (``web/_chooser.html``): a search among the places the user
    may invite to, whose matches are radio buttons.
    """

    email = forms.EmailField(
        label="Their e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
        help_text="The invitation link goes to this address.",
    )
    # A free value, not a closed choice: the view reads it among the places the user may
    # invite to, and answers NOT_A_TARGET for any other.
    target = forms.CharField(
        label="Invite them to",
        max_length=40,
        error_messages={"required": NOT_A_TARGET},
    )
    role = forms.ChoiceField(label="With the role", choices=ROLE_CHOICES)

    def __init__(self, *args: Any, kinds: tuple[bool, bool], **kwargs: Any) -> None:
        """``kinds``: whether the user may invite to some CB, and to some organization."""
        super().__init__(*args, **kwargs)
        # Offer the roles that fit the places offered; any role is still parsed, so that a
        # forced one reaches the service and its reason.
        role_widget = self.fields["role"].widget
        assert isinstance(role_widget, forms.Select)
        role_widget.choices = [
            group for group, wanted in zip(ROLE_CHOICES, kinds, strict=True) if wanted
        ]


class InvitationAcceptForm(forms.Form):
    """The invited person's username, name and password."""

    username = forms.CharField(
        label="Username",
        max_length=150,
        help_text="You sign in with it. Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    full_name = forms.CharField(
        label="Full name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common password, not only digits, not like "
        "your username or name.",
    )
    password2 = forms.CharField(
        label="The same password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        one, two = data.get("password1"), data.get("password2")
        if one and two and one != two:
            self.add_error("password2", "The two passwords differ.")
        return data


class MailPreferencesForm(forms.Form):
    """Which groups of e-mails the person gets: one check box per group."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for group, label in MessageGroup.choices:
            self.fields[group] = forms.BooleanField(
                label=label[:1].upper() + label[1:], required=False
            )


#: The place field's value for the Secretariat (the others are "cb:<id>" and "org:<id>").
SECRETARIAT_PLACE = "secretariat"


def place_value(place: CertificationBody | Organization | None) -> str:
    """How the token form names a place a token may be issued for."""
    if place is None:
        return SECRETARIAT_PLACE
    if isinstance(place, CertificationBody):
        return f"cb:{place.pk}"
    return f"org:{place.pk}"


def place_label(place: CertificationBody | Organization | None) -> str:
    if place is None:
        return "The Secretariat"
    if isinstance(place, CertificationBody):
        return f"{place.code} {place.name}"
    return place.legal_name


class ApiTokenForm(forms.Form):
    """Issue an API token: what it is for, the place it acts for, its scope and lifetime.

    The places offered are those the user administers, and only those are accepted: any
    other value is refused by the field before the service is asked."""

    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text='What the token is for, in a few words, e.g. "ERP nightly export".',
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    place = forms.ChoiceField(
        label="Acts for",
        error_messages={"invalid_choice": "Choose a place you administer."},
    )
    scope = forms.ChoiceField(
        label="Scope",
        widget=forms.RadioSelect,
        choices=ApiTokenScope.choices,
        initial=ApiTokenScope.READ,
    )
    expires_in_days = forms.IntegerField(
        label="Expires in (days)",
        min_value=1,
        max_value=EXPIRY_DAYS_MAX,
        initial=EXPIRY_DAYS_DEFAULT,
        help_text=f"From 1 to {EXPIRY_DAYS_MAX} days; issue a new token before this one ends.",
    )

    def __init__(
        self, *args: Any, places: list[CertificationBody | Organization | None], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        place = self.fields["place"]
        assert isinstance(place, forms.ChoiceField)
        place.choices = [(place_value(p), place_label(p)) for p in places]


class WebhookForm(forms.Form):
    """Subscribe a receiver: its address, the place it is for, the events and the filters.

    The places offered are the CBs and organizations the user administers; the events, all
    of them (the service refuses, for an organization, those of a CB's own work)."""

    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text='What receives the events, in a few words, e.g. "Supplier database".',
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    place = forms.ChoiceField(
        label="For",
        error_messages={"invalid_choice": "Choose a place you administer."},
    )
    url = forms.URLField(
        label="Receiver's address",
        max_length=500,
        assume_scheme="https",
        help_text="The https:// (or http://) address apcert sends each event to, by POST.",
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        widget=forms.CheckboxSelectMultiple,
        choices=EventType.choices,
        help_text="Application and assessment events are for a certification body only.",
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

    def __init__(
        self, *args: Any, places: list[CertificationBody | Organization], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        place = self.fields["place"]
        assert isinstance(place, forms.ChoiceField)
        place.choices = [(place_value(p), place_label(p)) for p in places]

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
