"""Phone numbers: the brand's regions and the common ones; only valid numbers are reported."""
from __future__ import annotations

import pytest
from django.urls import reverse

from governance.detectors.personal_data import find_personal_data
from governance.models import Brand
from governance.policies import evaluate


def phones(text: str, **kwargs) -> list[str]:
    return [f.text for f in find_personal_data(text, kinds=("phone",), **kwargs)]


@pytest.mark.parametrize(("text", "number"), [
    ("Call our London office on 020 7946 0958.", "020 7946 0958"),
    ("Questions? Ring 030 901820 in Berlin.", "030 901820"),
    ("Our Paris desk: 01 42 68 53 00.", "01 42 68 53 00"),
    ("Mobil: 0151 23456789.", "0151 23456789"),
    ("Manchester: 0161 496 0000.", "0161 496 0000"),
])
def test_a_national_number_of_a_common_region_is_found_for_a_brand_elsewhere(text, number):
    assert phones(text, region="US") == [number]


def test_the_brands_own_regions_are_tried_besides_the_common_ones():
    text = "Zadzwoń: 22 628 10 00."  # a Warsaw number; Poland is not a common region
    assert phones(text) == []
    assert phones(text, regions=["PL"]) == ["22 628 10 00"]


@pytest.mark.parametrize("text", [
    "Dial 020 1234 for the lift engineer.",  # valid somewhere only as a short number
    "Your order ORD-2024-000123 has shipped.",
    "Quote reference 4155552671 when you write.",
    "Records from 1998-2004 and 2010-2016 are archived.",
    "The festival runs from 12.06.2025 to 15.06.2025.",
    "Update to version 10.0.19045.3803 first.",
    "The code 0000 000 0000 is a placeholder.",
])
def test_invalid_short_and_reference_numbers_are_not_reported(text):
    assert phones(text, region="GB") == []


def test_the_check_of_a_saved_rule_set_uses_the_brands_regions(world):
    world.brand.phone_regions = ["PL"]
    world.brand.save()
    findings = evaluate("Zadzwoń: 22 628 10 00.", channel="blog", version=world.rule_set_version, brand=world.brand)
    assert [f.text for f in findings if f.category == "personal_data"] == ["22 628 10 00"]
    other = evaluate("Zadzwoń: 22 628 10 00.", channel="blog", version=world.rule_set_version, brand=world.other_brand)
    assert [f for f in other if f.category == "personal_data"] == []


def test_an_admin_sets_a_brands_regions_as_country_codes(admin_client, world):
    url = reverse("admin:governance_brand_change", args=[world.brand.pk])
    form = admin_client.get(url).content.decode()
    assert 'name="phone_regions"' in form
    response = admin_client.post(url, {"name": "Northwind", "slug": "northwind", "phone_regions": "gb, de ie",
                                       "policy_approvals": "on"})
    assert response.status_code == 302
    assert Brand.objects.get(pk=world.brand.pk).phone_regions == ["GB", "DE", "IE"]


def test_an_unknown_region_is_refused_with_a_message(admin_client, world):
    url = reverse("admin:governance_brand_change", args=[world.brand.pk])
    response = admin_client.post(url, {"name": "Northwind", "slug": "northwind", "phone_regions": "GB, XX"})
    assert response.status_code == 200 and "Unknown region XX" in response.content.decode()
    assert Brand.objects.get(pk=world.brand.pk).phone_regions == []
