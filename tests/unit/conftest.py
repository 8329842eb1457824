"""The unit layer: pure code, no sockets, fast (the whole layer runs in seconds).

Every test here is refused a network socket, so a test that needs a server belongs
in ``client/`` (an ``httpx.MockTransport``) or ``wire/`` (a local server) instead.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_network_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(name: str) -> Any:
        real = getattr(socket.socket, name)

        def method(self: socket.socket, address: Any, *args: Any) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                raise AssertionError(f"a unit test opened a network socket ({name} {address!r})")
            return real(self, address, *args)

        return method

    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, refuse(name))
    yield
