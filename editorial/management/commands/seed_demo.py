"""Load the demo workspace once: roles, people, two brands, a workflow, rules, a model, templates,
brand knowledge and a CMS connector pointing at the built-in demo receiver."""
from __future__ import annotations

import base64
import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from agents.models import ModelVersion, PromptTemplate, PromptTemplateVersion
from agents.knowledge import document_ingest
from governance.audit import audit_log
from governance.models import Brand, Connector, Gate, RuleSet, RuleSetVersion, Stage, Workflow
from governance.permissions import brand_member_add, role_grant
from editorial.campaigns.models import Campaign, Segment
from editorial.campaigns.segments import segment_save

ROLES = {
    "requesters": ["editorial.add_brief", "campaigns.add_campaign"],
    "editors": ["editorial.add_brief", "editorial.add_revision", "governance.add_delivery",
                "agents.add_knowledgedocument", "campaigns.add_campaign", "campaigns.add_experiment"],
    # Bree is the demo's brand lead: she keeps Northwind's audience segments.
    "brand reviewers": ["campaigns.change_segment"],
    "legal reviewers": ["governance.override_finding"],
}
SEGMENTS = [
    ("Students", "University students on a budget who study in our shops",
     ["price-conscious", "studies in cafés for hours", "orders from the phone app"], ["social", "newsletter"]),
    ("Office teams", "Office managers who order coffee and pastries for their teams",
     ["orders in bulk", "values reliability and invoices", "short on time"], ["newsletter", "blog"]),
]
PEOPLE = [
    ("rita", "Rita", "Requester", "requesters", "northwind"),
    ("eddie", "Eddie", "Editor", "editors", "northwind"),
    ("bree", "Bree", "Brand", "brand reviewers", "northwind"),
    ("lena", "Lena", "Legal", "legal reviewers", "northwind"),
    ("otto", "Otto", "Outsider", "editors", "acme"),
]

# Gemma 3 270M is a base model: it continues documents, it does not follow instructions. So the prompt
# is the start of the document to continue: the reference facts, a line saying what the document is,
# its title and the section's heading, as plain text. (Markdown `#` headings in the prompt made it write
# heading after heading; plain text makes it write paragraphs.) The writer stops it at the next heading
# (agents/pipeline/writer.py); the draft gets its `## ` headings from the plan. The section's
# instruction stays out of the text a base model would echo. Completion mode prepends the version's
# system text, so the demo leaves it empty.
SECTION_PROMPT = (
    "{sources}\n\n"
    "Below is a {tone} {channel} text by {brand} for {audience}, in plain English. Its goal: {goal}. "
    "Each section is one short paragraph of complete sentences.\n\n"
    "{title}\n\n"
    "{heading}.\n"
)
# What demo databases loaded before this prompt have; `seed_demo` moves them to the one above.
FIRST_SECTION_PROMPT = (
    "The following is a {tone} {channel} text from {brand} for {audience}. Its goal: {goal}\n"
    "{sources}\n\n"
    "# {title}\n\n"
    "## {heading}\n\n"
)
SYSTEM = ""

# (heading, instruction, target words): max_tokens and the acceptance check's lengths follow the target.
TEMPLATES = {
    "Blog post": [
        ("Introduction", "Open with why the reader should care.", 60),
        ("What is new", "Explain the news plainly, using the reference material.", 80),
        ("What to do next", "End with one concrete next step for the reader.", 50),
    ],
    "Product update": [
        ("Summary", "Say what changed in one or two sentences.", 40),
        ("Details", "Give the facts that matter to customers.", 80),
    ],
}


def template_sections(name: str) -> list[dict]:
    return [{"heading": h, "instruction": i, "target_words": words} for h, i, words in TEMPLATES[name]]


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
            self.upgrade_templates()
            self.upgrade_campaigns()
            self.stdout.write("demo data already loaded")
            return
        groups = {name: role_grant(name=name, perms=perms) for name, perms in ROLES.items()}
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
        for name in TEMPLATES:
            template = PromptTemplate.objects.create(name=name, slug=name.lower().replace(" ", "-"))
            template.active_version = PromptTemplateVersion.objects.create(
                template=template,
                number=1,
                system_text=SYSTEM,
                sections=template_sections(name),
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
        self.seed_segments(brands["northwind"], admin)
        self.stdout.write(self.style.SUCCESS("demo data loaded"))

    @staticmethod
    def seed_segments(brand: Brand, admin: User) -> None:
        for name, description, traits, channels in SEGMENTS:
            segment_save(user=admin, brand=brand, name=name, description=description, traits=traits,
                         channels=channels)

    def upgrade_campaigns(self) -> None:
        """A demo loaded before campaigns existed: its roles get the campaign permissions (a role that
        holds none of them; one an admin gave some to is left as it is) and Northwind its two segments
        (when it has no segment and no campaign yet)."""
        for name, perms in ROLES.items():
            group = Group.objects.filter(name=name).first()
            wanted = [p for p in perms if p.startswith("campaigns.")]
            if group and wanted and not group.permissions.filter(content_type__app_label="campaigns").exists():
                role_grant(name=name, perms=wanted)
                self.stdout.write(f"role {name}: campaign permissions added")
        northwind = Brand.objects.get(slug="northwind")
        admin = User.objects.filter(is_superuser=True).order_by("pk").first()
        if admin and not Segment.objects.filter(brand=northwind).exists() and not Campaign.objects.filter(
                brand=northwind).exists():
            self.seed_segments(northwind, admin)
            self.stdout.write("Northwind: demo audience segments added")

    def upgrade_templates(self) -> None:
        """A demo template still on its first, untouched prompt gets the current one as a new version
        (versions are immutable; the old one stays for comparison and rollback), audited."""
        for name in TEMPLATES:
            template = PromptTemplate.objects.filter(slug=name.lower().replace(" ", "-")).select_related(
                "active_version").first()
            current = template.active_version if template else None
            if current is None or current.section_prompt != FIRST_SECTION_PROMPT:
                continue
            last = template.versions.order_by("-number").first()
            version = PromptTemplateVersion.objects.create(
                template=template, number=last.number + 1, system_text=current.system_text,
                sections=template_sections(name), section_prompt=SECTION_PROMPT, chat_prompt=current.chat_prompt,
                variables=current.variables, note="Demo: document-continuation prompt and section lengths",
            )
            template.active_version = version
            template.save(update_fields=["active_version"])
            audit_log(action="agents.prompttemplate.activate", obj=template, label="seed_demo",
                      data={"old": current.number, "new": version.number, "reason": "demo prompt upgrade"})
            self.stdout.write(f"{name}: prompt version {version.number} is now active")
