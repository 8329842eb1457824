"""Response bodies without I/O: error bodies as typed errors, JSON read safely.

:func:`status_error` turns any non-2xx answer (the API's documented error body,
FastAPI's shapes, a proxy's HTML page) into the typed error with advice;
:func:`response_error` is the error for a 2xx body the API does not document.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from ._constants import (
    RETRYABLE_STATUS_CODES,
)
from ._exceptions import (
    APIResponseError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    UnprocessableEntityError,
)
from ._models import (
    Usage,
)
from ._redaction import redact_urls, redact_urls_in, shortened
from ._retry import parse_retry_after

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "mistral-correlation-id", "x-kong-request-id")


_Model = TypeVar("_Model", bound=BaseModel)


def response_error(response: httpx.Response, problem: str) -> APIResponseError:
    request = response.request
    return APIResponseError(
        f"{problem} ({request.method} {request.url.path}, status {response.status_code}). "
        "The server or a proxy in between returned something the API does not document.",
        method=request.method,
        url=str(request.url.copy_with(query=None)),
    )


def parsed(response: httpx.Response, model: type[_Model]) -> _Model:
    """``response``'s body read as ``model``; a malformed one an ``APIResponseError``."""
    try:
        return model.model_validate_json(response.content)
    except ValueError as exc:  # invalid JSON and pydantic's ValidationError alike
        raise response_error(response, f"The {model.__name__} is malformed: {exc}") from exc


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_ADVICE: dict[type[APIStatusError], str] = {
    BadRequestError: "The server refused the request as sent; check the options and the audio.",
    UnprocessableEntityError: "A field failed the server's validation; fix the field named above.",
    APIStatusError: "An unexpected status for this API; check `base_url` and any proxy.",
    AuthenticationError: "Check MISTRAL_API_KEY (or `api_key=`) and that the key is active.",
    PermissionDeniedError: "The key may not use this model or resource; check its workspace.",
    NotFoundError: "Check the model id, the file id, and `base_url`.",
    RequestTooLargeError: "Send a smaller file, or upload it and pass the file id.",
    RateLimitError: "Wait and retry, or lower concurrency.",
    InternalServerError: "The server failed; retry later.",
}
_NOT_IMPLEMENTED_ADVICE = (
    "The server does not implement this request (not retried: it would fail the same "
    "way); check `base_url`, and the backend (a vLLM server needs backend='vllm')."
)
_NOT_RETRIED_ADVICE = (
    "The server cannot handle this request (not retried: it would fail the same way); "
    "check `base_url` and any proxy."
)
"""Advice for a 5xx that is not retried (see ``_retry``): 501, and the rarer others."""


@dataclass(frozen=True)
class ErrorBody:
    """What the three error-body shapes have in common."""

    message: str
    code: str | None = None
    type: str | None = None
    param: str | None = None


def parse_error_body(content: bytes, status_code: int) -> tuple[ErrorBody, Any]:
    """Read any error body the API returns; never raises.

    The shapes: ``{"object": "error", "message", "type", "param", "code"}`` (the
    documented one), ``{"detail": "..."}`` (401), and FastAPI's
    ``{"detail": [{"loc", "msg", "type"}]}`` (422). Anything else (an HTML page from
    a proxy, an empty body) falls back to a short excerpt of the text. The body comes
    back with every URL in it redacted (the message is redacted by the caller).
    """
    text = content.decode("utf-8", errors="replace")
    try:
        body: Any = json.loads(text) if text.strip() else None
        parsed = _error_from_mapping(body) if isinstance(body, Mapping) else None
        body = redact_urls_in(body)
    except (ValueError, RecursionError):  # not JSON, a number too long to read, too deep
        body, parsed = None, None
    if parsed is not None:
        return parsed, body
    redacted = redact_urls(text)  # redact first: a cut URL escapes
    if redacted.lstrip().startswith("<"):
        excerpt = _page_summary(redacted)
        excerpt = excerpt and shortened(excerpt, _MAX_EXCERPT - len(_PAGE)) + _PAGE
    else:
        excerpt = " ".join(redacted.split())[:_MAX_EXCERPT]
    reason = httpx.codes.get_reason_phrase(status_code) or "error"
    return ErrorBody(excerpt or reason), body if body is not None else (redacted or None)


