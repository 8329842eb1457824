"""Realtime sessions without I/O: the options one session asks for, checked.

:class:`RealtimeOptions` holds what one session asks for; :func:`realtime_options`
checks it before anything connects (encoding, rate, the delay and the Realtime 3
fields against the model's row of ``REALTIME_MODELS``). A model the table does not
know is checked as Realtime 3 is (``DEFAULT_REALTIME_CAPABILITIES``), so a newer
model is not blocked here; its server says what it refuses. How each dialect says
them on the wire is ``_realtime_wire``'s.
"""

from __future__ import annotations

import math
import os
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Union

from ._constants import (
    DEFAULT_REALTIME_CAPABILITIES,
    MAX_REALTIME_SAMPLE_RATE,
    MIN_REALTIME_SAMPLE_RATE,
    REALTIME_ENCODINGS,
    REALTIME_MODELS,
    RealtimeCapabilities,
)
from ._exceptions import InvalidInputError
from ._options import _context_bias, check_language, check_model_kind
from ._realtime_vad import sample_width

AudioSource = Union[
    str,
    "os.PathLike[str]",
    bytes,
    bytearray,
    memoryview,
    IO[bytes],
    Iterable[bytes],
    AsyncIterable[bytes],
]
"""What a realtime session takes as audio (``send_audio``, ``stream_realtime``): encoded
audio in any format PyAV decodes, or raw PCM marked by :class:`RawPCM`."""


@dataclass(frozen=True)
class RawPCM:
    """Marks ``source`` as raw PCM already in the session's format (mono, its rate and
    encoding): it is re-chunked on sample boundaries and paced, never decoded.

    For a microphone or a telephony stream: ``client.stream_realtime(RawPCM(chunks))``.
    Encoded audio from an iterator is probed by FFmpeg first, which may wait for
    seconds of it; raw PCM starts at once.

    ``source`` is any :data:`AudioSource` (a ``.raw`` path, bytes, a file, an iterator).
    """

    source: AudioSource


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


@dataclass(frozen=True)
class TurnDetection:
    """Server-side turn detection (Realtime 3), with the SDK's defaults.

    Thresholds are probabilities: ``start_threshold >= eager_end_threshold >
    end_threshold``. A turn ends after ``min_silence_ms`` below ``end_threshold``, or
    at the latest after ``end_timeout_ms`` (``None``: no limit), never before
    ``min_silence_ms``.
    """

    start_threshold: float = 0.5
    eager_end_threshold: float = 0.5
    end_threshold: float = 0.33
    min_silence_ms: int = 500
    end_timeout_ms: int | None = None

    def __post_init__(self) -> None:
        for name in ("start_threshold", "eager_end_threshold", "end_threshold"):
            value = getattr(self, name)
            if not _number(value) or not 0 <= value <= 1:
                raise InvalidInputError(
                    f"`turn_detection.{name}`={value!r} must be a number from 0 to 1.",
                    argument="turn_detection",
                )
        if not self.start_threshold >= self.eager_end_threshold > self.end_threshold:
            raise InvalidInputError(
                "`turn_detection` thresholds must satisfy start_threshold >= "
                f"eager_end_threshold > end_threshold; got {self.start_threshold}, "
                f"{self.eager_end_threshold}, {self.end_threshold}.",
                argument="turn_detection",
            )
        for name in ("min_silence_ms", "end_timeout_ms"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidInputError(
                    f"`turn_detection.{name}`={value!r} must be a whole number of milliseconds.",
                    argument="turn_detection",
                )
        if self.min_silence_ms < 0 or (
            self.end_timeout_ms is not None and self.end_timeout_ms < self.min_silence_ms
        ):
            raise InvalidInputError(
                f"`turn_detection.end_timeout_ms`={self.end_timeout_ms} must be at least "
                f"min_silence_ms={self.min_silence_ms} (and both >= 0).",
                argument="turn_detection",
            )

    def wire(self) -> dict[str, Any]:
        fields = {
            "start_threshold": self.start_threshold,
            "eager_end_threshold": self.eager_end_threshold,
            "end_threshold": self.end_threshold,
            "min_silence_ms": self.min_silence_ms,
        }
        if self.end_timeout_ms is not None:
            fields["end_timeout_ms"] = self.end_timeout_ms
        return fields


@dataclass(frozen=True)
class RealtimeOptions:
    """What one realtime session asks for; construct with :func:`realtime_options`."""

    model: str
    encoding: str
    sample_rate: int
    target_streaming_delay_ms: int | None = None
    language: str | None = None
    context_bias: tuple[str, ...] = ()
    diarize: bool | None = None
    speaker_references: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    turn_detection: TurnDetection | None = None

    @property
    def sample_width(self) -> int:
        return REALTIME_ENCODINGS[self.encoding]

    @property
    def bytes_per_second(self) -> int:
        return self.sample_width * self.sample_rate

    def seconds(self, byte_count: int) -> float:
        return byte_count / self.bytes_per_second

    def v3_fields(self) -> dict[str, Any]:
        """The Realtime 3 session fields that are set, as the API names them."""
        fields: dict[str, Any] = {}
        if self.language is not None:
            fields["language"] = self.language
        if self.context_bias:
            fields["context_bias"] = list(self.context_bias)
        if self.diarize is not None:
            fields["diarize"] = self.diarize
        if self.speaker_references:
            fields["speaker_references"] = dict(self.speaker_references)
        if self.turn_detection is not None:
            fields["turn_detection"] = self.turn_detection.wire()
        return fields


REALTIME_OPTIONS: tuple[str, ...] = tuple(RealtimeOptions.__dataclass_fields__)
"""The realtime options by name: the table the public signatures are read by."""


def realtime_options(
    *,
    model: str,
    encoding: str,
    sample_rate: int,
    target_streaming_delay_ms: int | None = None,
    language: str | None = None,
    context_bias: Sequence[str] | None = None,
    diarize: bool | None = None,
    speaker_references: Mapping[str, str] | None = None,
    turn_detection: TurnDetection | Mapping[str, Any] | bool | None = None,
) -> RealtimeOptions:
    """Check the options against the model's capabilities; raise ``InvalidInputError``.

    ``turn_detection`` is a :class:`TurnDetection`, a mapping of its fields, or
    ``True`` for the defaults.
    """
    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError("`model` must be a non-empty model id.", argument="model")
    sample_width(encoding)  # an unknown encoding is refused there
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, int)
        or not MIN_REALTIME_SAMPLE_RATE <= sample_rate <= MAX_REALTIME_SAMPLE_RATE
    ):
        raise InvalidInputError(
            f"`sample_rate`={sample_rate!r} must be a whole number of Hz from "
            f"{MIN_REALTIME_SAMPLE_RATE} to {MAX_REALTIME_SAMPLE_RATE} (16000 is usual).",
            argument="sample_rate",
        )
    check_model_kind(model, "realtime")
    capabilities = REALTIME_MODELS.get(model, DEFAULT_REALTIME_CAPABILITIES)
    _check_delay(target_streaming_delay_ms, capabilities, model)
    check_language(language)
    if diarize is not None and not isinstance(diarize, bool):
        raise InvalidInputError(f"`diarize`={diarize!r} must be True or False.", argument="diarize")
    turns = _turn_detection(turn_detection)
    references = _speaker_references(speaker_references)
    options = RealtimeOptions(
        model=model,
        encoding=encoding,
        sample_rate=sample_rate,
        target_streaming_delay_ms=target_streaming_delay_ms,
        language=language.lower() if language else None,
        context_bias=_context_bias(context_bias),
        diarize=diarize,
        speaker_references=references,
        turn_detection=turns,
    )
    v3 = options.v3_fields()
    if v3 and not capabilities.v3_fields:
        names = ", ".join(f"`{name}`" for name in v3)
        raise InvalidInputError(
            f"{names} need a Realtime 3 model; {model!r} has none of the Realtime 3 session "
            "fields. Use model='voxtral-mini-transcribe-realtime-3-0', or drop them.",
            argument=next(iter(v3)),
        )
    if diarize and turns is not None:
        raise InvalidInputError(
            "`diarize` is not compatible with `turn_detection` (the server refuses the pair): "
            "drop one; with diarize, flush on local end of speech instead.",
            argument="diarize",
        )
    if references and not diarize:
        raise InvalidInputError(
            "`speaker_references` requires `diarize=True`.", argument="speaker_references"
        )
    return options


