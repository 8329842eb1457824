"""Local end-of-speech detection and the PCM arithmetic under it (pure, no PyAV)."""

from __future__ import annotations

import math
import random
import struct
from array import array

import pytest

from tests.support.audio_factory import pcm_as, speech_pcm
from voxtral_integrations._chunking import rms_levels
from voxtral_integrations._constants import REALTIME_ENCODINGS, VAD_MIN_SILENCE_SECONDS
from voxtral_integrations._exceptions import InvalidInputError
from voxtral_integrations._realtime_vad import (
    LoudnessVAD,
    VoiceActivityDetector,
    linear,
    sample_width,
    speech_span,
)

REGIONS = [(0.4, 1.9), (2.2, 3.0), (4.1, 6.35), (7.5, 7.56), (8.0, 9.2)]
"""Speech; the pause at 1.9-2.2 is shorter than min_silence; 7.5-7.56 is a click."""
DURATION = 10.0
TRUE_ENDS = [3.0, 6.35, 9.2]


def _ends(vad: LoudnessVAD, pcm: bytes, splits: list[int] | None = None) -> list[float]:
    if splits is None:
        return vad.feed(pcm)
    ends: list[float] = []
    for lo, hi in zip([0, *splits], [*splits, len(pcm)], strict=True):
        ends += vad.feed(pcm[lo:hi])
    return ends


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
def test_speech_ends_are_found_within_20_ms(rate: int) -> None:
    ends = LoudnessVAD(rate).feed(speech_pcm(REGIONS, DURATION, rate))
    assert len(ends) == len(TRUE_ENDS)
    for found, truth in zip(ends, TRUE_ENDS, strict=True):
        assert abs(found - truth) <= 0.02


def test_an_end_is_reported_only_once_the_silence_has_lasted() -> None:
    pcm = speech_pcm([(0.5, 1.5)], 3.0)
    vad = LoudnessVAD(16000)
    detected = round((1.5 + VAD_MIN_SILENCE_SECONDS) * 16000) * 2
    assert vad.feed(pcm[: detected - 3200]) == []
    assert vad.in_speech
    (end,) = vad.feed(pcm[detected - 3200 : detected + 3200])
    assert abs(end - 1.5) <= 0.02
    assert not vad.in_speech
    assert vad.feed(pcm[detected + 3200 :]) == []


@pytest.mark.parametrize("seed", range(5))
def test_feeding_at_random_byte_boundaries_gives_the_same_times(seed: int) -> None:
    pcm = speech_pcm(REGIONS, DURATION)
    rng = random.Random(seed)
    splits = sorted(rng.sample(range(1, len(pcm)), 400))
    whole = _ends(LoudnessVAD(16000), pcm)
    assert _ends(LoudnessVAD(16000), pcm, splits) == whole
    assert _ends(LoudnessVAD(16000), pcm, list(range(1, len(pcm), 333))) == whole


def test_speech_running_at_the_end_of_the_stream_is_finished() -> None:
    vad = LoudnessVAD(16000)
    assert vad.feed(speech_pcm([(0.3, 2.0)], 2.0)) == []
    end = vad.finish()
    assert end is not None and abs(end - 2.0) <= 0.02
    assert vad.finish() is None


def test_a_click_is_not_speech_and_silence_reports_nothing() -> None:
    assert LoudnessVAD(16000).feed(speech_pcm([(1.0, 1.05)], 3.0)) == []
    assert LoudnessVAD(16000).feed(bytes(16000 * 2 * 5)) == []


def test_min_silence_and_threshold_are_the_callers_to_set() -> None:
    pcm = speech_pcm(REGIONS, DURATION)
    assert len(LoudnessVAD(16000, min_silence_seconds=0.2).feed(pcm)) == 4  # 1.9-2.2 ends too
    assert LoudnessVAD(16000, threshold=0.99).feed(pcm) == []


def _as(encoding: str, pcm: bytes) -> bytes:
    values = array("h", pcm)
    if encoding == "pcm_s32le":
        return array("i", [v << 16 for v in values]).tobytes()
    if encoding == "pcm_f32le":
        return array("f", [v / 32768 for v in values]).tobytes()
    if encoding == "pcm_f16le":
        return struct.pack(f"<{len(values)}e", *(v / 32768 for v in values))
    return pcm


@pytest.mark.parametrize("encoding", ["pcm_s16le", "pcm_s32le", "pcm_f32le", "pcm_f16le"])
def test_every_linear_encoding_is_heard_the_same(encoding: str) -> None:
    pcm = speech_pcm(REGIONS, DURATION)
    expected = LoudnessVAD(16000).feed(pcm)
    assert LoudnessVAD(16000, encoding).feed(_as(encoding, pcm)) == expected


def test_g711_codes_decode_to_their_standard_values() -> None:
    mulaw, _ = linear(bytes([0xFF, 0x7F, 0x00, 0x80, 0xEF]), "pcm_mulaw")
    assert list(mulaw) == [0, 0, -32124, 32124, 132]
    alaw, _ = linear(bytes([0xD5, 0x55, 0xAA, 0x2A]), "pcm_alaw")
    assert list(alaw) == [8, -8, 32256, -32256]


def test_levels_are_the_rms_of_each_hop_relative_to_full_scale() -> None:
    sine = [math.sin(2 * math.pi * i / 40) * 16384 for i in range(1600)]
    levels = rms_levels(sine, 160, 32768.0)
    assert len(levels) == 10
    assert all(abs(level - 0.5 / math.sqrt(2)) < 1e-9 for level in levels)
    assert rms_levels([3.0] * 5, 4) == [3.0, 3.0]


@pytest.mark.parametrize("encoding", list(REALTIME_ENCODINGS))
def test_speech_span_finds_the_loud_frames_in_every_encoding(encoding: str) -> None:
    width = REALTIME_ENCODINGS[encoding]
    frame = 320 * width  # 20 ms at 16 kHz
    quiet = pcm_as(struct.pack("<320h", *[40, -40] * 160), encoding)  # -58 dBFS
    tone = [round(8000 * math.sin(2 * math.pi * i / 32)) for i in range(320)]
    loud = pcm_as(struct.pack("<320h", *tone), encoding)
    assert speech_span(quiet * 3, encoding, frame) is None
    assert speech_span(quiet + loud + quiet + loud + quiet, encoding, frame) == (frame, 4 * frame)
    assert speech_span(loud[: width * 100], encoding, frame) == (0, width * 100)  # a part frame
    assert speech_span(b"", encoding, frame) is None


def test_widths_and_bad_settings() -> None:
    assert {e: sample_width(e) for e in REALTIME_ENCODINGS} == REALTIME_ENCODINGS
    with pytest.raises(InvalidInputError, match=r"pcm_s24le.*pcm_s16le"):
        sample_width("pcm_s24le")
    with pytest.raises(InvalidInputError, match="sample_rate"):
        LoudnessVAD(0)
    with pytest.raises(InvalidInputError, match="min_silence_seconds"):
        LoudnessVAD(16000, min_silence_seconds=0)
    assert isinstance(LoudnessVAD(16000), VoiceActivityDetector)
    assert "16000" in repr(LoudnessVAD(16000))
