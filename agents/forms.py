from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from agents.knowledge import FORMATS, MAX_TITLE

MAX_EXPIRY_YEARS = 100


class KnowledgeUploadForm(forms.Form):
    """A file or pasted text for a brand's knowledge base. The service checks the content."""

    title = forms.CharField(max_length=MAX_TITLE)
    file = forms.FileField(required=False, label="File",
                           help_text="Plain text (.txt), Markdown (.md) or HTML (.html); HTML is reduced to its text.",
                           widget=forms.ClearableFileInput(attrs={"accept": ".txt,.text,.md,.markdown,.html,.htm"}))
    text = forms.CharField(required=False, strip=False, label="…or paste the text",
                           widget=forms.Textarea(attrs={"rows": 6}))
    source_format = forms.ChoiceField(choices=list(FORMATS.items()), initial="text", label="Pasted text is")
    expires_on = forms.DateField(required=False, label="Expires on (optional)",
                                 help_text="After this day the document is no longer used for drafts.",
                                 widget=forms.DateInput(attrs={"type": "date"}))

    def clean_expires_on(self) -> date | None:
        day = self.cleaned_data.get("expires_on")
        if day is not None and day > timezone.localdate() + timedelta(days=366 * MAX_EXPIRY_YEARS):
            raise forms.ValidationError(f"Choose an expiry day within the next {MAX_EXPIRY_YEARS} years.")
        return day

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("file") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste some text.")
        if data.get("file") and (data.get("text") or "").strip():
            raise forms.ValidationError("Either upload a file or paste text, not both.")
        return data

    def expires_at(self) -> datetime | None:
        """A document is used through its expiry day and stops at the next midnight (site time)."""
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


class KnowledgeEditForm(forms.Form):
    """A document's title and text, changed by a person. The service checks the content; drafts that
    rest on the old text are flagged "sources changed"."""

    title = forms.CharField(max_length=MAX_TITLE)
    text = forms.CharField(strip=False, label="Text", widget=forms.Textarea(attrs={"rows": 12}))
