"""Requests and response/stream parsing per backend (``MistralDialect``, ``VLLMDialect``)."""

from __future__ import annotations

import base64
import json
from email import policy
from email.parser import BytesParser
from typing import Any

import httpx
import pytest

from voxtral_integrations import (
    APIResponseError,
    ChatCompletionChunk,
    DoneEvent,
    IncompleteStreamError,
    InvalidInputError,
    LanguageEvent,
    SegmentEvent,
    TextDeltaEvent,
    Transcription,
    UnknownEvent,
    UnsupportedFeatureError,
)
from voxtral_integrations._chat_request import chat_request
from voxtral_integrations._dialects import MistralDialect, VLLMDialect
from voxtral_integrations._events import (
    ChatChunks,
    EventParser,
    EventStreamDecoder,
    MistralTranscriptionEvents,
    VLLMTranscriptionEvents,
)
from voxtral_integrations._options import transcription_options
from voxtral_integrations._requests import RequestSpec
from voxtral_integrations._sources import AudioFileId, AudioUpload, AudioURL, resolve_audio
from voxtral_integrations._sse import ServerSentEvent

BASE = "https://api.mistral.ai/v1"
MODEL = "voxtral-mini-latest"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(32)
FLAC = b"fLaC\x00\x00\x00\x22" + bytes(32)
OGG = b"OggS\x00\x02" + bytes(32)
SIGNED = "https://files.mistral.ai/x.mp3?X-Amz-Signature=abc"

MISTRAL = MistralDialect()
VLLM = VLLMDialect()


def upload() -> AudioUpload:
    source = resolve_audio(WAV)
    assert isinstance(source, AudioUpload)
    return source


SOURCES: dict[str, Any] = {
    "upload": upload(),
    "url": AudioURL(SIGNED),
    "file_id": AudioFileId("file-123"),
}


def build(spec: RequestSpec) -> httpx.Request:
    """The request the client would send (it calls ``spec.body()`` per attempt)."""
    with spec.body() as body:
        request = httpx.Request(spec.method, BASE + spec.path, headers=spec.headers, **body)
        request.read()
    return request


