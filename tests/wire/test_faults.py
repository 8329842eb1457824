"""Fault matrix over a real socket: every fault the retry policy names, sync and async.

Each row starts ``LocalVoxtralServer`` on 127.0.0.1 with a hook that injects the
fault (``fault_injection``), sends a transcription (plain and, where the fault
applies, streamed) with the sync and the async client, and checks the outcome
exactly: the answer equals the fault-free one, or the typed error says what
happened; the server saw as many attempts as the policy allows; no attempt came
before a ``Retry-After`` allowed it. The policy under test is ``_retry``'s:

- retried, within ``max_retries``: 429, 500, 502, 503, 504, a reset or closed
  connection (before or during the answer), a body shorter than announced, a read
  timeout, a stream that ends before its first event; once only: a 404 for an
  upload or a ``file_url``, a 200 whose JSON is cut short;
- raised at once: a 404 for a ``file_id`` (or a second 404), a ``Retry-After``
  beyond a minute, any other 200 whose body is not a transcription, a stream cut
  after its first event (the caller may hold part of it).

Backoff is shortened (``fast_backoff``) except where its length is the point.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from benchmarks.local_server import (
    LocalVoxtralServer,
    ReceivedRequest,
    RecordedRequest,
    Reply,
    sse_frame,
)
from tests.support.audio_factory import encode, speech_pcm
from tests.support.constants import FAKE_API_KEY
from tests.support.fault_injection import (
    CONNECTION_FAULTS,
    CUT_JSON_FAULTS,
    FaultPlan,
    Script,
    regions_answer,
)
from voxtral_integrations import (
    APIConnectionError,
    APIResponseError,
    APITimeoutError,
    AsyncVoxtralClient,
    DoneEvent,
    IncompleteStreamError,
    IncompleteTranscriptionError,
    InternalServerError,
    LanguageEvent,
    NotFoundError,
    RateLimitError,
    SegmentEvent,
    TextDeltaEvent,
    Transcription,
    TranscriptionResult,
    VoxtralClient,
    _transport,
)
from voxtral_integrations._retry import RetryPolicy

MAX_RETRIES = 2
ATTEMPTS = MAX_RETRIES + 1
FAST_BACKOFF = 0.01
TOLERANCE = 0.05  # seconds, as test_long_audio allows
SEGMENTS = {"timestamp_granularities": ["segment"]}
FILE_ID = "6f2b0c1e-8a4d-4e57-9b1a-2c3d4e5f6a7b"
FILE_URL = "https://audio.example/talk.mp3"
TRANSCRIPTIONS = "/v1/audio/transcriptions"

KINDS = ("sync", "async")
MODES = ("transcribe", "stream")


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients made in this test back off 7.5-10 ms instead of 0.375-0.5 s, then 2x."""
    policy = functools.partial(RetryPolicy, initial_delay=FAST_BACKOFF, max_delay=4 * FAST_BACKOFF)
    monkeypatch.setattr(_transport, "RetryPolicy", policy)


@pytest.fixture(scope="module")
def wav() -> bytes:
    return encode(speech_pcm([(0.2, 1.5)], 2.0), "wav")


# --------------------------------------------------------------------------- calling


@dataclass
class Call:
    """One transcription (plain or streamed) by the sync or the async client."""

    kind: str
    mode: str
    base_url: str
    settings: dict[str, Any] = field(default_factory=dict)

    def __call__(self, audio: Any = None, **options: Any) -> Any:
        """A :class:`Transcription`, or a stream's events (a list); raises what it raises."""
        if self.kind == "sync":
            with VoxtralClient(
                api_key=FAKE_API_KEY, base_url=self.base_url, **self.settings
            ) as client:
                if self.mode == "transcribe":
                    return client.transcribe(audio, **options)
                with client.stream_transcription(audio, **options) as stream:
                    return list(stream)
        return asyncio.run(self._async(audio, **options))

    async def _async(self, audio: Any, **options: Any) -> Any:
        async with AsyncVoxtralClient(
            api_key=FAKE_API_KEY, base_url=self.base_url, **self.settings
        ) as client:
            if self.mode == "transcribe":
                return await client.transcribe(audio, **options)
            async with await client.stream_transcription(audio, **options) as stream:
                return [event async for event in stream]

    def many(self, audio: list[Any], **options: Any) -> list[TranscriptionResult]:
        """``transcribe_many``'s results in input order."""
        if self.kind == "sync":
            with VoxtralClient(
                api_key=FAKE_API_KEY, base_url=self.base_url, **self.settings
            ) as client:
                results = list(client.transcribe_many(audio, **options))
        else:

            async def collect() -> list[TranscriptionResult]:
                async with AsyncVoxtralClient(
                    api_key=FAKE_API_KEY, base_url=self.base_url, **self.settings
                ) as client:
                    return [result async for result in client.transcribe_many(audio, **options)]

            results = asyncio.run(collect())
        return sorted(results, key=lambda result: result.index)


def dumped(outcome: Any) -> Any:
    """A transcription or a list of events as plain data, to compare answers."""
    if isinstance(outcome, list):
        return [event.model_dump() for event in outcome]
    return outcome.model_dump()


_CLEAN: dict[str, Any] = {}


