"""The sync and async clients over an in-process transport: retries, bodies, streams, config.

Every behaviour is checked on both clients through one ``runner`` fixture, so the
two shells cannot drift apart.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import io
import json
import logging
import math
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.constants import FAKE_API_KEY
from tests.support.fake_voxtral import ChunkedBody
from voxtral_integrations import (
    APIConnectionError,
    APIResponseError,
    APITimeoutError,
    AsyncVoxtralClient,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DoneEvent,
    IncompleteStreamError,
    InternalServerError,
    InvalidInputError,
    LanguageEvent,
    NotFoundError,
    RateLimitError,
    TextDeltaEvent,
    UnknownEvent,
    UnprocessableEntityError,
    UnsupportedFeatureError,
    UploadedFile,
    VoxtralClient,
)
from voxtral_integrations._client import logger as client_logger

Handler = Callable[[httpx.Request], httpx.Response]

TRANSCRIPTION = {
    "model": "voxtral-mini-2602",
    "text": "hello world",
    "language": None,
    "segments": [],
    "usage": {"prompt_audio_seconds": 2, "prompt_tokens": 1, "total_tokens": 5},
}


class Runner:
    """Calls a client method the same way on the sync and on the async client."""

    def __init__(self, kind: str, handler: Handler, **settings: Any) -> None:
        self.kind = kind
        settings.setdefault("api_key", FAKE_API_KEY)
        if kind == "sync":
            self.client: Any = VoxtralClient(
                http_client=httpx.Client(transport=httpx.MockTransport(handler)), **settings
            )
        else:
            self.client = AsyncVoxtralClient(
                http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **settings
            )

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.client, method)(*args, **kwargs)
        return asyncio.run(result) if self.kind == "async" else result

    def stream(self, method: str, *args: Any, **kwargs: Any) -> list[Any]:
        """All events of a streaming call."""
        if self.kind == "sync":
            return list(getattr(self.client, method)(*args, **kwargs))

        async def collect() -> list[Any]:
            return [event async for event in await getattr(self.client, method)(*args, **kwargs)]

        return asyncio.run(collect())


@pytest.fixture(params=["sync", "async"])
def runner(request: pytest.FixtureRequest) -> Callable[..., Runner]:
    return lambda handler, **settings: Runner(request.param, handler, **settings)


def sequence(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with ``responses`` in order, and the requests it saw."""
    seen: list[httpx.Request] = []
    pending = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        answer = pending.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def ok() -> httpx.Response:
    return httpx.Response(200, json=TRANSCRIPTION)


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(
        code, json={"object": "error", "message": f"status {code}"}, headers=headers
    )


def file_digests(request: httpx.Request) -> list[str]:
    """SHA-256 of every file part in a multipart request (boundary-independent)."""
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    digests = []
    for part in request.content.split(b"--" + boundary):
        head, _, body = part.partition(b"\r\n\r\n")
        if b"filename=" in head:
            digests.append(hashlib.sha256(body.removesuffix(b"\r\n")).hexdigest())
    return digests


# --------------------------------------------------------------------------- retries


@pytest.mark.parametrize(
    ("answers", "max_retries", "error", "attempts"),
    [
        pytest.param(lambda: [ok()], 2, None, 1, id="ok"),
        pytest.param(lambda: [status(503), status(502), ok()], 2, None, 3, id="two-5xx-then-ok"),
        pytest.param(
            lambda: [status(500)] * 3, 2, InternalServerError, 3, id="5xx-exhausts-retries"
        ),
        pytest.param(lambda: [status(504), ok()], 0, InternalServerError, 1, id="max-retries-0"),
        pytest.param(lambda: [status(429), ok()], 1, None, 2, id="429-then-ok"),
        pytest.param(lambda: [status(400)], 5, BadRequestError, 1, id="400-not-retried"),
        pytest.param(lambda: [status(401)], 5, AuthenticationError, 1, id="401-not-retried"),
        pytest.param(lambda: [status(404), ok()], 5, None, 2, id="404-retried-once"),
        pytest.param(
            lambda: [status(404), status(404), ok()], 5, NotFoundError, 2, id="second-404-raised"
        ),
        pytest.param(
            lambda: [status(404), status(503), ok()], 5, None, 3, id="404-then-5xx-then-ok"
        ),
        pytest.param(
            lambda: [status(503), status(404), status(404)], 5, NotFoundError, 3, id="404-once"
        ),
        pytest.param(lambda: [status(404), ok()], 0, NotFoundError, 1, id="404-max-retries-0"),
        pytest.param(lambda: [status(422)], 5, UnprocessableEntityError, 1, id="422-not-retried"),
        pytest.param(
            lambda: [httpx.ConnectError("refused"), httpx.ReadError("reset"), ok()],
            2,
            None,
            3,
            id="connection-errors-then-ok",
        ),
        pytest.param(
            lambda: [httpx.ConnectError("refused")] * 2,
            1,
            APIConnectionError,
            2,
            id="connect-gives-up",
        ),
        pytest.param(
            lambda: [httpx.ReadTimeout("slow")] * 3, 2, APITimeoutError, 3, id="timeout-gives-up"
        ),
    ],
)
def test_retry_attempts(
    runner: Callable[..., Runner],
    sleeps: list[float],
    tiny_wav: Path,
    answers: Callable[[], list[Any]],
    max_retries: int,
    error: type[Exception] | None,
    attempts: int,
) -> None:
    handler, seen = sequence(*answers())
    client = runner(handler, max_retries=max_retries)
    if error is None:
        assert client.call("transcribe", tiny_wav).text == "hello world"
    else:
        with pytest.raises(error):
            client.call("transcribe", tiny_wav)
    assert len(seen) == attempts
    assert len(sleeps) == attempts - 1


