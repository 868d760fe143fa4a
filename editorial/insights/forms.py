"""The insights filters, checked once for the page, the comparison and the API."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from agents.models import ModelVersion, PromptTemplate, PromptTemplateVersion
from editorial.insights.metrics import DIMENSIONS, INTERVALS, Filters, default_period
from governance.models import Brand, Channel

MAX_DAYS = 731


class VersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.template.name} v{obj.number}" if isinstance(obj, PromptTemplateVersion) else str(obj)


class InsightsFilterForm(forms.Form):
    brand = forms.ModelChoiceField(queryset=Brand.objects.none(), required=False, to_field_name="slug",
                                   empty_label="All my brands")
    model_version = forms.ModelChoiceField(queryset=ModelVersion.objects.order_by("name"), required=False,
                                           empty_label="Any model version")
    prompt_version = VersionChoice(
        queryset=PromptTemplateVersion.objects.select_related("template").order_by("template__name", "-number"),
        required=False, empty_label="Any prompt version",
    )
    channel = forms.ChoiceField(choices=[("", "Any channel"), *Channel.choices], required=False)
    template = forms.ModelChoiceField(queryset=PromptTemplate.objects.order_by("name"), required=False,
                                      to_field_name="slug", empty_label="Any template")
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    interval = forms.ChoiceField(choices=[("", "Auto (weeks past 45 days)"), *[(k, k.title()) for k in INTERVALS]],
                                 required=False, label="Per")
    by = forms.ChoiceField(choices=[(k, k.replace("_", " ").capitalize()) for k in DIMENSIONS], required=False,
                           label="Break down by")

    def __init__(self, *args: Any, brands: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.brands = list(brands)
        self.fields["brand"].queryset = Brand.objects.filter(pk__in=[b.pk for b in self.brands])
        for name in ("brand", "model_version", "prompt_version", "template"):
            self.fields[name].error_messages["invalid_choice"] = (
                "Choose one of the listed options; that one does not exist or is not yours."
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = default_period()
        data["start"] = data.get("start") or (data["end"] - timedelta(days=89) if data.get("end") else start)
        data["end"] = data.get("end") or max(end, data["start"])
        if data["start"] > data["end"]:
            raise ValidationError({"end": "The end date is before the start date."})
        if (data["end"] - data["start"]).days > MAX_DAYS:
            raise ValidationError({"start": f"Choose a period of at most {MAX_DAYS} days."})
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        brand = data.get("brand")
        return Filters(
            brands=[brand.pk] if brand else [b.pk for b in self.brands],
            start=data["start"], end=data["end"],
            model_version=data["model_version"].pk if data.get("model_version") else None,
            prompt_version=data["prompt_version"].pk if data.get("prompt_version") else None,
            channel=data.get("channel") or "", template=data["template"].pk if data.get("template") else None,
            interval=data.get("interval") or ("day" if (data["end"] - data["start"]).days <= 45 else "week"),
            by=data.get("by") or "model_version",
        )

    def scope_label(self) -> str:
        """"all my brands, 9 Sep 2026 – 7 Dec 2026, model version X": what the figures cover, in words."""
        data = self.cleaned_data
        parts = [data["brand"].name if data.get("brand") else "all my brands",
                 f"{data['start']:%-d %b %Y} – {data['end']:%-d %b %Y}"]
        for name in ("model_version", "prompt_version", "template"):
            if data.get(name):
                parts.append(f"{name.replace('_', ' ')} {self.fields[name].label_from_instance(data[name])}")
        if data.get("channel"):
            parts.append(f"channel {dict(self.fields['channel'].choices)[data['channel']]}")
        return ", ".join(parts)


class CompareForm(forms.Form):
    dimension = forms.ChoiceField(choices=[("model_version", "Model versions"), ("prompt_version", "Prompt versions")])
    a = forms.IntegerField(min_value=1, label="Version A")
    b = forms.IntegerField(min_value=1, label="Version B")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        a, b = data["a"], data["b"]
        model = ModelVersion if data["dimension"] == "model_version" else PromptTemplateVersion
        found = {v.pk: v for v in model.objects.filter(pk__in=[a, b])}
        data["versions"] = found
        if a == b:
            self.add_error("b", "Choose two different versions.")
        for key, pk in (("a", a), ("b", b)):
            if pk not in found:
                self.add_error(key, "No such version.")
        return data
