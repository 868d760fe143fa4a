from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from agents.models import KnowledgeDocument, ModelVersion, PromptTemplate, PromptTemplateVersion
from agents.pipeline import regenerate as regen_services
from editorial.corrections import CorrectionFilters, correction_brands_for_user
from editorial.editing import MAX_CONTENT_CHARS
from governance.models import Brand, Channel, Risk
from governance.permissions import brands_for_user


class BriefForm(forms.Form):
    brand = forms.ModelChoiceField(queryset=None, empty_label=None)
    title = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"autofocus": True}))
    goal = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="What should this piece achieve?")
    audience = forms.CharField(max_length=200, help_text="Who reads it?")
    channel = forms.ChoiceField(choices=Channel.choices)
    tone = forms.CharField(max_length=120, initial="clear and friendly")
    language = forms.ChoiceField(choices=settings.AIOS_CONTENT_LANGUAGES, initial="en", required=False,
                                 help_text="Every section is checked to be in this language.")
    risk = forms.ChoiceField(choices=Risk.choices, help_text="Medium adds a brand sign-off; high adds legal too.")
    template = forms.ModelChoiceField(queryset=PromptTemplate.objects.filter(active_version__isnull=False),
                                      empty_label=None)
    sources = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Optional: limit retrieval to these documents.",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        brands = brands_for_user(user)
        self.fields["brand"].queryset = brands
        self.fields["sources"].queryset = (
            KnowledgeDocument.objects.filter(brand__in=brands)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))  # expired ones are never used
            .select_related("brand")
        )
        self.fields["sources"].label_from_instance = lambda d: f"{d.title} ({d.brand})"

    def clean_language(self) -> str:
        return self.cleaned_data.get("language") or "en"  # a form posted without it (an older page) is English

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        brand, sources = data.get("brand"), data.get("sources") or []
        if brand and any(doc.brand_id != brand.pk for doc in sources):
            self.add_error("sources", "Choose documents of the selected brand only.")
        return data


class EditForm(forms.Form):
    content = forms.CharField(
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "true", "class": "editor",
                                     "aria-describedby": "id_content_help"}),
        help_text=f"Up to {MAX_CONTENT_CHARS:,} characters.",
        error_messages={"required": "The text is empty; nothing was saved."},
    )
    base_revision = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(max_length=300, required=False, label="What changed (optional)")

    # No `maxlength` on the textarea: a browser would cut pasted text there without a word. The
    # server says it instead.
    def clean_content(self) -> str:
        content = self.cleaned_data["content"]
        length = len(content.replace("\r\n", "\n").strip())  # as the service counts it
        if length > MAX_CONTENT_CHARS:
            raise forms.ValidationError(
                f"The text has {length:,} characters, more than the {MAX_CONTENT_CHARS:,} a revision may have; "
                "nothing was saved."
            )
        return content


class SignOffForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "approve"), ("request_changes", "request changes"),
                                          ("reject", "reject")])
    revision = forms.IntegerField()
    comment = forms.CharField(max_length=4000, required=False)


class RegenerateForm(forms.Form):
    """Rewrite one section of the current revision with an instruction (the draft page's proposal panel)."""

    section = forms.IntegerField(min_value=0, error_messages={"required": "Choose the section to rewrite."})
    instruction = forms.CharField(
        max_length=regen_services.MAX_INSTRUCTION,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say how the section should change, e.g. “shorter, warmer, cite the source”."},
    )
    base_revision = forms.IntegerField(widget=forms.HiddenInput)
    key = forms.CharField(max_length=64, widget=forms.HiddenInput)


class CorrectionsForm(forms.Form):
    """What to export of the reviewer corrections (the desk's download and GET /api/v1/corrections)."""

    brand = forms.ModelChoiceField(queryset=None, required=False, to_field_name="slug",
                                   empty_label="All brands I may export")
    model_version = forms.ModelChoiceField(queryset=ModelVersion.objects.order_by("name"), required=False,
                                           empty_label="Any model version")
    prompt_version = forms.ModelChoiceField(
        queryset=PromptTemplateVersion.objects.select_related("template").order_by("template__name", "number"),
        required=False, empty_label="Any prompt version",
    )
    since = forms.DateField(required=False, help_text="Approved on or after (YYYY-MM-DD).",
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, help_text="Approved on or before (YYYY-MM-DD).",
                            widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed = correction_brands_for_user(user=user)
        self.fields["brand"].queryset = Brand.objects.filter(pk__in=[b.pk for b in self.allowed])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", "The end of the range is before its start.")
        return data

    def filters(self) -> CorrectionFilters:
        data = self.cleaned_data
        return CorrectionFilters(
            brands=(data["brand"],) if data.get("brand") else tuple(self.allowed),
            model_version_id=data["model_version"].pk if data.get("model_version") else None,
            prompt_version_id=data["prompt_version"].pk if data.get("prompt_version") else None,
            since=data.get("since"), until=data.get("until"),
        )
