"""Test audio made on the spot with PyAV: speech-like bursts between pauses, any format.

A "burst" is a few harmonics under a syllable-rate envelope plus a little noise,
loud enough for any pause detector and easy to locate again after a round trip
through a lossy codec. Silence is digital zero. Everything is deterministic.
"""

from __future__ import annotations

import io
import math
import random
from array import array
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, NamedTuple

import av
import numpy as np

RATE = 16000


def _burst(seconds: float, rate: int, seed: int) -> bytes:
    rng = random.Random(seed)
    count = round(seconds * rate)
    pitch = 110 + 40 * rng.random()
    samples = array("h", bytes(2 * count))
    for i in range(count):
        t = i / rate
        envelope = 0.55 + 0.45 * math.sin(2 * math.pi * 4 * t)  # ~4 syllables a second
        tone = sum(math.sin(2 * math.pi * pitch * k * t) / k for k in (1, 2, 3))
        samples[i] = int(7000 * envelope * tone + rng.uniform(-300, 300))
    return samples.tobytes()


def speech_pcm(regions: Sequence[tuple[float, float]], duration: float, rate: int = RATE) -> bytes:
    """Mono s16 PCM: bursts over ``regions`` (seconds), digital silence elsewhere."""
    total = round(duration * rate)
    pcm = bytearray(2 * total)
    burst = _burst(1.0, rate, seed=7)  # one second, reused: generating hours stays fast
    for start, end in regions:
        first, last = round(start * rate), min(round(end * rate), total)
        position = first
        while position < last:
            take = min(last - position, len(burst) // 2)
            pcm[2 * position : 2 * (position + take)] = burst[: 2 * take]
            position += take
    return bytes(pcm)


# name -> (container format, codec, sample rate, suffix)
FORMATS: dict[str, tuple[str, str, int, str]] = {
    "wav": ("wav", "pcm_s16le", 16000, ".wav"),
    "mp3": ("mp3", "libmp3lame", 44100, ".mp3"),
    "flac": ("flac", "flac", 16000, ".flac"),
    "ogg-opus": ("ogg", "libopus", 48000, ".ogg"),
    "webm": ("webm", "libopus", 48000, ".webm"),
    "m4a": ("ipod", "aac", 44100, ".m4a"),
    "aac": ("adts", "aac", 16000, ".aac"),  # raw AAC: nothing marks the priming
    "mp4": ("mp4", "aac", 44100, ".mp4"),
    "mov": ("mov", "aac", 44100, ".mov"),
    "mkv": ("matroska", "aac", 44100, ".mkv"),
    "aiff": ("aiff", "pcm_s16be", 22050, ".aiff"),
    "amr": ("amr", "libopencore_amrnb", 8000, ".amr"),
    "wma": ("asf", "wmav2", 44100, ".wma"),
}


def encode(
    pcm: bytes,
    name: str,
    *,
    rate: int = RATE,
    video: bool = False,
    codec_rate: int | None = None,
    muxer_options: dict[str, str] | None = None,
) -> bytes:
    """``pcm`` (mono s16 at ``rate``) encoded as format ``name`` (a key of FORMATS).

    ``codec_rate`` overrides the format's sample rate; ``muxer_options`` go to
    FFmpeg's muxer (``{"use_editlist": "0"}`` writes an MP4 without the edit list
    that tells decoders to drop AAC's priming samples).
    """
    container_format, codec, default_rate, _ = FORMATS[name]
    codec_rate = codec_rate or default_rate
    output = io.BytesIO()
    with av.open(output, "w", format=container_format, options=muxer_options or {}) as container:
        video_stream = _add_video(container) if video else None
        stream = container.add_stream(codec, rate=codec_rate, layout="mono")
        if codec == "libopencore_amrnb":
            stream.codec_context.bit_rate = 12200
        if codec == "wmav2":
            stream.codec_context.bit_rate = 64000
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=codec_rate
        )
        step = rate // 10
        for offset in range(0, len(pcm) // 2, step):
            piece = pcm[2 * offset : 2 * (offset + step)]
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(piece) // 2)
            frame.planes[0].update(piece)
            frame.sample_rate = rate
            frame.pts = offset
            frame.time_base = Fraction(1, rate)
            for resampled in resampler.resample(frame):
                container.mux(stream.encode(resampled))
        for resampled in resampler.resample(None):
            container.mux(stream.encode(resampled))
        container.mux(stream.encode(None))
        if video_stream is not None:
            _write_video(container, video_stream)
    return output.getvalue()


def _add_video(container: av.container.OutputContainer) -> Any:
    stream = container.add_stream("mpeg4", rate=5)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    return stream


def _write_video(container: av.container.OutputContainer, stream: Any) -> None:
    for index in range(5):
        frame = av.VideoFrame(64, 48, "yuv420p")
        frame.pts = index
        frame.time_base = Fraction(1, 5)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def video_without_audio() -> bytes:
    output = io.BytesIO()
    with av.open(output, "w", format="mp4") as container:
        _write_video(container, _add_video(container))
    return output.getvalue()


# --- Tone speech: words the realtime fake can hear back exactly ---------------------------
#
# Each word of WORDS is a pure sinusoid at ``TONE_BASE + TONE_STEP * index`` Hz; its speaker
# (1..4) is its amplitude, ``SPEAKER_AMPLITUDE * speaker``. Silence between words is digital
# zero. The decoder needs no model: it finds the loud stretches and counts zero crossings.

WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "red", "green", "blue", "white",
    "tower", "river", "stone", "cloud", "north", "south", "east", "west", "one", "two",
]  # fmt: skip
TONE_BASE = 300.0
TONE_STEP = 40.0
SPEAKER_AMPLITUDE = 6000
MAX_SPEAKERS = 4
MIN_WORD_SECONDS = 0.1
"""The shortest word ``tone_speech`` makes: longer than MIN_HEARD_SECONDS, so a whole word is
always heard."""
MIN_GAP_SECONDS = 0.02
MIN_HEARD_SECONDS = 0.06
"""The cut rule: a loud stretch shorter than this is not heard at all; anything longer is heard
as the word its frequency names, with the times of the part that is there. A word cut by a
session boundary therefore counts in a session only if at least 60 ms of it are in it."""
_QUIET = 300
"""|sample| (s16 scale) above which a sample is loud: well above A-law's ±8 silence, well
below the quietest word's amplitude."""


