"""The incremental ``text/event-stream`` parser (``_sse.SSEDecoder``)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxtral_integrations._sse import ServerSentEvent, SSEDecoder


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    """Feed ``chunks`` one by one, then close: every event the body holds."""
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


# A body with two frames, a multi-byte character (U+00E9 and U+1F600), CRLF line
# endings and a comment: enough that every split offset lands somewhere interesting.
SAMPLE = (
    ": keep-alive\r\n"
    "event: transcription.text.delta\r\n"
    'data: {"text": "caf\u00e9 \U0001f600"}\r\n'
    "\r\n"
    "event: transcription.done\r\n"
    "id: 7\r\n"
    'data: {"text": "fin"}\r\n'
    "\r\n"
).encode()
SAMPLE_EVENTS = [
    ServerSentEvent('{"text": "caf\u00e9 \U0001f600"}', "transcription.text.delta"),
    ServerSentEvent('{"text": "fin"}', "transcription.done", "7"),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b"", [], id="empty-input"),
        pytest.param(b"data: hello\n\n", [ServerSentEvent("hello")], id="lf"),
        pytest.param(b"data: hello\r\n\r\n", [ServerSentEvent("hello")], id="crlf"),
        pytest.param(b"data: hello\r\r", [ServerSentEvent("hello")], id="cr"),
        pytest.param(
            b"data: a\n\ndata: b\r\n\r\ndata: c\r\r",
            [ServerSentEvent("a"), ServerSentEvent("b"), ServerSentEvent("c")],
            id="mixed-line-endings",
        ),
        pytest.param(b": just a comment\n\n", [], id="comment-only"),
        pytest.param(
            b": comment\ndata: x\n: another\n\n", [ServerSentEvent("x")], id="comments-around"
        ),
        pytest.param(
            b"data: line one\ndata: line two\ndata:\n\n",
            [ServerSentEvent("line one\nline two\n")],
            id="multi-line-data",
        ),
        pytest.param(
            b"data:no-space\n\n", [ServerSentEvent("no-space")], id="no-space-after-colon"
        ),
        pytest.param(
            b"data:  two spaces\n\n", [ServerSentEvent(" two spaces")], id="only-one-space-stripped"
        ),
        pytest.param(b"data\n\n", [ServerSentEvent("")], id="field-without-colon"),
        pytest.param(b"data: a:b:c\n\n", [ServerSentEvent("a:b:c")], id="colons-in-value"),
        pytest.param(
            b"event: transcription.segment\ndata: {}\n\n",
            [ServerSentEvent("{}", event="transcription.segment")],
            id="event-field",
        ),
        pytest.param(b"id: abc\ndata: x\n\n", [ServerSentEvent("x", id="abc")], id="id-field"),
        pytest.param(b"id: a\0b\ndata: x\n\n", [ServerSentEvent("x")], id="id-with-nul-ignored"),
        pytest.param(b"retry: 1500\ndata: x\n\n", [ServerSentEvent("x", retry=1500)], id="retry"),
        pytest.param(b"retry: soon\ndata: x\n\n", [ServerSentEvent("x")], id="retry-not-digits"),
        pytest.param(b"retry: -5\ndata: x\n\n", [ServerSentEvent("x")], id="retry-negative"),
        pytest.param(
            "retry: \u00b2\ndata: x\n\n".encode(),
            [ServerSentEvent("x")],
            id="retry-superscript-digit-ignored",
        ),
        pytest.param(
            b"foo: bar\nDATA: shouted\nData: mixed\ndata: x\n\n",
            [ServerSentEvent("x")],
            id="unknown-fields-ignored",
        ),
        pytest.param(
            b"event: a\nid: 1\ndata: x\n\ndata: y\n\n",
            [ServerSentEvent("x", "a", "1"), ServerSentEvent("y")],
            id="event-type-reset-between-events",
        ),
        pytest.param(b"\n\n\r\n\r\r", [], id="blank-lines-only"),
        pytest.param(b"data: final", [ServerSentEvent("final")], id="final-line-without-newline"),
        pytest.param(
            b"data: final\n", [ServerSentEvent("final")], id="final-frame-without-blank-line"
        ),
        pytest.param(b"data: final\r", [ServerSentEvent("final")], id="final-frame-ending-in-cr"),
        pytest.param(
            b"data: \xff\xfe\n\n", [ServerSentEvent("\ufffd\ufffd")], id="invalid-utf8-replaced"
        ),
        pytest.param(b"\xef\xbb\xbfdata: x\n\n", [ServerSentEvent("x")], id="leading-bom-stripped"),
        pytest.param(b"event: ping\n\n", [], id="event-without-data-not-dispatched"),
    ],
)
def test_decode_whole_body(body: bytes, expected: list[ServerSentEvent]) -> None:
    assert decode(body) == expected


def test_feed_returns_complete_events_before_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: one\n\ndata: tw") == [ServerSentEvent("one")]
    assert decoder.feed(b"o\n") == []
    assert decoder.close() == [ServerSentEvent("two")]


def test_close_twice_yields_nothing_more() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: x")
    assert decoder.close() == [ServerSentEvent("x")]
    assert decoder.close() == []


def test_cr_at_end_of_chunk_waits_for_possible_lf() -> None:
    """A "\\r" ending a chunk may be half of "\\r\\n": it must not make an extra blank line."""
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # If the "\r" had been taken as a line end, this "\n" would be a blank line and
    # dispatch "a" here; as the second half of "\r\n" it must not.
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r\n") == [ServerSentEvent("a\nb")]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(SAMPLE, id="crlf"),
        pytest.param(SAMPLE.replace(b"\r\n", b"\n"), id="lf"),
        pytest.param(SAMPLE.replace(b"\r\n", b"\r"), id="cr"),
        pytest.param(SAMPLE[:-2], id="crlf-no-final-blank-line"),
    ],
)
def test_every_single_split_offset(body: bytes) -> None:
    for offset in range(len(body) + 1):
        assert decode(body[:offset], body[offset:]) == SAMPLE_EVENTS, f"split at {offset}"


def test_every_pair_of_split_offsets() -> None:
    body = SAMPLE
    for first in range(len(body) + 1):
        for second in range(first, len(body) + 1):
            chunks = (body[:first], body[first:second], body[second:])
            assert decode(*chunks) == SAMPLE_EVENTS, f"split at {first}, {second}"


def test_leading_bom_split_at_every_offset() -> None:
    # Starts with a field, not the comment: a BOM left in place would hide "event".
    without_comment = SAMPLE.removeprefix(b": keep-alive\r\n")
    body = b"\xef\xbb\xbf" + without_comment
    for offset in range(len(body) + 1):
        assert decode(body[:offset], body[offset:]) == SAMPLE_EVENTS, f"split at {offset}"
    assert decode(b"", b"\xef", b"", b"\xbb", b"\xbf", without_comment) == SAMPLE_EVENTS


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b"data: a\n\n\xef\xbb\xbfdata: b\n\n",
            [ServerSentEvent("a")],
            id="bom-later-is-part-of-the-field-name",
        ),
        pytest.param(
            "data: \ufeffx\n\n".encode(), [ServerSentEvent("\ufeffx")], id="bom-inside-value-kept"
        ),
        pytest.param(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n", [], id="only-one-bom-stripped"),
    ],
)
def test_bom_only_stripped_once_at_start(body: bytes, expected: list[ServerSentEvent]) -> None:
    assert decode(body) == expected


def test_one_byte_at_a_time() -> None:
    assert decode(*(bytes([byte]) for byte in SAMPLE)) == SAMPLE_EVENTS


@pytest.mark.parametrize(
    "char",
    [
        pytest.param("\u00e9", id="2-byte"),
        pytest.param("\u20ac", id="3-byte"),
        pytest.param("\U0001f600", id="4-byte"),
    ],
)
def test_split_inside_multibyte_character(char: str) -> None:
    body = f"data: {char}\n\n".encode()
    start = len(b"data: ")
    for offset in range(start + 1, start + len(char.encode())):
        assert decode(body[:offset], body[offset:]) == [ServerSentEvent(char)]


# --------------------------------------------------------------------------- property

_FIELD_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"),
    max_size=20,
)
_NAME = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"),
    min_size=1,
    max_size=12,
)


@st.composite
def _events(draw: st.DrawFn) -> ServerSentEvent:
    lines = draw(st.lists(_FIELD_TEXT, min_size=1, max_size=4))
    return ServerSentEvent(
        data="\n".join(lines),
        event=draw(st.none() | _NAME),
        id=draw(st.none() | _FIELD_TEXT),
        retry=draw(st.none() | st.integers(min_value=0, max_value=10**9)),
    )


def _encode(events: list[ServerSentEvent], newline: str, comments: bool) -> bytes:
    out: list[str] = []
    for event in events:
        if comments:
            out.append(": comment" + newline)
        if event.event is not None:
            out.append(f"event: {event.event}{newline}")
        if event.id is not None:
            out.append(f"id: {event.id}{newline}")
        if event.retry is not None:
            out.append(f"retry: {event.retry}{newline}")
        out.extend(f"data: {line}{newline}" for line in event.data.split("\n"))
        out.append(newline)
    return "".join(out).encode()


@given(
    events=st.lists(_events(), max_size=6),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    comments=st.booleans(),
    cuts=st.lists(st.floats(min_value=0, max_value=1), max_size=12),
    drop_last_blank=st.booleans(),
)
def test_any_chunking_yields_the_events_encoded(
    events: list[ServerSentEvent],
    newline: str,
    comments: bool,
    cuts: list[float],
    drop_last_blank: bool,
) -> None:
    body = _encode(events, newline, comments)
    if drop_last_blank and events:
        body = body[: -len(newline)]  # the last frame is then delivered by close()
    offsets = sorted({int(cut * len(body)) for cut in cuts})
    bounds = [0, *offsets, len(body)]
    chunks = [body[start:end] for start, end in itertools.pairwise(bounds)]
    whole = decode(body)
    assert whole == events
    assert decode(*chunks) == whole
