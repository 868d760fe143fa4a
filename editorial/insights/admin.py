"""Admin: alert rules on the insights figures (created and changed through the audited service)."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from editorial.insights.alerts import ALERT_METRICS, alert_rule_check, alert_rule_save
from editorial.insights.models import AlertRule


class AlertRuleForm(forms.ModelForm):
    metric = forms.ChoiceField(choices=[(key, label) for key, (label, _) in ALERT_METRICS.items()])

    class Meta:
        model = AlertRule
        fields = ["name", "metric", "direction", "threshold", "brand", "model_version", "prompt_version",
                  "min_drafts", "window_days", "recipients", "is_active"]
        help_texts = {"threshold": "Shares as fractions (0.4 = 40%), times in seconds, "
                                   "money in the currency of the model prices; "
                                   "e.g. edit rate above 0.4 over 20 drafts, generation p95 above 60, "
                                   "today's spend above 0.8 of the cap."}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        probe = AlertRule(**{k: v for k, v in data.items() if k != "recipients"})
        try:
            alert_rule_check(probe)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return data


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = ["name", "metric", "direction", "threshold", "brand", "model_version", "prompt_version",
                    "firing", "last_value", "last_n", "last_evaluated_at", "is_active"]
    list_filter = ["firing", "is_active", "brand"]
    readonly_fields = ["firing", "last_value", "last_n", "last_evaluated_at", "fired_at", "created_by"]
    filter_horizontal = ["recipients"]

    def save_model(self, request: HttpRequest, obj: AlertRule, form: Any, change: bool) -> None:
        alert_rule_save(rule=obj, user=request.user, changed=list(form.changed_data))

    def has_delete_permission(self, request: HttpRequest, obj: AlertRule | None = None) -> bool:
        return False  # switch a rule off instead: its firings stay explained in the audit log
