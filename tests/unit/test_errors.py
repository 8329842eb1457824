"""Error bodies and the typed status errors (``parse_error_body``, ``status_error``)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxtral_integrations import (
    APIError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    UnprocessableEntityError,
    VoxtralError,
)
from voxtral_integrations._responses import ErrorBody, parse_error_body, status_error

URL = "https://api.mistral.ai/v1/audio/transcriptions"
SIGNED = "https://files.mistral.ai/x.mp3?X-Amz-Signature=SECRET"

# The measured bodies quoted in VOXTRAL_API.md §1.2 and §2.1.
MEASURED_400_UNDECODABLE = (
    b'{"object":"error","message":"Audio input could not be decoded. ",'
    b'"type":"invalid_request_file","param":null,"code":"3310","raw_status_code":400}'
)
MEASURED_400_INVALID_MODEL = (
    b'{"object":"error","message":"Invalid model: voxtral-small-latest",'
    b'"type":"invalid_model","param":null,"code":"1500","raw_status_code":400}'
)
MEASURED_422_MULTIPART = (
    b'{"object":"error","message":"Invalid request, make sure the request is formatted as a '
    b'multipart/form-data request.","type":"invalid_request_error","param":null,"code":null,'
    b'"raw_status_code":422}'
)
MEASURED_401 = b'{"detail":"Invalid API Key"}'
DOCUMENTED = (
    b'{"object":"error","message":"Unknown model","type":"invalid_request_error",'
    b'"param":"model","code":"unknown_model"}'
)
FASTAPI_422 = json.dumps(
    {
        "detail": [
            {
                "loc": ["body", "context_bias", 0],
                "msg": "String should match pattern '^[^,\\s]+$'",
                "type": "string_pattern_mismatch",
                "input": "a b",
                "ctx": {"pattern": "^[^,\\s]+$"},
            },
            {"loc": ["body", "model"], "msg": "Field required", "type": "missing"},
        ]
    }
).encode()
NGINX_413 = (
    b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
    b"<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------- parse_error_body


@pytest.mark.parametrize(
    ("content", "status", "expected"),
    [
        pytest.param(
            DOCUMENTED,
            400,
            ErrorBody("Unknown model", "unknown_model", "invalid_request_error", "model"),
            id="documented-shape",
        ),
        pytest.param(
            MEASURED_400_UNDECODABLE,
            400,
            ErrorBody("Audio input could not be decoded.", "3310", "invalid_request_file"),
            id="measured-400-undecodable-3310",
        ),
        pytest.param(
            MEASURED_400_INVALID_MODEL,
            400,
            ErrorBody("Invalid model: voxtral-small-latest", "1500", "invalid_model"),
            id="measured-400-invalid-model-1500",
        ),
        pytest.param(
            MEASURED_422_MULTIPART,
            422,
            ErrorBody(
                "Invalid request, make sure the request is formatted as a multipart/form-data "
                "request.",
                None,
                "invalid_request_error",
            ),
            id="measured-422-multipart",
        ),
        pytest.param(
            MEASURED_401, 401, ErrorBody("Invalid API Key"), id="measured-401-detail-string"
        ),
        pytest.param(
            FASTAPI_422,
            422,
            ErrorBody(
                "context_bias.0: String should match pattern '^[^,\\s]+$'; model: Field required",
                None,
                "string_pattern_mismatch",
                "context_bias.0",
            ),
            id="fastapi-validation",
        ),
        pytest.param(
            b'{"detail":[{"loc":["body"],"msg":"Expected multipart","type":"value_error"}]}',
            422,
            ErrorBody("Expected multipart", None, "value_error"),
            id="fastapi-loc-only-body",
        ),
        pytest.param(
            b'{"detail":["something odd"]}',
            422,
            ErrorBody("something odd"),
            id="fastapi-detail-list-of-strings",
        ),
        pytest.param(
            b'{"error":{"message":"Rate limit exceeded","type":"rate_limited","code":"1300"}}',
            429,
            ErrorBody("Rate limit exceeded", "1300", "rate_limited"),
            id="error-nesting",
        ),
        pytest.param(
            b'{"message":"Context bias item \'a b\' must not contain commas or whitespace",'
            b'"code":3051}',
            400,
            ErrorBody("Context bias item 'a b' must not contain commas or whitespace", "3051"),
            id="numeric-code-as-string",
        ),
        pytest.param(
            b'{"message":{"reason":"nested"}}',
            400,
            ErrorBody('{"reason": "nested"}'),
            id="non-string-message",
        ),
    ],
)
def test_parse_error_body_shapes(content: bytes, status: int, expected: ErrorBody) -> None:
    parsed, body = parse_error_body(content, status)
    assert parsed == expected
    assert body == json.loads(content)


@pytest.mark.parametrize(
    ("content", "status", "message_contains", "body"),
    [
        pytest.param(
            NGINX_413,
            413,
            "413 Request Entity Too Large",
            NGINX_413.decode(),
            id="html-from-proxy",
        ),
        pytest.param(b"", 502, "Bad Gateway", None, id="empty-body"),
        pytest.param(b"   \n", 503, "Service Unavailable", "   \n", id="whitespace-body"),
        pytest.param(b"", 599, "error", None, id="empty-body-unknown-status"),
        pytest.param(
            b"\xff\xfe upstream \xc3 failed",
            500,
            "upstream",
            "\ufffd\ufffd upstream \ufffd failed",
            id="non-utf8",
        ),
        pytest.param(b"[1, 2]", 400, "[1, 2]", [1, 2], id="json-list"),
        pytest.param(b'"oops"', 400, "oops", "oops", id="json-string"),
        pytest.param(b"null", 500, "null", "null", id="json-null"),
        pytest.param(b"42", 500, "42", 42, id="json-number"),
        pytest.param(b'{"unexpected": true}', 500, "unexpected", {"unexpected": True}, id="other"),
        pytest.param(b'{"detail": []}', 422, "detail", {"detail": []}, id="empty-detail-list"),
        pytest.param(
            b'{"object":"error", "mess',
            500,
            "mess",
            '{"object":"error", "mess',
            id="truncated-json",
        ),
    ],
)
def test_parse_error_body_fallback(
    content: bytes, status: int, message_contains: str, body: Any
) -> None:
    parsed, parsed_body = parse_error_body(content, status)
    assert message_contains in parsed.message
    assert len(parsed.message) <= 200
    assert "\n" not in parsed.message
    assert parsed.code is None and parsed.type is None and parsed.param is None
    assert parsed_body == body


def test_parse_error_body_excerpt_is_short() -> None:
    parsed, body = parse_error_body(b"<html>" + b"x" * 10_000 + b"</html>", 502)
    assert len(parsed.message) == 200
    assert body.startswith("<html>")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"detail":[{"loc":5,"msg":"x","type":"t"}]}', id="loc-number"),
        pytest.param(b'{"detail":[{"loc":true,"msg":"x"}]}', id="loc-bool"),
        pytest.param(b'{"detail":[{"loc":null,"msg":"x"}]}', id="loc-null"),
        pytest.param(b'{"detail":[null, {"msg":"x"}]}', id="detail-item-null"),
        pytest.param(b'{"error":"a string"}', id="error-is-string"),
        pytest.param(b'{"error":{"detail":[{"loc":[1]}]}}', id="nested-fastapi"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested-json"),
        pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, id="deeply-nested-object"),
    ],
)
def test_parse_error_body_odd_json_never_raises(content: bytes) -> None:
    parsed, _ = parse_error_body(content, 422)
    assert isinstance(parsed.message, str)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["detail", "message", "error", "loc", "msg", "type", "code", "param"])
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@given(content=st.binary(max_size=512), status=st.integers(-1000, 100_000))
def test_parse_error_body_never_raises_for_bytes(content: bytes, status: int) -> None:
    parsed, _ = parse_error_body(content, status)
    assert isinstance(parsed.message, str)


_ERROR_SHAPED = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {"detail": st.lists(st.dictionaries(st.sampled_from(["loc", "msg", "type"]), _JSON))}
    ),
    st.fixed_dictionaries(
        {"error": st.dictionaries(st.sampled_from(["detail", "message"]), _JSON)}
    ),
)


@given(value=_ERROR_SHAPED, status=st.integers(100, 599))
def test_parse_error_body_never_raises_for_json(value: Any, status: int) -> None:
    parsed, _ = parse_error_body(json.dumps(value).encode(), status)
    assert isinstance(parsed.message, str)
    for attribute in (parsed.code, parsed.type, parsed.param):
        assert attribute is None or isinstance(attribute, str)


# --------------------------------------------------------------------------- status_error


def make_error(
    status: int,
    content: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    url: str = URL,
) -> APIStatusError:
    return status_error(
        method=method,
        url=url,
        status_code=status,
        headers=httpx.Headers(headers or {}),
        content=content,
    )


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        pytest.param(400, BadRequestError, id="400"),
        pytest.param(401, AuthenticationError, id="401"),
        pytest.param(403, PermissionDeniedError, id="403"),
        pytest.param(404, NotFoundError, id="404"),
        pytest.param(413, RequestTooLargeError, id="413"),
        pytest.param(422, UnprocessableEntityError, id="422"),
        pytest.param(429, RateLimitError, id="429"),
        pytest.param(500, InternalServerError, id="500"),
        pytest.param(502, InternalServerError, id="502"),
        pytest.param(503, InternalServerError, id="503"),
        pytest.param(504, InternalServerError, id="504"),
        pytest.param(418, APIStatusError, id="418"),
        pytest.param(409, APIStatusError, id="409"),
    ],
)
def test_status_maps_to_class(status: int, error_class: type[APIStatusError]) -> None:
    error = make_error(status, DOCUMENTED)
    assert type(error) is error_class
    assert isinstance(error, APIStatusError)
    assert isinstance(error, APIError)
    assert isinstance(error, VoxtralError)
    assert error.status_code == status
    assert error.method == "POST"
    assert error.url == URL


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        pytest.param(401, "MISTRAL_API_KEY", id="401"),
        pytest.param(403, "workspace", id="403"),
        pytest.param(404, "base_url", id="404"),
        pytest.param(413, "upload", id="413"),
        pytest.param(429, "retry", id="429"),
        pytest.param(500, "retry", id="500"),
        pytest.param(503, "retry", id="503"),
    ],
)
def test_message_gives_specific_advice(status: int, advice: str) -> None:
    message = str(make_error(status, DOCUMENTED))
    assert message.startswith(f"POST /v1/audio/transcriptions failed with {status}: ")
    assert "Unknown model" in message
    assert advice.lower() in message.lower()


@pytest.mark.parametrize(
    ("status", "content"),
    [
        pytest.param(400, MEASURED_400_UNDECODABLE, id="400"),
        pytest.param(401, MEASURED_401, id="401"),
        pytest.param(403, DOCUMENTED, id="403"),
        pytest.param(404, DOCUMENTED, id="404"),
        pytest.param(413, NGINX_413, id="413"),
        pytest.param(422, FASTAPI_422, id="422"),
        pytest.param(429, b"", id="429"),
        pytest.param(500, b"", id="500"),
        pytest.param(418, b"", id="418"),
    ],
)
def test_every_message_goes_beyond_the_server_text(status: int, content: bytes) -> None:
    """Every message says what happened *and what to do about it* (the module's promise)."""
    error = make_error(status, content)
    prefix = f"POST /v1/audio/transcriptions failed with {status}: {error.server_message}"
    details = ", ".join(
        f"{label} {value}"
        for label, value in (("code", error.code), ("type", error.type), ("param", error.param))
        if value
    )
    if details:
        prefix += f" [{details}]"
    message = str(error)
    assert message.startswith(prefix)
    advice = message[len(prefix) :].strip(" .")
    assert advice, f"no advice after the server's message: {message!r}"


@pytest.mark.parametrize(
    ("method", "url", "path"),
    [
        pytest.param("POST", URL, "/v1/audio/transcriptions", id="transcriptions"),
        pytest.param(
            "GET",
            "https://api.mistral.ai/v1/files/file-1/url?expiry=24",
            "/v1/files/file-1/url",
            id="query-not-in-message",
        ),
        pytest.param("DELETE", "http://localhost:8000/v1/files/f", "/v1/files/f", id="delete"),
    ],
)
def test_message_names_method_and_path(method: str, url: str, path: str) -> None:
    message = str(make_error(404, DOCUMENTED, method=method, url=url))
    assert message.startswith(f"{method} {path} failed with 404: Unknown model")
    assert "expiry" not in message


def test_attributes_from_documented_body_and_headers() -> None:
    error = make_error(
        429,
        DOCUMENTED,
        {"X-Request-ID": "req-123", "Retry-After": "7"},
    )
    assert error.status_code == 429
    assert error.server_message == "Unknown model"
    assert error.code == "unknown_model"
    assert error.type == "invalid_request_error"
    assert error.param == "model"
    assert error.request_id == "req-123"
    assert error.retry_after == 7.0
    assert error.body == json.loads(DOCUMENTED)
    message = str(error)
    assert "code unknown_model" in message
    assert "type invalid_request_error" in message
    assert "param model" in message
    assert "req-123" in message


@pytest.mark.parametrize(
    ("headers", "request_id"),
    [
        pytest.param({"x-request-id": "a"}, "a", id="x-request-id"),
        pytest.param({"Request-Id": "b"}, "b", id="request-id"),
        pytest.param({"Mistral-Correlation-Id": "c"}, "c", id="mistral-correlation-id"),
        pytest.param({"X-Kong-Request-Id": "d"}, "d", id="x-kong-request-id"),
        pytest.param({}, None, id="none"),
    ],
)
def test_request_id_headers(headers: dict[str, str], request_id: str | None) -> None:
    error = make_error(500, b"", headers)
    assert error.request_id == request_id
    assert (f"request id {request_id}" in str(error)) is (request_id is not None)


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        pytest.param({"Retry-After": "3"}, 3.0, id="seconds"),
        pytest.param({"retry-after-ms": "1500"}, 1.5, id="ms"),
        pytest.param({}, None, id="absent"),
        pytest.param({"Retry-After": "soon"}, None, id="garbage"),
    ],
)
def test_retry_after_carried(headers: dict[str, str], retry_after: float | None) -> None:
    assert make_error(429, b"", headers).retry_after == retry_after