def fault_free(kind: str, mode: str, audio: Any, name: str, **options: Any) -> Any:
    """The answer the same call gets from a server that injects nothing (computed once).

    ``name`` stands for ``audio`` in the cache key.
    """
    key = repr((kind, mode, name, sorted(options.items())))
    if key not in _CLEAN:
        with LocalVoxtralServer() as server:
            _CLEAN[key] = dumped(Call(kind, mode, server.base_url)(audio, **options))
            assert server.request_count == 1
    return _CLEAN[key]


def transcriptions(server: LocalVoxtralServer) -> list[RecordedRequest]:
    return [record for record in server.requests if record.path == TRANSCRIPTIONS]


@contextmanager
def serve(hook: Any) -> Iterator[LocalVoxtralServer]:
    """A server answering through ``hook``; a hook that raised fails the test."""
    server = LocalVoxtralServer()
    if isinstance(hook, (Script, FaultPlan)):
        hook.install(server)
    else:
        server.hook = hook
    with server:
        yield server
    assert server.errors == []


def first_only(reply: Callable[[], Reply]) -> Callable[[ReceivedRequest], Reply | None]:
    """A hook answering the first request with ``reply()``, the others normally."""
    answered: list[int] = []

    def hook(request: ReceivedRequest) -> Reply | None:
        if answered:
            return None
        answered.append(request.index)
        return reply()

    return hook


# --------------------------------------------------------------------------- 429


def _rate_limited(headers: dict[str, str]) -> Reply:
    error = Reply.error(429, "Requests rate limit exceeded", error_type="rate_limited")
    return Reply(429, error.body, headers)


def _in_two_seconds() -> Reply:
    moment = datetime.now(timezone.utc) + timedelta(seconds=2)
    return _rate_limited({"Retry-After": format_datetime(moment, usegmt=True)})


