"""The strict realtime fake (``tests/support/fake_realtime.py``) in a child process.

The realtime benchmarks measure the client's own time and CPU. With the fake in a
thread of the benchmark process, its work (JSON, base64, hearing the tones with
numpy, for every append of every session) would share the client's GIL and show up
in the client's figures; in a child process it has a core of its own and its CPU is
counted apart. Its frame times are ``time.monotonic()``, system-wide on Linux, so
they line up with the client's.

    with contextlib.closing(RealtimeServerProcess()) as server:
        base_url = server.start("mistral")   # a fresh FakeRealtimeServer
        ...                                  # sessions against base_url
        connections = server.records()       # every frame of every connection, timed
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run as a script: make `tests.support` importable
    sys.path.insert(0, str(_ROOT))

from benchmarks.bulk_transcription import ChildProcess  # noqa: E402
from tests.support.constants import FAKE_API_KEY  # noqa: E402

API_KEY = FAKE_API_KEY
Dialect = Literal["mistral", "vllm"]


@dataclass(frozen=True)
class Frame:
    """One frame as the fake logged it: ``time`` is when it was read ("in": parsed, just
    after it arrived) or sent ("out": just before ``send``); ``audio_bytes`` is an
    accepted append's decoded size."""

    dir: str
    type: str | None
    time: float
    audio_bytes: int | None


def _compact(record: Any) -> list[Frame]:
    return [
        Frame(frame["dir"], frame.get("type"), time, frame.get("audio_bytes"))
        for frame, time in zip(record.frames, record.times, strict=True)
    ]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _serve(connection: Connection) -> None:
    """The child: a fresh fake per ``("start", dialect)``; its records or CPU on ask."""
    from tests.support.fake_realtime import FakeRealtimeServer

    server: FakeRealtimeServer | None = None
    try:
        while True:
            command, argument = connection.recv()
            if command == "start":
                if server is not None:
                    server.__exit__(None, None, None)
                server = FakeRealtimeServer(argument, api_key=API_KEY).__enter__()
                connection.send(server.base_url)
            elif command == "records":
                assert server is not None
                connection.send([_compact(record) for record in server.records])
            elif command == "cpu":
                connection.send(_cpu())
            else:
                return
    finally:
        if server is not None:
            server.__exit__(None, None, None)


class RealtimeServerProcess(ChildProcess):
    """``FakeRealtimeServer`` in a child process (spawned), restarted fresh on ``start``."""

    def __init__(self) -> None:
        super().__init__(_serve)

    def start(self, dialect: Dialect) -> str:
        """A new fake (the previous one stops); its ``base_url``."""
        self._connection.send(("start", dialect))
        return str(self._connection.recv())

    def records(self) -> list[list[Frame]]:
        """Every connection's frames, in order of connection."""
        self._connection.send(("records", None))
        return list(self._connection.recv())

    def cpu(self) -> float:
        """CPU seconds (user + system) the child has used so far."""
        self._connection.send(("cpu", None))
        return float(self._connection.recv())
