"""What the fake realtime server accepts (pure): models, session fields, client frames.

The shapes follow the reference's §1 (the OpenAPI spec's ``additionalProperties: false``
client schemas and the SDK 3.7.0 models). The error *codes* below are the fake's own, except
3804: the real list is undocumented, so clients must not depend on them. A violation raises
``Violation``; the server turns it into ``{"type": "error", "error": {message, code}}``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.support.audio_factory import ENCODINGS, sample_width

MISTRAL_PATH = "/v1/audio/transcriptions/realtime"
VLLM_PATH = "/v1/realtime"
MAX_APPEND_BYTES = 262144
RATES = (8000, 96000)

INVALID_FRAME = 3001  # binary frame, bad JSON, not an object
INVALID_MESSAGE = 3002  # unknown type, unknown or missing field, wrong type
INVALID_SESSION = 3003  # a session value out of range, an empty update, incompatible fields
UNSUPPORTED = 3004  # a field the model does not support
INVALID_AUDIO = 3005  # bad base64, empty, too large, not aligned to the sample width
SESSION_LOCKED = 3006
INPUT_ENDED = 3007
CAPACITY = 3505
TIMEOUT = 3804

LOCKED_MESSAGE = "Session fields cannot be changed after audio has started"
DIARIZE_TURNS_MESSAGE = "Diarization is not compatible with turn detection"
TIMEOUT_MESSAGE = "Timeout waiting for response from streaming transcription."
V3_FIELDS = ("language", "context_bias", "diarize", "speaker_references", "turn_detection")
TURN_DEFAULTS: dict[str, Any] = {
    "start_threshold": 0.5,
    "eager_end_threshold": 0.5,
    "end_threshold": 0.33,
    "min_silence_ms": 500,
    "end_timeout_ms": None,
}


class Violation(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class ModelSpec:
    """One model's capabilities: v3 takes the V3_FIELDS; delays lists ``(min, max, step)``."""

    v3: bool
    delays: tuple[tuple[int, int, int], ...]

    def delay_ok(self, delay: int) -> bool:
        return any(lo <= delay <= hi and (delay - lo) % step == 0 for lo, hi, step in self.delays)


_V2 = ModelSpec(v3=False, delays=((80, 1200, 80), (2400, 2400, 1)))
_V3 = ModelSpec(v3=True, delays=((80, 2400, 1),))
MISTRAL_MODELS: dict[str, ModelSpec] = {
    "voxtral-mini-transcribe-realtime-2602": _V2,
    "voxtral-mini-transcribe-realtime-3": _V3,
    "voxtral-mini-transcribe-realtime-3-0": _V3,
}
VLLM_MODELS = ("mistralai/Voxtral-Mini-4B-Realtime-2602",)

_FIELDS = {
    "session.update": {"session"},
    "input_audio.append": {"audio"},
    "input_audio.flush": set(),
    "input_audio.end": set(),
}
_SESSION_FIELDS = ("audio_format", "target_streaming_delay_ms", *V3_FIELDS)


