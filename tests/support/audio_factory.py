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
from typing import Any

import av

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