RATE_LIMITS = [
    pytest.param(lambda: _rate_limited({"Retry-After": "1"}), 1.0, id="retry-after-seconds"),
    pytest.param(_in_two_seconds, 1.0, id="retry-after-http-date"),  # 1 to 2 s: whole seconds
    pytest.param(lambda: _rate_limited({"retry-after-ms": "300"}), 0.3, id="retry-after-ms"),
    pytest.param(lambda: _rate_limited({}), 0.75 * 0.5, id="no-header-backoff"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("reply", "at_least"), RATE_LIMITS)
def test_a_429_is_retried_no_sooner_than_it_asked(
    kind: str, reply: Callable[[], Reply], at_least: float, wav: bytes
) -> None:
    with serve(first_only(reply)) as server:
        result = Call(kind, "transcribe", server.base_url)(wav, **SEGMENTS)
        told, retry = transcriptions(server)
    assert dumped(result) == fault_free(kind, "transcribe", wav, "wav", **SEGMENTS)
    assert (told.status, retry.status) == (429, 200)
    assert server.early_retries() == []  # Retry-After, HTTP date and ms, as the server meant them
    assert retry.arrived - told.responded >= at_least  # the no-header backoff: 0.375 s at least


@pytest.mark.parametrize("kind", KINDS)
def test_a_429_on_a_stream_is_retried_after_its_wait(kind: str, wav: bytes) -> None:
    with serve(first_only(lambda: _rate_limited({"Retry-After": "1"}))) as server:
        events = Call(kind, "stream", server.base_url)(wav, **SEGMENTS)
        told, retry = transcriptions(server)
    assert dumped(events) == fault_free(kind, "stream", wav, "wav", **SEGMENTS)
    assert server.early_retries() == [] and retry.arrived - told.responded >= 1.0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_429_asking_for_an_hour_is_raised_at_once(kind: str, mode: str, wav: bytes) -> None:
    with serve(lambda request: _rate_limited({"Retry-After": "3600"})) as server:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            Call(kind, mode, server.base_url)(wav)
        elapsed = time.monotonic() - started
        assert len(transcriptions(server)) == 1
    assert caught.value.retry_after == 3600 and caught.value.status_code == 429
    assert "failed with 429: Requests rate limit exceeded" in str(caught.value)
    assert elapsed < 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_a_429_asking_for_an_hour_ends_a_chunked_call_at_once(kind: str, medium_wav: Path) -> None:
    """The other chunks raise too (with what remains of the hold) instead of sleeping it out."""
    hook = first_only(lambda: _rate_limited({"Retry-After": "3600"}))
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            Call(kind, "transcribe", server.base_url)(medium_wav, max_chunk_seconds=10)
        except BaseException as exc:
            outcome.append(exc)

    with serve(hook) as server:
        worker = threading.Thread(target=call, daemon=True)  # a sleeping one must not hang pytest
        worker.start()
        worker.join(timeout=10.0)
        assert not worker.is_alive(), "the call is sleeping out the hour"
    (error,) = outcome
    assert isinstance(error, IncompleteTranscriptionError)
    assert error.failed and all(isinstance(e, RateLimitError) for e in error.failed.values())
    assert all(3590 < e.retry_after <= 3600 for e in error.failed.values())  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_429_forever_is_raised_after_the_bound(kind: str, mode: str, wav: bytes) -> None:
    with serve(lambda request: _rate_limited({"retry-after-ms": "20"})) as server:
        with pytest.raises(RateLimitError) as caught:
            Call(kind, mode, server.base_url, {"max_retries": MAX_RETRIES})(wav)
        assert [record.status for record in transcriptions(server)] == [429] * ATTEMPTS
        assert server.early_retries() == []
    assert caught.value.retry_after == 0.02
    assert "failed with 429" in str(caught.value)


# --------------------------------------------------------------------------- 5xx


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", ["500", "502", "503", "504"])
def test_a_5xx_once_is_retried(status: str, kind: str, mode: str, wav: bytes) -> None:
    with serve(Script([status])) as server:
        outcome = Call(kind, mode, server.base_url)(wav, **SEGMENTS)
        statuses = [record.status for record in transcriptions(server)]
    assert dumped(outcome) == fault_free(kind, mode, wav, "wav", **SEGMENTS)
    assert statuses == [int(status), 200]


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", ["500", "502", "503", "504"])
def test_a_5xx_always_is_raised_after_the_bound(
    status: str, kind: str, mode: str, wav: bytes
) -> None:
    with serve(Script([], then=status)) as server:
        with pytest.raises(InternalServerError) as caught:
            Call(kind, mode, server.base_url, {"max_retries": MAX_RETRIES})(wav)
        statuses = [record.status for record in transcriptions(server)]
    assert statuses == [int(status)] * ATTEMPTS
    assert caught.value.status_code == int(status)
    assert f"POST {TRANSCRIPTIONS} failed with {status}: Service unavailable" in str(caught.value)
    assert f"request id local-{ATTEMPTS - 1}" in str(caught.value)  # the last attempt's


# --------------------------------------------------------------------------- 404


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_an_intermittent_404_for_an_upload_is_retried_once(
    kind: str, mode: str, wav: bytes
) -> None:
    with serve(Script(["404"])) as server:
        outcome = Call(kind, mode, server.base_url)(wav, **SEGMENTS)
        statuses = [record.status for record in transcriptions(server)]
    assert dumped(outcome) == fault_free(kind, mode, wav, "wav", **SEGMENTS)
    assert statuses == [404, 200]


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
def test_an_intermittent_404_for_a_file_url_is_retried_once(kind: str) -> None:
    with serve(Script(["404"])) as server:
        result = Call(kind, "transcribe", server.base_url)(FILE_URL)
        (first, second) = transcriptions(server)
    assert dumped(result) == fault_free(kind, "transcribe", FILE_URL, "url")
    assert (first.status, second.status) == (404, 200)
    assert first.fields["file_url"] == second.fields["file_url"] == (FILE_URL,)


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_second_404_is_raised(kind: str, mode: str, wav: bytes) -> None:
    with serve(Script(["404", "404"])) as server:
        with pytest.raises(NotFoundError) as caught:
            Call(kind, mode, server.base_url, {"max_retries": 5})(wav)
        statuses = [record.status for record in transcriptions(server)]
    assert statuses == [404, 404]  # retried once, however many retries are left
    assert f"POST {TRANSCRIPTIONS} failed with 404: Not Found" in str(caught.value)


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
def test_a_404_for_a_file_id_is_raised_at_once(kind: str) -> None:
    with serve(Script(["404"])) as server:
        with pytest.raises(NotFoundError) as caught:
            Call(kind, "transcribe", server.base_url)(file_id=FILE_ID)
        (only,) = transcriptions(server)
    assert only.fields["file_id"] == (FILE_ID,)
    assert "failed with 404" in str(caught.value) and "file id" in str(caught.value)


# --------------------------------------------------------------------------- the connection


def _applies(fault: str, mode: str) -> bool:
    """A stream's body is its events: faults inside it are the stream rows below."""
    return mode == "transcribe" or fault in ("reset-before", "close-before", "reset-after-headers")


CONNECTION_ROWS = [
    pytest.param(fault, mode, id=f"{fault}-{mode}")
    for fault in CONNECTION_FAULTS
    for mode in MODES
    if _applies(fault, mode)
]


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("fault", "mode"), CONNECTION_ROWS)
def test_a_connection_fault_once_is_retried(kind: str, fault: str, mode: str, wav: bytes) -> None:
    script = Script([fault])
    with serve(script) as server:
        outcome = Call(kind, mode, server.base_url)(wav, **SEGMENTS)
        statuses = [record.status for record in transcriptions(server)]
    assert dumped(outcome) == fault_free(kind, mode, wav, "wav", **SEGMENTS)
    assert script.faults() == [fault]
    # the server sent a status line unless it dropped the connection before answering
    assert statuses == [None if fault.endswith("-before") else 200, 200]


