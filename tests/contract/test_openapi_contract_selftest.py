"""Self-tests for the OpenAPI request-contract validator.

The validator guards every other wire test, so it must be trusted both ways: valid
requests (built the way the docs and the SDK build them) pass, and each kind of
mistake fails with a message that names the field.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import pytest

from tests.support.openapi_contract import (
    DOCUMENTED_ENUM_EXTENSIONS,
    SPEC_FILE,
    load_spec,
    validate_request,
)

API = "https://api.mistral.ai/v1"
LOCAL = "http://127.0.0.1:1234/v1"
TRANSCRIBE = "audio_api_v1_transcriptions_post"
TRANSCRIBE_STREAM = "audio_api_v1_transcriptions_post_stream"
CHAT = "chat_completion_v1_chat_completions_post"
MP3 = ("bcn_weather.mp3", b"ID3\x04\x00fake-mp3-bytes", "audio/mpeg")

FormData = Mapping[str, str | Sequence[str]]


def transcription(
    fields: FormData,
    *,
    file: tuple[str, bytes, str] | None = MP3,
    base_url: str = API,
) -> httpx.Request:
    """Build a multipart transcription request as the SDK does.

    Plain fields go through ``files=`` as ``(None, value)`` so the body is
    multipart even without an upload: httpx would otherwise send
    ``application/x-www-form-urlencoded``, which the spec does not accept.
    """
    parts: list[tuple[str, tuple[str | None, bytes | str] | tuple[str, bytes, str]]] = []
    for name, value in fields.items():
        values = [value] if isinstance(value, str) else list(value)
        parts += [(name, (None, item)) for item in values]
    if file is not None:
        parts.append(("file", file))
    return httpx.Request("POST", f"{base_url}/audio/transcriptions", files=parts)


def chat(body: Mapping[str, Any]) -> httpx.Request:
    return httpx.Request("POST", f"{LOCAL}/chat/completions", json=body)


def violation(request: httpx.Request) -> str:
    with pytest.raises(AssertionError) as excinfo:
        validate_request(request)
    return str(excinfo.value)


# ------------------------------------------------------------ transcription: valid


def test_transcription_with_uploaded_file() -> None:
    request = transcription({"model": "voxtral-mini-latest", "language": "en"})
    assert validate_request(request) == TRANSCRIBE


def test_transcription_with_httpx_data_and_files_mix() -> None:
    request = httpx.Request(
        "POST",
        f"{API}/audio/transcriptions",
        data={
            "model": "voxtral-mini-latest",
            "timestamp_granularities": ["segment"],
            "context_bias": ["Barcelona", "farewell_address"],
            "diarize": "true",
        },
        files={"file": MP3},
    )
    assert validate_request(request) == TRANSCRIBE


def test_transcription_with_file_url_and_no_upload() -> None:
    request = transcription(
        {"model": "voxtral-mini-latest", "file_url": "https://docs.mistral.ai/audio/obama.mp3"},
        file=None,
    )
    assert validate_request(request) == TRANSCRIBE


def test_transcription_with_file_id() -> None:
    request = transcription(
        {"model": "voxtral-mini-latest", "file_id": "e85980c9-409e-4a46-9304-36588f6292b0"},
        file=None,
        base_url=LOCAL,
    )
    assert validate_request(request) == TRANSCRIBE


def test_transcription_with_repeated_list_fields_and_diarize() -> None:
    request = transcription(
        {
            "model": "voxtral-mini-latest",
            "timestamp_granularities": ["segment", "word"],
            "context_bias": ["Mistral", "Voxtral", "Riga"],
            "diarize": "true",
            "temperature": "0.2",
        }
    )
    assert validate_request(request) == TRANSCRIBE


def test_transcription_single_list_field_is_still_a_list() -> None:
    request = transcription({"model": "m", "timestamp_granularities": "segment"})
    assert validate_request(request) == TRANSCRIBE
    message = violation(transcription({"model": "m", "timestamp_granularities": "sentence"}))
    assert "body.timestamp_granularities[0]" in message


def test_stream_field_selects_the_stream_schema() -> None:
    assert validate_request(transcription({"model": "m", "stream": "true"})) == TRANSCRIBE_STREAM
    assert validate_request(transcription({"model": "m", "stream": "false"})) == TRANSCRIBE
    assert validate_request(transcription({"model": "m"})) == TRANSCRIBE


def test_transcription_schema_allows_undeclared_fields() -> None:
    # AudioTranscriptionRequest has no `additionalProperties: false`, so by the spec
    # an extra field (here OpenAI's `response_format`) is not a violation.
    assert validate_request(transcription({"model": "m", "response_format": "json"})) == TRANSCRIBE


# ---------------------------------------------------------- transcription: invalid


def test_missing_model() -> None:
    message = violation(transcription({"language": "en"}))
    assert TRANSCRIBE in message
    assert "body.model" in message
    assert "'model' is a required property" in message


def test_diarize_must_be_true_or_false() -> None:
    message = violation(transcription({"model": "m", "diarize": "yes"}))
    assert "body.diarize" in message
    assert "'yes' is not of type 'boolean'" in message


def test_context_bias_item_with_space() -> None:
    message = violation(transcription({"model": "m", "context_bias": ["Riga", "farewell address"]}))
    assert "body.context_bias[1]" in message
    assert "^[^,\\\\s]+$" in message  # the spec's pattern, as shown by repr()


def test_unknown_timestamp_granularity() -> None:
    message = violation(transcription({"model": "m", "timestamp_granularities": ["sentence"]}))
    assert "body.timestamp_granularities[0]" in message
    assert "'sentence' is not one of ['segment', 'word']" in message


def test_language_must_be_a_two_letter_code() -> None:
    message = violation(transcription({"model": "m", "language": "english"}))
    assert "body.language" in message
    assert "does not match" in message


def test_bracketed_array_field_name_is_rejected() -> None:
    message = violation(transcription({"model": "m", "timestamp_granularities[]": "segment"}))
    assert "body.timestamp_granularities[]" in message
    assert "repeated 'timestamp_granularities' fields" in message


def test_malformed_stream_value_is_checked_against_the_non_stream_schema() -> None:
    message = violation(transcription({"model": "m", "stream": "yes"}))
    assert TRANSCRIBE + " " in message
    assert "body.stream" in message


def test_scalar_field_sent_twice() -> None:
    message = violation(transcription({"model": ["a", "b"]}))
    assert "body.model" in message
    assert "sent 2 times" in message


def test_non_numeric_temperature() -> None:
    message = violation(transcription({"model": "m", "temperature": "warm"}))
    assert "body.temperature" in message


def test_urlencoded_body_is_rejected() -> None:
    request = httpx.Request(
        "POST", f"{API}/audio/transcriptions", data={"model": "m", "file_url": "https://x.y/a.mp3"}
    )
    message = violation(request)
    assert "application/x-www-form-urlencoded" in message
    assert "multipart/form-data" in message


def test_json_body_is_rejected_for_transcription() -> None:
    request = httpx.Request("POST", f"{API}/audio/transcriptions", json={"model": "m"})
    assert "'application/json' is not accepted" in violation(request)


def test_file_sent_as_text_part() -> None:
    message = violation(transcription({"model": "m", "file": "not-an-upload"}, file=None))
    assert "body.file" in message
    assert "no filename" in message


def test_empty_file_part() -> None:
    message = violation(transcription({"model": "m"}, file=("a.mp3", b"", "audio/mpeg")))
    assert "body.file" in message
    assert "empty" in message


def test_file_part_for_a_text_field() -> None:
    request = httpx.Request(
        "POST",
        f"{API}/audio/transcriptions",
        files=[("model", ("model.txt", b"voxtral", "text/plain")), ("file", MP3)],
    )
    assert "body.model" in violation(request)


def test_message_lists_every_violation_with_its_rule() -> None:
    message = violation(
        transcription({"diarize": "yes", "language": "english", "context_bias": "a,b"})
    )
    for field in ("body.model", "body.diarize", "body.language", "body.context_bias[0]"):
        assert field in message
    assert "rule: pattern" in message
    assert "#/components/schemas/AudioTranscriptionRequest/properties/diarize/type" in message


# --------------------------------------------------------------------------- chat


AUDIO_MESSAGE = {
    "role": "user",
    "content": [
        {"type": "input_audio", "input_audio": "https://docs.mistral.ai/audio/bcn_weather.mp3"},
        {"type": "text", "text": "What is the weather forecast?"},
    ],
}


def test_chat_with_input_audio_part() -> None:
    body = {"model": "voxtral-small-latest", "messages": [AUDIO_MESSAGE], "temperature": 0.2}
    assert validate_request(chat(body)) == CHAT


def test_chat_stream_uses_the_same_operation() -> None:
    # The spec has no /v1/chat/completions#stream: `stream` is a plain field.
    body = {"model": "voxtral-small-latest", "messages": [AUDIO_MESSAGE], "stream": True}
    assert validate_request(chat(body)) == CHAT


def test_chat_bad_role() -> None:
    message = violation(chat({"model": "m", "messages": [{"role": "robot", "content": "hi"}]}))
    assert "body.messages[0].role" in message
    assert "'robot' is not one of ['assistant', 'system', 'tool', 'user']" in message


def test_chat_message_without_role() -> None:
    message = violation(chat({"model": "m", "messages": [{"content": "hi"}]}))
    assert "body.messages[0].role" in message


def test_chat_openai_style_input_audio_object_is_rejected() -> None:
    part = {"type": "input_audio", "input_audio": {"data": "UklGR...", "format": "wav"}}
    message = violation(chat({"model": "m", "messages": [{"role": "user", "content": [part]}]}))
    assert "body.messages[0].content[0].input_audio" in message


def test_chat_rejects_undeclared_top_level_field() -> None:
    message = violation(chat({"model": "m", "messages": [AUDIO_MESSAGE], "audio": True}))
    assert "body.audio" in message
    assert "additionalProperties" in message


def test_chat_requires_messages() -> None:
    assert "body.messages" in violation(chat({"model": "m"}))


# -------------------------------------------------------------------------- files


def test_upload_audio_file() -> None:
    request = httpx.Request("POST", f"{API}/files", files={"purpose": (None, "audio"), "file": MP3})
    assert validate_request(request) == "files_api_routes_upload_file"


def test_purpose_audio_is_an_explicit_deviation_from_the_spec() -> None:
    # If this fails, the refreshed spec lists "audio" itself: delete the entry in
    # DOCUMENTED_ENUM_EXTENSIONS instead of keeping a stale deviation.
    raw = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    assert "audio" not in raw["components"]["schemas"]["FilePurpose"]["enum"]
    assert DOCUMENTED_ENUM_EXTENSIONS == {"FilePurpose": ("audio",)}
    assert "audio" in load_spec()["components"]["schemas"]["FilePurpose"]["enum"]


def test_upload_rejects_unknown_purpose_and_visibility() -> None:
    request = httpx.Request(
        "POST",
        f"{API}/files",
        files={"purpose": (None, "podcast"), "visibility": (None, "public"), "file": MP3},
    )
    message = violation(request)
    assert "body.purpose" in message
    assert "body.visibility" in message


def test_upload_requires_a_file() -> None:
    request = httpx.Request(
        "POST", f"{API}/files", files={"purpose": (None, "audio"), "expiry": (None, "24")}
    )
    assert "body.file" in violation(request)


def test_signed_url_with_expiry() -> None:
    request = httpx.Request("GET", f"{API}/files/abc-123/url", params={"expiry": 24})
    assert validate_request(request) == "files_api_routes_get_signed_url"
    no_expiry = httpx.Request("GET", f"{API}/files/abc-123/url")
    assert validate_request(no_expiry) == "files_api_routes_get_signed_url"


def test_signed_url_expiry_must_be_an_integer() -> None:
    message = violation(httpx.Request("GET", f"{API}/files/abc/url", params={"expiry": "abc"}))
    assert "query.expiry" in message
    assert "'abc' is not of type 'integer'" in message


def test_unknown_query_parameter() -> None:
    message = violation(httpx.Request("GET", f"{API}/files/abc/url", params={"expires": "24"}))
    assert "query.expires" in message


def test_retrieve_and_delete_file() -> None:
    assert validate_request(httpx.Request("GET", f"{API}/files/abc")) == (
        "files_api_routes_retrieve_file"
    )
    assert validate_request(httpx.Request("DELETE", f"{LOCAL}/files/abc")) == (
        "files_api_routes_delete_file"
    )


# -------------------------------------------------------------------------- batch


def test_create_transcription_batch_job() -> None:
    body = {
        "endpoint": "/v1/audio/transcriptions",
        "model": "voxtral-mini-latest",
        "input_files": ["e85980c9-409e-4a46-9304-36588f6292b0"],
        "metadata": {"job": "lecture"},
    }
    request = httpx.Request("POST", f"{API}/batch/jobs", json=body)
    assert validate_request(request) == "jobs_api_routes_batch_create_batch_job"


def test_batch_job_rejects_unknown_endpoint_and_timeout() -> None:
    body = {"endpoint": "/v1/audio/speech", "timeout_hours": 500}
    message = violation(httpx.Request("POST", f"{API}/batch/jobs", json=body))
    assert "body.endpoint" in message
    assert "body.timeout_hours" in message


def test_get_and_cancel_batch_job() -> None:
    get = httpx.Request("GET", f"{API}/batch/jobs/j-1", params={"inline": "true"})
    assert validate_request(get) == "jobs_api_routes_batch_get_batch_job"
    cancel = httpx.Request("POST", f"{API}/batch/jobs/j-1/cancel")
    assert validate_request(cancel) == "jobs_api_routes_batch_cancel_batch_job"


def test_cancel_takes_no_body() -> None:
    request = httpx.Request("POST", f"{API}/batch/jobs/j-1/cancel", json={"reason": "x"})
    assert "takes no request body" in violation(request)


# ------------------------------------------------------------------------ routing


def test_unknown_path() -> None:
    message = violation(httpx.Request("GET", f"{API}/files/abc/preview"))
    assert "matches no operation" in message


def test_unknown_method() -> None:
    message = violation(httpx.Request("PATCH", f"{API}/files/abc"))
    assert "allowed: ['DELETE', 'GET']" in message


def test_base_url_prefix_is_stripped_but_must_end_in_v1() -> None:
    proxied = httpx.Request("POST", "http://proxy.internal/mistral/v1/batch/jobs/j-1/cancel")
    assert validate_request(proxied) == "jobs_api_routes_batch_cancel_batch_job"
    violation(httpx.Request("POST", "http://proxy.internal/mistral/xv1/batch/jobs/j-1/cancel"))
    violation(httpx.Request("POST", "http://127.0.0.1:1234/batch/jobs/j-1/cancel"))


def test_usable_inside_an_httpx_mock_transport() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(validate_request(request))
        return httpx.Response(200, json={"url": "https://signed.example/a.mp3"})

    with httpx.Client(transport=httpx.MockTransport(handler), base_url=API) as client:
        client.get("/files/abc/url", params={"expiry": 1})
    assert seen == ["files_api_routes_get_signed_url"]


async def test_usable_inside_an_async_mock_transport() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        # MockTransport has already awaited request.aread(), so the multipart
        # body can be parsed synchronously here.
        seen.append(validate_request(request))
        return httpx.Response(200, json={"model": "m", "text": "", "usage": {}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=LOCAL) as client:
        await client.post(
            "/audio/transcriptions",
            data={"model": "voxtral-mini-latest", "diarize": True, "stream": False},
            files={"file": MP3},
        )
    assert seen == [TRANSCRIBE]


def test_unread_async_stream_is_reported() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"model": "m"}'

    request = httpx.Request("POST", f"{API}/batch/jobs", content=body())
    assert "await request.aread()" in violation(request)


# ---------------------------------------------------------------- the spec subset


def test_subset_is_request_only_and_self_contained() -> None:
    spec = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    assert "x-origin" in spec
    refs: set[str] = set()

    def collect(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    refs.add(value)
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(spec)
    schemas = spec["components"]["schemas"]
    assert {ref.removeprefix("#/components/schemas/") for ref in refs} <= set(schemas)
    assert sorted(schemas) == sorted(spec["x-origin"]["copied_components_schemas"])
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            assert "responses" not in operation
