"""Forms of the organization section. They parse input; the services decide what is allowed.

A choice field parses any existing record, not only those offered, so that a value forced by
a crafted request reaches the rule that refuses it, with the rule's reason next to the field
(as :class:`apcert.web.forms.InvitationForm` does).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet

from apcert.assessments.evidence import EVIDENCE_KINDS
from apcert.assessments.evidence.storage import human_size
from apcert.bodies.models import CertificationBody
from apcert.organizations.models import Site
from apcert.schemes.models import ProcessCategory, Programme, Scheme, Standard


class SiteForm(forms.Form):
    """A new site of the organization."""

    name = forms.CharField(label="Site name", max_length=200)
    city = forms.CharField(label="City", max_length=120)
    country = forms.CharField(
        label="Country",
        max_length=2,
        help_text="The two-letter ISO 3166-1 code, e.g. DE, FR, JP.",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 2}),
    )
    address = forms.CharField(
        label="Address", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    published = forms.BooleanField(
        label="Show this site in the public register",
        required=False,
        initial=True,
        help_text="Buyers see the sites you publish on your certificates' public pages.",
    )


class ApplicationForm(forms.Form):
    """The first answers of a new application: where, under which scheme and programmes."""

    # Shown as a chooser (``web/_chooser.html``): a search among the CBs accepted today.
    cb = forms.ModelChoiceField(
        label="Certification body",
        queryset=CertificationBody.objects.order_by("code"),
        help_text="The IECQ-accepted certification bodies you may apply to.",
        error_messages={"required": "Choose the certification body to apply to."},
    )
    scheme = forms.ModelChoiceField(label="Scheme", queryset=Scheme.objects.order_by("code"))
    programmes = forms.ModelMultipleChoiceField(
        label="Programmes",
        queryset=Programme.objects.select_related("scheme").order_by("code"),
        widget=forms.CheckboxSelectMultiple,
        help_text="Choose one or more.",
    )
    design_claimed = forms.BooleanField(
        label="The scope claims design",
        required=False,
        help_text="Design is assessed only where the scope claims it; it then needs a design "
        "and product engineering scope line.",
    )
    requests_component_qualification = forms.BooleanField(
        label="We want finished components qualified",
        required=False,
        help_text="Finished components are qualified under IECQ AC, not AP.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        supported = Scheme.objects.filter(supported=True).order_by("code")
        schemes = [(s.pk, f"{s} ({s.name})") for s in supported]
        self._offer("scheme", schemes)
        programmes = Programme.objects.filter(scheme__in=supported).order_by("code")
        self._offer("programmes", [(p.pk, f"{p.code}: {p.name}") for p in programmes])
        if not self.is_bound and len(schemes) == 1:
            # One scheme runs here (AP): chosen already, so no one has to pick it.
            self.initial.setdefault("scheme", schemes[0][0])

    def _offer(self, name: str, choices: list[tuple[Any, str]]) -> None:
        widget = self.fields[name].widget
        assert isinstance(widget, forms.Select | forms.CheckboxSelectMultiple)
        prompt: list[tuple[Any, str]] = [] if name == "programmes" else [("", "Choose")]
        widget.choices = prompt + choices


#: One step down the process category tree, in a choice's label (an em space).
INDENT = "\u2003"


def _depth(category: ProcessCategory, parents: dict[int, int | None]) -> int:
    depth, node, seen = 0, parents.get(category.pk), set()
    while node is not None and node not in seen:
        seen.add(node)
        depth += 1
        node = parents.get(node)
    return depth


#: The answer for a site of another organization, and for one that does not exist: the same.
NOT_A_SITE = "Choose a site of your organization."


class ScopeLineForm(forms.Form):
    """One scope line: a process category at a site, its wording and declared standards."""

    category = forms.ModelChoiceField(
        label="Process category", queryset=ProcessCategory.objects.order_by("code")
    )
    site = forms.ModelChoiceField(
        label="Site",
        queryset=Site.objects.none(),
        error_messages={"invalid_choice": NOT_A_SITE, "required": NOT_A_SITE},
    )
    wording = forms.CharField(
        label="Scope wording",
        help_text="As it should read on the certificate.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    standards = forms.ModelMultipleChoiceField(
        label="Declared standards",
        queryset=Standard.objects.order_by("designation", "edition"),
        widget=forms.CheckboxSelectMultiple,
        help_text="The current editions accepted for IECQ, from the standards catalogue.",
    )

    def __init__(self, *args: Any, sites: QuerySet[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the organization's own sites parse: a site of another organization reads as
        # one that does not exist, so that the answer tells nobody whether it exists.
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ModelChoiceField)
        site_field.queryset = sites
        site_field.widget.choices = [("", "Choose")] + [(s.pk, str(s)) for s in sites]
        nodes = list(ProcessCategory.objects.order_by("code"))
        parents = {c.pk: c.parent_id for c in nodes}
        self.fields["category"].widget.choices = [("", "Choose")] + [
            (c.pk, f"{INDENT * _depth(c, parents)}{c.code} {c.name}") for c in nodes
        ]
        offered = Standard.objects.filter(status="current", accepted_for_iecq=True).order_by(
            "designation", "edition"
        )
        self.fields["standards"].widget.choices = [
            (s.pk, f"{s.reference} {s.title}") for s in offered
        ]


class WithdrawForm(forms.Form):
    """Withdraw an application: the reason, for the CB's record."""

    reason = forms.CharField(
        label="Why do you withdraw it? (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CorrectiveActionForm(forms.Form):
    """The organization's answer to a nonconformity."""

    correction = forms.CharField(
        label="Correction",
        help_text="What was done at once to put the nonconformity right.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    root_cause = forms.CharField(
        label="Root cause",
        help_text="Why it happened.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    action = forms.CharField(
        label="Corrective action",
        help_text="What is done so that it does not happen again.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    evidence = forms.CharField(
        label="Evidence (notes)",
        required=False,
        help_text="What shows that it is done; attach files once the answer is sent.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    # The service's own messages say what is missing; the form lets empty fields through.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("correction", "root_cause", "action"):
            self.fields[name].required = False


def evidence_hint() -> str:
    kinds = [EVIDENCE_KINDS[k].describe() for k in settings.EVIDENCE_TYPES if k in EVIDENCE_KINDS]
    return f"At most {human_size(int(settings.EVIDENCE_MAX_BYTES))}: {', '.join(kinds)}."


class EvidenceForm(forms.Form):
    """One evidence file for the latest answer to a finding."""

    file = forms.FileField(label="Evidence file", allow_empty_file=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = evidence_hint()


class EvidenceRemoveForm(forms.Form):
    """Take back an evidence file: why, for the assessment team's record."""

    reason = forms.CharField(
        label="Why do you remove it?",
        # The service says what is missing; the browser asks for it first.
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "required": True}),
        max_length=2000,
        help_text="The assessment team sees that the file was removed, by whom and why.",
    )
