"""Any audio source as the realtime session's PCM, chunk by chunk, at real-time pace.

:func:`pcm_chunks` takes a path, bytes, a binary file, or a sync or async iterable
of bytes, in any format PyAV decodes, and yields raw mono PCM in the session's
rate and encoding, each chunk a whole number of samples. A 3-hour file is never
decoded whole: it is decoded ahead by at most a few blocks
(:data:`REALTIME_DECODE_BLOCK_SECONDS`) in a thread (``_realtime_decoding``),
converted there (``_realtime_pcm``), and handed to the event loop, which never
waits on FFmpeg.

Pacing: the server expects audio no faster than it is spoken, so a file is sent at
real-time pace: chunk *k* leaves no earlier than ``start + samples_before_k /
rate``. Every chunk is scheduled against the start, not after the previous sleep,
so oversleeping never accumulates over hours. A live iterator (a microphone) is
paced by its producer and is not slowed down again.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from ._constants import REALTIME_CHUNK_SECONDS, REALTIME_DECODE_BLOCK_SECONDS
from ._exceptions import AudioError, InvalidInputError
from ._realtime_decoding import _DECODER, _END, _FileSource, _Handoff, _Pipe, _work
from ._realtime_pcm import _Job
from ._realtime_protocol import AudioSource, RawPCM
from ._realtime_vad import sample_width


def pcm_chunks(
    source: AudioSource | RawPCM,
    *,
    sample_rate: int,
    encoding: str = "pcm_s16le",
    realtime: bool | None = None,
    chunk_seconds: float = REALTIME_CHUNK_SECONDS,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[bytes]:
    """``source`` as chunks of raw mono PCM at ``sample_rate`` in ``encoding``.

    Each chunk holds ``chunk_seconds`` of audio (the last one may hold less), a whole
    number of samples. ``realtime`` paces the chunks at the speed of speech; by
    default files, paths and bytes are paced and iterators (live sources, paced by
    their producer) are not. ``sleep`` and ``clock`` are the pacing's seams.

    The arguments and a path are checked here; an undecodable source raises
    :class:`AudioError` from the first ``__anext__``, before any chunk is yielded.
    """
    width = sample_width(encoding)
    if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate <= 0:
        raise InvalidInputError(
            f"sample_rate={sample_rate!r} must be a positive whole number of samples per second.",
            argument="sample_rate",
        )
    chunk_samples = round(chunk_seconds * sample_rate) if chunk_seconds > 0 else 0
    if chunk_samples < 1:
        raise InvalidInputError(
            f"chunk_seconds={chunk_seconds!r} must hold at least one sample at {sample_rate} Hz.",
            argument="chunk_seconds",
        )
    raw = isinstance(source, RawPCM)
    media = source.source if isinstance(source, RawPCM) else source
    kind, name = _kind(media)
    if realtime is None:
        realtime = kind != "stream"
    job = _Job(media, kind, name, raw, sample_rate, encoding, width, chunk_samples)
    return _paced(job, realtime, sleep, clock)


def _kind(source: object) -> tuple[str, str]:
    """``("path" | "bytes" | "file" | "stream", printable name)``; checks a path exists."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise AudioError(
                f"{str(path)!r} does not exist. Check the path (relative paths start at "
                f"{os.getcwd()!r}).",
                source=str(path),
            )
        if not path.is_file():
            raise AudioError(
                f"{str(path)!r} is not a file. Pass an audio file, not a directory.",
                source=str(path),
            )
        return "path", str(path)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise AudioError("The audio bytes are empty: nothing to send.", source="<bytes>")
        return "bytes", "<bytes>"
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        label = name if isinstance(name, str) else f"<{type(source).__name__}>"
        seekable = getattr(source, "seekable", None)
        return ("file" if callable(seekable) and seekable() else "stream"), label
    if isinstance(source, (AsyncIterable, Iterable)):
        return "stream", f"<{type(source).__name__}>"
    raise AudioError(
        f"Cannot read audio from a {type(source).__name__}. Pass a path, bytes, a binary "
        "file, or a sync or async iterable of bytes.",
        source=repr(type(source).__name__),
    )


async def _paced(
    job: _Job,
    realtime: bool,
    sleep: Callable[[float], Awaitable[Any]],
    clock: Callable[[], float],
) -> AsyncIterator[bytes]:
    chunk_bytes = job.chunk_samples * job.width
    loop = asyncio.get_running_loop()
    handoff: _Handoff | _FileSource
    pipe: _Pipe | None = None
    if job.kind == "stream":  # blocking reads: a thread of its own
        handoff = _Handoff(loop)
        pipe = _Pipe(job.media, job.name, loop)
        threading.Thread(
            target=_work, args=(job, pipe, chunk_bytes, handoff), name="voxtral-audio", daemon=True
        ).start()
    else:  # a file: the process's decoding thread, in large blocks, few hand-offs
        seconds = round(REALTIME_DECODE_BLOCK_SECONDS * job.sample_rate) * job.width
        block = max(chunk_bytes, seconds - seconds % chunk_bytes)
        handoff = _FileSource(job, loop, realtime, block)
        _DECODER.add(handoff)
    sent = 0  # samples yielded
    start: float | None = None
    buffer = b""
    try:
        while True:
            item = await handoff.get()
            if isinstance(item, BaseException):
                raise item
            final = item is _END
            buffer = buffer + item if isinstance(item, bytes) else buffer
            at = 0
            while len(buffer) - at >= chunk_bytes or (final and at < len(buffer)):
                chunk = buffer[at : at + chunk_bytes]
                at += len(chunk)
                if realtime:
                    now = clock()
                    if start is None:
                        start = now
                    delay = start + sent / job.sample_rate - now
                    if delay > 0:
                        await sleep(delay)
                sent += len(chunk) // job.width
                yield chunk
            buffer = buffer[at:]
            if final:
                return
    finally:
        handoff.close()
        if pipe is not None:
            pipe.close()