def check_patience(done_timeout: object, stall_timeout: object, max_reconnects: object) -> int:
    """Check how long a session waits and how often it reconnects (``InvalidInputError``
    naming the option); the number of reconnections, as checked."""
    for name, value in (("done_timeout", done_timeout), ("stall_timeout", stall_timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise InvalidInputError(
                f"`{name}`={value!r} must be a number of seconds > 0.", argument=name
            )
    if (
        isinstance(max_reconnects, bool)
        or not isinstance(max_reconnects, int)
        or max_reconnects < 0
    ):
        raise InvalidInputError(
            f"`max_reconnects`={max_reconnects!r} must be a whole number >= 0.",
            argument="max_reconnects",
        )
    return max_reconnects


def _check_delay(delay: int | None, capabilities: RealtimeCapabilities, model: str) -> None:
    if delay is None:
        return
    low, high = capabilities.delays_ms
    step = capabilities.delay_step_ms
    whole = not isinstance(delay, bool) and isinstance(delay, int)
    in_range = whole and low <= delay <= high and (step is None or delay % step == 0)
    if whole and (in_range or delay in capabilities.extra_delays_ms):
        return
    accepted = f"{low} to {high} ms" + (f" in steps of {step}" if step else "")
    accepted += "".join(f", or {extra}" for extra in capabilities.extra_delays_ms)
    raise InvalidInputError(
        f"`target_streaming_delay_ms`={delay!r} is not accepted by {model!r}: use {accepted} "
        "(480 is recommended), or leave it unset.",
        argument="target_streaming_delay_ms",
    )


def _turn_detection(value: TurnDetection | Mapping[str, Any] | bool | None) -> TurnDetection | None:
    if value is None or value is False:
        return None
    if value is True:
        return TurnDetection()
    if isinstance(value, TurnDetection):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(TurnDetection.__dataclass_fields__))
        if unknown:
            raise InvalidInputError(
                f"`turn_detection` has unknown fields {unknown}; use "
                f"{', '.join(TurnDetection.__dataclass_fields__)}.",
                argument="turn_detection",
            )
        return TurnDetection(**value)
    raise InvalidInputError(
        f"`turn_detection` must be a TurnDetection, a mapping or True, got {type(value).__name__}.",
        argument="turn_detection",
    )


def _speaker_references(value: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping) or not all(
        isinstance(name, str) and name and isinstance(audio, str) and audio
        for name, audio in value.items()
    ):
        raise InvalidInputError(
            "`speaker_references` must map each speaker's name to base64 audio of them.",
            argument="speaker_references",
        )
    return tuple(value.items())