def test_measured_401_body() -> None:
    error = make_error(401, MEASURED_401)
    assert isinstance(error, AuthenticationError)
    assert error.server_message == "Invalid API Key"
    assert error.code is None and error.type is None and error.param is None
    assert error.body == {"detail": "Invalid API Key"}


def test_fastapi_422_names_the_param() -> None:
    error = make_error(422, FASTAPI_422)
    assert isinstance(error, UnprocessableEntityError)
    assert error.param == "context_bias.0"
    assert error.type == "string_pattern_mismatch"
    assert "context_bias.0: String should match pattern" in str(error)


def test_html_413_from_proxy() -> None:
    error = make_error(413, NGINX_413)
    assert isinstance(error, RequestTooLargeError)
    assert "413 Request Entity Too Large" in error.server_message
    assert error.body == NGINX_413.decode()


APACHE_501 = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    b"<title>501 Not Implemented</title>\n<style>body { color: red }</style></head><body>\n"
    b"<h1>Not Implemented</h1>\n<p>POST not supported for current URL.<br />\n</p>\n"
    b"<hr>\n<address>Apache/2.4.41 (Ubuntu) Server at gpu Port 8000</address>\n</body></html>\n"
)


def test_a_501_page_is_summarised_and_not_called_retryable() -> None:
    error = make_error(501, APACHE_501)
    assert isinstance(error, InternalServerError)
    assert str(error).startswith(
        "POST /v1/audio/transcriptions failed with 501: 501 Not Implemented (an HTML page). "
        "The server does not implement this request (not retried"
    )
    assert "<" not in str(error) and "retry later" not in str(error)
    assert error.body == APACHE_501.decode()  # the page itself stays at hand
    assert "retry later" in str(make_error(503, APACHE_501))


