"""The cassette machinery matches what it should and scrubs what it must."""

from __future__ import annotations

import json

import httpx
import pytest
from vcr.request import Request as VcrRequest

from tests.support.cassette_support import (
    before_record_request,
    before_record_response,
    canonical_body,
)


def _vcr(request: httpx.Request) -> VcrRequest:
    return VcrRequest(request.method, str(request.url), request.read(), dict(request.headers))


def _upload(audio: bytes, **fields: str) -> httpx.Request:
    return httpx.Request(
        "POST",
        "https://api.mistral.ai/v1/audio/transcriptions",
        files=[
            *((k, (None, v)) for k, v in fields.items()),
            ("file", ("a.mp3", audio, "audio/mpeg")),
        ],
        headers={"Authorization": "Bearer sk-secret-key"},
    )


def test_multipart_canonical_form_ignores_the_random_boundary() -> None:
    first, second = _upload(b"abc", model="m"), _upload(b"abc", model="m")
    assert first.headers["content-type"] != second.headers["content-type"]
    assert before_record_request(_vcr(first)).body == before_record_request(_vcr(second)).body


@pytest.mark.parametrize(
    ("audio", "fields"),
    [
        pytest.param(b"abd", {"model": "m"}, id="other-audio"),
        pytest.param(b"abc", {"model": "n"}, id="other-field-value"),
        pytest.param(b"abc", {"model": "m", "diarize": "true"}, id="extra-field"),
    ],
)
def test_multipart_canonical_form_tells_different_requests_apart(
    audio: bytes, fields: dict[str, str]
) -> None:
    reference = before_record_request(_vcr(_upload(b"abc", model="m"))).body
    assert before_record_request(_vcr(_upload(audio, **fields))).body != reference


def test_credentials_are_scrubbed_and_audio_is_hashed() -> None:
    recorded = before_record_request(_vcr(_upload(b"\x00" * 5000, model="m")))
    assert recorded.headers["authorization"] == "REDACTED"
    assert b"sk-secret-key" not in recorded.body
    assert len(recorded.body) < 400


def test_json_canonical_form_hashes_base64_and_redacts_signed_urls() -> None:
    body = {
        "messages": [
            {"content": [{"input_audio": "QUJD" * 200}, {"input_audio": "https://x/y?sig=SECRET"}]}
        ]
    }
    canonical = canonical_body("application/json", json.dumps(body).encode())
    parts = canonical["json"]["messages"][0]["content"]
    assert parts[0]["input_audio"]["bytes"] == 800
    assert parts[1]["input_audio"] == "https://x/y?REDACTED"
    assert canonical_body("application/json", json.dumps({"voxtral-canonical-body": canonical}))


def test_signed_urls_are_redacted_from_recorded_responses() -> None:
    response = {
        "headers": {"Set-Cookie": ["session=1"], "content-type": ["application/json"]},
        "body": {"string": b'{"url": "https://files.example/a.mp3?sig=SECRET&se=1"}'},
    }
    scrubbed = before_record_response(response)
    assert b"SECRET" not in scrubbed["body"]["string"]
    assert "Set-Cookie" not in scrubbed["headers"]
