"""The one send loop of each shell: every request of a client goes through it.

:class:`SyncTransport` and :class:`AsyncTransport` are twins that differ only where
one awaits (``tests/test_twins.py`` fails when one gains a branch the other lacks).
Each attempt takes the pace's turn, sends, and reads the body (or, for a stream, its
first event) with the caller's ``read``; :class:`~._attempt.Attempt` decides what
comes next. A success reaches the pace only once ``read`` returned, so a 200 found
unusable counts as the failure it is.

Sleeping goes through one seam, the ``sleep`` attribute of each class: tests replace
it (``monkeypatch.setattr(SyncTransport, "sleep", ...)``) instead of ``time.sleep``.
"""

from __future__ import annotations

import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx

from ._attempt import Attempt, Decision, Done, Fail
from ._constants import USER_AGENT_PREFIX
from ._events import EventParser, EventStreamDecoder
from ._exceptions import APIResponseError
from ._pacing import Pace
from ._requests import RequestSpec
from ._responses import response_error
from ._retry import RetryPolicy
from ._streaming import AsyncStream, Stream
from ._version import __version__

if TYPE_CHECKING:
    from ._settings import ResolvedSettings

_T = TypeVar("_T")
_Event = TypeVar("_Event")


@dataclass(frozen=True, repr=False)
class Route:
    """Where one client's requests go and how they are retried, shared by its attempts.

    ``headers`` and ``timeout`` go on each request only when ``own_pool`` is false:
    a pool the client built already carries them, a caller's pool does not.
    """

    base_url: str
    headers: Mapping[str, str]
    timeout: httpx.Timeout
    own_pool: bool
    policy: RetryPolicy
    pace: Pace
    secret: str | None

    @classmethod
    def of(cls, settings: ResolvedSettings, *, own_pool: bool) -> Route:
        """A new client's route: its identity and key on each request, its own retry
        policy and pace (a 429 slows every request of the client, and no other's)."""
        headers = {"User-Agent": f"{USER_AGENT_PREFIX}/{__version__}"}
        if settings.key:
            headers["Authorization"] = f"Bearer {settings.key}"
        return cls(
            base_url=settings.base_url,
            headers=headers,
            timeout=settings.timeout,
            own_pool=own_pool,
            policy=RetryPolicy(settings.max_retries),
            pace=Pace(),
            secret=settings.key,
        )


class _Transport:
    """What both shells share: building a request and starting a request's attempts."""

    _http: httpx.Client | httpx.AsyncClient

    def __init__(self, http: httpx.Client | httpx.AsyncClient, route: Route) -> None:
        self._http = http
        self._route = route

    @property
    def route(self) -> Route:
        return self._route

    def _attempt(self, spec: RequestSpec, resend_cut_short: bool) -> Attempt:
        route = self._route
        return Attempt(
            spec,
            base_url=route.base_url,
            policy=route.policy,
            pace=route.pace,
            secret=route.secret,
            resend_cut_short=resend_cut_short,
        )

    def _request(self, spec: RequestSpec, body: dict[str, Any]) -> httpx.Request:
        """Built before the turn, so that nothing but the send itself comes between the
        turn and the wire (a 429 arriving meanwhile would go unheeded)."""
        route, url = self._route, self._route.base_url + spec.path
        if route.own_pool:
            return self._http.build_request(spec.method, url, headers=spec.headers, **body)
        headers = {**route.headers, **spec.headers}
        return self._http.build_request(
            spec.method, url, headers=headers, timeout=route.timeout, **body
        )


class SyncTransport(_Transport):
    """Sends over an ``httpx.Client``."""

    sleep: Callable[[float], None] = staticmethod(time.sleep)
    """The one place the sync client waits (between attempts, for the pace's turn)."""
    _http: httpx.Client

    def __init__(self, http: httpx.Client, route: Route) -> None:
        super().__init__(http, route)

    def send(
        self,
        spec: RequestSpec,
        parse: Callable[[httpx.Response], _T],
        *,
        resend_cut_short: bool = False,
    ) -> _T:
        """Send ``spec`` and ``parse`` the 2xx body; ``resend_cut_short`` for a transcription."""

        def read(response: httpx.Response) -> _T:  # the async twin's is a coroutine
            return parse(response)

        return self._send(spec, read, resend_cut_short)

    def stream(
        self, spec: RequestSpec, parser: Callable[[], EventParser[_Event]]
    ) -> Stream[_Event]:
        """Send a streaming ``spec``; its events, once the first has arrived."""

        def read(response: httpx.Response) -> Stream[_Event]:
            events = self._events(response, parser())
            for first in events:
                return Stream(_prepended(first, events), response.close)
            return Stream(events, response.close)

        return self._send(spec, read, False)

    def _send(
        self, spec: RequestSpec, read: Callable[[httpx.Response], _T], resend_cut_short: bool
    ) -> _T:
        attempt = self._attempt(spec, resend_cut_short)
        while True:
            with spec.body() as body:
                request = self._request(spec, body)
                while (wait := attempt.turn()) > 0:
                    self.sleep(wait)
                decision: Decision[_T]
                started = time.monotonic()
                try:
                    response = self._http.send(request, stream=True)
                    attempt.arrived(response, time.monotonic() - started)
                    if not (spec.stream and response.is_success):
                        _read_or_close(response)
                    if response.is_success:
                        decision = attempt.done(read(response))
                    else:
                        decision = attempt.after_status(response)
                except httpx.RequestError as exc:
                    decision = attempt.after_transport_error(exc)
                except APIResponseError as exc:
                    decision = attempt.after_body(exc, response)
                finally:
                    attempt.release()
            if isinstance(decision, Done):
                return decision.value
            if isinstance(decision, Fail):
                raise decision.error
            self.sleep(decision.seconds)

    def _events(
        self, response: httpx.Response, parser: EventParser[_Event]
    ) -> Generator[_Event, None, None]:
        decoder = EventStreamDecoder(parser, response)
        try:
            _check_event_stream(response)
            for chunk in response.iter_bytes():
                yield from decoder.feed(chunk)
                if decoder.done:
                    return
            yield from decoder.finish()
        except httpx.TransportError as exc:
            raise decoder.incomplete(f"was cut off ({type(exc).__name__})") from exc
        finally:
            response.close()