class Heard(NamedTuple):
    start: float
    end: float
    word: str
    speaker: int


Script = Sequence[tuple[float, float, str] | tuple[float, float, str, int]]


def tone_frequency(word: str) -> float:
    return TONE_BASE + TONE_STEP * WORDS.index(word)


def tone_speech(script: Script, duration: float, rate: int = RATE) -> bytes:
    """Mono s16le PCM of ``duration`` seconds: each ``(start, end, word[, speaker])`` of
    ``script`` (seconds, speaker 1..4, default 1) as its tone, digital silence elsewhere."""
    total = round(duration * rate)
    samples = np.zeros(total, dtype=np.float64)
    previous_end = -1.0
    for start, end, word, *rest in sorted(script):
        speaker = rest[0] if rest else 1
        if end - start < MIN_WORD_SECONDS - 1e-9 or start - previous_end < MIN_GAP_SECONDS - 1e-9:
            raise ValueError(f"{word!r} at {start}: words last >= 0.1 s, 0.02 s apart")
        if not 1 <= speaker <= MAX_SPEAKERS:
            raise ValueError(f"speaker {speaker} is not in 1..{MAX_SPEAKERS}")
        first, last = round(start * rate), min(round(end * rate), total)
        t = np.arange(last - first) / rate
        # cos: the first sample is at full amplitude, so a word starts exactly where it says
        samples[first:last] = (
            SPEAKER_AMPLITUDE * speaker * np.cos(2 * np.pi * tone_frequency(word) * t)
        )
        previous_end = end
    return np.round(samples).astype("<i2").tobytes()


