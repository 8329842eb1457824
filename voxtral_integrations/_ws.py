"""The one WebSocket shell: ``websockets`` (imported here only, lazily) behind three calls.

:func:`open_socket` performs the upgrade with the key in its ``Authorization``
header and nowhere else (not in the URL, not in a log). A refused upgrade becomes
the error of its HTTP status (``_responses.status_error``: a 429's ``Retry-After``
is kept in the error), a failed connection :class:`APIConnectionError`
(:class:`APITimeoutError` when the upgrade timed out). :class:`RealtimeSocket`
sends and receives text frames; a connection that ends is
:class:`ConnectionLost`, with its close code.

Frames are logged at DEBUG on ``voxtral_integrations.realtime``: an audio frame as
its type and decoded size, others cut short. ``websockets`` keeps its own DEBUG log
(``websockets.client``), which has every upgrade header: it gets them with the
credentials' values blanked. Pings keep the ``websockets`` defaults (20 s interval
and timeout), as the official SDK does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from ._exceptions import APIConnectionError, APIError, APITimeoutError
from ._redaction import redact_url, shortened
from ._responses import status_error

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

logger = logging.getLogger("voxtral_integrations.realtime")

_AUDIO = re.compile(r'"audio":"([A-Za-z0-9+/=]*)"')
_LOGGED_CHARACTERS = 300
MAX_INCOMING_BYTES = 2**20
"""Largest frame accepted from the server (the ``websockets`` and SDK default)."""


_CREDENTIAL_HEADERS = frozenset({"authorization", "sec-websocket-protocol"})
"""The upgrade headers a credential travels in (a browser's token is a subprotocol)."""


class _CredentialsBlanked(logging.LoggerAdapter):  # type: ignore[type-arg]
    """``websockets.client``'s log without the value of a header that holds a credential.

    ``websockets`` logs each upgrade header at DEBUG as ``("> %s: %s", name, value)``;
    such a record gets ``<redacted>`` for the value, every other record goes as it is.
    """

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if len(args) == 2 and str(args[0]).lower() in _CREDENTIAL_HEADERS:
            args = (args[0], "<redacted>")
        super().log(level, msg, *args, **kwargs)


_websockets_log = _CredentialsBlanked(logging.getLogger("websockets.client"), {})


class ConnectionLost(APIConnectionError):
    """The realtime connection ended; ``code`` is its close code (1006: no close frame)."""

    def __init__(self, message: str, *, method: str, url: str, code: int | None) -> None:
        super().__init__(message, method=method, url=url)
        self.code = code


def summary(frame: str) -> str:
    """``frame`` fit for a log: audio as its decoded size, the rest cut short."""
    match = _AUDIO.search(frame)
    if match:
        size = len(match.group(1)) * 3 // 4 - match.group(1)[-2:].count("=")
        frame = frame[: match.start(1)] + f"<{size} bytes>" + frame[match.end(1) :]
    return shortened(frame, _LOGGED_CHARACTERS)


async def open_socket(url: str, headers: dict[str, str], *, open_timeout: float) -> RealtimeSocket:
    """Upgrade to a WebSocket at ``url``; the typed error of what went wrong otherwise."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

    shown = redact_url(url)
    headers = dict(headers)
    user_agent = headers.pop("User-Agent", None)
    try:
        connection = await connect(
            url,
            additional_headers=headers,
            user_agent_header=user_agent,
            open_timeout=open_timeout,
            max_size=MAX_INCOMING_BYTES,
            logger=_websockets_log,
        )
    except InvalidStatus as exc:
        response = exc.response
        raise status_error(
            method="GET",
            url=shown,
            status_code=response.status_code,
            headers={name.lower(): value for name, value in response.headers.raw_items()},
            content=bytes(response.body or b""),
        ) from None
    except (TimeoutError, asyncio.TimeoutError):
        raise APITimeoutError(
            f"The realtime upgrade to {shown} took over {open_timeout} s; check the "
            "network and `base_url`, or retry.",
            method="GET",
            url=shown,
        ) from None
    except (OSError, InvalidHandshake, InvalidURI) as exc:
        raise APIConnectionError(
            f"Could not open the realtime connection to {shown} ({type(exc).__name__}: "
            f"{shortened(str(exc), 200)}); check `base_url` and the network.",
            method="GET",
            url=shown,
        ) from None
    logger.debug("realtime connection open: %s", shown)
    return RealtimeSocket(connection, shown)


class RealtimeSocket:
    """Text frames over one open connection; every failure a :class:`ConnectionLost`."""

    def __init__(self, connection: ClientConnection, url: str) -> None:
        self._connection = connection
        self.url = url

    def __repr__(self) -> str:
        return f"RealtimeSocket(url={self.url!r})"

    async def send(self, frame: str) -> None:
        from websockets.exceptions import ConnectionClosed

        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("realtime >> %s", summary(frame))
        try:
            await self._connection.send(frame)
        except ConnectionClosed as exc:
            raise self._lost(exc) from None

    async def recv(self, timeout: float | None) -> str | None:
        """The next text frame, or ``None`` when ``timeout`` seconds passed without one."""
        from websockets.exceptions import ConnectionClosed

        try:
            message = await asyncio.wait_for(self._connection.recv(), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            return None
        except ConnectionClosed as exc:
            raise self._lost(exc) from None
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("realtime << %s", summary(text))
        return text

    async def close(self) -> None:
        """Close with 1000, as the SDK does; a connection already gone is fine."""
        try:
            await self._connection.close(code=1000)
        except Exception as exc:  # closing must never raise over the error that led here
            logger.debug("realtime close failed: %s", type(exc).__name__)

    def _lost(self, exc: Any) -> APIError:
        received = getattr(exc, "rcvd", None)
        code = received.code if received is not None else 1006
        reason = shortened(received.reason, 200) if received is not None else ""
        return ConnectionLost(
            f"The realtime connection to {self.url} closed (code {code}"
            + (f": {json.dumps(reason)}" if reason else "")
            + ").",
            method="GET",
            url=self.url,
            code=code,
        )
