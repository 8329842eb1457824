"""The connection under a realtime session: open it, receive from it, replace it.

``RealtimeSession`` decides what to send and what the events mean; this base holds
what touches the socket (``_ws``): the first connection, retried as a request is;
the handshake (``session.created``, the one ``session.update`` and its ack, checked
against what was asked); one receive that runs across the reader's waits, so no
frame is lost; and the reconnection, with backoff, into which the audio not yet
final is replayed. It sets up the state it shares with the session; the session adds
what only it uses (the end-of-speech detector, the splitter, the reader task).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ._constants import REALTIME_TRANSIENT_ERROR_CODES
from ._exceptions import APIConnectionError, APIResponseError, APIStatusError
from ._realtime_events import (
    RealtimeErrorEvent,
    RealtimeParser,
    ReconnectedEvent,
    SessionCreatedEvent,
    SessionUpdatedEvent,
)
from ._realtime_protocol import RealtimeOptions
from ._realtime_turns import Step, TurnAssembler
from ._realtime_wire import AppendSplitter, RealtimeWire
from ._retry import RetryPolicy
from ._ws import ConnectionLost, RealtimeSocket, open_socket

logger = logging.getLogger("voxtral_integrations.realtime")


@dataclass(frozen=True)
class SessionSettings:
    """How a session connects and how patient it is (from the client and ``_constants``)."""

    wire: RealtimeWire
    options: RealtimeOptions
    base_url: str
    key: str | None
    user_agent: str
    policy: RetryPolicy
    session_timeout: float
    done_timeout: float
    stall_timeout: float
    max_reconnects: int

    def __repr__(self) -> str:  # the key never shows
        return f"SessionSettings(wire={self.wire.name!r}, options={self.options!r})"


class SessionRefusedError(APIResponseError):
    """The server sent an ``error`` instead of opening or configuring the session.

    ``code`` is the server's; ``transient`` says whether it means "try again later"
    (:data:`REALTIME_TRANSIENT_ERROR_CODES`), for which the connection is retried.
    """

    def __init__(self, server_message: str, *, url: str, code: int | str | None) -> None:
        transient = str(code) in REALTIME_TRANSIENT_ERROR_CODES
        advice = (
            "The server is busy: retry later."
            if transient
            else "Check the model and the session options."
        )
        super().__init__(
            f"The realtime server refused the session: {server_message} (code {code}). {advice}",
            method="GET",
            url=url,
        )
        self.code = code
        self.transient = transient


_Expected = TypeVar("_Expected", SessionCreatedEvent, SessionUpdatedEvent)


class SessionConnection:
    """A realtime session's socket: connecting, the handshake, receiving, reconnecting.

    It holds the state the connection and the session share: the turns it replays,
    the events it queues, the socket and the reader's wait."""

    clock: Callable[[], float] = staticmethod(time.monotonic)
    """The session's clock (a seam for tests)."""

    def __init__(self, settings: SessionSettings) -> None:
        self._settings = settings
        self._options = settings.options
        self._turns = TurnAssembler(
            settings.options,
            done_timeout=settings.done_timeout,
            stall_timeout=settings.stall_timeout,
        )
        self._parser: RealtimeParser = settings.wire.parser(settings.options)
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._socket: RealtimeSocket | None = None
        self._receiving: asyncio.Task[str | None] | None = None
        self._waiting_until: float | None = None  # the deadline the reader waits for
        self._sooner = asyncio.Event()  # set when a send brings the deadline forward
        self._reconnects = 0
        self.request_id: str | None = None
        """The server session's id (a new one after each reconnection)."""

    async def _send_frames(self, frames: list[str]) -> None:
        """Best effort: a lost connection is the reader's to replace, and the assembler
        still has the audio to replay."""
        if self._socket is None:
            return
        try:
            for frame in frames:
                await self._socket.send(frame)
        except ConnectionLost as exc:
            logger.debug("realtime send failed (%s); the reader reconnects", exc.code)

    async def _connect(self) -> None:
        """The first connection, retried as the client retries a request (429, 5xx,
        connection failures), honouring a ``Retry-After``; an ``error`` instead of the
        session is retried as a 503 when it says "try again later", else raised."""
        policy = self._settings.policy
        retries = 0
        while True:
            try:
                await self._open()
                return
            except APIStatusError as exc:
                delay = policy.delay_after_status(retries, exc.status_code, exc.retry_after)
                if delay is None:
                    raise
            except SessionRefusedError as exc:  # "no capacity" waits as a 503 upgrade does
                delay = policy.delay_after_status(retries, 503, None) if exc.transient else None
                if delay is None:
                    raise
            except APIConnectionError:
                delay = policy.delay_after_transport_error(retries)
                if delay is None:
                    raise
            retries += 1
            await asyncio.sleep(delay)

    async def _open(self) -> None:
        """Connect, wait for the session, configure it (before any audio)."""
        settings = self._settings
        socket = await open_socket(
            settings.wire.url(settings.base_url, self._options),
            settings.wire.headers(settings.key, settings.user_agent),
            open_timeout=settings.session_timeout,
        )
        try:
            created = await self._expect(socket, SessionCreatedEvent)
            self.request_id = created.request_id
            self._queue.put_nowait(created)
            for frame in settings.wire.session_frames(self._options):
                await socket.send(frame)
            if settings.wire.has_session_update_ack:
                updated = await self._expect(socket, SessionUpdatedEvent)
                self._check_applied(updated, socket.url)
                self._queue.put_nowait(updated)
        except BaseException:
            await socket.close()
            raise
        self._socket = socket

    async def _expect(self, socket: RealtimeSocket, kind: type[_Expected]) -> _Expected:
        """Read until an event of ``kind``; an ``error`` first is the server's refusal."""
        deadline = self.clock() + self._settings.session_timeout
        while True:
            text = await socket.recv(max(0.0, deadline - self.clock()))
            if text is None:
                raise APIConnectionError(
                    f"No {kind.__name__} from {socket.url} within "
                    f"{self._settings.session_timeout} s; retry, or check `base_url`.",
                    method="GET",
                    url=socket.url,
                )
            event = self._parser.parse(text)
            if isinstance(event, kind):
                return event
            if isinstance(event, RealtimeErrorEvent):
                raise SessionRefusedError(event.message, url=socket.url, code=event.code)
            self._queue.put_nowait(event)

    def _check_applied(self, updated: SessionUpdatedEvent, url: str) -> None:
        applied = updated.session.get("audio_format")
        asked = {"encoding": self._options.encoding, "sample_rate": self._options.sample_rate}
        if isinstance(applied, dict) and {k: applied.get(k) for k in asked} != asked:
            raise APIResponseError(
                f"The server applied the audio format {applied}, not the {asked} asked for; "
                "the audio would be misheard. Check `sample_rate` and `encoding`.",
                method="GET",
                url=url,
            )

    async def _next_frame(self) -> str | None:
        """The next frame, or ``None`` at the assembler's deadline or when a send brought
        it forward (then the caller polls, and the wait starts again)."""
        assert self._socket is not None
        if self._receiving is None:  # one receive runs across waits: no frame is lost
            self._receiving = asyncio.ensure_future(self._socket.recv(None))
        self._sooner.clear()
        self._waiting_until = deadline = self._turns.deadline()
        timeout = None if deadline is None else max(0.0, deadline - self.clock())
        sooner = asyncio.ensure_future(self._sooner.wait())
        try:
            await asyncio.wait(
                (self._receiving, sooner), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            sooner.cancel()
            self._waiting_until = None
        if not self._receiving.done():
            return None
        received, self._receiving = self._receiving, None
        return received.result()

    async def _stop_receiving(self) -> None:
        """Cancel the receive in flight (the connection is being replaced or closed)."""
        received, self._receiving = self._receiving, None
        if received is not None:
            received.cancel()
            await asyncio.wait((received,))
            if not received.cancelled():
                received.exception()  # retrieved: a connection lost meanwhile is no news

    async def _reconnect(self, reason: str, cause: BaseException | None) -> None:
        """A new connection, after backoff, into which the audio not yet final is replayed."""
        async with self._lock:
            await self._stop_receiving()
            if self._socket is not None:
                await self._socket.close()
                self._socket = None
            error: BaseException | None = cause
            while self._reconnects < self._settings.max_reconnects:
                self._reconnects += 1
                await asyncio.sleep(self._delay(error))
                logger.info("realtime: reconnecting (%s), attempt %d", reason, self._reconnects)
                try:
                    await self._open()
                except (APIConnectionError, APIStatusError, APIResponseError) as exc:
                    if isinstance(exc, APIStatusError) and exc.status_code in (400, 401, 403):
                        raise
                    if isinstance(exc, SessionRefusedError) and not exc.transient:
                        raise
                    error = exc
                    continue
                replay = self._turns.session_started(self.clock())
                await self._replay(replay.steps)
                self._queue.put_nowait(
                    ReconnectedEvent(
                        attempt=self._reconnects,
                        offset=replay.offset,
                        replayed_seconds=replay.seconds,
                    )
                )
                return
            raise APIConnectionError(
                f"The realtime session could not be kept up ({reason}) after "
                f"{self._settings.max_reconnects} reconnections; what was heard of the open "
                "turns was given as final.",
                method="GET",
                url=self._settings.wire.url(self._settings.base_url, self._options),
            ) from error

    def _delay(self, error: BaseException | None) -> float:
        retry_after = error.retry_after if isinstance(error, APIStatusError) else None
        if retry_after is not None:
            return min(retry_after, self._settings.policy.max_retry_after)
        return self._settings.policy.backoff(self._reconnects - 1)

    async def _replay(self, steps: list[Step]) -> None:
        wire = self._settings.wire
        for kind, pcm in steps:
            if kind == "audio":
                assert pcm is not None
                splitter = AppendSplitter(self._options.sample_width)
                await self._send_frames([wire.append(piece) for piece in splitter.split(pcm)])
            else:
                await self._send_frames(wire.end() if kind == "end" else wire.flush())