_MAX_EXCERPT = 200
"""Characters an error keeps of a body that is not an API error (a proxy's page)."""
_PAGE = " (an HTML page)"
_PAGE_READ = 4096
"""Characters of a page searched for its title: it comes first, and the patterns below
would take quadratic time over a hostile megabyte."""
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_HIDDEN = re.compile(r"<(?:script|style)\b.*?(?:</(?:script|style)\s*>|$)", re.I | re.S)
_TAG = re.compile(r"<[^>]*>?")


def _page_summary(page: str) -> str:
    """An HTML (or XML) page as one short line: its ``<title>``, else its text without tags.

    A proxy's or web server's error page says what happened in its title (``502 Bad
    Gateway``); its markup, dumped into a message, says nothing.
    """
    page = page[:_PAGE_READ]
    title = _TITLE.search(page)
    text = title.group(1) if title else _TAG.sub(" ", _HIDDEN.sub(" ", page))
    return redact_urls(" ".join(html.unescape(text).split()))  # an entity may hide an "@"


def _error_from_mapping(body: Mapping[str, Any]) -> ErrorBody | None:
    if isinstance(body.get("error"), Mapping):
        body = body["error"]
    detail = body.get("detail")
    if isinstance(detail, list) and detail:
        problems = []
        param = None
        for item in detail:
            if not isinstance(item, Mapping):
                problems.append(str(item))
                continue
            loc = item.get("loc")
            parts = loc if isinstance(loc, list) else [] if loc is None else [loc]
            location = ".".join(str(part) for part in parts if part != "body")
            param = param or location or None
            problems.append(
                f"{location}: {item.get('msg', '')}" if location else str(item.get("msg", ""))
            )
        first = detail[0] if isinstance(detail[0], Mapping) else {}
        return ErrorBody("; ".join(problems), type=_str_or_none(first.get("type")), param=param)
    message = body.get("message")
    if message is None and isinstance(detail, str):
        message = detail
    if message is None:
        return None
    if not isinstance(message, str):
        message = json.dumps(message)
    return ErrorBody(
        message.strip(),
        code=_str_or_none(body.get("code")),
        type=_str_or_none(body.get("type")),
        param=_str_or_none(body.get("param")),
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def status_error(
    *, method: str, url: str, status_code: int, headers: Mapping[str, str], content: bytes
) -> APIStatusError:
    """The typed error for a non-2xx response, with a message that says what to do."""
    parsed, body = parse_error_body(content, status_code)
    error_class = _STATUS_ERRORS.get(status_code)
    if error_class is None:
        error_class = InternalServerError if status_code >= 500 else APIStatusError
    request_id = next((headers[name] for name in _REQUEST_ID_HEADERS if name in headers), None)
    server_message = shortened(redact_urls(parsed.message), _MAX_SERVER_MESSAGE)
    code, type_, param = (
        shortened(redact_urls(v or ""), _MAX_ERROR_FIELD)
        for v in (parsed.code, parsed.type, parsed.param)
    )
    details = ", ".join(
        f"{label} {value}"
        for label, value in (("code", code), ("type", type_), ("param", param))
        if value
    )
    path = httpx.URL(url).path
    message = f"{method} {path} failed with {status_code}: {server_message or '(no message)'}"
    if details:
        message += f" [{details}]"
    advice = _ADVICE.get(error_class)
    if error_class is InternalServerError and status_code not in RETRYABLE_STATUS_CODES:
        advice = _NOT_IMPLEMENTED_ADVICE if status_code == 501 else _NOT_RETRIED_ADVICE
    if advice:
        message += f". {advice}"
    if request_id:
        message += f" (request id {request_id})"
    return error_class(
        message,
        method=method,
        url=url,
        status_code=status_code,
        server_message=server_message,
        code=code or None,
        type=type_ or None,
        param=param or None,
        request_id=request_id,
        retry_after=parse_retry_after(headers),
        body=body,
    )


_MAX_SERVER_MESSAGE = 1000
_MAX_ERROR_FIELD = 200
"""Characters an error keeps of the server's message, and of its code, type and param:
a proxy may answer a megabyte, and an exception is printed whole."""


def json_object(text: str) -> dict[str, Any]:
    value = json_value(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def json_value(text: str | bytes) -> Any:
    """``json.loads`` whose every failure is a ``ValueError`` (nesting too deep included)."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply to read") from exc


def vllm_usage(usage: Any) -> Usage:
    if not isinstance(usage, Mapping):
        return Usage()
    seconds = usage.get("seconds")
    fields = {key: value for key, value in usage.items() if key not in ("type", "seconds")}
    return Usage.model_validate({**fields, "prompt_audio_seconds": seconds})
