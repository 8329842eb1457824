"""Properties the example tests cannot pin down: event streams, error bodies, stitching.

Completes the properties of ``test_sse`` (the line parser alone), ``test_errors``
(bodies up to 512 bytes, small JSON) and ``test_chunking`` (non-overlapping truth
on a binary grid) with what they leave out:

- typed transcription streams (every event type, unknown ones, comments, keep-alive
  blank lines, mixed line endings, JSON spread over several ``data:`` lines, a BOM)
  decoded the same however the bytes are split, also through the clients; any
  bytes give events or the documented ``APIResponseError``; a stream cut before
  ``transcription.done`` raises ``IncompleteStreamError`` carrying what arrived;
- error bodies of any shape and size (huge numbers, NaN, nesting up to and past
  the recursion limit, a megabyte of text, non-UTF-8): never raise, a bounded
  message, no credential of a planted URL anywhere, the class by status family;
- stitching random chunk plans (tiny chunks, offsets that are not binary
  fractions, overlaps, many chunks) with random per-chunk segments (overlapping,
  zero-length, null or non-finite bounds, out of order, past the chunk's end,
  duplicate texts).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.constants import FAKE_API_KEY
from voxtral_integrations import (
    APIResponseError,
    APIStatusError,
    AsyncVoxtralClient,
    AuthenticationError,
    BadRequestError,
    DoneEvent,
    IncompleteStreamError,
    InternalServerError,
    LanguageEvent,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    SegmentEvent,
    TextDeltaEvent,
    UnknownEvent,
    UnprocessableEntityError,
    VoxtralClient,
)
from voxtral_integrations._chunking import stitch, territories
from voxtral_integrations._events import (
    ChatChunks,
    EventParser,
    EventStreamDecoder,
    MistralTranscriptionEvents,
    VLLMTranscriptionEvents,
)
from voxtral_integrations._models import Chunk, Segment, Transcription, Usage
from voxtral_integrations._responses import parse_error_body, status_error

STREAM_URL = "https://api.mistral.ai/v1/audio/transcriptions"

# ================================================================ transcription event streams

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
"""Any text: multi-byte UTF-8, control characters, line breaks (JSON escapes those)."""
_TIME = st.none() | st.floats(min_value=0, max_value=1e5, allow_nan=False)
_SEGMENT = st.fixed_dictionaries(
    {"text": _TEXT, "start": _TIME, "end": _TIME},
    optional={"speaker_id": st.sampled_from(["speaker_1", "speaker_2"])},
)
_LANGUAGE = st.fixed_dictionaries(
    {"type": st.just("transcription.language"), "audio_language": st.sampled_from(["en", "fr"])}
)
_DELTA = st.fixed_dictionaries({"type": st.just("transcription.text.delta"), "text": _TEXT})
_SEGMENT_EVENT = st.builds(lambda s: {"type": "transcription.segment", **s}, _SEGMENT)
_UNKNOWN = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["transcription.keepalive", "transcription.vendor.x", "ping"]),
        "value": st.integers() | _TEXT | st.lists(st.booleans(), max_size=3),
    }
)
_DONE = st.fixed_dictionaries(
    {
        "type": st.just("transcription.done"),
        "model": st.sampled_from(["voxtral-mini-2602", "voxtral-mini-latest"]),
        "text": _TEXT,
        "language": st.none() | st.just("en"),
        "segments": st.lists(_SEGMENT, max_size=3),
        "usage": st.fixed_dictionaries(
            {"prompt_tokens": st.integers(0, 10**6)},
            optional={"prompt_audio_seconds": st.floats(0, 1e4)},
        ),
    }
)
_TYPED = {
    "transcription.language": LanguageEvent,
    "transcription.text.delta": TextDeltaEvent,
    "transcription.segment": SegmentEvent,
    "transcription.done": DoneEvent,
}
_ENDINGS = ("\n", "\r\n", "\r")
_NOISE = ([": keep-alive"], [""], ["event: ping", ""], ["retry: 3000"], [":"])
"""Comments, keep-alive blank lines, an event without data: nothing to dispatch."""


def expected_event(payload: dict[str, Any], type_in_data: bool) -> Any:
    """What the Mistral parser must make of ``payload``, written out independently."""
    model = _TYPED.get(payload["type"])
    if model is not None:
        return model.model_validate(payload)
    data = payload if type_in_data else {k: v for k, v in payload.items() if k != "type"}
    return UnknownEvent(type=payload["type"], data=data)


@dataclass
class EventStream:
    """A generated ``text/event-stream`` body and what decoding it must give."""

    body: bytes
    events: list[Any]
    """The typed events, ending with the ``DoneEvent`` when ``complete``."""
    frame_ends: list[int] = field(default_factory=list)
    """Byte offset just past each event's frame (its terminating blank line included)."""
    complete: bool = True


