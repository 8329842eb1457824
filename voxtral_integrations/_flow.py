"""A workflow written once for both clients: a generator of needs, met by a sync or async host.

A flow (a batch submission, a poll, a download of results) is a generator. It
yields what it needs done (send a request, prepare local audio, run blocking work,
sleep) and is sent each answer; a failure is thrown back in at the ``yield``, so
the flow's own ``try`` blocks and cleanup run as around a direct call. Its
decisions are therefore written once. :func:`run` meets the needs over a
:class:`Host`, :func:`arun` awaits them over an :class:`AsyncHost`; the two differ
only by ``await``. This is the shape of httpx's auth flows.

A host is all a flow knows of a client: its dialect, its base URL, how it sends
(with its retries, pace, typed errors and redaction) and how it prepares audio.
The client hands one in; no flow imports the client or reaches into it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import anyio
import httpx
from pydantic import BaseModel

from ._audio import Payload
from ._models import Transcription
from ._options import TranscriptionOptions
from ._requests import RequestSpec
from ._responses import parsed
from ._sources import AudioUpload

_T = TypeVar("_T")
_Model = TypeVar("_Model", bound=BaseModel)
_P = ParamSpec("_P")


class Dialect(Protocol):
    """What a flow asks of a backend's dialect."""

    def check_files_supported(self) -> None: ...

    def parse_transcription(
        self, content: bytes, options: TranscriptionOptions
    ) -> Transcription: ...


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _call(function: Callable[..., _T], *args: object) -> _T:
    return function(*args)


async def _asleep(seconds: float) -> None:
    await anyio.sleep(seconds)


async def _in_thread(function: Callable[..., _T], *args: object) -> _T:
    return await anyio.to_thread.run_sync(function, *args)


@dataclass(frozen=True)
class Host:
    """What a flow needs of :class:`VoxtralClient`, handed in by its methods.

    ``send`` sends a request with the client's retries and returns the 2xx
    response, read; ``payloads`` probes, converts and splits local audio as the
    model's limits require. ``sleep`` and ``blocking`` (file system and codec
    work) are called directly here; the async host sleeps on the event loop and
    runs blocking work in a worker thread.
    """

    dialect: Dialect
    base_url: str
    send: Callable[[RequestSpec], httpx.Response]
    payloads: Callable[[AudioUpload, TranscriptionOptions, float | None], Sequence[Payload]]
    sleep: Callable[[float], None] = _sleep
    blocking: Callable[..., Any] = _call


@dataclass(frozen=True)
class AsyncHost:
    """:class:`Host` for :class:`AsyncVoxtralClient`: the same, awaitable."""

    dialect: Dialect
    base_url: str
    send: Callable[[RequestSpec], Awaitable[httpx.Response]]
    payloads: Callable[
        [AudioUpload, TranscriptionOptions, float | None], Awaitable[Sequence[Payload]]
    ]
    sleep: Callable[[float], Awaitable[None]] = _asleep
    blocking: Callable[..., Awaitable[Any]] = _in_thread


AnyHost = Host | AsyncHost
"""What a flow is given: it reads only ``dialect`` and ``base_url``, and yields the rest."""


@dataclass(frozen=True)
class _Send:
    spec: RequestSpec


@dataclass(frozen=True)
class _Prepare:
    upload: AudioUpload
    options: TranscriptionOptions
    max_chunk_seconds: float | None


@dataclass(frozen=True)
class _Blocking:
    function: Callable[..., Any]
    args: tuple[object, ...]


@dataclass(frozen=True)
class _Sleep:
    seconds: float


_Need = _Send | _Prepare | _Blocking | _Sleep
Flow = Generator[_Need, Any, _T]
"""A workflow: yields what it needs done, is sent each answer, returns a ``_T``."""


def _step(host: AnyHost, need: _Need) -> Any:
    """The host's answer to ``need``; from an async host, an awaitable of it."""
    if isinstance(need, _Send):
        return host.send(need.spec)
    if isinstance(need, _Prepare):
        return host.payloads(need.upload, need.options, need.max_chunk_seconds)
    if isinstance(need, _Blocking):
        return host.blocking(need.function, *need.args)
    return host.sleep(need.seconds)


def run(
    host: Host,
    flow: Callable[Concatenate[AnyHost, _P], Flow[_T]],
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _T:
    """``flow(host, ...)`` carried out, each need met by ``host``, each failure thrown back in."""
    steps = flow(host, *args, **kwargs)
    answer: Any = None
    failure: BaseException | None = None
    while True:
        try:
            need = steps.send(answer) if failure is None else steps.throw(failure)
        except StopIteration as finished:
            return finished.value  # type: ignore[no-any-return]
        try:
            answer, failure = _step(host, need), None
        except BaseException as exc:  # an interrupt too: the flow's cleanup sees it
            answer, failure = None, exc


async def arun(
    host: AsyncHost,
    flow: Callable[Concatenate[AnyHost, _P], Flow[_T]],
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _T:
    """:func:`run` over an async host: the same flow, each need awaited."""
    steps = flow(host, *args, **kwargs)
    answer: Any = None
    failure: BaseException | None = None
    while True:
        try:
            need = steps.send(answer) if failure is None else steps.throw(failure)
        except StopIteration as finished:
            return finished.value  # type: ignore[no-any-return]
        try:
            answer, failure = await _step(host, need), None
        except BaseException as exc:  # a cancellation too: the flow's cleanup sees it
            answer, failure = None, exc


# --------------------------------------------------------------------------- needs, typed


def send(spec: RequestSpec) -> Flow[httpx.Response]:
    """``yield from send(spec)``: the 2xx response, read (errors raised as the client's)."""
    response: httpx.Response = yield _Send(spec)
    return response


def sent(spec: RequestSpec, model: type[_Model]) -> Flow[_Model]:
    """``spec`` sent and its response read as ``model``; a malformed one an APIResponseError."""
    response = yield from send(spec)
    return parsed(response, model)


def payloads(
    upload: AudioUpload, options: TranscriptionOptions, max_chunk_seconds: float | None
) -> Flow[Sequence[Payload]]:
    """Local audio probed, converted and split as for ``transcribe``."""
    prepared: Sequence[Payload] = yield _Prepare(upload, options, max_chunk_seconds)
    return prepared


def blocking(function: Callable[..., _T], *args: object) -> Flow[_T]:
    """``function(*args)``, file system or codec work: off the event loop for an async host."""
    answer: _T = yield _Blocking(function, args)
    return answer


def sleep(seconds: float) -> Flow[None]:
    yield _Sleep(seconds)
