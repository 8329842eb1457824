"""Realtime options checked before connecting, and each dialect's frames."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxtral_integrations import InvalidInputError, TurnDetection, UnsupportedFeatureError
from voxtral_integrations._constants import MAX_APPEND_BYTES
from voxtral_integrations._dialects import dialect
from voxtral_integrations._realtime_protocol import realtime_options
from voxtral_integrations._realtime_wire import MISTRAL_REALTIME, VLLM_REALTIME, AppendSplitter

V2602 = "voxtral-mini-transcribe-realtime-2602"
V3 = "voxtral-mini-transcribe-realtime-3-0"
BASE = {"model": V2602, "encoding": "pcm_s16le", "sample_rate": 16000}


def options(**changes: Any) -> Any:
    return realtime_options(**{**BASE, **changes})


@pytest.mark.parametrize(
    ("changes", "argument"),
    [
        ({"model": " "}, "model"),
        ({"encoding": "pcm_s24le"}, "encoding"),
        ({"encoding": "mp3"}, "encoding"),
        ({"sample_rate": 7999}, "sample_rate"),
        ({"sample_rate": 96001}, "sample_rate"),
        ({"sample_rate": 16000.0}, "sample_rate"),
        ({"target_streaming_delay_ms": 100}, "target_streaming_delay_ms"),
        ({"target_streaming_delay_ms": 1280}, "target_streaming_delay_ms"),
        ({"target_streaming_delay_ms": 2480}, "target_streaming_delay_ms"),
        ({"target_streaming_delay_ms": 0}, "target_streaming_delay_ms"),
        ({"target_streaming_delay_ms": True}, "target_streaming_delay_ms"),
        ({"language": "en"}, "language"),  # a Realtime 3 field on 2602
        ({"diarize": True}, "diarize"),
        ({"context_bias": ["Voxtral"]}, "context_bias"),
        ({"turn_detection": True}, "turn_detection"),
        ({"model": V3, "target_streaming_delay_ms": 79}, "target_streaming_delay_ms"),
        ({"model": V3, "target_streaming_delay_ms": 2401}, "target_streaming_delay_ms"),
        ({"model": V3, "language": "english"}, "language"),
        ({"model": V3, "context_bias": "Voxtral"}, "context_bias"),
        ({"model": V3, "context_bias": ["two words"]}, "context_bias"),
        ({"model": V3, "diarize": True, "turn_detection": True}, "diarize"),
        ({"model": V3, "speaker_references": {"alice": "UklGRg=="}}, "speaker_references"),
        ({"model": V3, "turn_detection": {"end_threshold": 0.6}}, "turn_detection"),
        ({"model": V3, "turn_detection": {"start_threshold": 0.4}}, "turn_detection"),
        (
            {"model": V3, "turn_detection": {"min_silence_ms": 500, "end_timeout_ms": 400}},
            "turn_detection",
        ),
        ({"model": V3, "turn_detection": {"silence": 1}}, "turn_detection"),
        ({"model": V3, "turn_detection": "on"}, "turn_detection"),
    ],
)
def test_bad_options_are_refused_naming_the_input(changes: dict[str, Any], argument: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        options(**changes)
    assert caught.value.argument == argument
    assert argument.split(".")[0] in str(caught.value) or argument == "model"


@pytest.mark.parametrize(
    "changes",
    [
        {"target_streaming_delay_ms": 80},
        {"target_streaming_delay_ms": 1200},
        {"target_streaming_delay_ms": 2400},
        {"sample_rate": 8000, "encoding": "pcm_mulaw"},
        {"sample_rate": 96000, "encoding": "pcm_f32le"},
        {"model": V3, "target_streaming_delay_ms": 1000},
        {
            "model": "voxtral-mini-transcribe-realtime-latest",
            "turn_detection": {"min_silence_ms": 400, "end_timeout_ms": 1500},
        },
        {
            "model": "voxtral-mini-transcribe-realtime-3",
            "diarize": True,
            "speaker_references": {"a": "AAAA"},
        },
        {
            "model": "some-future-realtime-model",
            "target_streaming_delay_ms": 1000,
            "language": "fr",
        },
    ],
)
def test_good_options_pass(changes: dict[str, Any]) -> None:
    options(**changes)


def test_turn_detection_defaults_are_the_sdks() -> None:
    assert TurnDetection().wire() == {
        "start_threshold": 0.5,
        "eager_end_threshold": 0.5,
        "end_threshold": 0.33,
        "min_silence_ms": 500,
    }
    assert options(model=V3, turn_detection=True).turn_detection == TurnDetection()


def test_mistral_session_update_carries_only_what_is_set() -> None:
    (plain,) = MISTRAL_REALTIME.session_frames(options())
    assert json.loads(plain) == {
        "type": "session.update",
        "session": {"audio_format": {"encoding": "pcm_s16le", "sample_rate": 16000}},
    }
    full = options(
        model=V3,
        target_streaming_delay_ms=480,
        language="EN",
        context_bias=["Voxtral"],
        turn_detection={"min_silence_ms": 400},
    )
    (frame,) = MISTRAL_REALTIME.session_frames(full)
    session = json.loads(frame)["session"]
    assert session["target_streaming_delay_ms"] == 480
    assert session["language"] == "en"
    assert session["context_bias"] == ["Voxtral"]
    assert session["turn_detection"]["min_silence_ms"] == 400
    assert "diarize" not in session and "speaker_references" not in session


def test_urls_map_http_to_ws() -> None:
    assert MISTRAL_REALTIME.url("https://api.mistral.ai/v1", options()) == (
        "wss://api.mistral.ai/v1/audio/transcriptions/realtime?model=voxtral-mini-transcribe-realtime-2602"
    )
    assert (
        VLLM_REALTIME.url("http://127.0.0.1:8000/v1/", options())
        == "ws://127.0.0.1:8000/v1/realtime"
    )


def test_headers_carry_the_key_as_bearer_only() -> None:
    assert MISTRAL_REALTIME.headers("sk-1", "ua/1") == {
        "User-Agent": "ua/1",
        "Authorization": "Bearer sk-1",
    }
    assert VLLM_REALTIME.headers(None, "ua/1") == {"User-Agent": "ua/1"}


def test_frames_per_dialect() -> None:
    pcm = b"\x01\x00\x02\x00"
    assert json.loads(MISTRAL_REALTIME.append(pcm)) == {
        "type": "input_audio.append",
        "audio": base64.b64encode(pcm).decode(),
    }
    assert [json.loads(f) for f in MISTRAL_REALTIME.flush()] == [{"type": "input_audio.flush"}]
    assert [json.loads(f) for f in MISTRAL_REALTIME.end()] == [{"type": "input_audio.end"}]
    assert json.loads(VLLM_REALTIME.append(pcm))["type"] == "input_audio_buffer.append"
    assert [json.loads(f) for f in VLLM_REALTIME.session_frames(options(model="m"))] == [
        {"type": "session.update", "model": "m"},
        {"type": "input_audio_buffer.commit"},
    ]
    assert [json.loads(f) for f in VLLM_REALTIME.flush()] == [
        {"type": "input_audio_buffer.commit", "final": True},
        {"type": "input_audio_buffer.commit"},
    ]
    assert [json.loads(f) for f in VLLM_REALTIME.end()] == [
        {"type": "input_audio_buffer.commit", "final": True}
    ]


@pytest.mark.parametrize(
    ("changes", "argument"),
    [
        ({"sample_rate": 24000}, "sample_rate"),
        ({"encoding": "pcm_f32le"}, "encoding"),
        ({"target_streaming_delay_ms": 480}, "target_streaming_delay_ms"),
        ({"model": V3, "language": "en"}, "language"),
        ({"model": V3, "turn_detection": True}, "turn_detection"),
    ],
)
def test_what_vllm_cannot_do_is_refused(changes: dict[str, Any], argument: str) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        dialect("vllm").realtime.check(options(**changes))
    assert caught.value.argument == argument
    dialect("mistral").realtime.check(options(**changes))


def test_dialect_profiles_name_their_wire() -> None:
    assert dialect("mistral").realtime is MISTRAL_REALTIME
    assert dialect("vllm").realtime is VLLM_REALTIME


@given(st.lists(st.binary(max_size=600_000), max_size=5), st.sampled_from([1, 2, 4]))
def test_appends_are_bounded_aligned_and_lose_nothing(sends: list[bytes], width: int) -> None:
    splitter = AppendSplitter(width)
    out = [piece for pcm in sends for piece in splitter.split(pcm)]
    assert all(0 < len(piece) <= MAX_APPEND_BYTES and len(piece) % width == 0 for piece in out)
    joined = b"".join(sends)
    assert b"".join(out) == joined[: len(joined) - splitter.pending]
    assert splitter.pending == len(joined) % width


def test_an_odd_byte_waits_for_the_next_send() -> None:
    splitter = AppendSplitter(2)
    assert splitter.split(b"\x01\x02\x03") == [b"\x01\x02"]
    assert splitter.split(b"\x04") == [b"\x03\x04"]
    assert splitter.split(b"\x00" * (MAX_APPEND_BYTES + 2)) == [
        b"\x00" * MAX_APPEND_BYTES,
        b"\x00\x00",
    ]
