from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError

from aios.admin_history import ReadOnlyHistoryAdmin
from editorial.campaigns import models as m
from editorial.campaigns.segments import clean_traits, segment_save
from governance.models import Channel


class SegmentAdminForm(forms.ModelForm):
    """Editing a segment saves a new version through segment_save (the old versions stay)."""

    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    traits = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, help_text="One trait a line.")
    language = forms.ChoiceField(choices=settings.AIOS_CONTENT_LANGUAGES, initial="en")
    channels = forms.MultipleChoiceField(choices=Channel.choices, required=False, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = m.Segment
        fields = ["brand", "name"]

    def clean_traits(self) -> list[str]:
        try:
            return clean_traits(self.cleaned_data["traits"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        version = self.instance.active_version if self.instance.pk else None
        if version is not None:
            self.initial.update(description=version.description, traits="\n".join(version.traits),
                                language=version.language, channels=version.channels)


class SegmentVersionInline(admin.TabularInline):
    model = m.SegmentVersion
    fields = ["number", "description", "traits", "language", "channels", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # versions are history, written by segment_save

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(m.Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentAdminForm
    list_display = ["name", "brand", "active_version"]
    list_filter = ["brand"]
    inlines = [SegmentVersionInline]

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        version = segment_save(
            user=request.user, brand=data["brand"], name=data["name"], description=data["description"],
            traits=data["traits"], language=data["language"], channels=data["channels"],
            segment=m.Segment.objects.get(pk=obj.pk) if change else None,
        )
        obj.pk, obj.active_version = version.segment_id, version
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(m.InheritedGate)
class InheritedGateAdmin(admin.ModelAdmin):
    list_display = ["gate", "created_at"]


class VariantInline(admin.TabularInline):
    model = m.Variant
    fields = ["segment", "segment_version", "channel", "arm", "draft", "master_revision"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(m.Campaign)
class CampaignAdmin(ReadOnlyHistoryAdmin):
    list_display = ["name", "brand", "mode", "arms", "created_by", "created_at"]
    list_filter = ["brand", "mode"]
    inlines = [VariantInline]


@admin.register(m.Experiment)
class ExperimentAdmin(ReadOnlyHistoryAdmin):
    list_display = ["name", "campaign", "status", "winner", "created_at"]


@admin.register(m.OutcomeReport)
class OutcomeReportAdmin(ReadOnlyHistoryAdmin):
    list_display = ["report_id", "experiment", "variant", "impressions", "clicks", "conversions", "received_at"]