def form_parts(request: httpx.Request) -> list[tuple[str, str | None, str | None, bytes]]:
    """(name, filename, content type of a file part, value) for every multipart part, in order."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data"), content_type
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content
    )
    parts = []
    for part in message.iter_parts():
        filename = part.get_filename()
        parts.append(
            (
                part.get_param("name", header="content-disposition"),
                filename,
                part.get_content_type() if filename else None,
                part.get_payload(decode=True),
            )
        )
    return parts


def text_fields(request: httpx.Request) -> list[tuple[str, str]]:
    return [
        (name, value.decode())
        for name, filename, _, value in form_parts(request)
        if filename is None
    ]


# --------------------------------------------------------------------------- Mistral requests


@pytest.mark.parametrize(
    ("source", "options", "stream", "form"),
    [
        pytest.param("upload", {}, False, {"model": MODEL}, id="upload-minimal"),
        pytest.param("url", {}, False, {"model": MODEL, "file_url": SIGNED}, id="file-url"),
        pytest.param("file_id", {}, False, {"model": MODEL, "file_id": "file-123"}, id="file-id"),
        pytest.param(
            "upload",
            {"language": "FR", "temperature": 0.2},
            False,
            {"model": MODEL, "language": "fr", "temperature": "0.2"},
            id="language-temperature",
        ),
        pytest.param(
            "upload", {"temperature": 0}, False, {"model": MODEL, "temperature": "0"}, id="t-zero"
        ),
        pytest.param(
            "upload", {"temperature": 1.0}, False, {"model": MODEL, "temperature": "1"}, id="t-one"
        ),
        pytest.param(
            "upload",
            {"timestamp_granularities": ["segment", "word"]},
            False,
            {"model": MODEL, "timestamp_granularities": ["segment", "word"]},
            id="granularities-list",
        ),
        pytest.param(
            "url",
            {"timestamp_granularities": "segment", "diarize": True},
            False,
            {
                "model": MODEL,
                "file_url": SIGNED,
                "timestamp_granularities": ["segment"],
                "diarize": "true",
            },
            id="diarize-true",
        ),
        pytest.param(
            "upload", {"diarize": False}, False, {"model": MODEL}, id="diarize-false-omitted"
        ),
        pytest.param(
            "file_id",
            {"context_bias": ["Mistral", "farewell_address"]},
            False,
            {
                "model": MODEL,
                "file_id": "file-123",
                "context_bias": ["Mistral", "farewell_address"],
            },
            id="context-bias-list",
        ),
        pytest.param("upload", {}, True, {"model": MODEL, "stream": "true"}, id="stream"),
    ],
)
def test_mistral_form(
    source: str, options: dict[str, Any], stream: bool, form: dict[str, Any]
) -> None:
    spec = MISTRAL.transcription_request(
        transcription_options(model=MODEL, **options), SOURCES[source], stream=stream
    )
    assert (spec.method, spec.path) == ("POST", "/audio/transcriptions")
    assert spec.form == form
    assert spec.upload is (SOURCES[source] if source == "upload" else None)
    assert spec.json is None
    assert spec.stream is stream
    assert dict(spec.headers) == ({"Accept": "text/event-stream"} if stream else {})


@pytest.mark.parametrize(
    ("source", "options", "stream", "fields"),
    [
        pytest.param(
            "upload",
            {"timestamp_granularities": ["segment", "word"], "context_bias": ["a", "b_c"]},
            True,
            [
                ("model", MODEL),
                ("timestamp_granularities", "segment"),
                ("timestamp_granularities", "word"),
                ("context_bias", "a"),
                ("context_bias", "b_c"),
                ("stream", "true"),
            ],
            id="upload-repeated-fields",
        ),
        pytest.param(
            "url",
            {"diarize": True, "timestamp_granularities": ["segment"]},
            False,
            [
                ("model", MODEL),
                ("file_url", SIGNED),
                ("timestamp_granularities", "segment"),
                ("diarize", "true"),
            ],
            id="file-url",
        ),
        pytest.param(
            "file_id",
            {"language": "en"},
            False,
            [("model", MODEL), ("file_id", "file-123"), ("language", "en")],
            id="file-id",
        ),
    ],
)
def test_mistral_wire_is_multipart(
    source: str, options: dict[str, Any], stream: bool, fields: list[tuple[str, str]]
) -> None:
    """The endpoint is multipart/form-data, with or without a file part (§1.2)."""
    spec = MISTRAL.transcription_request(
        transcription_options(model=MODEL, **options), SOURCES[source], stream=stream
    )
    request = build(spec)
    assert request.method == "POST"
    assert str(request.url) == BASE + "/audio/transcriptions"
    assert sorted(text_fields(request)) == sorted(fields)
    files = [part for part in form_parts(request) if part[1] is not None]
    if source == "upload":
        assert files == [("file", "audio.wav", "audio/wav", WAV)]
    else:
        assert files == []
    assert not any(name.endswith("[]") for name, *_ in form_parts(request))
    if stream:
        assert request.headers["accept"] == "text/event-stream"


def test_mistral_upload_reopened_per_attempt() -> None:
    spec = MISTRAL.transcription_request(
        transcription_options(model=MODEL), SOURCES["upload"], stream=False
    )
    first, second = build(spec), build(spec)
    assert form_parts(first)[-1][3] == form_parts(second)[-1][3] == WAV


# --------------------------------------------------------------------------- vLLM requests


@pytest.mark.parametrize(
    ("options", "stream", "form"),
    [
        pytest.param({}, False, {"model": MODEL, "response_format": "json"}, id="minimal"),
        pytest.param(
            {"language": "de", "temperature": 0.5},
            False,
            {"model": MODEL, "response_format": "json", "language": "de", "temperature": "0.5"},
            id="language-temperature",
        ),
        pytest.param(
            {},
            True,
            {
                "model": MODEL,
                "response_format": "json",
                "stream": "true",
                "stream_include_usage": "true",
            },
            id="stream",
        ),
    ],
)
def test_vllm_form(options: dict[str, Any], stream: bool, form: dict[str, Any]) -> None:
    spec = VLLM.transcription_request(
        transcription_options(model=MODEL, **options), SOURCES["upload"], stream=stream
    )
    assert spec.form == form
    assert spec.upload is SOURCES["upload"]
    assert spec.stream is stream
    request = build(spec)
    assert sorted(text_fields(request)) == sorted(form.items())
    assert [part[:3] for part in form_parts(request) if part[1]] == [
        ("file", "audio.wav", "audio/wav")
    ]


@pytest.mark.parametrize(
    ("source", "options", "argument", "mentions"),
    [
        pytest.param("url", {}, "audio", "URL", id="file-url"),
        pytest.param("file_id", {}, "audio", "file id", id="file-id"),
        pytest.param(
            "upload",
            {"timestamp_granularities": ["segment"]},
            "timestamp_granularities",
            "timestamp_granularities",
            id="timestamps",
        ),
        pytest.param("upload", {"diarize": True}, "diarize", "diarize", id="diarize"),
        pytest.param(
            "upload", {"context_bias": ["Mistral"]}, "context_bias", "context_bias", id="bias"
        ),
        pytest.param(
            "upload",
            {"diarize": True, "timestamp_granularities": ["segment"], "context_bias": ["x"]},
            "diarize",
            "diarize, timestamp_granularities, context_bias",
            id="all-three-named",
        ),
    ],
)
def test_vllm_refuses_unsupported(
    source: str, options: dict[str, Any], argument: str, mentions: str
) -> None:
    with pytest.raises(UnsupportedFeatureError) as info:
        VLLM.transcription_request(
            transcription_options(model=MODEL, **options), SOURCES[source], stream=False
        )
    assert isinstance(info.value, InvalidInputError)
    assert info.value.argument == argument
    assert mentions in str(info.value)
    assert "abc" not in str(info.value)  # the signed URL's token


def test_files_api_support() -> None:
    assert MISTRAL.check_files_supported() is None
    with pytest.raises(UnsupportedFeatureError, match="Files API") as info:
        VLLM.check_files_supported()
    assert info.value.argument == "backend"


# --------------------------------------------------------------------------- transcription bodies

MEASURED_OK = {
    "model": "voxtral-mini-2602",
    "text": "Bonjour, ...",
    "language": None,
    "segments": [],
    "usage": {
        "prompt_audio_seconds": 7,
        "prompt_tokens": 5,
        "total_tokens": 406,
        "completion_tokens": 26,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 375},
        "service_tier": "standard",
    },
    "finish_reason": None,
}


def test_mistral_parse_measured_response() -> None:
    result = MISTRAL.parse_transcription(
        json.dumps(MEASURED_OK).encode(), transcription_options(model=MODEL)
    )
    assert result.text == "Bonjour, ..."
    assert result.model == "voxtral-mini-2602"
    assert result.language is None
    assert result.segments == []
    assert result.usage.prompt_audio_seconds == 7
    assert result.usage.total_tokens == 406
    assert result.model_extra == {"finish_reason": None}


def test_mistral_parse_diarized_null_bounds() -> None:
    body = {
        "model": "m",
        "text": "a b",
        "language": None,
        "segments": [
            {"text": "a", "start": None, "end": None, "speaker_id": "speaker_1"},
            {"text": "b", "start": 1.5, "end": 2.0, "speaker_id": "speaker_0", "type": "x"},
        ],
        "usage": {},
    }
    result = MISTRAL.parse_transcription(
        json.dumps(body).encode(), transcription_options(model=MODEL)
    )
    assert [(s.start, s.end, s.speaker_id) for s in result.segments] == [
        (None, None, "speaker_1"),
        (1.5, 2.0, "speaker_0"),
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"text": "Hello.", "usage": {"type": "duration", "seconds": 7}},
            Transcription(text="Hello.", model=MODEL, usage={"prompt_audio_seconds": 7}),
            id="documented-json",
        ),
        pytest.param(
            {"text": "Hi", "model": "mistralai/Voxtral-Mini-3B-2507", "language": "en"},
            Transcription(text="Hi", model="mistralai/Voxtral-Mini-3B-2507", language="en"),
            id="model-and-language-from-body",
        ),
        pytest.param(
            {"text": "", "usage": None}, Transcription(text="", model=MODEL), id="no-usage"
        ),
        pytest.param(
            {"text": "x", "usage": {"prompt_tokens": 3, "seconds": 1.5}},
            Transcription(
                text="x", model=MODEL, usage={"prompt_tokens": 3, "prompt_audio_seconds": 1.5}
            ),
            id="usage-tokens-and-seconds",
        ),
    ],
)
def test_vllm_parse_transcription(body: dict[str, Any], expected: Transcription) -> None:
    result = VLLM.parse_transcription(json.dumps(body).encode(), transcription_options(model=MODEL))
    assert result == expected
    assert result.segments == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"usage": {}}, id="no-text"),
        pytest.param({"text": 5}, id="text-not-string"),
        pytest.param(["text"], id="list"),
        pytest.param("Hello", id="plain-text-body"),
    ],
)
def test_vllm_parse_transcription_rejects(body: Any) -> None:
    with pytest.raises(ValueError):
        VLLM.parse_transcription(json.dumps(body).encode(), transcription_options(model=MODEL))


# --------------------------------------------------------------------------- chat audio parts


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("input_audio", "expected"),
    [
        pytest.param(b64(WAV), b64(WAV), id="base64-string"),
        pytest.param(SIGNED, SIGNED, id="signed-url"),
        pytest.param({"data": b64(MP3), "format": "mp3"}, b64(MP3), id="openai-object-flattened"),
        pytest.param({"data": b64(MP3)}, b64(MP3), id="object-without-format"),
        pytest.param({"url": SIGNED}, SIGNED, id="object-with-url"),
    ],
)
def test_mistral_chat_audio_part(input_audio: Any, expected: str) -> None:
    part = {"type": "input_audio", "input_audio": input_audio}
    assert MISTRAL.chat_audio_part(part) == {"type": "input_audio", "input_audio": expected}


@pytest.mark.parametrize("dialect", [MISTRAL, VLLM], ids=["mistral", "vllm"])
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://user:PASSWORD-SENTINEL@files.example/a.mp3",
        "FILE:///C:/a.wav",
        "javascript:alert(1)",
    ],
)
def test_chat_audio_a_server_cannot_fetch_is_refused(dialect: Any, url: str) -> None:
    with pytest.raises(InvalidInputError, match="cannot fetch") as caught:
        dialect.chat_audio_part({"type": "input_audio", "input_audio": url})
    assert "PASSWORD-SENTINEL" not in str(caught.value)


@pytest.mark.parametrize(
    ("input_audio", "expected"),
    [
        pytest.param(
            b64(WAV),
            {"type": "input_audio", "input_audio": {"data": b64(WAV), "format": "wav"}},
            id="wav",
        ),
        pytest.param(
            b64(MP3),
            {"type": "input_audio", "input_audio": {"data": b64(MP3), "format": "mp3"}},
            id="mp3",
        ),
        pytest.param(
            b64(b"\xff\xfb\x90\x64" + bytes(40)),
            {
                "type": "input_audio",
                "input_audio": {"data": b64(b"\xff\xfb\x90\x64" + bytes(40)), "format": "mp3"},
            },
            id="mp3-frame-sync",
        ),
        pytest.param(
            b64(FLAC),
            {"type": "input_audio", "input_audio": {"data": b64(FLAC), "format": "flac"}},
            id="flac",
        ),
        pytest.param(
            b64(OGG),
            {"type": "input_audio", "input_audio": {"data": b64(OGG), "format": "ogg"}},
            id="ogg",
        ),
        pytest.param(
            {"data": b64(OGG)},
            {"type": "input_audio", "input_audio": {"data": b64(OGG), "format": "ogg"}},
            id="object-without-format-sniffed",
        ),
        pytest.param(
            {"data": b64(WAV), "format": "mp3"},
            {"type": "input_audio", "input_audio": {"data": b64(WAV), "format": "mp3"}},
            id="object-kept-as-given",
        ),
        pytest.param(SIGNED, {"type": "audio_url", "audio_url": {"url": SIGNED}}, id="https-url"),
        pytest.param(
            "http://localhost/a.wav",
            {"type": "audio_url", "audio_url": {"url": "http://localhost/a.wav"}},
            id="http-url",
        ),
        pytest.param(
            "data:audio/wav;base64," + b64(WAV),
            {"type": "audio_url", "audio_url": {"url": "data:audio/wav;base64," + b64(WAV)}},
            id="data-url",
        ),
    ],
)
def test_vllm_chat_audio_part(input_audio: Any, expected: dict[str, Any]) -> None:
    part = {"type": "input_audio", "input_audio": input_audio}
    assert VLLM.chat_audio_part(part) == expected


@pytest.mark.parametrize(
    "dialect", [pytest.param(MISTRAL, id="mistral"), pytest.param(VLLM, id="vllm")]
)
@pytest.mark.parametrize(
    "part",
    [
        pytest.param({"type": "input_audio", "input_audio": ""}, id="empty-string"),
        pytest.param({"type": "input_audio", "input_audio": "   "}, id="blank-string"),
        pytest.param({"type": "input_audio", "input_audio": None}, id="none"),
        pytest.param({"type": "input_audio"}, id="missing"),
        pytest.param({"type": "input_audio", "input_audio": {}}, id="empty-object"),
        pytest.param(
            {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}},
            id="empty-data",
        ),
        pytest.param({"type": "input_audio", "input_audio": b"RIFF"}, id="raw-bytes"),
    ],
)
def test_empty_input_audio_raises(dialect: MistralDialect, part: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match="base64") as info:
        dialect.chat_audio_part(part)
    assert info.value.argument == "messages"


# --------------------------------------------------------------------------- chat requests


def _chat(dialect: MistralDialect, stream: bool = False, **overrides: Any) -> RequestSpec:
    arguments: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": b64(WAV), "format": "wav"}},
                    {"type": "text", "text": "What is said?"},
                ],
            },
        ],
        "model": "voxtral-small-latest",
        "tools": None,
        "tool_choice": None,
        "response_format": None,
        "temperature": None,
        "max_tokens": None,
        "stream": stream,
    }
    arguments.update(overrides)
    return chat_request(dialect, **arguments)


@pytest.mark.parametrize(
    ("dialect", "audio_part"),
    [
        pytest.param(MISTRAL, {"type": "input_audio", "input_audio": b64(WAV)}, id="mistral"),
        pytest.param(
            VLLM,
            {"type": "input_audio", "input_audio": {"data": b64(WAV), "format": "wav"}},
            id="vllm",
        ),
    ],
)
def test_chat_request_converts_audio_only(dialect: MistralDialect, audio_part: dict) -> None:
    spec = _chat(dialect)
    assert (spec.method, spec.path) == ("POST", "/chat/completions")
    assert spec.json == {
        "model": "voxtral-small-latest",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [audio_part, {"type": "text", "text": "What is said?"}]},
        ],
    }
    assert dict(spec.headers) == {}
    request = build(spec)
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == spec.json


@pytest.mark.parametrize(
    ("dialect", "stream_options"),
    [
        pytest.param(MISTRAL, None, id="mistral"),
        pytest.param(VLLM, {"include_usage": True}, id="vllm"),
    ],
)
def test_chat_request_stream(dialect: MistralDialect, stream_options: Any) -> None:
    spec = _chat(dialect, stream=True, temperature=0.0, max_tokens=5)
    assert spec.json["stream"] is True
    assert spec.json.get("stream_options") == stream_options
    assert spec.json["temperature"] == 0.0
    assert spec.json["max_tokens"] == 5
    assert spec.stream is True
    assert spec.headers["Accept"] == "text/event-stream"


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [
        pytest.param({"model": ""}, "model", id="empty-model"),
        pytest.param({"messages": []}, "messages", id="no-messages"),
        pytest.param({"messages": "hello"}, "messages", id="messages-string"),
        pytest.param({"messages": {"role": "user"}}, "messages", id="messages-mapping"),
        pytest.param({"messages": [{"content": "x"}]}, "messages", id="message-without-role"),
        pytest.param({"max_tokens": 0}, "max_tokens", id="max-tokens-zero"),
        pytest.param({"max_tokens": True}, "max_tokens", id="max-tokens-bool"),
        pytest.param(
            {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "messages",
            id="audio-part-without-audio",
        ),
    ],
)
def test_chat_request_bad_input(overrides: dict[str, Any], argument: str) -> None:
    for dialect in (MISTRAL, VLLM):
        with pytest.raises(InvalidInputError) as info:
            _chat(dialect, **overrides)
        assert info.value.argument == argument


# --------------------------------------------------------------------------- streams

STREAM_URL = BASE + "/audio/transcriptions"


def response(url: str = STREAM_URL) -> httpx.Response:
    return httpx.Response(200, request=httpx.Request("POST", url))


def frames(*payloads: Any, events: list[str | None] | None = None, final: bool = True) -> bytes:
    out = []
    for index, payload in enumerate(payloads):
        event = events[index] if events else None
        data = payload if isinstance(payload, str) else json.dumps(payload)
        out.append((f"event: {event}\n" if event else "") + f"data: {data}\n\n")
    body = "".join(out)
    return (body if final else body[:-1]).encode()


def run(parser: EventParser[Any], body: bytes, chunk: int = 7) -> list[Any]:
    decoder = EventStreamDecoder(parser, response())
    events: list[Any] = []
    for start in range(0, len(body), chunk):
        events.extend(decoder.feed(body[start : start + chunk]))
    events.extend(decoder.finish())
    assert decoder.received == events
    return events


MISTRAL_STREAM = [
    {"type": "transcription.language", "audio_language": "en"},
    {"type": "transcription.text.delta", "text": "Hello"},
    {"type": "transcription.text.delta", "text": " world"},
    {"type": "transcription.segment", "text": "Hello world", "start": 0.0, "end": 1.2},
    {
        "type": "transcription.done",
        "model": "voxtral-mini-2602",
        "text": "Hello world",
        "language": None,
        "segments": [{"text": "Hello world", "start": 0.0, "end": 1.2}],
        "usage": {"prompt_audio_seconds": 2},
    },
]


def test_mistral_stream_typed_by_type() -> None:
    events = run(MistralTranscriptionEvents(), frames(*MISTRAL_STREAM))
    assert [type(event) for event in events] == [
        LanguageEvent,
        TextDeltaEvent,
        TextDeltaEvent,
        SegmentEvent,
        DoneEvent,
    ]
    assert events[0].audio_language == "en"
    assert "".join(e.text for e in events if isinstance(e, TextDeltaEvent)) == "Hello world"
    assert events[3].end == 1.2
    assert events[4].text == "Hello world"
    assert events[4].usage.prompt_audio_seconds == 2


@pytest.mark.parametrize(
    ("sse", "expected"),
    [
        pytest.param(
            ServerSentEvent('{"text": "hi"}', event="transcription.text.delta"),
            TextDeltaEvent(text="hi"),
            id="type-from-sse-event",
        ),
        pytest.param(
            ServerSentEvent('{"audio_language": "fr"}', event="transcription.language"),
            LanguageEvent(audio_language="fr"),
            id="language-from-sse-event",
        ),
        pytest.param(
            ServerSentEvent('{"type": "transcription.text.delta", "text": "a"}', event="other"),
            TextDeltaEvent(text="a"),
            id="data-type-wins",
        ),
        pytest.param(
            ServerSentEvent('{"type": "transcription.future", "x": [1]}'),
            UnknownEvent(
                type="transcription.future", data={"type": "transcription.future", "x": [1]}
            ),
            id="unknown-type",
        ),
        pytest.param(
            ServerSentEvent('{"x": 1}', event="transcription.keepalive"),
            UnknownEvent(type="transcription.keepalive", data={"x": 1}),
            id="unknown-sse-event",
        ),
        pytest.param(ServerSentEvent("{}"), UnknownEvent(type="", data={}), id="no-type-at-all"),
    ],
)
def test_mistral_event_typing(sse: ServerSentEvent, expected: Any) -> None:
    parser = MistralTranscriptionEvents()
    assert parser.parse(sse) == [expected]
    assert parser.done is False


def test_mistral_done_only_after_done_event() -> None:
    parser = MistralTranscriptionEvents()
    for payload in MISTRAL_STREAM[:-1]:
        parser.parse(ServerSentEvent(json.dumps(payload)))
        assert not parser.done and not parser.complete
    parser.parse(ServerSentEvent(json.dumps(MISTRAL_STREAM[-1])))
    assert parser.done and parser.complete


def test_mistral_events_after_done_are_ignored() -> None:
    body = frames(*MISTRAL_STREAM, {"type": "transcription.text.delta", "text": "late"})
    events = run(MistralTranscriptionEvents(), body)
    assert isinstance(events[-1], DoneEvent)
    assert len(events) == len(MISTRAL_STREAM)


def test_mistral_final_frame_without_blank_line() -> None:
    events = run(MistralTranscriptionEvents(), frames(*MISTRAL_STREAM, final=False)[:-1])
    assert isinstance(events[-1], DoneEvent)


def test_mistral_stream_with_sse_event_names_only() -> None:
    payloads = [{k: v for k, v in p.items() if k != "type"} for p in MISTRAL_STREAM]
    names = [p["type"] for p in MISTRAL_STREAM]
    events = run(MistralTranscriptionEvents(), frames(*payloads, events=names))
    assert [event.type for event in events] == names


VLLM_STREAM = [
    {
        "id": "trsc-1",
        "object": "transcription.chunk",
        "created": 1,
        "model": "mistralai/Voxtral-Mini-3B-2507",
        "choices": [{"delta": {"content": "Hello"}}],
    },
    {
        "object": "transcription.chunk",
        "choices": [{"delta": {"content": " world"}, "finish_reason": "stop"}],
    },
    {"object": "transcription.chunk", "choices": [{"delta": {}}]},
    {
        "object": "transcription.chunk",
        "choices": [],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    },
    "[DONE]",
]


def test_vllm_stream_accumulates_to_done() -> None:
    parser = VLLMTranscriptionEvents(MODEL)
    events = run(parser, frames(*VLLM_STREAM))
    assert events[:2] == [TextDeltaEvent(text="Hello"), TextDeltaEvent(text=" world")]
    done = events[-1]
    assert len(events) == 3
    assert isinstance(done, DoneEvent)
    assert done.text == "Hello world"
    assert done.model == "mistralai/Voxtral-Mini-3B-2507"
    assert (done.usage.prompt_tokens, done.usage.total_tokens) == (10, 13)
    assert parser.done


def test_vllm_stream_duration_usage_and_default_model() -> None:
    body = frames(
        {"choices": [{"delta": {"content": "x"}}]},
        {"choices": [], "usage": {"type": "duration", "seconds": 4}},
        "[DONE]",
    )
    done = run(VLLMTranscriptionEvents(MODEL), body)[-1]
    assert done == DoneEvent(text="x", model=MODEL, usage={"prompt_audio_seconds": 4})


CHAT_STREAM = [
    {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "voxtral-small-latest",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}],
    },
    {
        "id": "c1",
        "model": "voxtral-small-latest",
        "choices": [{"index": 0, "delta": {"content": "!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    },
]


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(["[DONE]"], id="with-done-sentinel"),
        pytest.param([], id="finish-reason-without-done"),
    ],
)
def test_chat_chunks_complete(tail: list[str]) -> None:
    parser = ChatChunks()
    events = run(parser, frames(*CHAT_STREAM, *tail))
    assert all(isinstance(event, ChatCompletionChunk) for event in events)
    assert "".join(e.choices[0].delta.content for e in events) == "Hi!"
    assert events[-1].usage.total_tokens == 7
    assert parser.complete


def test_chat_chunks_not_complete_before_finish() -> None:
    parser = ChatChunks()
    parser.parse(ServerSentEvent(json.dumps(CHAT_STREAM[0])))
    assert not parser.complete
    assert parser.parse(ServerSentEvent("[DONE]")) == []
    assert parser.complete


@pytest.mark.parametrize(
    ("parser", "body", "received"),
    [
        pytest.param(
            MistralTranscriptionEvents(),
            frames(*MISTRAL_STREAM[:3]),
            3,
            id="mistral-without-done",
        ),
        pytest.param(MistralTranscriptionEvents(), b"", 0, id="mistral-empty-body"),
        pytest.param(
            VLLMTranscriptionEvents(MODEL), frames(*VLLM_STREAM[:-1]), 2, id="vllm-without-done"
        ),
        pytest.param(ChatChunks(), frames(CHAT_STREAM[0]), 1, id="chat-without-finish"),
    ],
)
def test_incomplete_stream(parser: EventParser[Any], body: bytes, received: int) -> None:
    decoder = EventStreamDecoder(parser, response(STREAM_URL + "?token=abc"))
    events = decoder.feed(body)
    with pytest.raises(IncompleteStreamError) as info:
        decoder.finish()
    error = info.value
    assert error.received == events
    assert len(error.received) == received
    assert error.method == "POST"
    assert "POST /v1/audio/transcriptions" in str(error)
    assert f"after {received} events" in str(error)
    assert "retry" in str(error)
    assert "token=abc" not in str(error)


def test_stream_cut_inside_final_frame_is_incomplete() -> None:
    """A connection cut in the middle of the last frame is a cut stream, not a bad server."""
    body = frames(*MISTRAL_STREAM)
    cut = body[: body.rindex(b'"usage"')]  # inside the transcription.done JSON
    decoder = EventStreamDecoder(MistralTranscriptionEvents(), response())
    events = decoder.feed(cut)
    assert len(events) == 4
    with pytest.raises(IncompleteStreamError) as info:
        decoder.finish()
    assert len(info.value.received) == 4


def test_incomplete_stream_received_is_a_copy() -> None:
    decoder = EventStreamDecoder(MistralTranscriptionEvents(), response())
    decoder.feed(frames(*MISTRAL_STREAM[:2]))
    with pytest.raises(IncompleteStreamError) as info:
        decoder.finish()
    assert [type(event) for event in info.value.received] == [LanguageEvent, TextDeltaEvent]
    assert info.value.received is not decoder.received


@pytest.mark.parametrize(
    ("parser", "data"),
    [
        pytest.param(MistralTranscriptionEvents(), "{not json", id="mistral-bad-json"),
        pytest.param(MistralTranscriptionEvents(), "[1, 2]", id="mistral-json-list"),
        pytest.param(
            MistralTranscriptionEvents(),
            '{"type": "transcription.text.delta"}',
            id="mistral-delta-without-text",
        ),
        pytest.param(
            MistralTranscriptionEvents(),
            '{"type": "transcription.done", "text": "x"}',
            id="mistral-done-without-model",
        ),
        pytest.param(VLLMTranscriptionEvents(MODEL), "{oops", id="vllm-bad-json"),
        pytest.param(VLLMTranscriptionEvents(MODEL), '"text"', id="vllm-json-string"),
        pytest.param(
            VLLMTranscriptionEvents(MODEL), '{"choices": ["x"]}', id="vllm-choice-not-object"
        ),
        pytest.param(
            VLLMTranscriptionEvents(MODEL),
            '{"choices": [{"delta": "x"}]}',
            id="vllm-delta-not-object",
        ),
        pytest.param(VLLMTranscriptionEvents(MODEL), '{"choices": 5}', id="vllm-choices-number"),
        pytest.param(
            VLLMTranscriptionEvents(MODEL),
            '{"choices": [{"delta": {"content": 5}}]}',
            id="vllm-content-not-string",
        ),
        pytest.param(ChatChunks(), "{", id="chat-bad-json"),
        pytest.param(ChatChunks(), '{"choices": [{"delta": 3}]}', id="chat-bad-shape"),
    ],
)
def test_malformed_event_raises_api_response_error(parser: EventParser[Any], data: str) -> None:
    decoder = EventStreamDecoder(parser, response(STREAM_URL + "?sig=SECRET"))
    with pytest.raises(APIResponseError) as info:
        decoder.feed(f"data: {data}\n\n".encode())
    error = info.value
    assert not isinstance(error, IncompleteStreamError)
    assert "malformed" in str(error)
    assert "POST /v1/audio/transcriptions" in str(error)
    assert "SECRET" not in str(error)
    assert "SECRET" not in error.url
    assert error.method == "POST"