@pytest.mark.parametrize(
    ("backend", "source", "attempts"),
    [
        pytest.param("mistral", "upload", 2, id="mistral-upload-retried"),
        pytest.param("mistral", "https://example.com/a.mp3", 2, id="mistral-file-url-retried"),
        pytest.param("mistral", "file-id", 1, id="mistral-file-id-not-retried"),
        pytest.param("vllm", "upload", 1, id="vllm-not-retried"),
    ],
)
def test_a_404_is_retried_only_where_it_cannot_mean_missing(
    runner: Callable[..., Runner],
    sleeps: list[float],
    tiny_wav: Path,
    backend: str,
    source: str,
    attempts: int,
) -> None:
    """A file id may be gone and vLLM's 404 means an unserved model; neither is a glitch."""
    handler, seen = sequence(status(404), status(404))
    settings: dict[str, Any] = {"backend": backend, "base_url": "http://127.0.0.1:9/v1"}
    audio: Any = {"upload": tiny_wav, "file-id": UploadedFile(id="f" * 8)}.get(source, source)
    with pytest.raises(NotFoundError):
        runner(handler, max_retries=3, **settings).call("transcribe", audio)
    assert len(seen) == attempts


def test_a_404_from_other_endpoints_is_not_retried(
    runner: Callable[..., Runner], sleeps: list[float]
) -> None:
    handler, seen = sequence(status(404), status(404))
    with pytest.raises(NotFoundError):
        runner(handler, max_retries=3).call("get_signed_url", "file-123")
    assert len(seen) == 1


def test_retry_after_is_honoured_exactly(
    runner: Callable[..., Runner], sleeps: list[float], tiny_wav: Path
) -> None:
    handler, _ = sequence(
        status(429, **{"Retry-After": "7"}), status(503, **{"retry-after-ms": "1500"}), ok()
    )
    runner(handler, max_retries=2).call("transcribe", tiny_wav)
    assert sleeps == [7.0, 1.5]


def test_a_retry_after_beyond_the_cap_is_raised_not_slept(
    runner: Callable[..., Runner], sleeps: list[float], tiny_wav: Path
) -> None:
    handler, seen = sequence(status(429, **{"Retry-After": "3600"}), ok())
    with pytest.raises(RateLimitError) as caught:
        runner(handler, max_retries=3).call("transcribe", tiny_wav)
    assert caught.value.retry_after == 3600
    assert len(seen) == 1 and sleeps == []


def test_a_hold_beyond_the_cap_fails_the_other_requests_fast_too(
    runner: Callable[..., Runner], sleeps: list[float], tiny_wav: Path
) -> None:
    """A 429 asking for an hour must not make the rest of a call sleep for that hour."""
    handler, seen = sequence(status(429, **{"Retry-After": "3600"}), ok(), ok())
    client = runner(handler, max_retries=3)
    for _ in range(2):
        with pytest.raises(RateLimitError) as caught:
            client.call("transcribe", tiny_wav)
        assert 3590 < caught.value.retry_after <= 3600
    assert "holds this client 3600 s more" in str(caught.value)
    assert "was not sent" in str(caught.value)
    assert len(seen) == 1 and sleeps == []


