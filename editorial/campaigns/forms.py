from __future__ import annotations

from django import forms
from django.conf import settings

from agents.models import PromptTemplate
from editorial.campaigns.models import ARM_LABELS, Campaign, Segment
from governance.models import Brand, Channel, Risk


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000)
    traits = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=2000,
                             help_text="One trait a line: what these readers are like, what they care about.")
    language = forms.ChoiceField(choices=settings.AIOS_CONTENT_LANGUAGES, initial="en")
    channels = forms.MultipleChoiceField(choices=Channel.choices, required=False,
                                         widget=forms.CheckboxSelectMultiple, help_text="Preferred channels.")


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"autofocus": True}))
    # Preselected like the brief form's: most people have one brand, and the demo has one template.
    brand = forms.ModelChoiceField(queryset=Brand.objects.none(), empty_label=None)
    title = forms.CharField(max_length=200, label="Master title")
    goal = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    audience = forms.CharField(max_length=200, initial="everyone", label="Master audience")
    channel = forms.ChoiceField(choices=Channel.choices, label="Master channel")
    tone = forms.CharField(max_length=120, initial="warm, clear")
    risk = forms.ChoiceField(choices=Risk.choices, initial=Risk.LOW)
    template = forms.ModelChoiceField(queryset=PromptTemplate.objects.filter(active_version__isnull=False),
                                      empty_label=None)
    segments = forms.ModelMultipleChoiceField(queryset=Segment.objects.none(), widget=forms.CheckboxSelectMultiple)
    channels = forms.MultipleChoiceField(choices=Channel.choices, widget=forms.CheckboxSelectMultiple,
                                         label="Variant channels")
    mode = forms.ChoiceField(choices=Campaign.Mode.choices, initial=Campaign.Mode.AFTER_APPROVAL,
                             widget=forms.RadioSelect, label="Write the variants")
    arms = forms.IntegerField(min_value=1, max_value=len(ARM_LABELS), initial=1,
                              label="Variants per segment and channel", help_text="Two or more for an A/B test.")

    def __init__(self, *args, brands, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brand"].queryset = brands
        self.fields["segments"].queryset = Segment.objects.filter(
            brand__in=brands, active_version__isnull=False).select_related("brand")
        self.fields["segments"].label_from_instance = lambda s: f"{s.name} ({s.brand})"
