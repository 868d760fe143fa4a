from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth.models import Group, User

from agents.models import ModelVersion, PromptTemplate, PromptTemplateVersion
from governance.models import Brand, Connector, Gate, RuleSet, RuleSetVersion, Stage, Workflow
from governance.permissions import brand_member_add, role_grant

PASSWORD = "pw"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")


def group_with(name: str, *perms: str) -> Group:
    return role_grant(name=name, perms=perms)


@dataclass
class World:
    brand: Brand
    other_brand: Brand
    requester: User
    editor: User
    brand_reviewer: User
    legal: User
    outsider: User
    workflow: Workflow
    gates: dict[str, Gate]
    template: PromptTemplate
    model_version: ModelVersion
    rule_set_version: RuleSetVersion
    connector: Connector

    def user(self, name: str) -> Any:
        return getattr(self, name)


def build_world(*, sections: int = 2, connector_url: str = "http://127.0.0.1:9/hook") -> World:
    requesters = group_with("requesters", "editorial.add_brief")
    editors = group_with("editors", "editorial.add_brief", "editorial.add_revision", "governance.add_delivery")
    brand_group = group_with("brand reviewers")
    legal_group = group_with("legal reviewers")
    brand, other = BrandFactory(name="Northwind", slug="northwind"), BrandFactory(name="Acme", slug="acme")

    def person(username: str, group: Group, member_of: Brand) -> User:
        user = UserFactory(username=username, first_name=username.title())
        user.groups.add(group)
        brand_member_add(brand=member_of, user=user)
        return user

    world_users = {
        "requester": person("rita", requesters, brand),
        "editor": person("eddie", editors, brand),
        "brand_reviewer": person("bree", brand_group, brand),
        "legal": person("lena", legal_group, brand),
        "outsider": person("otto", editors, other),
    }
    workflow = Workflow.objects.create(name="Standard review")
    s1 = Stage.objects.create(workflow=workflow, order=1, name="Editorial")
    s2 = Stage.objects.create(workflow=workflow, order=2, name="Brand and legal")
    gates = {
        "editorial": Gate.objects.create(stage=s1, name="Editorial", slug="editorial", group=editors, min_risk="low"),
        "brand": Gate.objects.create(stage=s2, name="Brand", slug="brand", group=brand_group, min_risk="medium"),
        "legal": Gate.objects.create(stage=s2, name="Legal", slug="legal", group=legal_group, min_risk="high"),
    }
    rules = RuleSet.objects.create(name="House rules")
    version = RuleSetVersion.objects.create(
        rule_set=rules, number=1, banned_terms=[{"term": "guaranteed", "replacement": "designed to"}],
        disclaimers={"product": "Prices may change."},
    )
    rules.active_version = version
    rules.save()
    model_version = ModelVersion.objects.create(
        name="Settings model", use_settings=True, parameters={"temperature": 0},
        price_per_input_token=Decimal("0.000001"), price_per_output_token=Decimal("0.000002"),
    )
    template = PromptTemplate.objects.create(name="Blog post", slug="blog-post")
    template.active_version = PromptTemplateVersion.objects.create(
        template=template, number=1, system_text="You write for {channel}.",
        sections=[{"heading": f"Part {i + 1}", "instruction": f"Write part {i + 1}."} for i in range(sections)],
        section_prompt="{sources}\nBrief: {title}. {goal}\n## {heading}\n",
    )
    template.save()
    connector = Connector.objects.create(
        brand=brand, name="Test CMS", url=connector_url,
        secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
    )
    return World(
        brand=brand, other_brand=other, workflow=workflow, gates=gates, template=template,
        model_version=model_version, rule_set_version=version, connector=connector, **world_users,
    )