def test_backoff_grows_without_retry_after(
    runner: Callable[..., Runner], sleeps: list[float], tiny_wav: Path
) -> None:
    handler, _ = sequence(status(500), status(500), status(500), ok())
    runner(handler, max_retries=3).call("transcribe", tiny_wav)
    assert len(sleeps) == 3
    assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0 and 1.5 <= sleeps[2] <= 2.0


@pytest.mark.parametrize("how", ["path", "bytes", "file-object"])
def test_the_upload_is_sent_whole_on_every_attempt(
    runner: Callable[..., Runner], sleeps: list[float], tiny_wav: Path, how: str
) -> None:
    content = tiny_wav.read_bytes()
    handler, seen = sequence(status(503), httpx.ReadError("reset"), ok())
    audio: Any = {"path": tiny_wav, "bytes": content, "file-object": io.BytesIO(b"skip" + content)}[
        how
    ]
    if how == "file-object":
        audio.seek(4)
    runner(handler, max_retries=2).call("transcribe", audio)
    expected = hashlib.sha256(content).hexdigest()
    assert [file_digests(request) for request in seen] == [[expected]] * 3


def test_retries_are_logged_at_debug_without_secrets(
    runner: Callable[..., Runner],
    sleeps: list[float],
    tiny_wav: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, _ = sequence(status(503), ok())
    with caplog.at_level(logging.DEBUG, logger=client_logger.name):
        runner(handler, max_retries=1).call("transcribe", tiny_wav)
    messages = [record.getMessage() for record in caplog.records]
    assert any("status 503" in m and "retry 1 of 1" in m for m in messages)
    assert all(FAKE_API_KEY not in m for m in messages)


@pytest.mark.parametrize("call", ["transcribe", "stream_transcription"])
def test_a_200_found_unusable_is_no_success_for_the_pace(
    runner: Callable[..., Runner], sleeps: list[float], tiny_wav: Path, call: str
) -> None:
    """A 200 whose JSON is cut short, or a stream that ends before its first event, is
    sent again; it must not count as a success first (RELIABILITY.md's old gap), which
    widened the window a 429 had narrowed one step early."""
    body = json.dumps(TRANSCRIPTION).encode()
    unusable, usable = (
        (httpx.Response(200, content=body[:-9]), ok())
        if call == "transcribe"
        else (sse(cut_after=0), sse(*STREAM_EVENTS))
    )
    answers = [status(429, **{"Retry-After": "0"}), unusable, usable]
    windows: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        windows.append(client.client._pace.window)
        return answers.pop(0)

    client = runner(handler, max_retries=2)
    if call == "transcribe":
        assert client.call(call, tiny_wav).text == "hello world"
    else:
        assert isinstance(client.stream(call, tiny_wav)[-1], DoneEvent)
    assert windows == [math.inf, 1, 1]  # the 429 narrowed it; the unusable 200 kept it so
    assert client.client._pace.successes == 1


# --------------------------------------------------------------------------- requests


def test_request_headers(runner: Callable[..., Runner], tiny_wav: Path) -> None:
    handler, seen = sequence(ok())
    runner(handler).call("transcribe", tiny_wav)
    headers = seen[0].headers
    assert headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert headers["user-agent"].startswith("voxtral-integrations/")
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    assert str(seen[0].url) == "https://api.mistral.ai/v1/audio/transcriptions"


def test_a_url_is_sent_as_a_multipart_file_url(runner: Callable[..., Runner]) -> None:
    handler, seen = sequence(ok())
    runner(handler).call(
        "transcribe", "https://example.com/a.mp3", diarize=True, timestamp_granularities="segment"
    )
    body = seen[0].content
    assert seen[0].headers["content-type"].startswith("multipart/form-data")
    assert b'name="file_url"\r\n\r\nhttps://example.com/a.mp3' in body
    assert b'name="diarize"\r\n\r\ntrue' in body
    assert b"filename=" not in body


def test_bad_input_sends_nothing(runner: Callable[..., Runner], tmp_path: Path) -> None:
    handler, seen = sequence()
    client = runner(handler)
    for call in (
        lambda: client.call("transcribe", tmp_path / "missing.mp3"),
        lambda: client.call("transcribe", tmp_path),
        lambda: client.call("transcribe", b""),
        lambda: client.call("transcribe", "https://x/a.mp3", file_id="abc"),
        lambda: client.call("transcribe", "https://x/a.mp3", language="english"),
        lambda: client.call("transcribe", "https://x/a.mp3", context_bias=["two words"]),
        lambda: client.call("transcribe", "https://x/a.mp3", timestamp_granularities=["sentence"]),
        lambda: client.call("transcribe", "https://x/a.mp3", language="en", diarize=True),
        lambda: client.call("chat", []),
        lambda: client.call("get_signed_url", "a/../b"),
        lambda: client.call("get_signed_url", "abc", expiry=0),
        lambda: client.call("upload_file", "https://x/a.mp3"),
    ):
        with pytest.raises(InvalidInputError):
            call()
    assert seen == []


# --------------------------------------------------------------------------- streams


def sse(*events: dict[str, Any], cut_after: int | None = None) -> httpx.Response:
    text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    raw = text.encode()[:cut_after] if cut_after is not None else text.encode()
    chunks = [raw[i : i + 7] for i in range(0, len(raw), 7)]  # split mid-frame on purpose
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, stream=ChunkedBody(chunks)
    )


