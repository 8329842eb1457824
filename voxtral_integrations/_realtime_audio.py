"""Any audio source as the realtime session's PCM, chunk by chunk, at real-time pace.

:func:`pcm_chunks` takes a path, bytes, a binary file, or a sync or async iterable
of bytes, in any format PyAV decodes, and yields raw mono PCM in the session's
rate and encoding, each chunk a whole number of samples. A 3-hour file is never
decoded whole: it is decoded ahead by at most a few blocks
(:data:`REALTIME_DECODE_BLOCK_SECONDS`), handed to the event loop, which never
waits on FFmpeg. Every file (path, bytes, seekable file) of the process is decoded
by one shared thread (:class:`_Decoder`), so a hundred sessions do not mean a
hundred threads taking the GIL from the event loop. An iterator (a live source,
whose reads may block) has a thread of its own, reaching FFmpeg through a blocking
file-like pipe that pulls the next piece of the iterator only when FFmpeg asks, so
nothing accumulates however fast the producer is.

Pacing: the server expects audio no faster than it is spoken, so a file is sent at
real-time pace: chunk *k* leaves no earlier than ``start + samples_before_k /
rate``. Every chunk is scheduled against the start, not after the previous sleep,
so oversleeping never accumulates over hours. A live iterator (a microphone) is
paced by its producer and is not slowed down again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import os
import struct
import sys
import threading
import time
from array import array
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ._audio_decode import _audio_stream, _ImportedOnFirstUse, _open_media, _pcm
from ._constants import REALTIME_CHUNK_SECONDS, REALTIME_DECODE_BLOCK_SECONDS
from ._exceptions import AudioError, InvalidInputError
from ._realtime_protocol import AudioSource, RawPCM
from ._realtime_vad import sample_width

if TYPE_CHECKING:
    import av
else:
    av = _ImportedOnFirstUse("av")

_END = object()
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


def _pieces(media: Any, job: _Job) -> Iterator[bytes]:
    return _raw(media, job) if job.raw else _converted(media, job)


def _work(job: _Job, pipe: _Pipe, block: int, handoff: _Handoff) -> None:
    """A live stream's decoding thread: chunks of converted PCM to ``handoff``, then ``_END``."""
    try:
        pending = bytearray()
        for piece in _pieces(pipe, job):
            pending += piece
            while len(pending) >= block:
                handoff.put(bytes(pending[:block]))
                del pending[:block]
        whole = len(pending) - len(pending) % job.width
        if whole:
            handoff.put(bytes(pending[:whole]))
        handoff.put(_END)
    except _Closed:
        pass
    except BaseException as exc:  # every failure reaches the consumer
        with contextlib.suppress(_Closed):
            handoff.put(exc)


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


class _Closed(Exception):
    """The consumer went away: the decoding thread stops."""


def _to_loop(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[object], item: object) -> None:
    """``item`` into ``queue`` from a decoding thread; ``_Closed`` once the loop is closed."""
    try:
        loop.call_soon_threadsafe(queue.put_nowait, item)
    except RuntimeError as exc:
        raise _Closed from exc


