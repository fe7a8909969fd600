"""Back-office forms. They parse input; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms

from apcert.bodies.choices import CBRole
from apcert.notifications.choices import MessageGroup
from apcert.organizations.choices import OrganizationRole

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
