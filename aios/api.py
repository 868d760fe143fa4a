"""The one NinjaAPI: mounts each app's router under /api/v1 and maps errors to clear answers.

Callers authenticate with an API token (`Authorization: Bearer aios_…`) or a browser session (which
must pass the CSRF check on unsafe methods). Every error is an RFC 9457 problem
(`application/problem+json`). `ApiMiddleware` adds what ninja cannot see from inside a route: the body
size limit, Idempotency-Key replays for POST, and problem bodies for errors raised outside ninja
(unknown URLs, wrong methods, crashes).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, RequestDataTooBig, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth
from ninja.utils import check_csrf

from editorial.api import briefs as briefs_api
from editorial.api import corrections as corrections_api
from editorial.api import drafts as drafts_api
from editorial.api import outline as outline_api
from editorial.api import queue as queue_api
from editorial.api import rewrites as rewrites_api
from editorial.batches.api import router as batches_router
from editorial.insights import api as insights_api
from editorial.campaigns import api as campaigns_api
from governance.api import router as governance_router
from governance.models import ApiToken, IdempotencyRecord
from governance.tokens import (
    TokenInvalid,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    rate_limit_hit,
    token_check,
)

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
PROBLEM_CONTENT_TYPE = "application/problem+json"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255


# --- problems (RFC 9457) ------------------------------------------------------------------------

def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(status: int, detail: str, *, code: str = "", headers: dict[str, str] | None = None,
            **extra: Any) -> HttpResponse:
    """An `application/problem+json` answer: type, title, status, a sentence of detail, and any
    extension members (`code` names the problem for programs; `errors` lists invalid fields)."""
    body: dict[str, Any] = {"type": "about:blank", "title": _title(status), "status": status, "detail": detail}
    if code:
        body["code"] = code
    body.update(extra)
    response = HttpResponse(json.dumps(body, cls=DjangoJSONEncoder), status=status,
                            content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _default_detail(request: HttpRequest, response: HttpResponse) -> str:
    status = response.status_code
    if status == 404:
        return f"There is no API endpoint at {request.path}."
    if status == 405:
        allowed = response.get("Allow", "")
        return f"{request.method} is not allowed here." + (f" Allowed: {allowed}." if allowed else "")
    if status == 400:
        return "The request could not be understood."
    if status >= 500:
        return "Something went wrong on our side. It has been logged; please try again later."
    return f"{_title(status)}."


def as_problem(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Turn an error answer that is not yet a problem (Django's 404 and 405 pages, a route's own
    `{"detail": …}` JSON, a crash) into one, keeping its status, headers and cookies."""
    if response.status_code < 400 or response.streaming:
        return response
    content_type = response.get("Content-Type", "")
    if content_type.startswith(PROBLEM_CONTENT_TYPE):
        return response
    if settings.DEBUG and response.status_code >= 500:
        return response  # keep the traceback page while developing
    members: dict[str, Any] = {}
    if content_type.startswith("application/json"):
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
        if isinstance(data, dict):
            members = data
    detail = members.pop("detail", None)
    if not isinstance(detail, str):
        if detail is not None:
            members.setdefault("errors", detail)
        detail = _default_detail(request, response)
    for fixed in ("type", "title", "status"):
        members.pop(fixed, None)
    body = {"type": "about:blank", "title": _title(response.status_code), "status": response.status_code,
            "detail": detail, **members}
    response.content = json.dumps(body, cls=DjangoJSONEncoder).encode()
    response["Content-Type"] = PROBLEM_CONTENT_TYPE
    if response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    return response


# --- authentication and rate limits ------------------------------------------------------------

class TokenRejected(AuthenticationError):
    """A bearer token was sent but cannot authenticate (unknown, malformed, revoked, expired)."""


def _bearer(request: HttpRequest) -> ApiToken | TokenInvalid | None:
    """The request's bearer token (or why it is refused), None without one. Checked once per request:
    the middleware needs it for the idempotency owner, and ninja's auth after it."""
    if hasattr(request, "_aios_bearer"):
        return request._aios_bearer
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    result: ApiToken | TokenInvalid | None = None
    if scheme.lower() == "bearer":
        try:
            result = token_check(raw)
        except TokenInvalid as exc:
            result = exc
    request._aios_bearer = result
    return result


def _enforce_rate_limit(bucket: str, limit: int) -> None:
    wait = rate_limit_hit(bucket=bucket, limit=limit)
    if wait is not None:
        raise Throttled(wait=wait)


class TokenAuth(HttpBearer):
    """`Authorization: Bearer aios_…`. Acts as the token's user, limited to the token's scopes
    (routes call `api_scope_required`). No CSRF check: a cross-site form cannot send this header."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        result = _bearer(request)
        if not isinstance(result, ApiToken):
            raise TokenRejected(message=str(result) if result else "This token is not valid.")
        request.user = result.user
        request.api_token = result
        _enforce_rate_limit(f"token:{result.pk}", result.rate_limit_per_minute)
        return result


class SessionAuth(NinjaSessionAuth):
    """The browser session (CSRF checked on unsafe methods), with a per-user rate limit."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is not None:
            _enforce_rate_limit(f"user:{user.pk}", settings.AIOS_API_SESSION_RATE_LIMIT_PER_MINUTE)
        return user


