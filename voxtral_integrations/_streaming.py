"""Iterators over a streamed response that also own (and close) the connection.

A plain generator leaks its connection until garbage collection when the caller
stops early; these close it on ``close()``, on leaving a ``with`` block, and on
reaching the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

_T = TypeVar("_T")


class Stream(Generic[_T]):
    """Iterate to receive events; use as a context manager to close early."""

    def __init__(self, events: Iterator[_T], on_close: Callable[[], None]) -> None:
        self._events = events
        self._on_close = on_close

    def __iter__(self) -> Iterator[_T]:
        return self

    def __next__(self) -> _T:
        return next(self._events)

    def close(self) -> None:
        """Release the connection, whether or not iteration ever started."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()
        self._on_close()

    def __enter__(self) -> Stream[_T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncStream(Generic[_T]):
    """``async for`` to receive events; ``async with`` to close early."""

    def __init__(self, events: AsyncIterator[_T], on_close: Callable[[], Awaitable[None]]) -> None:
        self._events = events
        self._on_close = on_close

    def __aiter__(self) -> AsyncIterator[_T]:
        return self

    async def __anext__(self) -> _T:
        return await self._events.__anext__()

    async def close(self) -> None:
        """Release the connection, whether or not iteration ever started."""
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()
        await self._on_close()

    async def __aenter__(self) -> AsyncStream[_T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