ALWAYS_FAILING = {
    "reset-before": (APIConnectionError, "ReadError"),
    "close-before": (APIConnectionError, "RemoteProtocolError: Server disconnected"),
    "reset-after-headers": (APIConnectionError, "ReadError"),
    "reset-mid-body": (APIConnectionError, "ReadError"),
    "short-body": (APIConnectionError, "RemoteProtocolError: peer closed connection"),
    "chunked-cut": (APIConnectionError, "RemoteProtocolError: peer closed connection"),
}


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("fault", "mode"), CONNECTION_ROWS)
def test_a_connection_fault_always_is_raised_after_the_bound(
    kind: str, fault: str, mode: str, wav: bytes
) -> None:
    with serve(Script([], then=fault)) as server:
        with pytest.raises((APIConnectionError, IncompleteStreamError)) as caught:
            Call(kind, mode, server.base_url, {"max_retries": MAX_RETRIES})(wav)
        assert len(transcriptions(server)) == ATTEMPTS
    error = caught.value
    if mode == "stream" and fault == "reset-after-headers":
        # the 200 arrived; each stream was cut before its first event
        assert type(error) is IncompleteStreamError and error.received == []
        assert str(error).startswith(
            f"Gave up after {ATTEMPTS} attempts; the last stream ended before its first event"
        )
        assert "was cut off (ReadError)" in str(error)
        return
    expected, says = ALWAYS_FAILING[fault]
    assert type(error) is expected
    assert f"POST {TRANSCRIPTIONS} failed after {ATTEMPTS} attempts: {says}" in str(error)


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_stalled_answer_times_out_and_is_retried(kind: str, mode: str, wav: bytes) -> None:
    with serve(Script(["stall"], stall=1.0)) as server:
        outcome = Call(kind, mode, server.base_url, {"timeout": 0.3})(wav, **SEGMENTS)
    (stalled, answered) = transcriptions(server)  # a stall is recorded when it ends
    assert dumped(outcome) == fault_free(kind, mode, wav, "wav", **SEGMENTS)
    assert (stalled.status, answered.status) == (None, 200)  # never answered: the stop ended it
    assert answered.arrived - stalled.arrived >= 0.3  # the client gave up on it, then retried


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_server_that_always_stalls_is_a_timeout_error(kind: str, mode: str, wav: bytes) -> None:
    with serve(Script([], then="stall", stall=1.0)) as server:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            Call(kind, mode, server.base_url, {"timeout": 0.3, "max_retries": MAX_RETRIES})(wav)
        elapsed = time.monotonic() - started
    assert len(transcriptions(server)) == ATTEMPTS
    assert f"timed out (ReadTimeout) after {ATTEMPTS} attempts" in str(caught.value)
    assert "raise `timeout=`" in str(caught.value)
    assert ATTEMPTS * 0.3 <= elapsed < ATTEMPTS * 1.0  # never waited out a stall


# --------------------------------------------------------------------------- 200s that are not


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", CUT_JSON_FAULTS)
def test_a_200_whose_json_is_cut_short_is_sent_again(kind: str, fault: str, wav: bytes) -> None:
    with serve(Script([fault])) as server:
        result = Call(kind, "transcribe", server.base_url)(wav, **SEGMENTS)
        statuses = [record.status for record in transcriptions(server)]
    assert dumped(result) == fault_free(kind, "transcribe", wav, "wav", **SEGMENTS)
    assert statuses == [200, 200]


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", CUT_JSON_FAULTS)
def test_a_200_whose_json_is_cut_short_twice_is_raised(kind: str, fault: str, wav: bytes) -> None:
    with serve(Script([], then=fault)) as server:
        with pytest.raises(APIResponseError) as caught:
            Call(kind, "transcribe", server.base_url, {"max_retries": 5})(wav)
        assert len(transcriptions(server)) == 2  # once more, however many retries are left
    assert type(caught.value) is APIResponseError
    assert "The transcription is malformed" in str(caught.value)
    assert "EOF while parsing" in str(caught.value)


HTML = "text/html; charset=utf-8"
MALFORMED = [
    pytest.param(Reply(200, {"transcript": "wrong shape"}), "Field required", id="wrong-shape"),
    pytest.param(Reply(200, [1, 2, 3]), "validation error", id="json-list"),
    pytest.param(
        Reply(200, "<html><body>Welcome to the hotel Wi-Fi</body></html>", {"Content-Type": HTML}),
        "Invalid JSON",
        id="html",
    ),
    pytest.param(
        Reply(200, b'{"text": "hi", "model": "m"} trailing', {"Content-Type": "application/json"}),
        "Invalid JSON",
        id="json-then-junk",
    ),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("reply", "says"), MALFORMED)
def test_a_malformed_200_is_raised_at_once(kind: str, reply: Reply, says: str, wav: bytes) -> None:
    with serve(lambda request: reply) as server:
        with pytest.raises(APIResponseError) as caught:
            Call(kind, "transcribe", server.base_url)(wav)
        assert len(transcriptions(server)) == 1  # what was meant: sending it again changes nothing
    assert type(caught.value) is APIResponseError
    assert "The transcription is malformed" in str(caught.value) and says in str(caught.value)
    assert f"(POST {TRANSCRIPTIONS}, status 200)" in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_malformed_event_is_raised_at_once(kind: str, wav: bytes) -> None:
    reply = Reply(200, headers={"Content-Type": "text/event-stream"}, chunks=[b"data: {oops\n\n"])
    with serve(lambda request: reply) as server:
        with pytest.raises(APIResponseError) as caught:
            Call(kind, "stream", server.base_url)(wav)
        assert len(transcriptions(server)) == 1
    assert type(caught.value) is APIResponseError
    assert "A stream event is malformed" in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("reply", "says"), MALFORMED[2:3])
def test_a_stream_answered_with_a_page_is_raised_at_once(
    kind: str, reply: Reply, says: str, wav: bytes
) -> None:
    """Read as a stream it holds no events; sending it again would only fail the same way."""
    with serve(lambda request: reply) as server:
        with pytest.raises(APIResponseError) as caught:
            Call(kind, "stream", server.base_url)(wav)
        assert len(transcriptions(server)) == 1
    assert type(caught.value) is APIResponseError
    assert "A stream was answered with text/html, not events" in str(caught.value)


# --------------------------------------------------------------------------- streams cut short