# --- the schema documents every problem as it is sent ------------------------------------------

_PROBLEM_DESCRIPTIONS = {
    400: "Malformed request: the body is not JSON, or the Idempotency-Key header is not 1–255 printable characters",
    401: "No session or API token, or the token is unknown, revoked or expired",
    403: "Not allowed, the token lacks the route's scope, or a session's CSRF check failed",
    404: "No such object, or not one of your brands",
    409: "Conflict with the current state, or a request with this Idempotency-Key is still running",
    413: "The request body is larger than the limit",
    422: "Invalid parameters or fields (`errors` names them), or an Idempotency-Key reused for another request",
    429: "Rate limit reached; `Retry-After` says when to try again",
}


def _route_problems(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The problems any route may answer, on top of those it declares: authentication and rate limits
    everywhere; 404 with path ids; 422 with parameters or a body; a body's 400 and 413; a POST's
    Idempotency-Key (400, 409 while in flight, 422 when reused)."""
    codes = {401, 403, 429}
    if "{" in path:
        codes.add(404)
    if operation.get("parameters") or "requestBody" in operation:
        codes.add(422)
    if "requestBody" in operation:
        codes |= {400, 413}
    if method == "post":
        codes |= {400, 409, 413, 422}
    return codes


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Every error answer in the OpenAPI schema as `application/problem+json` (as ApiMiddleware and the
    exception handlers send it), with the problems a route may send that its decorator does not list."""
    problem_ref = {"$ref": "#/components/schemas/ErrorOut"}  # every route's errors() declare it
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _route_problems(path, method, operation):
                if code not in responses and str(code) not in responses:
                    responses[code] = {"description": _PROBLEM_DESCRIPTIONS[code],
                                       "content": {"application/json": {"schema": problem_ref}}}
            for code, response in responses.items():
                content = response.get("content", {})
                if int(code) >= 400 and "application/json" in content:
                    content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
                media = content.get(PROBLEM_CONTENT_TYPE)
                # A route's own problem shape (a 422 listing rows, a 409 with the current revision) is not
                # the only one it sends: request validation, the middleware and the handlers answer the
                # plain problem with the same status.
                if media and media.get("schema") not in (problem_ref, None) and int(code) in _PROBLEM_DESCRIPTIONS:
                    media["schema"] = {"anyOf": [media["schema"], problem_ref]}
    return schema


class ProblemNinjaAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None):
        return document_problems(super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params))


api = ProblemNinjaAPI(title="AIOS Editorial API", version="1", urls_namespace="api",
                      auth=[TokenAuth(), SessionAuth()])
api.add_router("/", briefs_api.router)
api.add_router("/", drafts_api.router)
api.add_router("/", queue_api.router)
api.add_router("/", rewrites_api.router)
api.add_router("/", outline_api.router)
api.add_router("/", corrections_api.router)
api.add_router("/", governance_router)
api.add_router("/", batches_router)
api.add_router("/", insights_api.router)
api.add_router("/", campaigns_api.router)


# --- exception handlers -----------------------------------------------------------------------

_FRIENDLY_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field: it is not accepted here.",
}


def _body_keys(request: HttpRequest) -> set[str]:
    try:
        data = json.loads(request.body)
    except (ValueError, RawPostDataException):
        return set()
    return set(data) if isinstance(data, dict) else set()


def _field_errors_detail(errors: list[dict[str, Any]]) -> str:
    named = [f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors]
    return "The request has invalid fields — " + "; ".join(named)


