"""The upload form of the import screen."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from apcert.bodies.models import CertificationBody

#: The largest file the screen takes (a register of 100,000 certificates as CSV is about
#: 50 MB); a larger one goes through `apcert import`.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
EVERY_CB = ""


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Register file (CSV or XLSX)",
        help_text="One row per certificate and scope line, with the template's columns.",
    )
    cb = forms.ChoiceField(label="Certification body", required=False)

    def __init__(self, *args: Any, cbs: list[CertificationBody], every: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        choices = [(cb.code, f"{cb.code} – {cb.name}") for cb in cbs]
        if every:
            choices.insert(0, (EVERY_CB, "Every certification body (the file's cb column)"))
        cast(forms.ChoiceField, self.fields["cb"]).choices = choices
        self.cbs = {cb.code: cb for cb in cbs}

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                "The file is larger than the screen takes (200 MB): use apcert import."
            )
        return upload

    def chosen_cb(self) -> CertificationBody | None:
        code = self.cleaned_data.get("cb") or EVERY_CB
        return None if code == EVERY_CB else self.cbs[code]