@pytest.mark.parametrize(
    ("page", "status", "message"),
    [
        pytest.param(
            b"<html><head><script>var a = '<b>';</script></head><body><h1>Gateway &amp; "
            b"proxy</h1>\n<p>timed   out</p></body></html>",
            504,
            "Gateway & proxy timed out (an HTML page)",
            id="no-title-first-text",
        ),
        pytest.param(
            b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>',
            403,
            "AccessDenied (an HTML page)",
            id="xml",
        ),
        pytest.param(
            b"<html><title>" + b"t" * 5000, 599, "t" * 184 + "\u2026 (an HTML page)", id="long"
        ),
        pytest.param(b"<html><body></body></html>", 503, "Service Unavailable", id="no-text"),
    ],
)
def test_markup_error_pages_become_one_short_line(page: bytes, status: int, message: str) -> None:
    parsed, body = parse_error_body(page, status)
    assert parsed.message == message
    assert body == page.decode()


def test_error_raises_with_readable_repr() -> None:
    error = make_error(400, MEASURED_400_INVALID_MODEL)
    with pytest.raises(BadRequestError, match="Invalid model: voxtral-small-latest"):
        raise error
    assert "Invalid model" in repr(error)


# --------------------------------------------------------------------------- no leaked signed URLs


@pytest.mark.parametrize(
    ("status", "content"),
    [
        pytest.param(
            400,
            json.dumps(
                {
                    "object": "error",
                    "message": f"File could not be fetched from url '{SIGNED}'",
                    "type": "invalid_request_file",
                    "param": None,
                    "code": "3310",
                }
            ).encode(),
            id="documented-message",
        ),
        pytest.param(
            400,
            json.dumps({"message": f"Audio from {SIGNED} could not be decoded. "}).encode(),
            id="unquoted-url",
        ),
        pytest.param(
            400,
            json.dumps({"message": f"Audio from '{SIGNED}#frag' could not be decoded."}).encode(),
            id="url-with-fragment",
        ),
        pytest.param(401, json.dumps({"detail": f"bad url {SIGNED}"}).encode(), id="detail-string"),
        pytest.param(
            422,
            json.dumps(
                {
                    "detail": [
                        {
                            "loc": ["body", "file_url"],
                            "msg": f"URL {SIGNED} is unreachable",
                            "type": "url",
                            "input": SIGNED,
                        }
                    ]
                }
            ).encode(),
            id="fastapi-msg-and-input",
        ),
        pytest.param(
            400,
            json.dumps({"error": {"message": f"cannot fetch {SIGNED}", "urls": [SIGNED]}}).encode(),
            id="error-nesting-and-list",
        ),
        pytest.param(
            502, f"<html><a href='{SIGNED}'>retry</a> {SIGNED}</html>".encode(), id="html"
        ),
        pytest.param(500, f'"{SIGNED}"'.encode(), id="json-string"),
        pytest.param(500, json.dumps([SIGNED]).encode(), id="json-list"),
        pytest.param(
            400,
            json.dumps({"message": f"{{'url': '{SIGNED}'}}"}).encode(),
            id="python-repr-in-message",
        ),
    ],
)
def test_signed_url_never_leaks(status: int, content: bytes) -> None:
    error = make_error(status, content)
    assert "SECRET" not in str(error)
    assert "SECRET" not in repr(error)
    assert "SECRET" not in error.server_message
    assert "SECRET" not in json.dumps(error.body)
    # The URL itself, minus its token, is kept: it helps to know which file failed.
    assert "files.mistral.ai/x.mp3" in str(error) or "files.mistral.ai/x.mp3" in json.dumps(
        error.body
    )


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://user:Zx9QpL7mK2@files.example/x.mp3", id="userinfo"),
        pytest.param("https://files.example/x.mp3?X-Amz-Signature=Zx9QpL7mK2", id="query"),
    ],
)
def test_credentials_in_a_truncated_excerpt_do_not_leak(url: str) -> None:
    """The 200-character excerpt of a non-JSON body must not cut a URL into a leak."""
    for padding in range(140, 200):
        content = f"<html>{'x' * padding} {url} failed</html>".encode()
        error = make_error(502, content)
        for text in (str(error), repr(error), error.server_message, json.dumps(error.body)):
            assert "Zx9" not in text, f"padding {padding}: {text[-60:]!r}"
            assert "user:Z" not in text, f"padding {padding}: {text[-60:]!r}"


@given(content=st.binary(max_size=256), status=st.integers(100, 599))
def test_status_error_never_raises(content: bytes, status: int) -> None:
    error = make_error(status, content)
    assert isinstance(error, APIStatusError)
    assert str(error).startswith(f"POST /v1/audio/transcriptions failed with {status}")