class AsyncTransport(_Transport):
    """Sends over an ``httpx.AsyncClient``."""

    sleep: Callable[[float], Awaitable[None]] = staticmethod(anyio.sleep)
    """The one place the async client waits (between attempts, for the pace's turn)."""
    _http: httpx.AsyncClient

    def __init__(self, http: httpx.AsyncClient, route: Route) -> None:
        super().__init__(http, route)

    async def send(
        self,
        spec: RequestSpec,
        parse: Callable[[httpx.Response], _T],
        *,
        resend_cut_short: bool = False,
    ) -> _T:
        """See :meth:`SyncTransport.send`."""

        async def read(response: httpx.Response) -> _T:
            return parse(response)

        return await self._send(spec, read, resend_cut_short)

    async def stream(
        self, spec: RequestSpec, parser: Callable[[], EventParser[_Event]]
    ) -> AsyncStream[_Event]:
        """See :meth:`SyncTransport.stream`."""

        async def read(response: httpx.Response) -> AsyncStream[_Event]:
            events = self._events(response, parser())
            async for first in events:
                return AsyncStream(_aprepended(first, events), response.aclose)
            return AsyncStream(events, response.aclose)

        return await self._send(spec, read, False)

    async def _send(
        self,
        spec: RequestSpec,
        read: Callable[[httpx.Response], Awaitable[_T]],
        resend_cut_short: bool,
    ) -> _T:
        attempt = self._attempt(spec, resend_cut_short)
        while True:
            with spec.body() as body:
                request = self._request(spec, body)
                while (wait := attempt.turn()) > 0:
                    await self.sleep(wait)
                decision: Decision[_T]
                started = time.monotonic()
                try:
                    response = await self._http.send(request, stream=True)
                    attempt.arrived(response, time.monotonic() - started)
                    if not (spec.stream and response.is_success):
                        await _aread_or_close(response)
                    if response.is_success:
                        decision = attempt.done(await read(response))
                    else:
                        decision = attempt.after_status(response)
                except httpx.RequestError as exc:
                    decision = attempt.after_transport_error(exc)
                except APIResponseError as exc:
                    decision = attempt.after_body(exc, response)
                finally:
                    attempt.release()
            if isinstance(decision, Done):
                return decision.value
            if isinstance(decision, Fail):
                raise decision.error
            await self.sleep(decision.seconds)

    async def _events(
        self, response: httpx.Response, parser: EventParser[_Event]
    ) -> AsyncGenerator[_Event, None]:
        decoder = EventStreamDecoder(parser, response)
        try:
            _check_event_stream(response)
            async for chunk in response.aiter_bytes():
                for event in decoder.feed(chunk):
                    yield event
                if decoder.done:
                    return
            for event in decoder.finish():
                yield event
        except httpx.TransportError as exc:
            raise decoder.incomplete(f"was cut off ({type(exc).__name__})") from exc
        finally:
            await response.aclose()


def _check_event_stream(response: httpx.Response) -> None:
    """Raise if a streamed request was answered with something else (a proxy's HTML page).

    Read as a stream it would hold no events and be sent again, only to fail the same way.
    """
    media_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type and media_type != "text/event-stream":
        raise response_error(response, f"A stream was answered with {media_type}, not events")


def _prepended(first: _Event, rest: Generator[_Event, None, None]) -> Iterator[_Event]:
    """``first``, then ``rest``; closing it closes ``rest`` (and its connection)."""
    try:
        yield first
        yield from rest
    finally:
        rest.close()


async def _aprepended(first: _Event, rest: AsyncGenerator[_Event, None]) -> AsyncIterator[_Event]:
    """See :func:`_prepended`."""
    try:
        yield first
        async for event in rest:
            yield event
    finally:
        await rest.aclose()


def _read_or_close(response: httpx.Response) -> None:
    try:
        response.read()
    finally:
        response.close()


async def _aread_or_close(response: httpx.Response) -> None:
    try:
        await response.aread()
    finally:
        await response.aclose()
