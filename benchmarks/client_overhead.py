"""How much slower is ``client.transcribe(...)`` than the same request made with bare httpx?

Both sides send the same multipart request (``model``, ``timestamp_granularities=
segment``, a short WAV as ``file``) to the same local server (``local_server.py``,
in a child process by default) over keep-alive, and parse the JSON answer: the
bare side with ``response.json()``, the client side into its typed
``Transcription``. Each side has its own ``httpx.Client`` (the client side the one
``VoxtralClient`` makes for itself). After a warm-up the two sides run in
alternating rounds, the side that goes first switching every round, so drift in
the machine's speed hits both alike.

Reported: each side's median-of-rounds time per request, their ratio (client /
bare: the figure checked against the target), the ratio of the fastest rounds,
and the median and quartiles of the per-round ratios (a wide spread means the
machine was too noisy for the figures to be trusted). Exits 1 if the ratio
exceeds the target (1.10), 0 otherwise.

    python benchmarks/client_overhead.py            # sync clients
    python benchmarks/client_overhead.py --async    # async clients
    python benchmarks/client_overhead.py --cpu 0    # pinned: less noise
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import math
import os
import pstats
import statistics
import subprocess
import sys
import time
import wave
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from voxtral_integrations import AsyncVoxtralClient, Transcription, VoxtralClient

try:
    from benchmarks.local_server import LocalVoxtralServer
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from local_server import LocalVoxtralServer  # type: ignore[no-redef,import-not-found]

TARGET = 1.10
_ROOT = str(Path(__file__).resolve().parent.parent)
API_KEY = "benchmark-key"
MODEL = "voxtral-mini-latest"
FIELDS = {"model": MODEL, "timestamp_granularities": ["segment"]}
HEADERS = {"Authorization": f"Bearer {API_KEY}"}

Timed = Callable[[int], float]
"""Sends n requests one after another; returns the seconds they took."""


@dataclass(frozen=True)
class Result:
    bare: list[float]
    """Seconds per request, one value per round."""
    client: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.client) / statistics.median(self.bare)

    @property
    def min_ratio(self) -> float:
        return min(self.client) / min(self.bare)

    @property
    def round_ratios(self) -> list[float]:
        """client / bare of each round (the two sides of a round ran back to back)."""
        return [c / b for c, b in zip(self.client, self.bare, strict=True)]


def make_wav(seconds: float = 0.2, rate: int = 16_000) -> bytes:
    """A mono 16-bit WAV of a 440 Hz tone: a few KB, like a very short recording."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        sample = int(8_000 * math.sin(2 * math.pi * 440 * n / rate))
        frames += sample.to_bytes(2, "little", signed=True)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(frames))
    return buffer.getvalue()


# --------------------------------------------------------------------------- the server


@contextmanager
def serve(mode: str) -> Iterator[str]:
    """The server's base URL: in a thread of this process, or in a child process."""
    if mode == "thread":
        with LocalVoxtralServer(api_key=API_KEY) as server:
            yield server.base_url
        return
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.local_server", "--api-key", API_KEY],
        cwd=Path(__file__).resolve().parent.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        base_url = child.stdout.readline().strip()
        if not base_url.startswith("http://"):
            raise RuntimeError(f"The server process did not start (said {base_url!r}).")
        yield base_url
    finally:
        if child.stdin is not None:
            child.stdin.close()  # the server stops when its stdin closes
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


# --------------------------------------------------------------------------- the two sides


