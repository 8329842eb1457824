"""Decoding off the event loop: the threads that turn sources into PCM blocks for it.

The event loop never waits on FFmpeg. Every file (path, bytes, seekable file) of the
process is decoded by one shared thread (:class:`_Decoder`), so a hundred sessions
do not mean a hundred threads taking the GIL from the event loop. An iterator (a
live source, whose reads may block) has a thread of its own, reaching FFmpeg
through a blocking file-like pipe (:class:`_Pipe`) that pulls the next piece of the
iterator only when FFmpeg asks, so nothing accumulates however fast the producer
is. Either way few blocks wait for the consumer (bounded memory), and every failure
reaches it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import os
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

from ._exceptions import AudioError
from ._realtime_pcm import _Job, _pieces

_END = object()


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

    def _closed(self) -> bytes:
        """The end of the stream for FFmpeg: an exception raised into PyAV's read
        callback is swallowed by PyAV 14, which then reads again for ever."""
        self._done = True
        return b""

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
            return self._closed()
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
                return self._closed()
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