def utterance(
    words: Sequence[str], start: float, *, word: float = 0.3, gap: float = 0.1, speaker: int = 1
) -> list[tuple[float, float, str, int]]:
    """A script for ``words`` spoken one after another from ``start``."""
    script, at = [], start
    for text in words:
        script.append((round(at, 6), round(at + word, 6), text, speaker))
        at += word + gap
    return script


def transcript(script: Script) -> str:
    return " ".join(entry[2] for entry in sorted(script))


class WordListener:
    """Hears tone words in PCM fed piece by piece, as the fake server receives it.

    ``feed`` returns the words whose end has arrived (a word ends once a few milliseconds of
    silence follow it); ``finish`` returns the word still sounding when the audio stops (cut
    by a flush or a session boundary). Times are seconds from the first sample fed. Work is
    proportional to the audio fed: only the unfinished tail is looked at again.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._gap = max(2, rate // 200)  # 5 ms: a sinusoid is never near zero that long
        self._pending = np.zeros(0, dtype=np.float64)
        self._offset = 0  # sample index of _pending[0]
        self.received = 0

    @property
    def seconds(self) -> float:
        return self.received / self.rate

    @property
    def sounding_since(self) -> float | None:
        """Start of the word being received, if one is sounding now."""
        loud = np.flatnonzero(np.abs(self._pending) > _QUIET)
        return None if not loud.size else (self._offset + loud[0]) / self.rate

    def feed(self, samples: np.ndarray) -> list[Heard]:
        self._pending = np.concatenate([self._pending, samples.astype(np.float64)])
        self.received += len(samples)
        return self._take(final=False)

    def finish(self) -> list[Heard]:
        heard = self._take(final=True)
        self._pending, self._offset = np.zeros(0), self.received
        return heard

    def _take(self, *, final: bool) -> list[Heard]:
        loud = np.flatnonzero(np.abs(self._pending) > _QUIET)
        if not loud.size:
            self._offset, self._pending = self.received, self._pending[:0]
            return []
        breaks = np.flatnonzero(np.diff(loud) > self._gap)
        starts = np.concatenate([[loud[0]], loud[breaks + 1]])
        ends = np.concatenate([loud[breaks], [loud[-1]]]) + 1
        done = len(starts) if final or len(self._pending) - ends[-1] > self._gap else -1
        heard = [
            h for s, e in zip(starts[:done], ends[:done], strict=True) if (h := self._hear(s, e))
        ]
        keep = len(self._pending) if done == len(starts) else starts[-1]
        self._offset += keep
        self._pending = self._pending[keep:]
        return heard

    def _hear(self, first: int, last: int) -> Heard | None:
        if (last - first) / self.rate < MIN_HEARD_SECONDS:
            return None
        region = self._pending[first:last]
        sign = np.signbit(region)
        crossings = np.flatnonzero(sign[1:] != sign[:-1])
        if len(crossings) < 3:
            return None
        a, b = region[crossings], region[crossings + 1]
        exact = crossings + a / (a - b)  # where the line between the two samples crosses 0
        frequency = (len(exact) - 1) / (2 * (exact[-1] - exact[0]) / self.rate)
        index = round((frequency - TONE_BASE) / TONE_STEP)
        if not 0 <= index < len(WORDS) or abs(frequency - TONE_BASE - TONE_STEP * index) > 8:
            return None
        peak = float(np.sqrt(2 * np.mean(region * region)))
        speaker = min(MAX_SPEAKERS, max(1, round(peak / SPEAKER_AMPLITUDE)))
        start, end = (self._offset + first) / self.rate, (self._offset + last) / self.rate
        return Heard(round(float(start), 4), round(float(end), 4), WORDS[index], speaker)


def heard_speech(pcm: bytes, rate: int = RATE) -> list[Heard]:
    """Every tone word in ``pcm`` (mono s16le), with its speaker."""
    listener = WordListener(rate)
    return listener.feed(np.frombuffer(pcm, dtype="<i2")) + listener.finish()


def heard_words(pcm: bytes, rate: int = RATE) -> list[tuple[float, float, str]]:
    """``(start, end, word)`` of every tone word in ``pcm`` (mono s16le), seconds from its
    first sample; see MIN_HEARD_SECONDS for a word cut at either edge."""
    return [(h.start, h.end, h.word) for h in heard_speech(pcm, rate)]


# --- Sample encodings of the realtime API (AudioEncoding) ----------------------------------

ENCODINGS = ("pcm_s16le", "pcm_s32le", "pcm_f16le", "pcm_f32le", "pcm_mulaw", "pcm_alaw")
SAMPLE_WIDTH = {"pcm_s16le": 2, "pcm_s32le": 4, "pcm_f16le": 2, "pcm_f32le": 4}
_MULAW_BIAS = 0x84


def sample_width(encoding: str) -> int:
    return SAMPLE_WIDTH.get(encoding, 1)


def pcm_as(pcm: bytes, encoding: str) -> bytes:
    """``pcm`` (mono s16le) re-encoded as ``encoding`` (one of ENCODINGS)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.int64)
    if encoding == "pcm_s16le":
        return pcm
    if encoding == "pcm_s32le":
        return (x << 16).astype("<i4").tobytes()
    if encoding in ("pcm_f16le", "pcm_f32le"):
        return (x / 32768.0).astype("<f2" if encoding == "pcm_f16le" else "<f4").tobytes()
    magnitude = np.minimum(np.abs(x), 32635 if encoding == "pcm_mulaw" else 32767)
    if encoding == "pcm_mulaw":
        biased = magnitude + _MULAW_BIAS
        exponent = np.floor(np.log2(biased >> 7 | 1)).astype(np.int64)
        mantissa = (biased >> (exponent + 3)) & 0x0F
        sign = np.where(x < 0, 0x80, 0)
        return (~(sign | exponent << 4 | mantissa) & 0xFF).astype(np.uint8).tobytes()
    if encoding == "pcm_alaw":
        exponent = np.where(
            magnitude >= 256, np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int64) - 7, 0
        )
        mantissa = np.where(exponent > 0, magnitude >> (exponent + 3), magnitude >> 4) & 0x0F
        sign = np.where(x >= 0, 0x80, 0)
        return ((sign | exponent << 4 | mantissa) ^ 0x55).astype(np.uint8).tobytes()
    raise ValueError(f"unknown encoding {encoding!r}")


def samples_of(data: bytes, encoding: str) -> np.ndarray:
    """The samples of ``data`` in ``encoding``, on the s16 scale (float64)."""
    if encoding == "pcm_s16le":
        return np.frombuffer(data, dtype="<i2").astype(np.float64)
    if encoding == "pcm_s32le":
        return np.frombuffer(data, dtype="<i4") / 65536.0
    if encoding in ("pcm_f16le", "pcm_f32le"):
        dtype = "<f2" if encoding == "pcm_f16le" else "<f4"
        return np.frombuffer(data, dtype=dtype).astype(np.float64) * 32768.0
    u = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    if encoding == "pcm_mulaw":
        u = ~u & 0xFF
        magnitude = (((u & 0x0F) << 3) + _MULAW_BIAS << ((u >> 4) & 7)) - _MULAW_BIAS
        return np.where(u & 0x80, -magnitude, magnitude).astype(np.float64)
    if encoding == "pcm_alaw":
        u = u ^ 0x55
        exponent, mantissa = (u >> 4) & 7, u & 0x0F
        magnitude = np.where(
            exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1)
        )
        return np.where(u & 0x80, magnitude, -magnitude).astype(np.float64)
    raise ValueError(f"unknown encoding {encoding!r}")
