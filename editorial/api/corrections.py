"""/api/v1 corrections: the reviewer-corrections export as streamed JSONL (editorial/corrections.py)."""
from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Router

from editorial.corrections import corrections_export
from editorial.forms import CorrectionsForm
from editorial.schemas import errors
from governance.permissions import api_scope_required

router = Router(tags=["editorial"])
JSONL = "application/jsonl; charset=utf-8"

LINE_DOC = {
    "description": "One JSON object per line: draft_id, brand, title, section_index, heading, agent_text, "
                   "approved_text (null when reviewers removed the section), changed, masked_spans, "
                   "approved_at, provenance {model, model_version, prompt_template_version, agent_revision_id, "
                   "approved_revision_id, run_id}.",
    "content": {"application/jsonl": {"schema": {"type": "string"}}},
}


@router.get("/corrections", operation_id="exportCorrections", response=errors(422),
            openapi_extra={"responses": {"200": LINE_DOC}})
def corrections(
    request: HttpRequest, brand: str | None = None, model_version: int | None = None,
    prompt_version: int | None = None, since: date | None = None, until: date | None = None,
):
    """Pairs of agent-written and approved sections of your brands, streamed as JSONL, personal data
    masked. Needs the "read" scope and the `governance.export_corrections` permission for the brand;
    without `brand`, every brand you may export."""
    api_scope_required(request, "read")
    form = CorrectionsForm(
        {"brand": brand or "", "model_version": model_version or "", "prompt_version": prompt_version or "",
         "since": since or "", "until": until or ""},
        user=request.user,
    )
    if not form.is_valid():
        raise ValidationError({name: " ".join(messages) for name, messages in form.errors.items()})
    lines = corrections_export(user=request.user, filters=form.filters())
    return StreamingHttpResponse(lines, content_type=JSONL)
