"""How cassettes are recorded, scrubbed and matched.

Two problems make a plain VCR setup wrong for this API:

* httpx picks a random multipart boundary per request, so byte-for-byte body
  matching never matches an upload twice;
* uploads and base64 audio are large binaries that do not belong in YAML.

Both are solved by storing, and matching on, a *canonical* body: multipart forms
become their ordered ``[name, value]`` fields with each file part replaced by its
name, size and SHA-256; JSON bodies are parsed, with long strings (base64 audio)
replaced by their size and SHA-256. The same function runs on the live request
before matching, so a cassette matches exactly the request that produced it.

Secrets are scrubbed on the way in: credentials headers are replaced, and URL
query strings (signed-URL tokens) in response bodies are redacted.
"""

from __future__ import annotations

import hashlib
import json
import re
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

CANONICAL_MARKER = "voxtral-canonical-body"
LONG_STRING = 256
SECRET_REQUEST_HEADERS = ("authorization", "x-api-key", "cookie")
SECRET_RESPONSE_HEADERS = ("set-cookie",)
VOLATILE_REQUEST_HEADERS = ("content-length", "accept-encoding", "user-agent", "connection")
"""Headers that vary with the environment (installed codecs, version) and are never matched."""
_SIGNED_QUERY = re.compile(r"(https?://[^\s\"'?]+)\?[^\s\"']*")


def _digest(content: bytes) -> dict[str, Any]:
    return {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def _redact(text: str) -> str:
    return _SIGNED_QUERY.sub(r"\1?REDACTED", text)


def _shrink(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > LONG_STRING and not value.startswith("http"):
            return _digest(value.encode())
        return _redact(value)
    if isinstance(value, dict):
        return {key: _shrink(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shrink(item) for item in value]
    return value


def _multipart_fields(content_type: str, body: bytes) -> list[list[Any]]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: list[list[Any]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            fields.append([name, {"filename": filename, **_digest(payload)}])
        else:
            fields.append([name, _redact(payload.decode("utf-8"))])
    return fields


def canonical_body(content_type: str, body: bytes | str | None) -> Any:
    """The body as the cassette stores it; idempotent on an already canonical body."""
    if body is None or body == b"" or body == "":
        return None
    raw = body.encode() if isinstance(body, str) else body
    if raw.startswith(b'{"' + CANONICAL_MARKER.encode()):
        return json.loads(raw)[CANONICAL_MARKER]
    if content_type.startswith("multipart/form-data"):
        return {"multipart": _multipart_fields(content_type, raw)}
    if "json" in content_type:
        return {"json": _shrink(json.loads(raw))}
    return {"text": raw.decode("utf-8", errors="replace")}


def before_record_request(request: Any) -> Any:
    """Scrub credentials and store the canonical body (runs before matching too)."""
    for header in list(request.headers):
        if header.lower() in SECRET_REQUEST_HEADERS:
            request.headers[header] = "REDACTED"
    content_type = request.headers.get("content-type") or request.headers.get("Content-Type") or ""
    canonical = canonical_body(content_type, request.body)
    for header in list(request.headers):
        if header.lower() in VOLATILE_REQUEST_HEADERS:
            del request.headers[header]
        elif header.lower() == "content-type":
            request.headers[header] = re.sub(r"boundary=\S+", "boundary=BOUNDARY", content_type)
    request.body = json.dumps({CANONICAL_MARKER: canonical}, sort_keys=True).encode()
    return request


def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
    """Drop cookies and redact signed-URL query strings from recorded bodies."""
    headers = response.get("headers", {})
    for header in list(headers):
        if header.lower() in SECRET_RESPONSE_HEADERS:
            del headers[header]
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return response  # binary (downloaded audio): kept byte for byte
        response["body"]["string"] = _redact(text).encode()
    elif isinstance(body, str):
        response["body"]["string"] = _redact(body)
    return response


def vcr_config() -> dict[str, Any]:
    return {
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }
