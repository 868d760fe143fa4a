"""The one input-cleaning path for free text that no Django form reads: a NUL character (U+0000),
which PostgreSQL text and jsonb cannot hold, is refused for every request with a 400 and a message,
before any view or service sees it. Django forms refuse it field by field as well, and the API
(/api/v1/) has its own edge: its schemas refuse it with a 422 naming the field (`schemas.NO_NUL`)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.request import RawPostDataException

from aios.api import API_PREFIX, problem

NUL = "\x00"
MESSAGE = "The text contains a NUL character (U+0000), which is not allowed; nothing was saved."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def holds_nul(value: Any) -> bool:
    """Whether a string, or any string inside a decoded JSON value (keys too), holds a NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(v) for v in value)
    return False


def request_holds_nul(request: HttpRequest) -> bool:
    if any(holds_nul(k) or holds_nul(v) for k, values in request.GET.lists() for v in values):
        return True
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    content_type = request.content_type or ""
    try:
        if content_type in FORM_TYPES:
            return any(holds_nul(k) or holds_nul(v) for k, values in request.POST.lists() for v in values)
        if content_type.endswith("json"):
            body = request.body
            if b"\\u0000" not in body.lower():
                return False
            return holds_nul(json.loads(body))
    except (RequestDataTooBig, RawPostDataException, ValueError):
        return False  # the view answers what it cannot read
    return False


class TextInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(API_PREFIX) and request_holds_nul(request):
            if (request.content_type or "").endswith("json"):  # machines (the CMS hook) get problem+json
                return problem(400, MESSAGE, code="nul_character")
            return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
