from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from agents.models import PromptTemplate
from editorial.batches.parsing import BRIEF_TARGETS
from editorial.batches.services import check_policy_publish_at
from governance.models import Channel, Risk
from governance.permissions import brands_for_user

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json"}


class PolicyPublishForm(forms.Form):
    """When drafts approved by policy are published, in the browser's time zone (checked like a schedule)."""

    # Named like the draft page's schedule field, so static/js/forms.js fills in the browser's offset.
    publish_at = forms.DateTimeField(
        required=False, label="Publish approved-by-policy drafts at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Drafts a workflow approves by policy (low risk, nothing above info) are published at this time, "
                  "in your browser's time zone. Leave empty to publish each one as soon as it is approved.")
    tz_offset_minutes = forms.CharField(required=False, max_length=12, widget=forms.HiddenInput(attrs={"value": "0"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        when = data.get("publish_at")
        if when is not None:
            # The browser sent its wall-clock time; the server read it as UTC. Shift by the browser's offset.
            offset = (data.get("tz_offset_minutes") or "0").strip()
            if not offset.lstrip("-").isdigit() or abs(int(offset)) > 24 * 60:
                self.add_error("publish_at", "That time could not be read; pick it again.")
                return data
            when += timedelta(minutes=int(offset))
            try:
                check_policy_publish_at(when)
            except ValidationError as exc:
                self.add_error("publish_at", exc.message_dict["policy_publish_at"])
            data["publish_at"] = when
        return data


class BatchPolicyPublishForm(PolicyPublishForm):
    """The batch page's form: a new time ("Save"), or none ("clear": publish each as soon as approved)."""

    clear = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("clear"):
            data["publish_at"] = None
        elif data.get("publish_at") is None and "publish_at" not in self.errors:
            self.add_error("publish_at", "Pick a date and time, or choose “Publish as soon as approved”.")
        return data


class BatchUploadForm(PolicyPublishForm):
    """The file, the batch's brief settings, and which column feeds what. A column left empty is
    matched by name; a default may use {column} placeholders (e.g. "Describe {name} for shoppers")."""

    file = forms.FileField(help_text="CSV with a header row, or JSON: an array of objects (or one object per line).")
    name = forms.CharField(max_length=200, required=False, help_text="Defaults to the file's name.")
    brand = forms.ModelChoiceField(queryset=None, empty_label=None)
    template = forms.ModelChoiceField(queryset=PromptTemplate.objects.filter(active_version__isnull=False),
                                      empty_label=None)
    channel = forms.ChoiceField(choices=Channel.choices)
    risk = forms.ChoiceField(choices=Risk.choices, help_text="Medium adds a brand sign-off; high adds legal too.")
    language = forms.ChoiceField(choices=settings.AIOS_CONTENT_LANGUAGES, initial="en")
    variables = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                help_text="Template variables: one “variable = column” per line (same names match "
                                          "by themselves).")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["brand"].queryset = brands_for_user(user)
        for target, cap in BRIEF_TARGETS.items():
            self.fields[f"col_{target}"] = forms.CharField(
                required=False, max_length=200, label=f"{target.title()} column",
                widget=forms.TextInput(attrs={"list": "batch-columns", "autocomplete": "off"}))
            self.fields[f"default_{target}"] = forms.CharField(
                required=False, max_length=cap, label=f"{target.title()} if no column",
                initial={"tone": "clear and friendly"}.get(target, ""))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in FORMATS:
            raise forms.ValidationError("Upload a .csv, .json or .jsonl file.")
        if upload.size > settings.AIOS_BULK_MAX_BYTES:
            raise forms.ValidationError(f"The file is {upload.size / 1e6:.1f} MB; at most "
                                        f"{settings.AIOS_BULK_MAX_BYTES / 1e6:.0f} MB.")
        return upload

    def clean_variables(self) -> dict[str, str]:
        mapping = {}
        for number, line in enumerate(self.cleaned_data.get("variables", "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, column = line.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise forms.ValidationError(f"Line {number}: write “variable = column”.")
            mapping[name.strip()] = column.strip()
        return mapping

    def file_format(self) -> str:
        return FORMATS[Path(self.cleaned_data["file"].name).suffix.lower()]

    def mapping(self) -> dict[str, str]:
        data = self.cleaned_data
        chosen = {t: data[f"col_{t}"].strip() for t in BRIEF_TARGETS if data.get(f"col_{t}", "").strip()}
        return {**data.get("variables", {}), **chosen}

    def defaults(self) -> dict[str, str]:
        return {t: self.cleaned_data.get(f"default_{t}", "") for t in BRIEF_TARGETS}


class BatchStartForm(forms.Form):
    start_at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                   help_text="Leave empty to start now; set an off-peak time to schedule.")
