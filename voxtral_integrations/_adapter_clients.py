"""The core clients an adapter holds: built in this one place, with one lifetime.

Every adapter (chat models, tools, loaders, readers) turns its settings into a
:class:`ClientSettings` and asks :class:`AdapterClients` for a client:

- a client is built lazily, at the first call that needs it (an adapter used only
  synchronously never builds the async client), from the settings the adapter has
  at that call, and reused while they (and the given ``http_client``) stay the same;
  a changed setting builds a new one: the old sync client is closed at once, the
  old async one at the next ``aclose()`` (closing it needs an event loop);
- ``close()`` closes the sync client and ``aclose()`` both; the adapter stays usable
  and builds new clients at its next call (``with``/``async with`` do the same);
- a sync client dropped unclosed has its pool closed by its ``weakref.finalize``; an
  async pool cannot be closed without a loop, so adapters whose framework gives them
  no ``aclose`` (loaders, readers, the tool spec) use one async client per call;
- a caller's ``http_client`` is used as given and never closed;
- a copy (``copy``, ``deepcopy``) has the same settings and the caller's http clients
  and builds its own core clients; a pickle holds neither the key nor a client (a pool
  and its locks cannot be copied), and reads ``MISTRAL_API_KEY`` again when unpickled.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel

from ._async_client import AsyncVoxtralClient
from ._client import VoxtralClient
from ._settings import ClientSettings

_Client = TypeVar("_Client", VoxtralClient, AsyncVoxtralClient)
_Holder = TypeVar("_Holder", bound="HoldsClients")


class AdapterClients:
    """The sync and async core clients of one adapter (see the module's lifetime policy)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[type, tuple[ClientSettings, object, Any]] = {}
        self._retired: list[AsyncVoxtralClient] = []

    def sync_client(
        self, settings: ClientSettings, http_client: httpx.Client | None
    ) -> VoxtralClient:
        return self._client(VoxtralClient, settings, http_client)

    def async_client(
        self, settings: ClientSettings, http_client: httpx.AsyncClient | None
    ) -> AsyncVoxtralClient:
        return self._client(AsyncVoxtralClient, settings, http_client)

    def _client(
        self, kind: Callable[..., _Client], settings: ClientSettings, http_client: object
    ) -> _Client:
        with self._lock:
            made = self._made.get(kind)  # type: ignore[call-overload]
            if made is None or made[0] != settings or made[1] is not http_client:
                if made is not None:
                    self._retire(made[2])
                client = kind(http_client=http_client, **settings.arguments())
                made = self._made[kind] = (settings, http_client, client)  # type: ignore[index]
            built: _Client = made[2]
            return built

    def _retire(self, client: VoxtralClient | AsyncVoxtralClient) -> None:
        if isinstance(client, VoxtralClient):
            client.close()
        else:
            self._retired.append(client)

    def close(self) -> None:
        """Close the sync client; the next sync call builds a new one."""
        with self._lock:
            made = self._made.pop(VoxtralClient, None)
        if made is not None:
            made[2].close()

    async def aclose(self) -> None:
        """Close both clients and any replaced async one."""
        self.close()
        with self._lock:
            made = self._made.pop(AsyncVoxtralClient, None)
            retired, self._retired = self._retired, []
        for client in [*retired, *([made[2]] if made is not None else [])]:
            await client.close()

    def __copy__(self) -> AdapterClients:
        return AdapterClients()

    def __deepcopy__(self, memo: dict[int, Any]) -> AdapterClients:
        return AdapterClients()

    def __reduce__(self) -> tuple[type[AdapterClients], tuple[()]]:
        return AdapterClients, ()


class HoldsClients:
    """An adapter whose core clients are an :class:`AdapterClients` in ``_clients``.

    ``_key_field`` names where the key is: a ``SecretStr`` field of a pydantic
    adapter, or the :class:`ClientSettings` of another. The settings are read at
    every call (a pydantic adapter's fields may be changed); a copy gets its own
    clients and a pickle no key (the module's policy).
    """

    _clients: AdapterClients
    _key_field: ClassVar[str] = "api_key"

    def _client_settings(self) -> ClientSettings:
        held = getattr(self, self._key_field)
        if isinstance(held, ClientSettings):
            return held
        return ClientSettings.of({**vars(self), "api_key": held})

    def _http_clients(self) -> tuple[httpx.Client | None, httpx.AsyncClient | None]:
        return getattr(self, "http_client", None), getattr(self, "async_http_client", None)

    def _client(self) -> VoxtralClient:
        return self._clients.sync_client(self._client_settings(), self._http_clients()[0])

    def _async_client(self) -> AsyncVoxtralClient:
        return self._clients.async_client(self._client_settings(), self._http_clients()[1])

    def _one_async_client(self) -> AsyncVoxtralClient:
        """A client for one async call, closed by the caller's ``async with``."""
        return AsyncVoxtralClient(
            http_client=self._http_clients()[1], **self._client_settings().arguments()
        )

    def __copy__(self: _Holder) -> _Holder:
        if isinstance(self, BaseModel):
            clone = BaseModel.__copy__(self)
        else:
            clone = object.__new__(type(self))
            vars(clone).update(vars(self))
        clone._clients = AdapterClients()
        return clone

    def __deepcopy__(self: _Holder, memo: dict[int, Any] | None = None) -> _Holder:
        memo = {} if memo is None else memo
        for given in self._http_clients():  # the caller's: shared, never copied
            memo[id(given)] = given
        if isinstance(self, BaseModel):
            return BaseModel.__deepcopy__(self, memo)
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        vars(clone).update(copy.deepcopy(vars(self), memo))
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """No key in a pickle, as in ``dumps``/``to_dict``: unpickled, the adapter reads
        ``MISTRAL_API_KEY`` again."""
        if isinstance(self, BaseModel):
            state = BaseModel.__getstate__(self)
            state["__dict__"] = {**state["__dict__"], self._key_field: None}
            return state
        state = dict(vars(self))
        state[self._key_field] = state[self._key_field].without_key()
        return state


class ClosesClients(HoldsClients):
    """``close()``/``aclose()`` and ``with``/``async with`` for an adapter holding clients.

    An adapter (a chat model, an LLM, a tool) makes its core clients itself, so the
    caller has no client to close. ``close()`` releases the connections of sync
    calls, ``aclose()`` those of both kinds; the adapter stays usable and opens new
    connections at its next call.
    """

    def close(self) -> None:
        """Close the connections of sync calls (never a caller-supplied ``http_client``)."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close the connections of sync and async calls (not caller-supplied clients)."""
        await self._clients.aclose()

    def __enter__(self: _Holder) -> _Holder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self: _Holder) -> _Holder:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
