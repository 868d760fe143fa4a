"""Filing a brief: the brief, its draft, and the start of the pipeline.

The only editorial module that starts the pipeline; edits live in editorial/editing.py and who is
reviewing what in editorial/assignments.py."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from agents.models import KnowledgeDocument, PromptTemplate
from agents.modelops.templates import variables_problems
from agents.pipeline.steps import model_version_for_brief, pipeline_start
from agents.triage import brief_triage, triage_risk_audit
from editorial.models import Brief, Draft
from governance.audit import audit_log
from governance.gates import workflow_for
from governance.models import Brand
from governance.permissions import brands_for_user
from governance.workflows import workflow_problems


@transaction.atomic
def brief_create(
    *,
    user: Any,
    brand: Brand,
    title: str,
    goal: str,
    audience: str,
    channel: str,
    tone: str,
    risk: str,
    template: PromptTemplate,
    sources: list[KnowledgeDocument] | None = None,
    language: str = "en",
    variables: dict[str, Any] | None = None,
    bulk: bool = False,
) -> Draft:
    """File a brief; its draft appears as "generating" and the pipeline starts on commit.

    `variables`: values of the template's variables (checked against its schema). `bulk`: the
    draft's runs go to the bulk queue, behind interactive work (editorial/batches/ files these)."""
    if not user.has_perm("editorial.add_brief") or not brands_for_user(user).filter(pk=brand.pk).exists():
        raise PermissionDenied("You cannot file briefs for this brand.")
    if template.active_version_id is None:
        raise ValidationError({"template": "This template has no active version yet."})
    if language not in dict(settings.AIOS_CONTENT_LANGUAGES):
        raise ValidationError({"language": f"Choose one of: {', '.join(dict(settings.AIOS_CONTENT_LANGUAGES))}."})
    sources = sources or []
    workflow = workflow_for(brand=brand, channel=channel)
    if workflow is None:
        raise ValidationError(f"No review workflow covers {brand} on the {channel} channel; ask an admin to add one.")
    problems = workflow_problems(workflow)
    if problems:
        raise ValidationError(f"The review workflow “{workflow.name}” can never complete: " + " ".join(problems))
    variables = variables or {}
    if variables:
        problems = variables_problems(template.active_version.variables, variables)
        if problems:
            raise ValidationError({"variables": problems})
    if any(doc.brand_id != brand.pk for doc in sources):
        raise ValidationError({"sources": "Source documents must belong to the brief's brand."})
    # Triage (agents/triage.py) may raise the risk to its predicted category's, never lower it.
    triage, triaged_risk = brief_triage(title=title, goal=goal, audience=audience, risk=risk)
    brief = Brief.objects.create(
        brand=brand, title=title, goal=goal, audience=audience, channel=channel, tone=tone, risk=triaged_risk,
        template=template, requested_by=user, triage=triage, language=language, variables=variables,
    )
    brief.sources.set(sources)
    draft = Draft.objects.create(
        brief=brief,
        brand=brand,
        title=title,
        workflow=workflow,
        model_version=model_version_for_brief(brief.pk),
        prompt_version=template.active_version,
        run_queue=settings.AIOS_BULK_QUEUE if bulk else settings.AIOS_INTERACTIVE_QUEUE,
    )
    audit_log(action="editorial.brief.create", obj=brief, user=user,
              data={"draft": draft.pk, "risk": brief.risk, **({"bulk": True} if bulk else {})})
    if brief.risk != risk:
        triage_risk_audit(brief=brief, requested=risk, triage=triage)
    pipeline_start(draft=draft)
    return draft
