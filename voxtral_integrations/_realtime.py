"""``RealtimeSession``: one live transcription over WebSocket, across reconnections.

The decisions are elsewhere and pure: the options in ``_realtime_protocol``, the
frames in ``_realtime_wire``, the events in ``_realtime_events``, the turns (final
text once, absolute times, timeouts, replay) in ``_realtime_turns``. This shell
feeds the assembler what it sends and receives, and does what it says: flush,
reconnect, replay; the socket, and opening and replacing it, are
``_realtime_connection``'s.

The assembler holds the truth about the audio: :meth:`RealtimeSession.send` records
audio there before it goes on the wire, so audio sent into a connection that was
dying is replayed into the next one. One reader task receives frames and answers
timeouts; a send that brings the assembler's deadline forward (a flush, the end)
wakes it, so a server that goes silent is always caught. A lock keeps sends out of
a reconnection in progress.

Settings lock at the first audio (the server refuses a later ``session.update``):
different settings mean a new session (a new ``client.realtime(...)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

from ._exceptions import InvalidInputError
from ._realtime_connection import SessionConnection, SessionSettings
from ._realtime_events import RealtimeEvent, TurnEvent, UtteranceEvent
from ._realtime_protocol import RealtimeOptions
from ._realtime_vad import LoudnessVAD, VoiceActivityDetector
from ._realtime_wire import AppendSplitter
from ._ws import ConnectionLost


def end_of_speech_detector(
    end_of_speech: str | VoiceActivityDetector | None, options: RealtimeOptions
) -> VoiceActivityDetector | None:
    """``"auto"``: the server's ``turn.end`` with turn detection, else a local loudness
    detector; ``None``: only explicit flushes."""
    if end_of_speech is None:
        return None
    if end_of_speech == "auto":
        if options.turn_detection is not None:
            return None
        return LoudnessVAD(options.sample_rate, options.encoding)
    if callable(getattr(end_of_speech, "feed", None)):
        return end_of_speech  # type: ignore[return-value]
    raise InvalidInputError(
        f"`end_of_speech`={end_of_speech!r} must be 'auto', None, or an object with "
        "`feed(pcm) -> list[float]` (e.g. LoudnessVAD).",
        argument="end_of_speech",
    )


_DONE = object()


class RealtimeSession(SessionConnection):
    """A live transcription session; open it with ``AsyncVoxtralClient.realtime(...)``.

    Example::

        async with client.realtime(sample_rate=16000) as session:
            sender = asyncio.create_task(send_then_end(session))
            async for utterance in session.utterances():
                print(f"{utterance.start:7.2f}  {utterance.text}")

    ``async for event in session`` yields every event (:data:`RealtimeEvent`) with
    absolute times, and ends once :meth:`end` was called and the last turn is final.
    A connection that drops or stalls is replaced (with backoff, up to
    ``max_reconnects`` times): the audio not yet final is sent again, a
    :class:`ReconnectedEvent` says so, and no utterance is lost or given twice. When
    reconnecting fails, what was heard of the open turns is given as final, then
    the error is raised from the iteration.
    """

    def __init__(
        self, settings: SessionSettings, end_of_speech: VoiceActivityDetector | None
    ) -> None:
        super().__init__(settings)
        self._vad = end_of_speech
        self._splitter = AppendSplitter(settings.options.sample_width)
        self._reader: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    def __repr__(self) -> str:
        return (
            f"RealtimeSession(backend={self._settings.wire.name!r}, model={self._options.model!r})"
        )

    async def __aenter__(self) -> RealtimeSession:
        await self._connect()
        self._turns.session_started(self.clock())
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection now (a turn not yet final is lost: :meth:`end` first)."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._socket is not None:
            await self._socket.close()

    # ---- sending

    async def send(self, pcm: bytes | bytearray | memoryview) -> None:
        """Send raw PCM in the session's format (any size: split and aligned here)."""
        if self._turns.ended:
            raise InvalidInputError(
                "The session has ended: no audio may follow `end()`. Open a new session.",
                argument="pcm",
            )
        if self._failure is not None:
            raise self._failure
        data = bytes(pcm)
        ends = self._vad.feed(data) if self._vad is not None else []
        position = 0
        for cut in sorted({self._cut(data, end) for end in ends}):
            await self._send_audio(data[position:cut])
            position = cut
            await self.flush()
        await self._send_audio(data[position:])

    async def send_audio(self, source: Any, *, realtime: bool | None = None) -> None:
        """Send any audio PyAV decodes (a path, bytes, a file, a sync or async iterator of
        bytes), converted to the session's PCM on the fly; files are paced at real time."""
        from ._realtime_audio import pcm_chunks  # type: ignore[import-not-found,unused-ignore]

        chunks: AsyncIterator[bytes] = pcm_chunks(
            source,
            sample_rate=self._options.sample_rate,
            encoding=self._options.encoding,
            realtime=realtime,
        )
        async for chunk in chunks:
            await self.send(chunk)

    async def flush(self) -> None:
        """Finalise the current turn; the session stays open."""
        async with self._lock:
            self._turns.flush(self.clock())
            self._deadline_moved()
            await self._send_frames(self._settings.wire.flush())

    async def end(self) -> None:
        """Finalise the last turn and finish: iteration ends after its utterance."""
        if self._turns.ended:
            return
        async with self._lock:
            self._turns.flush(self.clock(), end=True)
            self._deadline_moved()
            await self._send_frames(self._settings.wire.end())

    # ---- receiving

    def __aiter__(self) -> AsyncIterator[RealtimeEvent]:
        return self.events()

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        while True:
            item = await self._queue.get()
            if item is _DONE:
                self._queue.put_nowait(_DONE)
                return
            if isinstance(item, BaseException):
                self._queue.put_nowait(_DONE)
                raise item
            yield item

    async def utterances(self) -> AsyncIterator[UtteranceEvent]:
        """Only the finalised turns, each once, in order."""
        async for event in self.events():
            if isinstance(event, UtteranceEvent):
                yield event

    # ---- underneath

    def _cut(self, data: bytes, end: float) -> int:
        """Where in ``data`` (the bytes after those sent) stream time ``end`` falls."""
        width = self._options.sample_width
        byte = round(end * self._options.bytes_per_second / width) * width
        return max(0, min(len(data), byte - self._turns.sent_bytes - self._splitter.pending))

    async def _send_audio(self, data: bytes) -> None:
        if not data:
            return
        async with self._lock:
            for piece in self._splitter.split(data):
                self._turns.audio(piece, self.clock())
                self._deadline_moved()
                await self._send_frames([self._settings.wire.append(piece)])

    def _deadline_moved(self) -> None:
        """Wake the reader when what was just sent brings its deadline forward.

        The reader waits for a frame until the deadline it read before waiting; a
        flush, the end or speech sent after the server's last event start a deadline
        (no ``done``, a stall), and a server gone silent would otherwise be waited on
        forever.
        """
        deadline = self._turns.deadline()
        if deadline is not None and (self._waiting_until is None or deadline < self._waiting_until):
            self._sooner.set()

    async def _read(self) -> None:
        try:
            await self._read_until_finished()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._failure = exc
            for event in self._turns.give_up():
                self._queue.put_nowait(event)
            self._queue.put_nowait(exc)
            return
        finally:
            await self._stop_receiving()
        self._queue.put_nowait(_DONE)
        if self._socket is not None:
            await self._socket.close()

    async def _read_until_finished(self) -> None:
        while not self._turns.finished:
            try:
                text = await self._next_frame()
            except ConnectionLost as exc:
                await self._reconnect(f"the connection closed ({exc.code})", exc)
                continue
            if text is not None:
                for event in self._turns.event(self._parser.parse(text), self.clock()):
                    self._queue.put_nowait(event)
                    if self._flushes_on(event):
                        await self.flush()
            polled = self._turns.poll(self.clock())
            for event in polled.events:
                self._queue.put_nowait(event)
            if polled.reconnect and not self._turns.finished:
                await self._reconnect(polled.reconnect, None)

    def _flushes_on(self, event: RealtimeEvent) -> bool:
        return (
            isinstance(event, TurnEvent)
            and event.type == "turn.end"
            and self._vad is None
            and self._options.turn_detection is not None
            and not self._turns.ended
        )


