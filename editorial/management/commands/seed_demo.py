"""Load the demo workspace once: roles, people, two brands, a workflow, rules, a model, templates,
brand knowledge and a CMS connector pointing at the built-in demo receiver."""
from __future__ import annotations

import base64
import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction

from agents.models import ModelVersion, PromptTemplate, PromptTemplateVersion
from agents.knowledge import document_ingest
from governance.models import Brand, Connector, Gate, RuleSet, RuleSetVersion, Stage, Workflow
from governance.permissions import brand_member_add

ROLES = {
    "requesters": ["editorial.add_brief"],
    "editors": ["editorial.add_brief", "editorial.add_revision", "governance.add_delivery",
                "agents.add_knowledgedocument"],
    "brand reviewers": [],
    "legal reviewers": ["governance.override_finding"],
}
PEOPLE = [
    ("rita", "Rita", "Requester", "requesters", "northwind"),
    ("eddie", "Eddie", "Editor", "editors", "northwind"),
    ("bree", "Bree", "Brand", "brand reviewers", "northwind"),
    ("lena", "Lena", "Legal", "legal reviewers", "northwind"),
    ("otto", "Otto", "Outsider", "editors", "acme"),
]

# Gemma 3 270M is a base model: a prompt that reads like the start of the document works best.
# (Completion mode prepends the version's system text, so the demo leaves it empty.)
SECTION_PROMPT = (
    "The following is a {tone} {channel} text from {brand} for {audience}. Its goal: {goal}\n"
    "{sources}\n\n"
    "# {title}\n\n"
    "## {heading}\n\n"
)
SYSTEM = ""

TEMPLATES = {
    "Blog post": [
        ("Introduction", "Open with why the reader should care."),
        ("What is new", "Explain the news plainly, using the reference material."),
        ("What to do next", "End with one concrete next step for the reader."),
    ],
    "Product update": [
        ("Summary", "Say what changed in one or two sentences."),
        ("Details", "Give the facts that matter to customers."),
    ],
}

KNOWLEDGE = [
    (
        "Brand voice",
        "Northwind Coffee speaks like a friendly barista: warm, plain and never pushy. "
        "We say 'coffee lovers', not 'consumers'. We avoid hype words such as 'revolutionary' or 'guaranteed'.\n\n"
        "Sentences are short. We explain how coffee is grown and roasted rather than making health claims.",
    ),
    (
        "Autumn roast facts",
        "The Autumn Ember roast is a medium-dark blend of beans from Huila, Colombia and Sidamo, Ethiopia. "
        "It tastes of caramel, baked apple and a hint of cocoa. A 250 g bag costs 12.50 EUR.\n\n"
        "Autumn Ember is available from 1 October until the end of November in all 14 Northwind cafés and online.",
    ),
    (
        "Sustainability",
        "Northwind buys directly from 38 farms and pays at least 30% above the Fairtrade minimum price. "
        "Since 2023 all cups are compostable and cafés run on renewable electricity.\n\n"
        "Customers who bring their own cup get 0.30 EUR off any drink.",
    ),
]


class Command(BaseCommand):
    help = "Load the demo data (once; does nothing when it is already there)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", default="aios-demo")

    @transaction.atomic
    def handle(self, *args, password: str, **options) -> None:
        if Brand.objects.filter(slug="northwind").exists():
            self.stdout.write("demo data already loaded")
            return
        groups = {}
        for name, perms in ROLES.items():
            group, _ = Group.objects.get_or_create(name=name)
            for dotted in perms:
                app_label, codename = dotted.split(".")
                group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            groups[name] = group
        brands = {
            "northwind": Brand.objects.create(name="Northwind Coffee", slug="northwind"),
            "acme": Brand.objects.create(name="Acme Outdoor", slug="acme"),
        }
        for username, first, last, group, brand in PEOPLE:
            user = User.objects.create_user(username, f"{username}@example.com", password,
                                            first_name=first, last_name=last)
            user.groups.add(groups[group])
            brand_member_add(brand=brands[brand], user=user)
        admin = User.objects.create_superuser("admin", "admin@example.com", password, first_name="Ada",
                                              last_name="Admin")
        admin.groups.add(groups["editors"])

        workflow = Workflow.objects.create(name="Standard review")
        editorial = Stage.objects.create(workflow=workflow, order=1, name="Editorial")
        signoff = Stage.objects.create(workflow=workflow, order=2, name="Brand and legal")
        Gate.objects.create(stage=editorial, name="Editorial", slug="editorial", group=groups["editors"],
                            min_risk="low")
        Gate.objects.create(stage=signoff, name="Brand", slug="brand", group=groups["brand reviewers"],
                            min_risk="medium")
        Gate.objects.create(stage=signoff, name="Legal", slug="legal", group=groups["legal reviewers"],
                            min_risk="high")

        rules = RuleSet.objects.create(name="House rules")
        version = RuleSetVersion.objects.create(
            rule_set=rules,
            number=1,
            banned_terms=[
                {"term": "guaranteed", "replacement": "designed to"},
                {"term": "revolutionary", "replacement": "new"},
                {"term": "cures", "replacement": "may help with"},
            ],
            disclaimers={"product": "Prices and availability may change.",
                         "press": "For media enquiries contact press@northwind.example."},
            # The brand's own contact details are not personal data to block.
            rules={"personal_data": {"allow": ["press@northwind.example"]}, "claims": {"severity": "warning"},
                   "length": {"max_words": 1500}, "reading_level": {"max_grade": 12}},
            created_by=admin,
        )
        rules.active_version = version
        rules.save()

        ModelVersion.objects.create(
            name="Local Gemma 3 270M",
            use_settings=True,
            mode=settings.AIOS_LLM_MODE,
            parameters={"temperature": 0.7, "stop": ["\n#", "\n\n\n"]},
            context_window=4096,
            price_per_input_token=Decimal("0.0000001"),
            price_per_output_token=Decimal("0.0000004"),
        )
        for name, sections in TEMPLATES.items():
            template = PromptTemplate.objects.create(name=name, slug=name.lower().replace(" ", "-"))
            template.active_version = PromptTemplateVersion.objects.create(
                template=template,
                number=1,
                system_text=SYSTEM,
                sections=[{"heading": h, "instruction": i} for h, i in sections],
                section_prompt=SECTION_PROMPT,
                note="First version",
                created_by=admin,
            )
            template.save()

        for title, body in KNOWLEDGE:
            document_ingest(brand=brands["northwind"], title=title, body=body, user=admin)

        for brand in brands.values():
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
            connector = Connector.objects.create(brand=brand, name=f"Demo CMS ({brand.name})",
                                                 url="http://placeholder.invalid/", secret=secret)
            connector.url = f"{settings.PUBLIC_URL.rstrip('/')}/demo/receiver/{connector.pk}/"
            connector.save(update_fields=["url"])
        self.stdout.write(self.style.SUCCESS("demo data loaded"))