EVENTS: list[dict[str, Any]] = [
    {"type": "transcription.language", "audio_language": "en"},
    {"type": "transcription.text.delta", "text": "Cut"},
    {"type": "transcription.text.delta", "text": " short"},
    {"type": "transcription.segment", "text": "Cut short", "start": 0.0, "end": 1.0},
    {
        "type": "transcription.done",
        "model": "voxtral-mini-2602",
        "text": "Cut short",
        "language": "en",
        "segments": [{"text": "Cut short", "start": 0.0, "end": 1.0}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    },
]
SENT_BEFORE_CUT = 3  # language, "Cut", " short"


def _stream_of(events: list[dict[str, Any]], *, complete: bool, reset: bool = False) -> Reply:
    frames = [sse_frame(event) for event in events]
    return Reply(
        200,
        headers={"Content-Type": "text/event-stream"},
        chunks=frames,
        complete=complete,
        reset=reset,
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("reset", "says"),
    [
        pytest.param(False, "ended before its final event", id="clean-eof"),
        pytest.param(True, "was cut off (ReadError)", id="reset"),
    ],
)
def test_a_stream_cut_after_events_raises_with_its_partial_text(
    kind: str, reset: bool, says: str, wav: bytes
) -> None:
    reply = _stream_of(EVENTS[:SENT_BEFORE_CUT], complete=not reset, reset=reset)
    with serve(lambda request: reply) as server:
        with pytest.raises(IncompleteStreamError) as caught:
            Call(kind, "stream", server.base_url)(wav)
        assert len(transcriptions(server)) == 1  # events were yielded: never repeated
    error = caught.value
    assert [type(event) for event in error.received] == [
        LanguageEvent,
        TextDeltaEvent,
        TextDeltaEvent,
    ]
    assert "".join(e.text for e in error.received if isinstance(e, TextDeltaEvent)) == "Cut short"
    assert f"The stream from POST {TRANSCRIPTIONS} {says}, after 3 events" in str(error)


def _ends_before_its_first_event(reset: bool) -> Reply:
    """A 200 event stream whose body ends (or is reset) before any event."""
    return _stream_of([], complete=not reset, reset=reset)


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reset", [False, True], ids=["clean-eof", "reset"])
def test_a_stream_that_ends_before_its_first_event_is_sent_again(
    kind: str, reset: bool, wav: bytes
) -> None:
    with serve(first_only(lambda: _ends_before_its_first_event(reset))) as server:
        events = Call(kind, "stream", server.base_url)(wav, **SEGMENTS)
        statuses = [record.status for record in transcriptions(server)]
    assert dumped(events) == fault_free(kind, "stream", wav, "wav", **SEGMENTS)
    assert statuses == [200, 200]


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_that_never_starts_is_raised_after_the_bound(kind: str, wav: bytes) -> None:
    with serve(lambda request: _ends_before_its_first_event(reset=False)) as server:
        with pytest.raises(IncompleteStreamError) as caught:
            Call(kind, "stream", server.base_url, {"max_retries": MAX_RETRIES})(wav)
        assert len(transcriptions(server)) == ATTEMPTS
    assert caught.value.received == []
    assert str(caught.value).startswith(
        f"Gave up after {ATTEMPTS} attempts; the last stream ended before its first event: The "
        f"stream from POST {TRANSCRIPTIONS} ended before its final event, after 0 events"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_without_its_last_chunk_is_complete_at_its_final_event(
    kind: str, wav: bytes
) -> None:
    """Every event arrived, the chunked terminator did not: the client stops at the last event."""
    with serve(lambda request: _stream_of(EVENTS, complete=False, reset=True)) as server:
        events = Call(kind, "stream", server.base_url)(wav)
        assert len(transcriptions(server)) == 1
    assert [event.type for event in events] == [event["type"] for event in EVENTS]
    assert isinstance(events[-1], DoneEvent) and events[-1].text == "Cut short"


# --------------------------------------------------------------------------- the bound


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("max_retries", [0, 1, 3])
@pytest.mark.parametrize("fault", ["503", "reset-before", "429"])
def test_a_server_that_always_fails_sees_max_retries_plus_one_attempts(
    fault: str, max_retries: int, kind: str, wav: bytes
) -> None:
    with serve(Script([], then=fault, retry_after_ms=5)) as server:
        with pytest.raises((InternalServerError, APIConnectionError, RateLimitError)):
            Call(kind, "transcribe", server.base_url, {"max_retries": max_retries})(wav)
        assert len(transcriptions(server)) == max_retries + 1


# --------------------------------------------------------------------------- null bounds

DIARIZED = {
    "model": "voxtral-mini-2602",
    "text": "Hello there. Hi. Bye.",
    "language": None,
    "segments": [
        {"text": "Hello there.", "start": 0.0, "end": 1.2, "speaker_id": "speaker_1"},
        {"text": "Hi.", "start": None, "end": None, "speaker_id": "speaker_2"},
        {"text": "Bye.", "start": 2.0, "end": None, "speaker_id": "speaker_1"},
    ],
    "usage": {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9},
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_null_segment_bounds_are_kept_as_none(kind: str, mode: str, wav: bytes) -> None:
    """Null bounds are neither dropped nor invented: the segment stays, its time unknown."""
    if mode == "transcribe":
        reply = Reply(200, DIARIZED)
    else:
        segments = [{**s, "type": "transcription.segment"} for s in DIARIZED["segments"]]
        done = {**DIARIZED, "type": "transcription.done"}
        reply = _stream_of([*segments, done], complete=True)
    with serve(lambda request: reply) as server:
        outcome = Call(kind, mode, server.base_url)(wav, diarize=True)
    if mode == "stream":
        assert [(e.start, e.end) for e in outcome if isinstance(e, SegmentEvent)] == [
            (0.0, 1.2),
            (None, None),
            (2.0, None),
        ]
        outcome = outcome[-1]
    assert [(s.text, s.start, s.end, s.speaker_id) for s in outcome.segments] == [
        ("Hello there.", 0.0, 1.2, "speaker_1"),
        ("Hi.", None, None, "speaker_2"),
        ("Bye.", 2.0, None, "speaker_1"),
    ]


# ---- long audio with null bounds: the stitcher and the LangChain loader

MEDIUM_REGIONS = [(1.0, 4.0), (6.0, 8.0), (12.0, 15.0), (17.0, 19.5), (23.0, 26.0), (28.0, 31.0)]
MEDIUM_SECONDS = 34.0
UNKNOWN = "(unknown time)"


@pytest.fixture(scope="module")
def medium_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("medium") / "meeting.wav"
    path.write_bytes(encode(speech_pcm(MEDIUM_REGIONS, MEDIUM_SECONDS), "wav"))
    return path


class UnknownTimes:
    """Each chunk's true answer plus, after its first segment, one whose bounds are null.

    Diarized, as the API's null bounds come: the unknown segment and the one after it
    are ``speaker_2``, the others ``speaker_1``.
    """

    def __init__(self) -> None:
        self.inserted = 0

    def __call__(self, request: ReceivedRequest) -> Reply:
        body: dict[str, Any] = dict(regions_answer(request).body)  # type: ignore[call-overload]
        segments = [{**segment, "speaker_id": "speaker_1"} for segment in body["segments"]]
        if segments:
            segments.insert(1, {"text": UNKNOWN, "start": None, "end": None})
            for segment in segments[1:3]:
                segment["speaker_id"] = "speaker_2"
            self.inserted += 1
        return Reply(200, {**body, "segments": segments})


@pytest.mark.parametrize("kind", KINDS)
def test_a_null_bounded_segment_keeps_its_place_through_the_stitcher(
    kind: str, medium_wav: Path
) -> None:
    hook = UnknownTimes()
    with serve(hook) as server:
        result = Call(kind, "transcribe", server.base_url)(
            medium_wav, max_chunk_seconds=10, diarize=True
        )
    assert len(result.chunks) >= 3
    assert_regions([s for s in result.segments if s.start is not None], MEDIUM_REGIONS)
    unknown = [index for index, s in enumerate(result.segments) if s.text == UNKNOWN]
    assert len(unknown) == hook.inserted >= 3  # one per chunk with speech: none lost or doubled
    # it stays beside its chunk's first segment: diarized chunks overlap, so when the
    # chunk before keeps that one, the unknown follows the segments kept before it
    firsts = [
        min(r[0] for r in MEDIUM_REGIONS if chunk.start <= r[0] < chunk.end)
        for chunk in result.chunks
        if any(chunk.start <= r[0] < chunk.end for r in MEDIUM_REGIONS)
    ]
    for index, first in zip(unknown, firsts, strict=True):
        segment = result.segments[index]
        assert (segment.start, segment.end) == (None, None)  # not shifted into a number
        timed_before = [s.start for s in result.segments[:index] if s.start is not None]
        timed_after = [s.start for s in result.segments[index:] if s.start is not None]
        assert timed_before and timed_before[-1] <= first + TOLERANCE
        assert not timed_after or timed_after[0] >= first - TOLERANCE


def _load(server: LocalVoxtralServer, path: Path, granularity: str) -> list[Any]:
    from voxtral_integrations.langchain import VoxtralLoader

    loader = VoxtralLoader(
        str(path),
        api_key=FAKE_API_KEY,
        base_url=server.base_url,
        granularity=granularity,  # type: ignore[arg-type]
        window_seconds=60.0,
        max_chunk_seconds=10,
        diarize=True,
    )
    return loader.load()


@pytest.mark.parametrize(
    "granularity",
    ["segment", "window"],
)
def test_loader_documents_never_carry_a_wrong_time(granularity: str, medium_wav: Path) -> None:
    """A Document's start/end are its first/last segment's own, or absent: never a neighbour's."""
    with serve(UnknownTimes()) as server:
        segments = Call("sync", "transcribe", server.base_url)(
            medium_wav, max_chunk_seconds=10, diarize=True
        ).segments
        docs = _load(server, medium_wav, granularity)
    assert " ".join(doc.page_content for doc in docs) == " ".join(s.text for s in segments)
    bounds = [doc.metadata["segment_index"] for doc in docs] + [len(segments)]
    for doc, first, after in zip(docs, bounds, bounds[1:], strict=False):
        held = segments[first:after]
        assert doc.page_content == " ".join(segment.text for segment in held)
        start, end = held[0].start, held[-1].end
        assert doc.metadata.get("start") == (None if start is None else round(start, 3)), doc
        assert doc.metadata.get("end") == (None if end is None else round(end, 3)), doc
        assert ("start_timestamp" in doc.metadata) is (start is not None)


# --------------------------------------------------------------------------- long audio, 20% faults

LONG_SECONDS = 300.0
CHUNK_SECONDS = 25
TRANSIENT = {
    "503": 0.05,
    "429": 0.03,
    "reset-before": 0.03,
    "reset-mid-body": 0.03,
    "short-body": 0.03,
    "404": 0.03,
}
"""20% of requests, each kind drawn at its rate; one 404 at most (a second is raised)."""


def _long_regions(duration: float, seed: int) -> list[tuple[float, float]]:
    """Speech 1.5-6 s long between pauses of 0.6-2 s, as people speak."""
    rng = random.Random(seed)
    regions, moment = [], 0.5
    while True:
        start, end = moment, moment + rng.uniform(1.5, 6.0)
        if end > duration - 0.5:
            return regions
        regions.append((round(start, 2), round(end, 2)))
        moment = end + rng.uniform(0.6, 2.0)


LONG_REGIONS = _long_regions(LONG_SECONDS, seed=3)


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("long") / "lecture.wav"
    path.write_bytes(encode(speech_pcm(LONG_REGIONS, LONG_SECONDS), "wav"))
    return path


def assert_regions(segments: list[Any], truth: list[tuple[float, float]]) -> None:
    """Every true region exactly once, in order, at its absolute time."""
    got = [(segment.start, segment.end) for segment in segments]
    assert len(got) == len(truth), f"{len(got)} segments for {len(truth)} regions"
    for (start, end), (true_start, true_end) in zip(got, truth, strict=True):
        assert abs(start - true_start) <= TOLERANCE, (start, true_start)
        assert abs(end - true_end) <= TOLERANCE, (end, true_end)


def _plan(seed: int) -> FaultPlan:
    """The transient faults, at their rates; the seeds used draw every kind at least once."""
    return FaultPlan(
        TRANSIENT,
        seed=seed,
        max_faults_per_key=MAX_RETRIES,  # so every chunk ends well within its retries
        limits={"404": 1},
        answer=regions_answer,
        retry_after_ms=50,
    )


def _check_plan(plan: FaultPlan, server: LocalVoxtralServer, requests: int) -> None:
    """The faults went where the plan says, and each cost exactly one more request."""
    records = {record.index: record for record in transcriptions(server)}
    assert len(records) == requests + len(plan.injected)
    kinds = set(plan.faults())
    assert {"503", "429", "404", "reset-before"} <= kinds, plan.faults()
    assert kinds & {"reset-mid-body", "short-body"}, plan.faults()
    assert plan.faults().count("404") == 1
    for injection in plan.injected:
        status = records[injection.index].status
        expected = int(injection.fault) if injection.fault.isdigit() else 200
        assert status == (None if injection.fault == "reset-before" else expected), injection
    for injection in plan.injected:
        retried_by = plan.next_attempt(injection)
        assert retried_by is not None, injection  # every fault was retried
        told, retry = records[injection.index], records[retried_by]
        if told.retry_after is not None:  # no sooner than its 429 asked
            assert retry.arrived >= told.responded + told.retry_after, injection


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
def test_a_long_file_completes_through_20_percent_of_transient_faults(
    kind: str, long_wav: Path
) -> None:
    plan = _plan(seed=81)  # 5 faults in 21 requests: 503, 429, 404, reset, short body
    with serve(plan) as server:
        result = Call(kind, "transcribe", server.base_url)(
            long_wav, max_chunk_seconds=CHUNK_SECONDS, concurrency=4, **SEGMENTS
        )
        _check_plan(plan, server, requests=len(result.chunks))
    assert len(result.chunks) >= 10
    first_tries = sum(plan.sent.values()) - len(plan.injected)
    assert first_tries == len(result.chunks)
    assert 0.1 <= len(plan.injected) / sum(plan.sent.values()) <= 0.35
    assert_regions(result.segments, LONG_REGIONS)


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
def test_many_files_complete_through_transient_faults(
    kind: str, long_wav: Path, tmp_path: Path
) -> None:
    short = []
    for number in range(3):  # 30 s each: two chunks apiece, besides the long one's
        path = tmp_path / f"talk {number}.wav"
        regions = [(r[0] - 60 * number, r[1] - 60 * number) for r in LONG_REGIONS]
        kept = [r for r in regions if r[0] >= 0.3 and r[1] <= 29.7]
        path.write_bytes(encode(speech_pcm(kept, 30.0), "wav"))
        short.append((path, kept))
    plan = _plan(seed=99)  # 6 faults in 28 requests
    with serve(plan) as server:
        results = Call(kind, "transcribe", server.base_url).many(
            [long_wav, *[path for path, _ in short]],
            max_chunk_seconds=CHUNK_SECONDS,
            concurrency=6,
            **SEGMENTS,
        )
        chunks = sum(len(result.unwrap().chunks) for result in results)
        _check_plan(plan, server, requests=chunks)
    transcripts: list[Transcription] = [result.unwrap() for result in results]
    assert_regions(transcripts[0].segments, LONG_REGIONS)
    for transcript, (_, truth) in zip(transcripts[1:], short, strict=True):
        assert_regions(transcript.segments, truth)


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
def test_a_long_stream_goes_through_faults_before_each_chunks_first_event(
    kind: str, medium_wav: Path
) -> None:
    """Chunks are streamed one after the other, so a script says which chunk gets what."""
    script = Script(
        [None, "503", "reset-after-headers", None, "404", "close-before"], answer=regions_answer
    )
    with serve(script) as server:
        events = Call(kind, "stream", server.base_url)(medium_wav, max_chunk_seconds=10, **SEGMENTS)
        sent = len(transcriptions(server))
    done = events[-1]
    assert isinstance(done, DoneEvent) and sum(isinstance(e, DoneEvent) for e in events) == 1
    assert sum(isinstance(event, LanguageEvent) for event in events) == 1
    assert sent == len(done.chunks) + 4 and len(script.injected) == 4
    assert_regions(done.segments, MEDIUM_REGIONS)
    yielded = [(e.start, e.end) for e in events if isinstance(e, SegmentEvent)]
    assert yielded == [(s.start, s.end) for s in done.segments]  # each once, none repeated


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
def test_a_long_file_whose_chunk_always_fails_keeps_the_others(kind: str, long_wav: Path) -> None:
    """A chunk that fails every attempt is named with its own error; the rest arrive."""
    victim = "lecture.part004.wav"
    plan = FaultPlan({}, seed=0, answer=regions_answer)
    doomed = Script([], then="503", answer=regions_answer)

    def hook(request: ReceivedRequest) -> Reply | None:
        upload = request.files.get("file")
        if upload is not None and upload.filename == victim:
            return doomed(request)
        return plan(request)

    with serve(hook) as server:
        with pytest.raises(IncompleteTranscriptionError) as caught:
            Call(kind, "transcribe", server.base_url)(
                long_wav, max_chunk_seconds=CHUNK_SECONDS, concurrency=4, **SEGMENTS
            )
        victim_attempts = sum(r.filename == victim for r in transcriptions(server))
    error = caught.value
    ((chunk, cause),) = error.failed.items()
    assert chunk.index == 4 and isinstance(cause, InternalServerError)
    assert victim_attempts == ATTEMPTS
    assert "1 of" in str(error) and "chunks failed, first chunk 4" in str(error)
    partial = error.partial
    assert partial is not None and len(partial.chunks) == len(plan.sent)
    kept = [r for r in LONG_REGIONS if not chunk.start <= (r[0] + r[1]) / 2 < chunk.end]
    assert_regions(partial.segments, kept)


# --------------------------------------------------------------------------- the rule, pure


@pytest.mark.parametrize(
    ("content", "cut"),
    [
        pytest.param(b'{"model": "m", "text": "cut he', True, id="inside-a-string"),
        pytest.param(b'{"segments": [{"start": 1.', True, id="inside-a-number"),
        pytest.param(b'  {"text": "x", "usage": {', True, id="inside-an-object"),
        pytest.param(b'{"text": tr', True, id="inside-a-literal"),
        pytest.param(b'{"text": "x"}', False, id="whole"),
        pytest.param(b'{"text": "x"} and more', False, id="trailing-junk"),
        pytest.param(b'["text", "x"', False, id="a-list-cut"),  # the API answers objects
        pytest.param(b"<html><body>", False, id="html"),
        pytest.param(b"", False, id="empty"),
        pytest.param(b'{"text": "x", }', False, id="invalid-not-cut"),
    ],
)
def test_which_bodies_are_cut_short(content: bytes, cut: bool) -> None:
    from voxtral_integrations._retry import json_cut_short

    assert json_cut_short(content) is cut


# --------------------------------------------------------------------------- chat streams

CHAT_CHUNKS = [
    {"id": "c1", "choices": [{"index": 0, "delta": {"content": "Hi"}}]},
    {
        "id": "c1",
        "choices": [{"index": 0, "delta": {"content": " there"}, "finish_reason": "stop"}],
    },
]
MESSAGES = [{"role": "user", "content": "Say hi"}]


def _chat_stream(chunks: list[dict[str, Any]], *, done: bool) -> Reply:
    """Chat chunks, then ``[DONE]``; or (not ``done``) reset after ``chunks``."""
    frames = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks]
    return Reply(
        200,
        headers={"Content-Type": "text/event-stream"},
        chunks=[*frames, b"data: [DONE]\n\n"] if done else frames,
        complete=done,
        reset=not done,
    )


def _chat_texts(kind: str, base_url: str) -> list[str]:
    if kind == "sync":
        client = VoxtralClient(api_key=FAKE_API_KEY, base_url=base_url)
        with client, client.chat(MESSAGES, stream=True) as stream:
            return [chunk.choices[0].delta.content or "" for chunk in stream]

    async def collect() -> list[str]:
        client = AsyncVoxtralClient(api_key=FAKE_API_KEY, base_url=base_url)
        async with client, await client.chat(MESSAGES, stream=True) as stream:
            return [chunk.choices[0].delta.content or "" async for chunk in stream]

    return asyncio.run(collect())


@pytest.mark.usefixtures("fast_backoff")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sent", [0, 1], ids=["before-its-first-chunk", "after-its-first-chunk"])
def test_a_chat_stream_cut_is_sent_again_only_before_its_first_chunk(kind: str, sent: int) -> None:
    answers = [_chat_stream(CHAT_CHUNKS[:sent], done=False), _chat_stream(CHAT_CHUNKS, done=True)]

    def hook(request: ReceivedRequest) -> Reply:
        assert request.path == "/v1/chat/completions"
        return answers.pop(0)

    with serve(hook) as server:
        if not sent:
            assert _chat_texts(kind, server.base_url) == ["Hi", " there"]
            assert server.request_count == 2
            return
        with pytest.raises(IncompleteStreamError) as caught:
            _chat_texts(kind, server.base_url)
        assert server.request_count == 1
    assert [chunk.choices[0].delta.content for chunk in caught.value.received] == ["Hi"]
    assert "was cut off (ReadError), after 1 events" in str(caught.value)
