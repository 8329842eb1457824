"""Realtime frames in, typed events out: both dialects, and nothing ever raises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxtral_integrations import (
    DoneEvent,
    LanguageEvent,
    RealtimeErrorEvent,
    SegmentEvent,
    SessionCreatedEvent,
    SessionUpdatedEvent,
    TextDeltaEvent,
    TurnEvent,
    UnknownEvent,
)
from voxtral_integrations._realtime_events import (
    MistralRealtimeParser,
    VLLMRealtimeParser,
    realtime_token,
)

MODEL = "voxtral-mini-transcribe-realtime-2602"
MISTRAL = MistralRealtimeParser(MODEL)
VLLM = VLLMRealtimeParser("mistralai/Voxtral-Mini-4B-Realtime-2602")

SESSION = {
    "request_id": "ws-1",
    "model": MODEL,
    "audio_format": {"encoding": "pcm_s16le", "sample_rate": 16000},
}


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            {"type": "session.created", "session": SESSION},
            SessionCreatedEvent(request_id="ws-1", session=SESSION),
        ),
        ({"type": "session.updated", "session": SESSION}, SessionUpdatedEvent(session=SESSION)),
        ({"type": "transcription.text.delta", "text": " Tower"}, TextDeltaEvent(text=" Tower")),
        (
            {"type": "transcription.language", "audio_language": "en"},
            LanguageEvent(audio_language="en"),
        ),
        (
            {
                "type": "transcription.segment",
                "text": "hi",
                "start": 0.5,
                "end": None,
                "speaker_id": "s1",
            },
            SegmentEvent(text="hi", start=0.5, end=None, speaker_id="s1"),
        ),
        ({"type": "turn.start", "time_s": 1.5}, TurnEvent(type="turn.start", time=1.5)),
        (
            {"type": "turn.end", "time_s": 4.4, "end_reason": "threshold"},
            TurnEvent(type="turn.end", time=4.4, end_reason="threshold"),
        ),
        (
            {"type": "error", "error": {"message": "Timeout waiting", "code": 3804}},
            RealtimeErrorEvent(message="Timeout waiting", code=3804),
        ),
        (
            {"type": "error", "error": {"message": {"detail": "bad field"}, "code": 1}},
            RealtimeErrorEvent(message="bad field", code=1),
        ),
    ],
)
def test_mistral_frames(frame: dict[str, Any], expected: Any) -> None:
    event = MISTRAL.parse(json.dumps(frame))
    assert event == expected


def test_mistral_done_keeps_usage_and_segments() -> None:
    frame = {
        "type": "transcription.done",
        "model": MODEL,
        "text": "Who built it?",
        "language": "en",
        "segments": [{"text": "Who built it?", "start": 0.1, "end": 1.2}],
        "usage": {
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "total_tokens": 3,
            "prompt_audio_seconds": 2,
        },
    }
    event = MISTRAL.parse(json.dumps(frame))
    assert isinstance(event, DoneEvent)
    assert (event.text, event.language, event.usage.prompt_audio_seconds) == (
        "Who built it?",
        "en",
        2,
    )
    assert event.segments[0].end == 1.2


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            {"type": "session.created", "id": "sess-1", "created": 5},
            SessionCreatedEvent(request_id="sess-1", session={"id": "sess-1", "created": 5}),
        ),
        ({"type": "transcription.delta", "delta": " hi"}, TextDeltaEvent(text=" hi")),
        (
            {"type": "error", "error": "Invalid audio data", "code": "invalid_audio"},
            RealtimeErrorEvent(message="Invalid audio data", code="invalid_audio"),
        ),
    ],
)
def test_vllm_frames(frame: dict[str, Any], expected: Any) -> None:
    assert VLLM.parse(json.dumps(frame)) == expected


def test_vllm_done_reads_usage_and_names_the_model() -> None:
    event = VLLM.parse(
        '{"type":"transcription.done","text":"hi there",'
        '"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}'
    )
    assert isinstance(event, DoneEvent)
    assert (event.text, event.model, event.usage.total_tokens) == ("hi there", VLLM.model, 5)
    assert VLLM.parse('{"type":"transcription.done","text":"x","usage":null}') == DoneEvent(
        text="x", model=VLLM.model
    )


@pytest.mark.parametrize(
    ("parser", "text", "type_", "why"),
    [
        (MISTRAL, "not json", "", "invalid JSON"),
        (MISTRAL, "[1, 2]", "", "expected a JSON object"),
        (MISTRAL, '{"text": "x"}', "", "missing or invalid 'type'"),
        (
            MISTRAL,
            '{"type": "conversation.item.new"}',
            "conversation.item.new",
            "unknown event type",
        ),
        (MISTRAL, '{"type": "transcription.text.delta"}', "transcription.text.delta", "schema"),
        (MISTRAL, '{"type": "turn.end", "time_s": "soon"}', "turn.end", "schema"),
        (MISTRAL, '{"type": "error", "error": "flat"}', "error", "schema"),
        (MISTRAL, '{"type": "session.created"}', "session.created", "schema"),
        (VLLM, '{"type": "transcription.delta", "delta": 3}', "transcription.delta", "schema"),
        (
            VLLM,
            '{"type": "transcription.text.delta", "text": "x"}',
            "transcription.text.delta",
            "unknown",
        ),
    ],
)
def test_what_cannot_be_read_passes_through_unknown(
    parser: Any, text: str, type_: str, why: str
) -> None:
    event = parser.parse(text)
    assert isinstance(event, UnknownEvent)
    assert event.type == type_
    assert why in (event.model_extra or {})["error"]


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_no_frame_makes_a_parser_raise(text: str | bytes) -> None:
    for parser in (MISTRAL, VLLM):
        parser.parse(text)


@given(
    st.dictionaries(
        st.sampled_from(
            ["type", "text", "delta", "time_s", "session", "error", "segments", "usage"]
        ),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=5),
            st.sampled_from(
                [
                    "turn.end",
                    "transcription.done",
                    "error",
                    "session.created",
                    "transcription.delta",
                    "transcription.segment",
                ]
            ),
        ),
        max_size=5,
    )
)
def test_no_object_makes_a_parser_raise(frame: dict[str, Any]) -> None:
    for parser in (MISTRAL, VLLM):
        parser.parse(json.dumps(frame))


def test_token_value_is_secret() -> None:
    body = {
        "object": "client.session",
        "purpose": "realtime",
        "expires_at": "2026-12-02T20:00:00Z",
        "client_secret": {"value": "rt_SECRET_SENTINEL", "expires_at": "2026-12-02T20:00:00Z"},
    }
    token = realtime_token(body, MODEL)
    assert token.value.get_secret_value() == "rt_SECRET_SENTINEL"
    for rendered in (repr(token), str(token), token.model_dump_json()):
        assert "rt_SECRET_SENTINEL" not in rendered
    assert token.expires_at is not None and token.expires_at.year == 2026
    with pytest.raises(ValueError, match="client_secret") as caught:
        realtime_token({"client_secret": {"value": 3}}, MODEL)
    assert "rt_" not in str(caught.value)