class _Writer:
    """Lines out, each with its own line ending, never a ``\\r`` that would swallow the
    ``\\n`` of a following blank line (``\\r\\n`` is one line ending, by the standard)."""

    def __init__(self, draw: st.DrawFn, mixed: bool) -> None:
        self.draw, self.mixed = draw, mixed
        self.ending = draw(st.sampled_from(_ENDINGS))
        self.out = bytearray()

    def line(self, text: str) -> None:
        ending = self.draw(st.sampled_from(_ENDINGS)) if self.mixed else self.ending
        if not text and ending == "\n" and self.out.endswith(b"\r"):
            ending = "\r\n"
        self.out += (text + ending).encode()


@st.composite
def event_streams(draw: st.DrawFn, *, complete: bool = True) -> EventStream:
    """A transcription stream as servers write it, in any of the ways the standard allows."""
    payloads = draw(st.lists(st.one_of(_LANGUAGE, _DELTA, _SEGMENT_EVENT, _UNKNOWN), max_size=6))
    if complete:
        payloads.append(draw(_DONE))
    writer = _Writer(draw, mixed=draw(st.booleans()))
    if draw(st.booleans()):
        writer.out += b"\xef\xbb\xbf"  # a byte-order mark: stripped once, at the very start
    events, frame_ends = [], []
    for payload in payloads:
        for _ in range(draw(st.integers(0, 2))):  # between frames: what carries no event
            for line in draw(st.sampled_from(_NOISE)):
                writer.line(line)
        type_in_data = draw(st.booleans())
        data = payload if type_in_data else {k: v for k, v in payload.items() if k != "type"}
        if not type_in_data or draw(st.booleans()):
            writer.line(f"event: {payload['type']}")
        if draw(st.booleans()):
            writer.line(f"id: {draw(st.integers(0, 99))}")
        indent = draw(st.sampled_from([None, 1]))  # indented JSON spans several data lines
        for text in json.dumps(data, ensure_ascii=False, indent=indent).split("\n"):
            writer.line(f"data: {text}")
        writer.line("")
        events.append(expected_event(payload, type_in_data))
        frame_ends.append(len(writer.out))
    if complete and draw(st.booleans()):  # what follows the final event is never read
        writer.line('data: {"type": "transcription.text.delta", "text": "late"}')
        writer.line("data: {not json")
        writer.line("")
    return EventStream(bytes(writer.out), events, frame_ends, complete)


def split(body: bytes, data: st.DataObject) -> list[bytes]:
    """``body`` in pieces: random cuts, plus cuts inside multi-byte characters and CRLFs."""
    awkward = [i + 1 for i in range(len(body) - 1) if body[i : i + 2] == b"\r\n"]
    awkward += [i for i in range(1, len(body)) if 0x80 <= body[i] < 0xC0]  # continuation bytes
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=8))
    if awkward:
        cuts += data.draw(st.lists(st.sampled_from(awkward), max_size=6))
    bounds = [0, *sorted(set(cuts)), len(body)]
    return [body[start:end] for start, end in itertools.pairwise(bounds)]


def decode(parser: EventParser[Any], chunks: list[bytes], url: str = STREAM_URL) -> list[Any]:
    """Feed ``chunks`` as the clients do (stopping at the final event), then finish."""
    decoder = EventStreamDecoder(parser, httpx.Response(200, request=httpx.Request("POST", url)))
    events: list[Any] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
        if decoder.done:
            return events
    events.extend(decoder.finish())
    return events


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(stream=event_streams(), data=st.data())
def test_a_stream_decodes_to_the_same_events_however_it_is_split(
    stream: EventStream, data: st.DataObject
) -> None:
    whole = decode(MistralTranscriptionEvents(), [stream.body])
    assert whole == stream.events
    assert decode(MistralTranscriptionEvents(), split(stream.body, data)) == whole


class _Pieces(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    async def __aiter__(self) -> Any:
        for chunk in self._chunks:
            yield chunk


def _streaming(chunks: list[bytes]) -> httpx.MockTransport:
    headers = {"content-type": "text/event-stream"}
    return httpx.MockTransport(
        lambda request: httpx.Response(200, headers=headers, stream=_Pieces(chunks))
    )


def client_events(chunks: list[bytes], kind: str) -> list[Any]:
    """All events of ``stream_transcription`` on the sync or async client (or its error)."""
    audio = "https://example.com/talk.mp3"
    if kind == "sync":
        http = httpx.Client(transport=_streaming(chunks))
        with VoxtralClient(api_key=FAKE_API_KEY, http_client=http) as client:
            return list(client.stream_transcription(audio))

    async def collect() -> list[Any]:
        http = httpx.AsyncClient(transport=_streaming(chunks))
        async with AsyncVoxtralClient(api_key=FAKE_API_KEY, http_client=http) as client:
            return [event async for event in await client.stream_transcription(audio)]

    return asyncio.run(collect())


@settings(max_examples=20, deadline=None)
@given(
    stream=st.one_of(event_streams(), event_streams(complete=False)),
    kind=st.sampled_from(["sync", "async"]),
    data=st.data(),
)
def test_the_clients_stream_the_same_events_or_say_what_arrived(
    stream: EventStream, kind: str, data: st.DataObject
) -> None:
    chunks = split(stream.body, data)
    if stream.complete:
        assert client_events(chunks, kind) == stream.events
        return
    with pytest.raises(IncompleteStreamError) as caught:
        client_events(chunks, kind)
    assert caught.value.received == stream.events


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(stream=event_streams(), data=st.data())
def test_a_stream_cut_anywhere_before_its_final_event_carries_what_arrived(
    stream: EventStream, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(stream.body)), label="cut")
    chunks = split(stream.body[:cut], data)
    complete_frames = sum(end <= cut for end in stream.frame_ends)
    try:
        events = decode(MistralTranscriptionEvents(), chunks)
    except IncompleteStreamError as error:
        received = error.received
        # whole frames are all there; the frame cut off last is there only if its
        # data was complete (a final frame may lack its blank line)
        assert complete_frames <= len(received) <= complete_frames + 1
        assert received == stream.events[: len(received)]
        assert not any(isinstance(event, DoneEvent) for event in received)
        assert f"after {len(received)} events" in str(error)
    else:  # only a cut after the whole final data line leaves a complete stream
        assert events == stream.events
        assert cut >= stream.frame_ends[-1] - 4  # at most the blank line and a line ending


# ---- any bytes at all

_PARSERS = {
    "mistral": MistralTranscriptionEvents,
    "vllm": lambda: VLLMTranscriptionEvents("voxtral-mini"),
    "chat": ChatChunks,
}
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities: Python's json writes and reads them
    | _TEXT
    | st.sampled_from(["NaN", "Infinity", "-0", "1e999", "[DONE]"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "text", "choices", "delta", "content", "usage", "model"])
            | _TEXT,
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
_FRAME = st.one_of(
    st.builds(lambda v: f"data: {json.dumps(v)}\n\n".encode(), _JSON),
    st.builds(
        lambda kind, v: f"event: {kind}\ndata: {json.dumps(v)}\n\n".encode(),
        st.sampled_from(sorted(_TYPED)),
        st.dictionaries(st.sampled_from(["text", "model", "audio_language", "segments"]), _JSON),
    ),
    st.binary(max_size=40),
    st.sampled_from(
        [b"data: [DONE]\n\n", b"\xef\xbb\xbf", b"\r", b"\n", b":\n", b"data:", b"\xff\xfe"]
    ),
)


@settings(max_examples=300)
@given(
    frames=st.lists(_FRAME, max_size=8),
    parser=st.sampled_from(sorted(_PARSERS)),
    data=st.data(),
)
def test_any_bytes_give_events_or_the_documented_error(
    frames: list[bytes], parser: str, data: st.DataObject
) -> None:
    body = b"".join(frames)
    try:
        decode(_PARSERS[parser](), split(body, data))
    except APIResponseError as error:  # IncompleteStreamError is one
        assert error.method == "POST" and "/v1/audio/transcriptions" in str(error)


@pytest.mark.parametrize("parser", sorted(_PARSERS))
@pytest.mark.parametrize(
    ("data", "readable"),
    [
        pytest.param("[" * 100_000, False, id="deeper-than-the-parser-goes"),
        pytest.param('{"type": ' + "[" * 950 + "]" * 950 + "}", None, id="near-the-limit"),
        pytest.param('{"choices": [{"delta": ' * 400 + "{}" + "}]" * 400 + "}", None, id="deep"),
        pytest.param('{"text": ' + "9" * 5000 + "}", False, id="integer-too-long-to-read"),
        pytest.param('{"type": "transcription.done", "model": "m", "text": 1e999}', None, id="inf"),
    ],
)
def test_hostile_json_in_an_event_is_at_most_an_api_response_error(
    parser: str, data: str, readable: bool | None
) -> None:
    """``readable=False``: the event cannot be read, so it must be called malformed;
    ``None``: whether Python reads it depends on the stack depth; either way, the
    only error allowed is the documented one."""
    try:
        decode(_PARSERS[parser](), [f"data: {data}\n\n".encode()])
    except APIResponseError as error:
        if readable is False:
            assert not isinstance(error, IncompleteStreamError)
            assert "malformed" in str(error)
    else:
        assert readable is not False


def test_the_url_of_a_stream_error_carries_no_credential() -> None:
    url = "https://user:PASSWORD-SENTINEL@proxy.example/v1/audio/transcriptions?key=QUERY-SENTINEL"
    for chunks in ([b"data: {oops\n\n"], [b'data: {"type": "transcription.language"']):
        with pytest.raises(APIResponseError) as caught:
            decode(MistralTranscriptionEvents(), chunks, url=url)
        rendered = f"{caught.value} {caught.value!r} {vars(caught.value)}"
        assert "SENTINEL" not in rendered
        assert caught.value.url.startswith("https://<redacted>@proxy.example/v1/")


# ================================================================ error bodies

_STATUS_CLASSES = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}
MAX_SERVER_MESSAGE = 1000
"""What ``server_message`` may hold at most (the fields of an error are shorter still)."""
MAX_MESSAGE = 2000
"""What a whole status error's message may hold: the server's text and the advice."""


def make_error(
    status: int, content: bytes, headers: dict[str, str] | None = None
) -> APIStatusError:
    return status_error(
        method="POST",
        url=STREAM_URL,
        status_code=status,
        headers=httpx.Headers(headers or {}),
        content=content,
    )


def check_error(error: APIStatusError, status: int) -> None:
    """The class of ``status``'s family, a message that is bounded and says what to do."""
    expected = _STATUS_CLASSES.get(status, InternalServerError if 500 <= status < 600 else None)
    assert type(error) is (expected or APIStatusError)
    assert str(error).startswith(f"POST /v1/audio/transcriptions failed with {status}: ")
    assert len(error.server_message) <= MAX_SERVER_MESSAGE
    assert len(str(error)) <= MAX_MESSAGE
    for attribute in (error.code, error.type, error.param):
        assert attribute is None or (isinstance(attribute, str) and len(attribute) <= 200)


def _nested(depth: int, inner: str, kind: str) -> str:
    opening, closing = {"list": ("[", "]"), "object": ('{"a": ', "}")}[kind]
    return opening * depth + inner + closing * depth


@settings(max_examples=200, deadline=None)  # the megabyte examples take a few hundred ms
@given(
    value=_JSON,
    status=st.integers(100, 599),
    wrap=st.sampled_from(["message", "detail", "error", "raw"]),
)
@example(value="x" * 1_000_000, status=400, wrap="message")  # a megabyte message
@example(value="x" * 1_000_000, status=502, wrap="raw")
@example(
    value=[{"loc": ["body", "x" * 50_000], "msg": "m" * 50_000}] * 40, status=422, wrap="detail"
)
@example(
    value={"code": "c" * 10**5, "type": "t" * 10**5, "param": "p" * 10**5}, status=400, wrap="raw"
)
@example(value=float("nan"), status=500, wrap="message")
def test_any_json_error_body_gives_a_bounded_error_of_its_status_family(
    value: Any, status: int, wrap: str
) -> None:
    wrapped = {
        "message": {"object": "error", "message": value, "code": value, "param": value},
        "detail": {"detail": value if isinstance(value, list) else [value]},
        "error": {"error": {"message": value, "type": value}},
        "raw": value,
    }[wrap]
    check_error(make_error(status, json.dumps(wrapped).encode()), status)


@pytest.mark.parametrize("depth", [10, 400, 900, 990, 1_100, 3_000, 100_000])
@pytest.mark.parametrize("kind", ["list", "object"])
@pytest.mark.parametrize(
    "shape",
    [
        pytest.param('{{"message": {}}}', id="message"),
        pytest.param('{{"detail": [{}]}}', id="detail-item"),
        pytest.param('{{"message": "m", "extra": {}}}', id="elsewhere"),
        pytest.param("{}", id="whole-body"),
    ],
)
def test_an_error_body_nested_to_any_depth_never_raises(depth: int, kind: str, shape: str) -> None:
    content = shape.format(_nested(depth, '"https://h.example/a?sig=SECRET"', kind)).encode()
    for status in (400, 422, 503):
        error = make_error(status, content)
        check_error(error, status)
        assert "SECRET" not in str(error)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"message": ' + b"9" * 5000 + b"}", id="integer-too-long-to-read"),
        pytest.param(b'{"message": -' + b"9" * 5000 + b".5e3}", id="float-long-but-readable"),
        pytest.param(b'{"message": NaN, "code": Infinity, "param": -Infinity}', id="nan-literals"),
        pytest.param(b'{"message": "caf\xe9 \xff\xfe", "code": "\xc3"}', id="latin-1-in-json"),
        pytest.param(b'\xff\xfe{\x00"\x00m\x00"\x00', id="utf-16"),
        pytest.param(b'{"message": "\\ud800 lone surrogate"}', id="lone-surrogate"),
        pytest.param(b"\x00" * 1000, id="nul-bytes"),
        pytest.param(b" \r\n\t ", id="blank"),
    ],
)
def test_odd_error_bodies_never_raise(content: bytes) -> None:
    for status in (400, 429, 500):
        parsed, _ = parse_error_body(content, status)
        assert isinstance(parsed.message, str)
        check_error(make_error(status, content, {"retry-after": "1e999"}), status)


_HOST = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
_SECRET = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=%-_.~", min_size=1, max_size=20)


@st.composite
def credential_urls(draw: st.DrawFn) -> tuple[str, str]:
    """A URL with a credential in it, and the credential (marked so nothing else has it)."""
    secret = "ZQ" + draw(_SECRET)
    host = draw(_HOST) + ".example"
    url = draw(
        st.sampled_from(
            [
                f"https://{host}/a.mp3?X-Amz-Signature={secret}&X-Amz-Expires=3600",
                f"https://{host}/a.mp3?sig={secret}",
                f"https://user:{secret}@{host}/a.mp3",
                f"http://{secret}@{host}/",
                f"https://{host}/a.mp3#{secret}",
            ]
        )
    )
    return url, secret


def _plant(value: Any, text: str, path: list[int]) -> Any:
    """``value`` with ``text`` put somewhere in it (as a string, a key, or next to it)."""
    if not path:
        return text
    step, rest = path[0], path[1:]
    if isinstance(value, list) and value:
        copy = list(value)
        copy[step % len(copy)] = _plant(copy[step % len(copy)], text, rest)
        return copy
    if isinstance(value, dict) and value:
        key = sorted(value)[step % len(value)]
        return {**value, key: _plant(value[key], text, rest)}
    if isinstance(value, dict):
        return {text: step}  # a URL as a key, as maps of failures have them
    return [value, f"could not fetch '{text}'"]


@settings(max_examples=300)
@given(
    url=credential_urls(),
    value=_JSON,
    path=st.lists(st.integers(0, 10), max_size=5),
    status=st.integers(400, 599),
    field_name=st.sampled_from(
        ["message", "detail", "msg", "input", "code", "type", "param", "loc"]
    ),
)
def test_a_credential_planted_anywhere_in_an_error_body_never_shows(
    url: tuple[str, str], value: Any, path: list[int], status: int, field_name: str
) -> None:
    text, secret = url
    planted = _plant(value, text, path)
    bodies = [
        {"object": "error", "message": "failed", field_name: planted},
        {"detail": [{"loc": ["body", "file_url"], "msg": "bad", field_name: planted}]},
        {"error": {field_name: planted}},
        planted,
    ]
    for body in bodies:
        error = make_error(status, json.dumps(body).encode())
        shown = [str(error), repr(error), error.server_message, repr(error.body)]
        shown += [error.code or "", error.type or "", error.param or "", error.url]
        assert not [s for s in shown if secret in s], (body, shown)
    html = f"<html><a href='{text}'>retry</a> {text}</html>".encode()
    error = make_error(status, html)
    assert secret not in f"{error} {error.server_message} {error.body!r}"


@settings(max_examples=200)
@given(status=st.integers(100, 599), content=st.binary(max_size=64))
def test_the_class_follows_the_status_family(status: int, content: bytes) -> None:
    check_error(make_error(status, content), status)


# ================================================================ stitching

_UID, _CHUNK = "uid", "reported_by"
"""Extra fields stamped on every generated segment, to follow it through ``stitch``: which
segment it is (the same for every chunk that heard it), and which chunk reported it."""


@st.composite
def chunk_plans(draw: st.DrawFn) -> list[Chunk]:
    """Chunks in order: tiny to long, starts that are no binary fraction, touching or
    overlapping their successor (by less than its length, as padding would)."""
    start = draw(st.sampled_from([0.0, 0.1, 1 / 3, 1799.9999999]))
    lengths = draw(
        st.lists(
            st.floats(min_value=1e-6, max_value=900.0)
            | st.sampled_from([0.1, 0.3, 1e-3, 899.99, 2e-9]),
            min_size=1,
            max_size=40,
        )
    )
    starts = [start]
    for length in lengths:
        starts.append(starts[-1] + length)
    overlaps = draw(
        st.lists(
            st.floats(min_value=0.0, max_value=1.0), min_size=len(lengths), max_size=len(lengths)
        )
    )
    chunks = []
    for index, (low, high) in enumerate(itertools.pairwise(starts)):
        following = lengths[index + 1] if index + 1 < len(lengths) else 0.0
        chunks.append(Chunk(index=index, start=low, end=high + overlaps[index] * following))
    return chunks


@dataclass
class Reported:
    """What one chunk's transcription reported, and where each segment truly is."""

    results: list[Transcription]
    truth: dict[int, tuple[float, float]]
    """A truth segment's uid -> its absolute (start, end)."""
    heard_by: dict[int, list[int]]
    """A truth segment's uid -> the chunks that reported it."""
    unbounded: dict[int, int]
    """The uid of each segment without usable bounds -> the chunk that reported it."""


def _segment(text: str, start: float | None, end: float | None, uid: int, chunk: int) -> Segment:
    return Segment.model_validate(
        {"text": text, "start": start, "end": end, _UID: uid, _CHUNK: chunk}
    )


@st.composite
def reports(draw: st.DrawFn, chunks: list[Chunk]) -> Reported:
    """Truth segments anywhere (overlapping, zero-length, past the end, same texts), each
    reported by every chunk whose padded span holds it (a 1 s chunk cannot report 7 s of
    speech); plus segments with null or non-finite bounds; every chunk's list in a
    random order."""
    span = chunks[-1].end - chunks[0].start
    origin = chunks[0].start
    truth: dict[int, tuple[float, float]] = {}
    for uid in range(draw(st.integers(0, 40))):
        start = origin + draw(st.floats(min_value=-0.05, max_value=1.05)) * span
        length = draw(st.sampled_from([0.0, 1e-7, 0.5, 3.0]) | st.floats(0.0, 30.0))
        truth[uid] = (start, start + length)
    padding = draw(st.sampled_from([0.0, 0.5, 2.0]))
    texts = draw(st.lists(st.sampled_from(["yes", "no", "yes", " "]), min_size=1, max_size=4))
    per_chunk: list[list[Segment]] = [[] for _ in chunks]
    heard_by: dict[int, list[int]] = {}
    for uid, (start, end) in truth.items():
        for index, chunk in enumerate(chunks):
            # a request hears only its own audio: what it reports lies inside the chunk,
            # give or take the padding its timing may be off by
            if chunk.start - padding <= start and end <= chunk.end + padding:
                text = texts[uid % len(texts)]
                relative = _segment(text, start - chunk.start, end - chunk.start, uid, index)
                per_chunk[index].append(relative)
                heard_by.setdefault(uid, []).append(index)
    unbounded: dict[int, int] = {}
    odd_bounds = [(None, None), (None, 1.0), (2.0, None), (math.nan, 1.0), (0.0, math.inf)]
    for uid in range(1000, 1000 + draw(st.integers(0, 6))):
        index = draw(st.integers(0, len(chunks) - 1))
        start, end = draw(st.sampled_from(odd_bounds))
        per_chunk[index].append(_segment("who", start, end, uid, index))
        unbounded[uid] = index
    results = []
    for index, segments in enumerate(per_chunk):
        segments = draw(st.permutations(segments))  # out of order
        text = draw(st.sampled_from(["", "  ", f"part {index}", f" part {index}\n"]))
        usage = Usage(prompt_tokens=index, total_tokens=2 * index)
        results.append(Transcription(text=text, model=f"m{index}", segments=segments, usage=usage))
    return Reported(results, truth, heard_by, unbounded)


def _near(x: float, border: float) -> bool:
    """Within float rounding of ``border``: chunks computing the same midpoint from
    different offsets may disagree there, so who keeps it is not decidable exactly."""
    return math.isfinite(border) and abs(x - border) <= 64 * math.ulp(max(abs(border), abs(x)))


def _uid(segment: Segment) -> int:
    return int((segment.model_extra or {})[_UID])


def _reporter(segment: Segment) -> int:
    return int((segment.model_extra or {})[_CHUNK])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_stitching_random_chunk_plans_and_segments(data: st.DataObject) -> None:
    chunks = data.draw(chunk_plans(), label="chunks")
    reported = data.draw(reports(chunks), label="reported")
    stitched = stitch(chunks, reported.results)
    out = stitched.segments

    # placement: each segment kept is its chunk's report moved by the chunk's start
    origin = {
        (_uid(segment), index): segment
        for index, result in enumerate(reported.results)
        for segment in result.segments
    }
    kept_from: dict[int, int] = {}
    for segment in out:
        uid, index = _uid(segment), _reporter(segment)
        assert uid not in kept_from, f"segment {uid} kept twice"
        kept_from[uid] = index
        relative = origin[uid, index]
        assert _same(segment.start, relative.start, chunks[index].start)
        assert _same(segment.end, relative.end, chunks[index].start)
        assert (segment.text, segment.speaker_id) == (relative.text, relative.speaker_id)

    # ownership: the chunk whose territory holds the midpoint keeps it, once
    borders = territories(chunks)
    assert all(low < high for low, high in borders), "territories out of order"
    for uid, (start, end) in reported.truth.items():
        if uid not in reported.heard_by:
            continue
        middle = (start + end) / 2
        if any(_near(middle, border) for pair in borders for border in pair):
            continue
        owner = next(i for i, (low, high) in enumerate(borders) if low <= middle < high)
        if owner in reported.heard_by[uid]:
            assert kept_from.get(uid) == owner, f"segment {uid} lost or kept by the wrong chunk"
        else:
            assert uid not in kept_from, f"segment {uid} kept outside its chunk's territory"
    for uid, index in reported.unbounded.items():
        assert kept_from.get(uid) == index, "a segment without bounds stays with its chunk"

    if len(chunks) > 1 or chunks[0].start != 0:  # else the one answer, as it came
        starts = [s.start for s in out if s.start is not None and math.isfinite(s.start)]
        assert starts == sorted(starts), "not in order of start"
        # an overlap is heard twice, so where chunks overlap a chunk's words are the
        # segments it kept (its whole text when it reported none)
        overlapping = any(after.start < before.end for before, after in pairwise(chunks))
        texts = [
            [s.text for s in result.segments if kept_from.get(_uid(s)) == index]
            if overlapping and result.segments
            else [result.text]
            for index, result in enumerate(reported.results)
        ]
        assert stitched.text == " ".join(
            text for chunk_texts in texts for t in chunk_texts if (text := t.strip())
        )
        assert stitched.usage.prompt_tokens == sum(range(len(chunks)))
    assert stitched.chunks == chunks


def _same(absolute: float | None, relative: float | None, offset: float) -> bool:
    if absolute is None or relative is None:
        return absolute is relative is None
    moved = relative + offset
    return absolute == moved or (math.isnan(absolute) and math.isnan(moved))


@settings(max_examples=100)
@given(data=st.data())
def test_a_single_chunk_at_zero_is_the_answer_as_it_came(data: st.DataObject) -> None:
    chunks = [Chunk(index=0, start=0.0, end=data.draw(st.floats(1e-6, 1e4)))]
    reported = data.draw(reports(chunks))
    stitched = stitch(chunks, reported.results)
    assert stitched.segments == reported.results[0].segments
    assert stitched.text == reported.results[0].text