@api.exception_handler(NinjaValidationError)
def on_request_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    body_keys = _body_keys(request)
    errors = []
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        # ninja nests a schema body under its parameter name ("body.payload.channel"); callers
        # never send that name, so leave it out unless the body really has such a key.
        if len(loc) >= 2 and loc[0] == "body" and loc[1] not in body_keys:
            del loc[1]
        errors.append({"field": ".".join(loc), "message": _FRIENDLY_MESSAGES.get(error.get("type"), error.get("msg"))})
    return problem(422, _field_errors_detail(errors), code="validation_error", errors=errors)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        errors = [{"field": None if field == NON_FIELD_ERRORS else field, "message": message}
                  for field, messages in exc.message_dict.items() for message in messages]
    else:
        errors = [{"field": None, "message": message} for message in exc.messages]
    detail = _field_errors_detail(errors) if any(e["field"] for e in errors) else " ".join(exc.messages)
    return problem(422, detail, code="validation_error", errors=errors)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem(403, str(exc) or "You are not allowed to do that.", code="forbidden")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, str(exc) or "Not found.", code="not_found")


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    if isinstance(exc, TokenRejected):
        return problem(401, str(exc), code="invalid_token",
                       headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'})
    return problem(401, "Authentication required: sign in, or send an API token as "
                        "“Authorization: Bearer aios_…”.", code="not_authenticated",
                   headers={"WWW-Authenticate": 'Bearer realm="api"'})


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    wait = max(1, int(exc.wait or 1))
    return problem(429, f"Too many requests: the rate limit is reached. Try again in {wait} seconds.",
                   code="rate_limited", retry_after=wait, headers={"Retry-After": str(wait)})


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, (json.JSONDecodeError, UnicodeDecodeError)):
        where = (f" ({cause.msg} at line {cause.lineno}, column {cause.colno})"
                 if isinstance(cause, json.JSONDecodeError) else " (it is not UTF-8)")
        return problem(400, f"The request body is not valid JSON{where}.", code="invalid_json")
    if exc.status_code == 403 and str(exc) == "CSRF check Failed":
        return problem(403, "CSRF check failed: a browser session must send its CSRF token in the "
                            "X-CSRFToken header (or use an API token).", code="csrf_failed")
    return problem(exc.status_code, str(exc) or f"{_title(exc.status_code)}.")


# --- middleware: body size, idempotency, problems for errors outside ninja -----------------------

def _too_large(limit: int) -> HttpResponse:
    return problem(413, f"The request body is too large: at most {limit} bytes are accepted.",
                   code="body_too_large", max_bytes=limit)


# Answers that say "try again" rather than "this is the result": not kept for replay, so a retry
# with the same key runs the request again.
_NOT_STORED = {401, 408, 425, 429}


def _storable(response: HttpResponse) -> bool:
    status = response.status_code
    return not response.streaming and (200 <= status < 300 or (400 <= status < 500 and status not in _NOT_STORED))


def _idempotency_owner(request: HttpRequest) -> str | None:
    """Whose keys this request uses: the token's, or the session user's. None when the request will
    not authenticate (ninja answers it with 401/403 and nothing is stored)."""
    bearer = _bearer(request)
    if isinstance(bearer, ApiToken):
        return f"token:{bearer.pk}"
    if bearer is not None:
        return None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or check_csrf(request) is not None:
        return None
    return f"user:{user.pk}"


class ApiMiddleware:
    """For /api/v1/ only; placed after AuthenticationMiddleware (session owners need request.user)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return as_problem(request, self._handle(request))

    def _handle(self, request: HttpRequest) -> HttpResponse:
        limit = settings.AIOS_API_MAX_BODY_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return _too_large(limit)
        if request.method != "POST":
            return self.get_response(request)
        try:
            body = request.body
        except RequestDataTooBig:
            return _too_large(limit)
        if len(body) > limit:  # no (or a false) Content-Length
            return _too_large(limit)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return self.get_response(request)
        if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
            return problem(400, f"The {IDEMPOTENCY_HEADER} header must be 1 to {MAX_IDEMPOTENCY_KEY} "
                                "printable characters.", code="idempotency_key_invalid")
        owner = _idempotency_owner(request)
        if owner is None:
            return self.get_response(request)
        return self._idempotent(request, owner=owner, key=key, body_hash=hashlib.sha256(body).hexdigest())

    def _idempotent(self, request: HttpRequest, *, owner: str, key: str, body_hash: str) -> HttpResponse:
        record, claimed = idempotency_claim(owner=owner, key=key, method=request.method,
                                            path=request.path_info, body_hash=body_hash)
        if not claimed:
            return self._answer_for_existing(request, record, body_hash)
        try:
            response = as_problem(request, self.get_response(request))
        except BaseException:
            idempotency_release(record=record)
            raise
        if _storable(response):
            try:
                text = response.content.decode("utf-8")
            except UnicodeDecodeError:
                idempotency_release(record=record)
            else:
                idempotency_complete(record=record, status=response.status_code, body=text,
                                     content_type=response.get("Content-Type", ""))
        else:
            idempotency_release(record=record)
        return response

    def _answer_for_existing(self, request: HttpRequest, record: IdempotencyRecord, body_hash: str) -> HttpResponse:
        if record.method != request.method or record.path != request.path_info[:500]:
            return problem(422, f"Idempotency-Key reused for a different request: it was first used for "
                                f"{record.method} {record.path}.", code="idempotency_key_reused")
        if record.body_hash != body_hash:
            return problem(422, "Idempotency-Key reused with a different request body. Use a new key for a "
                                "new request.", code="idempotency_key_reused")
        if record.state == IdempotencyRecord.State.IN_FLIGHT:
            return problem(409, "A request with this Idempotency-Key is still being processed. Retry shortly "
                                "to get its result.", code="idempotency_key_in_flight", headers={"Retry-After": "1"})
        response = HttpResponse(record.response_body, status=record.response_status,
                                content_type=record.response_content_type or "application/json")
        response["Idempotent-Replayed"] = "true"
        return response