STREAM_EVENTS = [
    {"type": "transcription.language", "audio_language": "en"},
    {"type": "transcription.text.delta", "text": "héllo "},
    {"type": "transcription.vendor.new_thing", "value": 1},
    {"type": "transcription.text.delta", "text": "world"},
    {"type": "transcription.done", **TRANSCRIPTION},
]


def test_stream_yields_typed_events_in_order_and_passes_unknown_ones(
    runner: Callable[..., Runner], tiny_wav: Path
) -> None:
    handler, seen = sequence(
        sse(*STREAM_EVENTS, {"type": "transcription.text.delta", "text": "late"})
    )
    events = runner(handler).stream("stream_transcription", tiny_wav)
    assert [type(e) for e in events] == [
        LanguageEvent,
        TextDeltaEvent,
        UnknownEvent,
        TextDeltaEvent,
        DoneEvent,
    ]
    assert events[1].text == "héllo "
    assert events[2].type == "transcription.vendor.new_thing" and events[2].data["value"] == 1
    assert b'name="stream"\r\n\r\ntrue' in seen[0].content
    assert seen[0].headers["accept"] == "text/event-stream"


def test_a_finished_stream_keeps_nothing_alive(
    runner: Callable[..., Runner], tiny_wav: Path
) -> None:
    """A response holds its request (the upload, the key): nothing may keep it once read."""
    responses: list[weakref.ref[httpx.Response]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        response = sse(*STREAM_EVENTS)
        responses.append(weakref.ref(response))
        return response

    client = runner(handler)
    for _ in range(3):
        assert len(client.stream("stream_transcription", tiny_wav)) == len(STREAM_EVENTS)
    gc.collect()
    assert len(responses) == 3 and all(ref() is None for ref in responses)


def test_clients_share_one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building one costs ~25 ms; a loader making a client per call must not pay it each time."""
    built: list[object] = []
    create = httpx.create_ssl_context
    monkeypatch.setattr(httpx, "create_ssl_context", lambda: built.append(1) or create())
    for _ in range(3):
        VoxtralClient(api_key=FAKE_API_KEY).close()
    assert len(built) <= 1


def test_a_stream_cut_before_done_raises_with_what_arrived(
    runner: Callable[..., Runner], tiny_wav: Path
) -> None:
    full = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in STREAM_EVENTS)
    cut = full.index("event: transcription.done") + 20  # inside the final frame
    handler, _ = sequence(sse(*STREAM_EVENTS, cut_after=cut))
    with pytest.raises(IncompleteStreamError) as caught:
        runner(handler).stream("stream_transcription", tiny_wav)
    assert [type(e) for e in caught.value.received] == [
        LanguageEvent,
        TextDeltaEvent,
        UnknownEvent,
        TextDeltaEvent,
    ]


def test_a_connection_cut_mid_stream_keeps_what_arrived(
    runner: Callable[..., Runner], tiny_wav: Path
) -> None:
    frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in STREAM_EVENTS]
    body = ChunkedBody(frames[:2], error=httpx.RemoteProtocolError("peer closed connection"))
    handler, _ = sequence(httpx.Response(200, stream=body))
    with pytest.raises(IncompleteStreamError) as caught:
        runner(handler).stream("stream_transcription", tiny_wav)
    assert [type(e) for e in caught.value.received] == [LanguageEvent, TextDeltaEvent]
    assert "RemoteProtocolError" in str(caught.value)


def test_a_stream_is_retried_only_before_it_starts(
    runner: Callable[..., Runner], sleeps: list[float], tiny_wav: Path
) -> None:
    handler, seen = sequence(status(503), sse(*STREAM_EVENTS))
    events = runner(handler, max_retries=1).stream("stream_transcription", tiny_wav)
    assert isinstance(events[-1], DoneEvent) and len(seen) == 2


def test_malformed_event_data_is_a_response_error(
    runner: Callable[..., Runner], tiny_wav: Path
) -> None:
    broken = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=b"data: {not json\n\n"
    )
    handler, _ = sequence(broken)
    with pytest.raises(APIResponseError):
        runner(handler).stream("stream_transcription", tiny_wav)


def test_closing_a_stream_early_closes_the_response(tiny_wav: Path) -> None:
    response = sse(*STREAM_EVENTS)
    handler, _ = sequence(response)
    client = VoxtralClient(
        api_key=FAKE_API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    with client.stream_transcription(tiny_wav) as stream:
        assert isinstance(next(stream), LanguageEvent)
    assert response.is_closed


def test_chat_stream_collects_chunks_until_done(runner: Callable[..., Runner]) -> None:
    chunk = {
        "id": "c",
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
    last = {
        **chunk,
        "choices": [{"index": 0, "delta": {"content": "!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    body = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(last)}\n\ndata: [DONE]\n\n"
    handler, seen = sequence(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())
    )
    chunks = runner(handler).stream("chat", [{"role": "user", "content": "hello"}], stream=True)
    assert "".join(str(c.choices[0].delta.content) for c in chunks) == "hi!"
    assert chunks[-1].usage.total_tokens == 5
    assert json.loads(seen[0].content)["stream"] is True


# --------------------------------------------------------------------------- responses


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(lambda: httpx.Response(200, content=b"<html>gateway</html>"), id="html"),
        pytest.param(lambda: httpx.Response(200, json={"no": "text"}), id="missing-fields"),
        pytest.param(lambda: httpx.Response(200, json=[1, 2]), id="a-list"),
    ],
)
def test_an_undocumented_success_body_is_a_response_error(
    runner: Callable[..., Runner], tiny_wav: Path, response: Callable[[], httpx.Response]
) -> None:
    handler, _ = sequence(response())
    with pytest.raises(APIResponseError):
        runner(handler).call("transcribe", tiny_wav)


def test_extra_keys_and_null_bounds_are_kept(runner: Callable[..., Runner], tiny_wav: Path) -> None:
    body = {
        **TRANSCRIPTION,
        "finish_reason": None,
        "segments": [
            {"text": "a", "start": None, "end": None, "speaker_id": "speaker_0", "novel": 1}
        ],
    }
    handler, _ = sequence(httpx.Response(200, json=body))
    result = runner(handler).call("transcribe", tiny_wav, diarize=True)
    assert result.segments[0].start is None and result.segments[0].speaker_id == "speaker_0"
    assert result.segments[0].model_extra == {"novel": 1}
    assert result.model_extra == {"finish_reason": None}


# --------------------------------------------------------------------------- vLLM backend


def test_vllm_transcription_and_stream(runner: Callable[..., Runner], tiny_wav: Path) -> None:
    chunk = {"object": "transcription.chunk", "choices": [{"delta": {"content": "hi there"}}]}
    usage = {"choices": [], "usage": {"type": "duration", "seconds": 3}}
    stream_body = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(usage)}\n\ndata: [DONE]\n\n"
    handler, seen = sequence(
        httpx.Response(200, json={"text": "hi there", "usage": {"type": "duration", "seconds": 3}}),
        httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=stream_body.encode()
        ),
    )
    client = runner(handler, backend="vllm", api_key=None, base_url="http://127.0.0.1:8000/v1")
    result = client.call("transcribe", tiny_wav, model="mistralai/Voxtral-Mini-3B-2507")
    assert result.text == "hi there" and result.usage.prompt_audio_seconds == 3
    assert result.model == "mistralai/Voxtral-Mini-3B-2507"
    events = client.stream("stream_transcription", tiny_wav, model="m")
    assert isinstance(events[-1], DoneEvent) and events[-1].text == "hi there"
    assert "authorization" not in seen[0].headers
    assert b'name="response_format"\r\n\r\njson' in seen[0].content


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, wav: c.call("transcribe", "https://x/a.mp3"), id="url"),
        pytest.param(lambda c, wav: c.call("transcribe", file_id="abc"), id="file-id"),
        pytest.param(
            lambda c, wav: c.call("transcribe", wav, timestamp_granularities=["segment"]),
            id="timestamps",
        ),
        pytest.param(lambda c, wav: c.call("transcribe", wav, diarize=True), id="diarize"),
        pytest.param(lambda c, wav: c.call("upload_file", wav), id="files-api"),
    ],
)
def test_vllm_refuses_what_it_cannot_do(
    runner: Callable[..., Runner], tiny_wav: Path, call: Any
) -> None:
    handler, seen = sequence()
    with pytest.raises(UnsupportedFeatureError):
        call(runner(handler, backend="vllm"), tiny_wav)
    assert seen == []


# --------------------------------------------------------------------------- configuration


def test_the_key_comes_from_the_environment_and_never_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    client = VoxtralClient()
    assert FAKE_API_KEY not in repr(client) and FAKE_API_KEY not in str(client)
    assert client.base_url == "https://api.mistral.ai/v1"


@pytest.mark.parametrize("key", ["sk-abc\n", " sk-abc", "sk-äbc", "sk abc"])
def test_a_malformed_key_is_refused_without_showing_it(key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        VoxtralClient(api_key=key)
    assert key.strip() not in str(caught.value)


def test_mistral_settings_never_reach_a_vllm_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("MISTRAL_BASE_URL", "https://api.mistral.ai/v1")
    client = VoxtralClient(backend="vllm")
    assert client.base_url == "http://localhost:8000/v1"
    assert "Authorization" not in client._headers


def test_closing_an_unread_stream_releases_the_connection(tiny_wav: Path) -> None:
    response = sse(*STREAM_EVENTS)
    handler, _ = sequence(response)
    client = VoxtralClient(
        api_key=FAKE_API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    with client.stream_transcription(tiny_wav):
        pass
    assert response.is_closed


def test_a_file_object_is_left_where_it_was(tiny_wav: Path) -> None:
    handler, _ = sequence(ok(), ok())
    client = VoxtralClient(
        api_key=FAKE_API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    with tiny_wav.open("rb") as audio:
        client.transcribe(audio)
        assert audio.tell() == 0
        client.transcribe(audio)


def test_a_missing_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="MISTRAL_API_KEY"):
        VoxtralClient()
    with pytest.raises(ConfigurationError, match="MISTRAL_API_KEY"):
        AsyncVoxtralClient()
    assert VoxtralClient(backend="vllm").base_url == "http://localhost:8000/v1"


def test_base_url_comes_from_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_BASE_URL", "https://proxy.example/v1/")
    assert VoxtralClient(api_key="k").base_url == "https://proxy.example/v1"
    assert (
        VoxtralClient(api_key="k", base_url="http://127.0.0.1:9/v1").base_url
        == "http://127.0.0.1:9/v1"
    )


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"base_url": "api.mistral.ai/v1"}, id="no-scheme"),
        pytest.param({"base_url": "ftp://host/v1"}, id="bad-scheme"),
        pytest.param({"backend": "openai"}, id="unknown-backend"),
        pytest.param({"max_retries": -1}, id="negative-retries"),
    ],
)
def test_bad_settings_are_configuration_errors(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        VoxtralClient(api_key="k", **settings)


def test_a_caller_supplied_http_client_is_left_open() -> None:
    http = httpx.Client()
    with VoxtralClient(api_key="k", http_client=http):
        pass
    assert not http.is_closed
    owned = VoxtralClient(api_key="k")
    owned.close()
    assert owned._http.is_closed


async def test_async_context_manager_closes_its_pool() -> None:
    async with AsyncVoxtralClient(api_key="k") as client:
        pass
    assert client._http.is_closed


def test_timeouts_default_to_long_reads_and_can_be_set(tiny_wav: Path) -> None:
    handler, seen = sequence(ok(), ok())
    transport = httpx.MockTransport(handler)
    VoxtralClient(api_key="k", http_client=httpx.Client(transport=transport)).transcribe(
        tiny_wav.read_bytes()
    )
    VoxtralClient(api_key="k", timeout=7, http_client=httpx.Client(transport=transport)).transcribe(
        tiny_wav.read_bytes()
    )
    default, explicit = (request.extensions["timeout"] for request in seen)
    assert default["read"] == 1800.0  # long reads even through a caller's client
    assert explicit["read"] == 7.0
    with VoxtralClient(api_key="k", http_client=None) as own:
        assert own._timeout is not None and own._timeout.read == 1800.0