async def stream_source(
    session: RealtimeSession, source: Any, realtime: bool | None
) -> AsyncIterator[RealtimeEvent]:
    """The events of ``source`` sent whole through ``session``, which ends after it.

    The audio goes from a task; if it fails (undecodable audio), the iteration
    raises its error instead of waiting for turns that will never come.
    """
    async with session:

        async def speak() -> None:
            try:
                await session.send_audio(source, realtime=realtime)
                await session.end()
            except Exception as exc:
                session._queue.put_nowait(exc)

        task = asyncio.create_task(speak())
        try:
            async for event in session:
                yield event
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def in_thread(events: AsyncIterator[RealtimeEvent]) -> Iterator[RealtimeEvent]:
    """``events`` iterated on an event loop of its own thread, for a sync caller.

    Closing the returned iterator early stops the loop (and closes the session).
    """
    handoff: queue.SimpleQueue[Any] = queue.SimpleQueue()
    running: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []

    async def pump() -> None:
        task = asyncio.current_task()
        assert task is not None
        running.append((asyncio.get_running_loop(), task))
        try:
            async for event in events:
                handoff.put(event)
        except asyncio.CancelledError:
            return
        except BaseException as exc:
            handoff.put(exc)
            return
        handoff.put(_DONE)

    thread = threading.Thread(target=asyncio.run, args=(pump(),), daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:  # the caller stopped early: cancel the session on its own loop
        for loop, task in running:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(task.cancel)
        thread.join(timeout=5)
