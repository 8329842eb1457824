"""Loudness of raw PCM and local end-of-speech detection for realtime sessions.

A session without server-side turn detection (vLLM, Mistral before Realtime 3, or
Realtime 3 with ``turn_detection`` off) is only told the final text of a turn when
the client flushes. :class:`LoudnessVAD` tells it when: it measures the loudness of
every 10 ms hop, as the long-audio cutter does to find pauses (``_chunking``), and
reports the end of speech once enough silence followed it. Anything with the same
``feed`` method (:class:`VoiceActivityDetector`) can replace it, for example a
wrapper around Silero VAD for noisy rooms where loudness is not enough.
:func:`speech_span` measures loudness the same way for the turns, which time an
utterance by it when the server gives no times, and tell a stall from silence by it.

Pure: bytes in, seconds out, no PyAV and no clock. Times count from the first
sample fed, in the session's own samples, so they do not drift however long the
session runs and do not depend on how the audio was split into feeds.
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ._chunking import LEVEL_HOP_SECONDS, rms_levels
from ._constants import (
    REALTIME_ENCODINGS,
    REALTIME_SPEECH_LEVEL,
    VAD_MIN_SILENCE_SECONDS,
    VAD_MIN_SPEECH_SECONDS,
    VAD_THRESHOLD,
)
from ._exceptions import InvalidInputError


@runtime_checkable
class VoiceActivityDetector(Protocol):
    """What a realtime session asks of an end-of-speech detector.

    ``feed`` receives every byte of session PCM sent, in order (chunks of any size,
    not necessarily whole samples), and returns the stream times, in seconds from
    the first byte fed, at which speech ended, each once, as soon as it knows. The
    session flushes the turn for each (``end_of_speech=`` of ``client.realtime``).
    A detector that needs its own sample rate or format resamples internally.
    """

    def feed(self, pcm: bytes) -> list[float]: ...


def sample_width(encoding: str) -> int:
    """Bytes per sample of a realtime ``encoding``; ``InvalidInputError`` for an unknown one."""
    try:
        return REALTIME_ENCODINGS[encoding]
    except KeyError:
        raise InvalidInputError(
            f"encoding={encoding!r} is not a realtime audio encoding; use one of "
            f"{', '.join(REALTIME_ENCODINGS)} (raw mono PCM).",
            argument="encoding",
        ) from None


def _g711_tables(decode: dict[int, int]) -> tuple[bytes, bytes]:
    low = bytes(decode[code] & 0xFF for code in range(256))
    high = bytes((decode[code] >> 8) & 0xFF for code in range(256))
    return low, high


def _mulaw(code: int) -> int:
    code = ~code & 0xFF
    magnitude = ((((code & 0x0F) << 3) + 0x84) << ((code >> 4) & 7)) - 0x84
    return -magnitude if code & 0x80 else magnitude


def _alaw(code: int) -> int:
    code ^= 0x55
    exponent, mantissa = (code >> 4) & 7, code & 0x0F
    segment_base = 8 if exponent == 0 else 0x108
    magnitude = ((mantissa << 4) + segment_base) << max(0, exponent - 1)
    return magnitude if code & 0x80 else -magnitude


_G711 = {  # encoding -> (low bytes, high bytes) of each code's s16 value, for bytes.translate
    "pcm_mulaw": _g711_tables({code: _mulaw(code) & 0xFFFF for code in range(256)}),
    "pcm_alaw": _g711_tables({code: _alaw(code) & 0xFFFF for code in range(256)}),
}


def linear(pcm: bytes, encoding: str) -> tuple[Sequence[float], float]:
    """``pcm`` (whole samples) as numbers, with their full scale.

    G.711 codes become s16 through two ``bytes.translate`` tables (C speed, no
    ``audioop``, which Python 3.13 removed); half floats go through ``struct``.
    """
    if encoding in _G711:
        low, high = _G711[encoding]
        wide = bytearray(2 * len(pcm))
        wide[0::2], wide[1::2] = pcm.translate(low), pcm.translate(high)
        pcm, encoding = bytes(wide), "pcm_s16le"
    if encoding == "pcm_f16le":
        return struct.unpack(f"<{len(pcm) // 2}e", pcm), 1.0
    typecode, scale = {
        "pcm_s16le": ("h", 32768.0),
        "pcm_s32le": ("i", 2147483648.0),
        "pcm_f32le": ("f", 1.0),
    }[encoding]
    samples = array(typecode, pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples, scale


def speech_span(pcm: bytes, encoding: str, frame_bytes: int) -> tuple[int, int] | None:
    """Where in ``pcm`` speech is, as (first, end) byte offsets of whole frames, or ``None``.

    A frame is speech when its RMS level (measured as :class:`LoudnessVAD` measures a
    hop) reaches ``REALTIME_SPEECH_LEVEL``: enough to time a turn and to tell silence,
    which rightly gets no events, from speech that should.
    """
    width = sample_width(encoding)
    samples, scale = linear(pcm[: len(pcm) - len(pcm) % width], encoding)
    per_frame = max(1, frame_bytes // width)
    levels = rms_levels(samples, per_frame, scale)
    loud = [index for index, level in enumerate(levels) if level >= REALTIME_SPEECH_LEVEL]
    if not loud:
        return None
    return loud[0] * per_frame * width, min((loud[-1] + 1) * per_frame, len(samples)) * width


class LoudnessVAD:
    """End of speech from loudness alone: a loud hop is speech, a quiet one is not.

    A turn starts at the first hop louder than ``threshold`` (RMS, fraction of full
    scale); quiet stretches shorter than ``min_silence_seconds`` stay inside it.
    Once a turn held ``min_speech_seconds`` of loud hops and then
    ``min_silence_seconds`` of quiet ones, :meth:`feed` reports the end of its last
    loud hop. Shorter turns (a click) are dropped without a report.
    """

    def __init__(
        self,
        sample_rate: int,
        encoding: str = "pcm_s16le",
        *,
        threshold: float = VAD_THRESHOLD,
        min_silence_seconds: float = VAD_MIN_SILENCE_SECONDS,
        min_speech_seconds: float = VAD_MIN_SPEECH_SECONDS,
    ) -> None:
        if sample_rate <= 0:
            raise InvalidInputError(
                f"sample_rate={sample_rate!r} must be a positive number of samples per second.",
                argument="sample_rate",
            )
        if not threshold > 0 or min_silence_seconds <= 0 or min_speech_seconds < 0:
            raise InvalidInputError(
                "LoudnessVAD needs threshold > 0, min_silence_seconds > 0 and "
                f"min_speech_seconds >= 0 (got {threshold!r}, {min_silence_seconds!r}, "
                f"{min_speech_seconds!r}).",
                argument="end_of_speech",
            )
        self.sample_rate = sample_rate
        self.encoding = encoding
        self.threshold = threshold
        self._width = sample_width(encoding)
        self._hop = max(1, round(sample_rate * LEVEL_HOP_SECONDS))
        self._hop_bytes = self._hop * self._width
        self._min_silence = max(1, math.ceil(min_silence_seconds * sample_rate / self._hop))
        self._min_speech = max(1, math.ceil(min_speech_seconds * sample_rate / self._hop))
        self._pending = b""
        self._hops = 0  # hops measured so far
        self._loud = 0  # loud hops in the current turn
        self._quiet = 0  # quiet hops since the turn's last loud one

    def __repr__(self) -> str:
        return (
            f"LoudnessVAD(sample_rate={self.sample_rate}, encoding={self.encoding!r}, "
            f"threshold={self.threshold})"
        )

    @property
    def in_speech(self) -> bool:
        """Whether a turn long enough to report is under way (its end not yet reported)."""
        return self._loud >= self._min_speech

    def feed(self, pcm: bytes) -> list[float]:
        data = self._pending + bytes(pcm)
        whole = len(data) - len(data) % self._hop_bytes
        self._pending = data[whole:]
        if not whole:
            return []
        samples, scale = linear(data[:whole], self.encoding)
        ends = []
        for level in rms_levels(samples, self._hop, scale):
            self._hops += 1
            if level >= self.threshold:
                self._loud += 1
                self._quiet = 0
            elif self._loud:
                self._quiet += 1
                if self._quiet >= self._min_silence:
                    if self._loud >= self._min_speech:
                        ends.append(self._seconds(self._hops - self._quiet))
                    self._loud = self._quiet = 0
        return ends

    def finish(self) -> float | None:
        """The end of a turn still open when the stream ends (``None`` if none is).

        For the session's ``end()``: the audio stopped before enough silence followed.
        """
        if self._loud < self._min_speech:
            return None
        end = self._seconds(self._hops - self._quiet)
        self._loud = self._quiet = 0
        return end

    def _seconds(self, hops: int) -> float:
        return hops * self._hop / self.sample_rate
