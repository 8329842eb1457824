"""What one source becomes: raw mono PCM in the session's rate and encoding, piece by piece.

Raw PCM (:class:`RawPCM`) is read as it is; anything else is decoded, downmixed and
resampled by PyAV (``_audio_decode``), then encoded as the session asks (16-bit
floats, mu-law, A-law; little-endian on any machine). A stream cannot seek back, so
its failures say how to make it readable. This runs in a decoding thread
(``_realtime_decoding``), never on the event loop.
"""

from __future__ import annotations

import io
import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ._audio_decode import _audio_stream, _ImportedOnFirstUse, _open_media, _pcm
from ._exceptions import AudioError

if TYPE_CHECKING:
    import av
else:
    av = _ImportedOnFirstUse("av")

_DECODE_FORMATS = {  # session encoding -> PyAV sample format decoded to
    "pcm_s16le": "s16",
    "pcm_s32le": "s32",
    "pcm_f32le": "flt",
    "pcm_f16le": "flt",
    "pcm_mulaw": "s16",
    "pcm_alaw": "s16",
}
_STREAM_HINT = (
    " A stream cannot seek back: an MP4/M4A/MOV must have its index first "
    "(ffmpeg -movflags +faststart), or pass the path or the bytes instead."
)


@dataclass
class _Job:
    media: Any
    kind: str
    name: str
    raw: bool
    sample_rate: int
    encoding: str
    width: int
    chunk_samples: int


def _pieces(media: Any, job: _Job) -> Iterator[bytes]:
    return _raw(media, job) if job.raw else _converted(media, job)


def _raw(media: Any, job: _Job) -> Iterator[bytes]:
    if job.kind == "path":
        with open(media, "rb") as file:
            yield from iter(lambda: file.read(1 << 16), b"")
    elif job.kind == "bytes":
        view = memoryview(media).cast("B")
        for at in range(0, len(view), 1 << 16):
            yield bytes(view[at : at + (1 << 16)])
    else:
        yield from iter(lambda: media.read(1 << 16), b"")


def _converted(media: Any, job: _Job) -> Iterator[bytes]:
    """Decode, downmix and resample ``media`` to the session's rate and encoding."""
    if job.kind == "bytes":
        media = io.BytesIO(media)
    hint = _STREAM_HINT if job.kind == "stream" else ""
    with _open_media(media, job.name, hint) as container:
        stream = _audio_stream(container, job.name)
        origin = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        pieces = _pcm(
            container,
            stream,
            0.0,
            None,
            job.sample_rate,
            name=job.name,
            origin=origin,
            seek=False,
            sample_format=_DECODE_FORMATS[job.encoding],
        )
        try:
            yield from _encoded(pieces, job)
        except AudioError as exc:
            if not hint or exc.source != job.name:
                raise
            raise AudioError(f"{exc}{hint}", source=job.name) from exc


def _encoded(pieces: Iterator[bytes], job: _Job) -> Iterator[bytes]:
    if job.encoding == "pcm_f16le":
        for piece in pieces:
            floats = array("f", piece)
            yield struct.pack(f"<{len(floats)}e", *floats)
    elif job.encoding in ("pcm_mulaw", "pcm_alaw"):
        encoder = cast("av.AudioCodecContext", av.CodecContext.create(job.encoding, "w"))
        encoder.sample_rate, encoder.layout, encoder.format = job.sample_rate, "mono", "s16"
        for piece in pieces:
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(piece) // 2)
            frame.planes[0].update(piece)
            frame.sample_rate = job.sample_rate
            yield b"".join(bytes(packet) for packet in encoder.encode(frame))
    elif sys.byteorder == "big":
        for piece in pieces:
            samples = array("h" if job.width == 2 else "i", piece)
            samples.byteswap()
            yield samples.tobytes()
    else:
        yield from pieces