class _Handoff:
    """Items from the decoding thread to the event loop, at most ``slots`` waiting.

    The thread blocks while the slots are full (back-pressure: bounded memory); the
    loop is woken by ``call_soon_threadsafe`` and never blocks.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, slots: int = 2) -> None:
        self.loop = loop
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._slots = threading.Semaphore(slots)
        self._closed = False

    def put(self, item: object) -> None:
        self._slots.acquire()
        if self._closed:
            raise _Closed
        _to_loop(self.loop, self._queue, item)

    async def get(self) -> object:
        item = await self._queue.get()
        self._slots.release()
        return item

    def close(self) -> None:
        self._closed = True
        self._slots.release()


class _FileSource:
    """A file decoded by the process's :class:`_Decoder`, and its hand-off to the event loop.

    At most ``slots`` blocks wait for the consumer (back-pressure: bounded memory, as
    with a thread of its own); the decoder is asked to fill a free slot when the
    consumer takes a block. The decoding state is touched by the decoder's thread
    only; the counters under the decoder's lock by both.
    """

    def __init__(
        self,
        job: _Job,
        loop: asyncio.AbstractEventLoop,
        realtime: bool,
        block: int,
        slots: int = 2,
    ) -> None:
        self.job = job
        self.loop = loop
        self.realtime = realtime
        self.slots = slots
        self.waiting = 0  # blocks handed off, not yet taken
        self.done = False  # no more decoding: finished, failed or closed
        self.started = False  # the consumer has taken a block
        self.runs_dry = time.monotonic()  # when the consumer will have nothing left
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._queued: collections.deque[float] = collections.deque()  # seconds of each
        self._block = block
        self._pending = bytearray()
        self._pieces: Iterator[bytes] | None = None

    def step(self) -> bool:
        """Decode one piece (a codec frame or so); ``True`` once a block is handed off."""
        try:
            if self._pieces is None:
                self._pieces = _pieces(self.job.media, self.job)
            piece = next(self._pieces, None)
            if piece is None:
                whole = len(self._pending) - len(self._pending) % self.job.width
                if whole:
                    self._put(bytes(self._pending[:whole]))
                self._put(_END)
                self.done = True
                return True
            self._pending += piece
            handed = False
            while len(self._pending) >= self._block:
                self._put(bytes(self._pending[: self._block]))
                del self._pending[: self._block]
                handed = True
            return handed
        except _Closed:
            self.done = True
        except BaseException as exc:  # every failure reaches the consumer
            self.done = True
            with contextlib.suppress(_Closed):
                self._put(exc)
        return True

    def stop(self) -> None:
        """Close the decoder (in the decoder's thread: PyAV's objects stay in one thread)."""
        pieces, self._pieces, self._pending = self._pieces, None, bytearray()
        close = getattr(pieces, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()

    def _put(self, item: object) -> None:
        seconds = (
            len(item) / self.job.width / self.job.sample_rate if isinstance(item, bytes) else 0
        )
        with _DECODER.wakeup:
            self.waiting += 1
            self._queued.append(seconds)
            if self.realtime:
                self.runs_dry += seconds
        _to_loop(self.loop, self._queue, item)

    async def get(self) -> object:
        item = await self._queue.get()
        with _DECODER.wakeup:
            self.waiting -= 1
            self.started = True
            taken = self._queued.popleft()
            ahead = sum(self._queued) + taken if self.realtime else 0.0
            self.runs_dry = time.monotonic() + ahead
            _DECODER.wakeup.notify()
        return item

    def close(self) -> None:
        with _DECODER.wakeup:
            self.done = True
            _DECODER.wakeup.notify()


class _Decoder:
    """The one thread that decodes every file source of the process, a piece at a time.

    PyAV keeps the GIL while it decodes, so a thread per source meant a hundred
    threads taking the GIL from the event loop at once. This one thread serves
    the source that will run dry first among those with a free slot, decodes only
    what a consumer will soon need, and rests after each ``burst`` of work, so the
    event loop waits for the GIL at most about that long. The rest is longer
    (``slack_rest``) while the source served has more than ``slack`` seconds left
    and has started: sessions started together take their blocks together, and
    their next ones are then spread over the following second instead of
    crowding the loop's sending. It ends when no source is left and starts again
    with the next.
    """

    burst = 0.0005
    rest = 0.0005
    slack = 0.5
    slack_rest = 0.002

    def __init__(self) -> None:
        self.wakeup = threading.Condition()
        self._sources: list[_FileSource] = []
        self._thread: threading.Thread | None = None

    def add(self, source: _FileSource) -> None:
        with self.wakeup:
            self._sources.append(source)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="voxtral-audio-decoder", daemon=True
                )
                self._thread.start()
            self.wakeup.notify()

    def _next(self) -> tuple[_FileSource | None, list[_FileSource]]:
        """The most urgent source with room, and those to stop; ``(None, [])`` to end."""
        with self.wakeup:
            while True:
                ended = [s for s in self._sources if s.done or s.loop.is_closed()]
                for source in ended:
                    self._sources.remove(source)
                ready = [s for s in self._sources if s.waiting < s.slots]
                if ready or ended:
                    return min(ready, key=lambda s: s.runs_dry, default=None), ended
                if not self._sources:
                    self._thread = None
                    return None, []
                self.wakeup.wait()

    def _run(self) -> None:
        worked = time.monotonic()
        while True:
            source, ended = self._next()
            for finished in ended:
                finished.stop()
            if source is None:
                if not ended:
                    return
                continue
            urgent = not source.started or source.runs_dry - time.monotonic() < self.slack
            rest = self.rest if urgent or not source.realtime else self.slack_rest
            while not source.done:
                handed = source.step()
                if time.monotonic() - worked >= self.burst:
                    time.sleep(rest)  # the GIL to the event loop
                    worked = time.monotonic()
                if handed:
                    break

    def _forked(self) -> None:
        self.wakeup = threading.Condition()
        self._sources, self._thread = [], None


_DECODER = _Decoder()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_DECODER._forked)


class _Pipe(io.RawIOBase):
    """A blocking, unseekable file over an iterator, read by FFmpeg in the decoding thread.

    A sync iterator is advanced in that thread (it may block, as a socket does); an
    async one on the event loop, one piece per request, so at most one piece is held.
    """

    def __init__(self, source: Any, name: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._name = name
        self._loop = loop
        self._leftover = b""
        self._done = False
        self._closing = False
        self._future: Any = None
        self._sync: Iterator[bytes] | None = None
        self._async: AsyncIterator[bytes] | None = None
        if hasattr(source, "read"):
            self._sync = iter(lambda: source.read(1 << 16), b"")
        elif isinstance(source, AsyncIterable):
            self._async = aiter(source)
        else:
            self._sync = iter(source)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        while not self._leftover and not self._done:
            self._leftover = self._next()
        count = min(len(view), len(self._leftover))
        view[:count] = self._leftover[:count]
        self._leftover = self._leftover[count:]
        return count

    def _next(self) -> bytes:
        if self._closing:  # a source that never ends, while FFmpeg finds no audio in it
            raise _Closed
        try:
            if self._async is not None:
                self._future = asyncio.run_coroutine_threadsafe(_anext(self._async), self._loop)
                piece = self._future.result()
            else:
                assert self._sync is not None
                piece = next(self._sync)
        except (StopIteration, StopAsyncIteration):
            self._done = True
            return b""
        except BaseException as exc:
            if self._closing:
                raise _Closed from exc
            raise AudioError(
                f"{self._name!r} failed while it was being read ({type(exc).__name__}: {exc}). "
                "Fix the source: the audio read so far was sent.",
                source=self._name,
            ) from exc
        if not isinstance(piece, (bytes, bytearray, memoryview)):
            raise AudioError(
                f"{self._name!r} yielded a {type(piece).__name__}; an audio iterator must "
                "yield bytes (encoded audio, or raw PCM wrapped in RawPCM).",
                source=self._name,
            )
        return bytes(piece)

    def close(self) -> None:
        """Stop reading the source: the piece awaited is cancelled, none is asked for again.

        Called from the event loop while the decoding thread may be reading: the flag is
        set first, so a cancelled piece is taken for the close it is, not a failure.
        """
        self._closing = True
        if self._future is not None:
            self._future.cancel()
        super().close()


async def _anext(iterator: AsyncIterator[bytes]) -> bytes:
    return await iterator.__anext__()