def sync_sides(base_url: str, wav: bytes) -> tuple[Timed, Timed, Callable[[], None]]:
    """(bare, client, close) for the sync clients; checks both answers once."""
    url = f"{base_url}/audio/transcriptions"
    http = httpx.Client()
    client = VoxtralClient(api_key=API_KEY, base_url=base_url)

    def bare_once() -> dict[str, object]:
        response = http.post(
            url, data=FIELDS, files={"file": ("audio.wav", wav, "audio/wav")}, headers=HEADERS
        )
        response.raise_for_status()
        body: dict[str, object] = response.json()
        return body

    def bare(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            bare_once()
        return time.perf_counter() - started

    def typed(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            client.transcribe(wav, model=MODEL, timestamp_granularities=["segment"])
        return time.perf_counter() - started

    check(bare_once(), client.transcribe(wav, model=MODEL, timestamp_granularities=["segment"]))

    def close() -> None:
        http.close()
        client.close()

    return bare, typed, close


def async_sides(base_url: str, wav: bytes) -> tuple[Timed, Timed, Callable[[], None]]:
    """The same for the async clients, each round run to completion on one event loop."""
    url = f"{base_url}/audio/transcriptions"
    loop = asyncio.new_event_loop()
    http = httpx.AsyncClient()
    client = AsyncVoxtralClient(api_key=API_KEY, base_url=base_url)

    async def bare_once() -> dict[str, object]:
        response = await http.post(
            url, data=FIELDS, files={"file": ("audio.wav", wav, "audio/wav")}, headers=HEADERS
        )
        response.raise_for_status()
        body: dict[str, object] = response.json()
        return body

    async def bare(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            await bare_once()
        return time.perf_counter() - started

    async def typed(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            await client.transcribe(wav, model=MODEL, timestamp_granularities=["segment"])
        return time.perf_counter() - started

    def blocking(timed: Callable[[int], Awaitable[float]]) -> Timed:
        return lambda n: loop.run_until_complete(timed(n))

    check(
        loop.run_until_complete(bare_once()),
        loop.run_until_complete(
            client.transcribe(wav, model=MODEL, timestamp_granularities=["segment"])
        ),
    )

    def close() -> None:
        loop.run_until_complete(http.aclose())
        loop.run_until_complete(client.close())
        loop.close()

    return blocking(bare), blocking(typed), close


def check(bare: dict[str, object], typed: Transcription) -> None:
    """Both sides must have received, and parsed, the same transcription."""
    segments = bare.get("segments")
    if not (isinstance(segments, list) and segments):
        raise RuntimeError(f"The bare answer has no segments: {bare!r}")
    if typed.text != bare.get("text") or len(typed.segments) != len(segments):
        raise RuntimeError(f"The two sides disagree: {bare!r} vs {typed!r}")


# --------------------------------------------------------------------------- measuring


def measure(bare: Timed, client: Timed, *, rounds: int, requests: int, warmup: int) -> Result:
    bare(warmup)
    client(warmup)
    times: dict[str, list[float]] = {"bare": [], "client": []}
    sides = [("bare", bare), ("client", client)]
    for number in range(rounds):
        for name, timed in sides if number % 2 == 0 else reversed(sides):
            gc.collect()  # between rounds, so no side pays for the other's garbage
            times[name].append(timed(requests) / requests)
    return Result(bare=times["bare"], client=times["client"])


def profile(bare: Timed, client: Timed, *, requests: int, top: int = 25) -> None:
    """cProfile ``requests`` requests of each side; print where the client's extra time goes.

    Rows are functions by own time per request, client minus bare. cProfile makes
    every Python call dearer, so the microseconds are inflated (roughly 3x here);
    the ranking is what counts. Socket and select calls are left out: their time
    is waiting for the server, and only adds noise.
    """
    sides = {}
    for name, timed in (("bare", bare), ("client", client)):
        profiler = cProfile.Profile()
        profiler.runcall(timed, requests)
        sides[name] = _per_request(pstats.Stats(profiler), requests)
    names = {*sides["bare"], *sides["client"]}
    rows = sorted(
        ((sides["client"].get(n, (0.0, 0.0)), sides["bare"].get(n, (0.0, 0.0)), n) for n in names),
        key=lambda row: row[0][1] - row[1][1],
        reverse=True,
    )
    print(f"\ncProfile, {requests} requests per side: own time per request, client - bare")
    print(f"{'+us/req':>8} {'calls/req':>14} {'us/call':>8}  function")
    for (calls, own), (bare_calls, bare_own), name in rows[:top]:
        per_call = own / calls if calls else 0.0
        print(f"{own - bare_own:+8.2f} {bare_calls:6.1f}->{calls:<6.1f} {per_call:8.2f}  {name}")


def _per_request(stats: pstats.Stats, requests: int) -> dict[str, tuple[float, float]]:
    """``function: (calls, own microseconds)`` per request, socket waits left out."""
    rows: dict[str, tuple[float, float]] = {}
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    for (path, line, function), (_, calls, own, _, _) in raw.items():
        if "socket" in function or "select" in function or "poll" in function:
            continue
        where = path.split("site-packages/")[-1].split(f"{_ROOT}/")[-1]
        rows[f"{where}:{line}({function})"] = (calls / requests, own / requests * 1e6)
    return rows


def report(result: Result, *, mode: str, rounds: int, requests: int, wav_size: int) -> None:
    def us(seconds: float) -> str:
        return f"{seconds * 1e6:8.1f} us"

    print(
        f"{mode} client overhead: {rounds} rounds x {requests} requests per side, "
        f"{wav_size}-byte WAV, timestamp_granularities=segment"
    )
    print(f"{'':16}{'median':>11}{'min':>11}   (per request, over rounds)")
    print(f"{'bare httpx':16}{us(statistics.median(result.bare))}{us(min(result.bare))}")
    print(f"{'voxtral client':16}{us(statistics.median(result.client))}{us(min(result.client))}")
    print(
        f"overhead: {us(statistics.median(result.client) - statistics.median(result.bare))} "
        "per request (median)"
    )
    print(f"ratio client/bare (median of rounds): {result.ratio:.3f}   target <= {TARGET:.2f}")
    print(f"ratio of min-of-rounds:               {result.min_ratio:.3f}")
    quartiles = statistics.quantiles(result.round_ratios, n=4)
    print(
        f"per-round ratios: median {statistics.median(result.round_ratios):.3f}, "
        f"quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f} (a wide spread means a noisy machine)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--async", dest="use_async", action="store_true", help="AsyncVoxtralClient vs AsyncClient"
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=100, help="requests per side per round")
    parser.add_argument("--warmup", type=int, default=200, help="requests per side first")
    parser.add_argument(
        "--server",
        choices=("process", "thread"),
        default="process",
        help="run the local server in a child process (default) or in a thread of this one",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="then cProfile N requests per side and print where the client's extra time goes",
    )
    parser.add_argument(
        "--cpu",
        type=int,
        default=None,
        help="pin this process and the server to one CPU (Linux): less noise on a busy machine",
    )
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})  # the server process inherits it
    wav = make_wav()
    mode = "async" if args.use_async else "sync"
    with serve(args.server) as base_url:
        bare, client, close = (async_sides if args.use_async else sync_sides)(base_url, wav)
        try:
            result = measure(
                bare, client, rounds=args.rounds, requests=args.requests, warmup=args.warmup
            )
            report(result, mode=mode, rounds=args.rounds, requests=args.requests, wav_size=len(wav))
            if args.profile:
                profile(bare, client, requests=args.profile)
        finally:
            close()
    passed = result.ratio <= TARGET
    print(f"{'PASS' if passed else 'FAIL'}: ratio {result.ratio:.3f} vs target {TARGET:.2f}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