def _need(ok: bool, message: str, code: int = INVALID_MESSAGE) -> None:
    if not ok:
        raise Violation(code, message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_message(message: Any) -> dict[str, Any]:
    """``message`` (parsed JSON) if it is a well-formed client frame, else a Violation."""
    _need(isinstance(message, dict), "A frame must be a JSON object", INVALID_FRAME)
    kind = message.get("type")
    _need(isinstance(kind, str) and kind in _FIELDS, f"Unknown message type: {kind!r}")
    extra = set(message) - {"type"} - _FIELDS[kind]
    _need(not extra, f"Unknown fields in {kind}: {sorted(extra)}")
    missing = _FIELDS[kind] - set(message)
    _need(not missing, f"Missing required fields in {kind}: {sorted(missing)}")
    if kind == "session.update":
        check_session_update(message["session"])
    if kind == "input_audio.append":
        _need(isinstance(message["audio"], str), "audio must be a base64 string")
    return message


def check_session_update(session: Any) -> None:
    _need(isinstance(session, dict), "session must be an object")
    extra = set(session) - set(_SESSION_FIELDS)
    _need(not extra, f"Unknown session fields: {sorted(extra)}")
    given = {k: v for k, v in session.items() if v is not None}
    _need(bool(given), "At least one session field must be provided", INVALID_SESSION)
    if "audio_format" in given:
        _check_audio_format(given["audio_format"])
    if "target_streaming_delay_ms" in given:
        _need(_is_int(given["target_streaming_delay_ms"]), "target_streaming_delay_ms: an int")
    if "diarize" in given:
        _need(isinstance(given["diarize"], bool), "diarize must be a boolean")
    if "language" in given:
        language = given["language"]
        _need(isinstance(language, str), "language must be a string")
        _need(bool(re.fullmatch(r"[a-z]{2}", language)), "language: ISO-639-1", INVALID_SESSION)
    if "context_bias" in given:
        bias = given["context_bias"]
        _need(isinstance(bias, list) and all(isinstance(x, str) for x in bias), "context_bias")
    if "speaker_references" in given:
        _check_references(given["speaker_references"])
    if "turn_detection" in given:
        turn_config(given["turn_detection"])


def _check_audio_format(value: Any) -> None:
    _need(isinstance(value, dict), "audio_format must be an object")
    _need(set(value) == {"encoding", "sample_rate"}, "audio_format: encoding and sample_rate")
    encoding, rate = value["encoding"], value["sample_rate"]
    _need(encoding in ENCODINGS, f"Unsupported encoding {encoding!r}", INVALID_SESSION)
    _need(_is_int(rate), "sample_rate must be an integer")
    _need(RATES[0] <= rate <= RATES[1], f"sample_rate {rate} not in 8000..96000", INVALID_SESSION)


def _check_references(value: Any) -> None:
    _need(isinstance(value, dict), "speaker_references must map names to base64 audio")
    for name, audio in value.items():
        _need(isinstance(audio, str), f"speaker_references[{name!r}] must be base64")
        decode_base64(audio)


def turn_config(value: Any) -> dict[str, Any]:
    """The turn_detection config with defaults filled, checked (reference §1.2)."""
    _need(isinstance(value, dict), "turn_detection must be an object")
    extra = set(value) - set(TURN_DEFAULTS)
    _need(not extra, f"Unknown turn_detection fields: {sorted(extra)}")
    config = {**TURN_DEFAULTS, **{k: v for k, v in value.items() if v is not None}}
    for name in ("start_threshold", "eager_end_threshold", "end_threshold"):
        _need(_is_number(config[name]) and 0 <= config[name] <= 1, f"{name}: a number in 0..1")
    _need(_is_int(config["min_silence_ms"]) and config["min_silence_ms"] >= 0, "min_silence_ms")
    timeout = config["end_timeout_ms"]
    _need(timeout is None or _is_int(timeout), "end_timeout_ms must be an integer")
    start, eager, end = (
        config[k] for k in ("start_threshold", "eager_end_threshold", "end_threshold")
    )
    _need(
        start >= eager > end,
        "turn_detection needs start_threshold >= eager_end_threshold > end_threshold",
        INVALID_SESSION,
    )
    _need(
        timeout is None or timeout >= config["min_silence_ms"],
        "turn_detection needs end_timeout_ms >= min_silence_ms",
        INVALID_SESSION,
    )
    return config


def merge_session(
    session: Mapping[str, Any], update: Mapping[str, Any], spec: ModelSpec
) -> dict[str, Any]:
    """The session after ``update`` (already checked by ``check_message``), for this model."""
    given = {k: v for k, v in update.items() if v is not None}
    if not spec.v3:
        refused = [f for f in V3_FIELDS if f in given]
        _need(not refused, f"{refused} not supported by {session['model']}", UNSUPPORTED)
    delay = given.get("target_streaming_delay_ms")
    if delay is not None:
        _need(
            spec.delay_ok(delay),
            f"target_streaming_delay_ms {delay} not accepted by the model",
            INVALID_SESSION,
        )
    merged = {**session, **given}
    if "turn_detection" in given:
        merged["turn_detection"] = turn_config(given["turn_detection"])
    if "speaker_references" in given:
        merged["speaker_references"] = sorted(given["speaker_references"])
    _need(
        not (merged.get("diarize") and merged.get("turn_detection") is not None),
        DIARIZE_TURNS_MESSAGE,
        INVALID_SESSION,
    )
    _need(
        not merged.get("speaker_references") or bool(merged.get("diarize")),
        "speaker_references requires diarize",
        INVALID_SESSION,
    )
    return merged


def decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Violation(INVALID_AUDIO, "audio is not valid base64") from None


def check_audio(data: bytes, encoding: str) -> bytes:
    _need(bool(data), "Empty audio append", INVALID_AUDIO)
    _need(
        len(data) <= MAX_APPEND_BYTES,
        f"Audio append of {len(data)} bytes exceeds {MAX_APPEND_BYTES}",
        INVALID_AUDIO,
    )
    width = sample_width(encoding)
    _need(
        len(data) % width == 0,
        f"{len(data)} bytes is not a whole number of {width}-byte {encoding} samples",
        INVALID_AUDIO,
    )
    return data
