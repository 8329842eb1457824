"""Bulk transcription against a rate limit: ``transcribe_many`` vs a sequential loop.

200 short generated clips (2-6 s of speech-like WAV) are transcribed against the
local server (``local_server.py``, in a child process), which answers each
transcription after a latency that grows with the clip's length and enforces a
requests-per-second limit (a token bucket) with 429 + ``Retry-After``. In the same
run, each against a fresh server (a full bucket):

1. **sequential**: ``for path in paths: client.transcribe(path, ...)``, the way
   LangChain's ``GenericLoader`` with a blob parser works;
2. **bulk**: ``client.transcribe_many(paths, concurrency=16)``, once with
   ``Retry-After`` in whole seconds (as Mistral-like servers send it) and once with
   ``retry-after-ms`` as well;
3. **naive pool** (informational): 16 threads, each calling ``transcribe`` on its
   own client, retrying on its own clock (what users would hand-roll).

Every side's requests are traced client-side with httpx event hooks on the
``httpx.Client`` passed as ``http_client=`` (request hook: when each request was
sent; response hook: when each response's head arrived, its status and wait).
Targets, checked for every bulk run: sequential / bulk at least 90% of the bound
(sequential / the shortest wall time the limit allows: 10.5x with the defaults), no
lost file (a result with ``.error``, a missing index, or a transcript that is not the
clip's), and no request sent while a ``Retry-After`` received by the same client was
still running.
There must be 429s in every bulk run (else the limit did not bind and the run
proves nothing). Exits 1 if any target is missed.

    python benchmarks/bulk_transcription.py
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import hashlib
import math
import multiprocessing
import random
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from voxtral_integrations import VoxtralClient

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(_ROOT))

from benchmarks.local_server import (  # noqa: E402
    DEFAULT_TRANSCRIPT,
    LocalVoxtralServer,
    ReceivedRequest,
    RecordedRequest,
)

API_KEY = "benchmark-key"
TAG_HEADER = "x-benchmark-request"
"""Set by the client's request hook (its number in the trace), read by the server's hook."""
FILES = 200
CONCURRENCY = 16
RATE = 16_000
CLIP_SECONDS = (2.0, 6.0)
SEED = 20_260_606
LATENCY = 0.30
LATENCY_PER_AUDIO_SECOND = 0.05
"""A 2-6 s clip is answered after 0.40-0.60 s (0.50 s on average)."""
RATE_LIMIT = 24.0
"""Requests per second: binds at concurrency 16 (16 / 0.5 s = 32 req/s unthrottled),
yet leaves room for 8x (the sequential loop does about 1.9 req/s)."""
BURST = 8.0
"""The bucket's size, smaller than 16: the first wave of 16 already meets 429s."""
MIN_SHARE_OF_BOUND = 0.9
"""Each bulk run's speed-up must be at least this share of the bound's (issue 17)."""
OPTIONS: dict[str, Any] = {"timestamp_granularities": ["segment"]}


# --------------------------------------------------------------------------- the clips


@dataclass(frozen=True)
class Clip:
    path: Path
    seconds: float


def _voice(pitch: float, seed: int) -> bytes:
    """One second of a speech-like sound: harmonics under a 4 Hz envelope, plus noise."""
    rng = random.Random(seed)
    samples = [0] * RATE
    for i in range(RATE):
        t = i / RATE
        envelope = 0.55 + 0.45 * math.sin(2 * math.pi * 4 * t)
        tone = sum(math.sin(2 * math.pi * pitch * k * t) / k for k in (1, 2, 3))
        samples[i] = int(7000 * envelope * tone + rng.uniform(-300, 300))
    return b"".join(sample.to_bytes(2, "little", signed=True) for sample in samples)


def make_clips(directory: Path, count: int, seed: int) -> list[Clip]:
    """``count`` distinct WAVs (16 kHz mono s16): bursts of 0.4-1.5 s between short pauses.

    Each clip draws its own length, its bursts' voices and lengths, and its pauses
    from ``seed``, so no two clips have the same bytes (checked).
    """
    rng = random.Random(seed)
    voices = [_voice(pitch, number) for number, pitch in enumerate((98, 117, 131, 156, 185, 220))]
    clips: list[Clip] = []
    digests: set[str] = set()
    for number in range(count):
        total = round(rng.uniform(*CLIP_SECONDS) * RATE)
        pcm = bytearray()
        while len(pcm) < 2 * total:
            pcm += bytes(2 * round(rng.uniform(0.1, 0.5) * RATE))
            burst = round(rng.uniform(0.4, 1.0) * RATE)
            pcm += rng.choice(voices)[: 2 * burst]
        del pcm[2 * total :]
        path = directory / f"clip-{number:03d}.wav"
        with wave.open(str(path), "wb") as output:
            output.setnchannels(1)
            output.setsampwidth(2)
            output.setframerate(RATE)
            output.writeframes(bytes(pcm))
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
        clips.append(Clip(path, total / RATE))
    if len(digests) != count:
        raise RuntimeError(f"{count - len(digests)} generated clips are not distinct")
    return clips


# --------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class ServerSettings:
    latency: float
    latency_per_audio_second: float
    rate_limit: float
    burst: float


def _serve(connection: Connection, settings: ServerSettings) -> None:
    """The child process: a fresh server per ``("start", precise)``, its records on ask."""
    server: LocalVoxtralServer | None = None
    tags: dict[int, int] = {}

    def tag(request: ReceivedRequest) -> None:
        if (value := request.headers.get(TAG_HEADER)) is not None:
            tags[request.index] = int(value)

    try:
        while True:
            command, argument = connection.recv()
            if command == "start":
                if server is not None:
                    server.stop()
                server = LocalVoxtralServer(
                    latency=settings.latency,
                    latency_per_audio_second=settings.latency_per_audio_second,
                    rate_limit=settings.rate_limit,
                    burst=settings.burst,
                    precise_retry_after=argument,
                    api_key=API_KEY,
                    hook=tag,
                )
                tags.clear()
                server.start()
                connection.send(server.base_url)
            elif command == "records":
                assert server is not None
                records = [(record, tags.get(record.index)) for record in server.requests]
                connection.send((records, [repr(error) for error in server.errors]))
            else:
                return
    finally:
        if server is not None:
            server.stop()


class ChildProcess:
    """A spawned child running ``target(connection, *args)``, which answers commands
    sent on ``connection`` and returns on ``("stop", None)``; ``close`` stops it."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=target, args=(child, *args), daemon=True)
        self._process.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the child is gone already: nothing to stop
            self._connection.send(("stop", None))
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class ServerProcess(ChildProcess):
    """``LocalVoxtralServer`` in a child process, restarted fresh for every side.

    A child process, not a thread: the server's handler threads then do not take
    the GIL from the client's 16 threads (which would lengthen the bulk side's
    latencies, not the sequential side's), and its clock is the same
    ``time.monotonic()`` (system-wide on Linux), so its records line up with the
    client's trace.
    """

    def __init__(self, settings: ServerSettings) -> None:
        super().__init__(_serve, settings)

    def start(self, *, precise_retry_after: bool) -> str:
        self._connection.send(("start", precise_retry_after))
        return str(self._connection.recv())

    def records(self) -> tuple[list[tuple[RecordedRequest, int | None]], list[str]]:
        self._connection.send(("records", None))
        records, errors = self._connection.recv()
        return list(records), list(errors)


# --------------------------------------------------------------------------- the trace


@dataclass
class Trace:
    """Requests as the client saw them (``time.monotonic()``), from httpx event hooks.

    A request's number is its position in ``sent``; the request hook also puts it
    in a header, so the server's records can be matched to the client's.
    """

    sent: list[float] = field(default_factory=list)
    answers: dict[int, tuple[float, int, float | None]] = field(default_factory=dict)
    """Number -> (head arrived, status, seconds the answer asked to wait)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_request(self, request: httpx.Request) -> None:
        with self._lock:
            number = len(self.sent)
            self.sent.append(time.monotonic())
        request.headers[TAG_HEADER] = str(number)

    def on_response(self, response: httpx.Response) -> None:
        moment = time.monotonic()
        number = int(response.request.headers[TAG_HEADER])
        with self._lock:
            self.answers[number] = (moment, response.status_code, retry_after(response.headers))

    def http_client(self) -> httpx.Client:
        return httpx.Client(
            event_hooks={"request": [self.on_request], "response": [self.on_response]}
        )

    @property
    def throttled(self) -> list[tuple[float, float]]:
        """(arrived, wait) of every 429."""
        return [(t, wait or 0.0) for t, status, wait in self.answers.values() if status == 429]

    def peak_in_flight(self) -> int:
        steps = [(self.sent[n], 1) for n in self.answers]
        steps += [(arrived, -1) for arrived, _, _ in self.answers.values()]
        peak = level = 0
        for _, step in sorted(steps):
            level += step
            peak = max(peak, level)
        return peak


def retry_after(headers: httpx.Headers) -> float | None:
    """The wait an answer asks for: ``retry-after-ms`` first, else ``Retry-After`` seconds."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) / scale
            except ValueError:
                return None
    return None


@dataclass(frozen=True)
class Early:
    """Requests sent while a ``Retry-After`` was running, and the closest call."""

    count: int
    margin: float | None
    """min over 429s of (first send after it) - (its arrival + its wait); < 0 is early."""


def early_sends(throttled: Sequence[tuple[float, float]], sent: Sequence[float]) -> Early:
    """For each 429 that arrived at ``t`` asking ``r`` s: sends in ``(t, t + r)``."""
    ordered = sorted(sent)
    count, margins = 0, []
    for arrived, wait in throttled:
        first = bisect.bisect_right(ordered, arrived)
        count += bisect.bisect_left(ordered, arrived + wait) - first
        if first < len(ordered):
            margins.append(ordered[first] - (arrived + wait))
    return Early(count, min(margins) if margins else None)


def server_early(records: Sequence[tuple[RecordedRequest, int | None]], trace: Trace) -> Early:
    """The server's view: arrivals in ``(responded, responded + retry_after)`` of a 429.

    Only requests the client sent after it had that 429 in hand count: the others
    were already on their way (the first wave of 16 arrives over a few
    milliseconds, and the first 429 is answered while the rest are still coming).
    """
    count, margins = 0, []
    for told, told_number in records:
        if told.status != 429 or told_number not in trace.answers:
            continue
        known = trace.answers[told_number][0]
        deadline = told.responded + (told.retry_after or 0.0)
        after = [
            record.arrived
            for record, number in records
            if number is not None and trace.sent[number] > known
        ]
        count += sum(1 for arrived in after if arrived < deadline)
        if after:
            margins.append(min(after) - deadline)
    return Early(count, min(margins) if margins else None)


# --------------------------------------------------------------------------- the sides


@dataclass
class Side:
    name: str
    wall: float
    outcomes: dict[int, str | None]
    """Index -> ``None`` if transcribed correctly, else what went wrong."""
    trace: Trace
    records: list[tuple[RecordedRequest, int | None]]
    server_errors: list[str]
    per_client_check: bool = True
    """The Retry-After check applies (one client, one pace, for the whole side)."""

    def lost(self, files: int) -> list[str]:
        missing = [f"#{index}: no result" for index in range(files) if index not in self.outcomes]
        failed = [f"#{index}: {why}" for index, why in sorted(self.outcomes.items()) if why]
        return missing + failed


def check(clip: Clip, text: str, segments: Sequence[Any]) -> str | None:
    """``None`` if the answer is this clip's (the server spreads segments over its length)."""
    if text != DEFAULT_TRANSCRIPT:
        return f"unexpected text {text[:40]!r}"
    end = segments[-1].end if segments else None
    if end is None or abs(end - clip.seconds) > 0.011:
        return f"segments end at {end}, the clip lasts {clip.seconds:.3f} s"
    return None


def sequential(base_url: str, clips: Sequence[Clip]) -> tuple[float, dict[int, str | None], Trace]:
    """One client, one file after another: ``GenericLoader`` + a blob parser."""
    trace = Trace()
    outcomes: dict[int, str | None] = {}
    with trace.http_client() as http:
        client = VoxtralClient(api_key=API_KEY, base_url=base_url, http_client=http)
        started = time.monotonic()
        for index, clip in enumerate(clips):
            try:
                result = client.transcribe(clip.path, **OPTIONS)
            except Exception as error:
                outcomes[index] = f"{type(error).__name__}: {error}"
            else:
                outcomes[index] = check(clip, result.text, result.segments)
        wall = time.monotonic() - started
    return wall, outcomes, trace


def bulk(
    base_url: str, clips: Sequence[Clip], concurrency: int
) -> tuple[float, dict[int, str | None], Trace]:
    """``transcribe_many``: one client, one pace, ``concurrency`` requests at most."""
    trace = Trace()
    outcomes: dict[int, str | None] = {}
    with trace.http_client() as http:
        client = VoxtralClient(api_key=API_KEY, base_url=base_url, http_client=http)
        started = time.monotonic()
        for result in client.transcribe_many(
            [clip.path for clip in clips], concurrency=concurrency, **OPTIONS
        ):
            if result.transcription is None:
                outcomes[result.index] = f"{type(result.error).__name__}: {result.error}"
            else:
                transcription = result.transcription
                outcomes[result.index] = check(
                    clips[result.index], transcription.text, transcription.segments
                )
        wall = time.monotonic() - started
    return wall, outcomes, trace


def naive_pool(
    base_url: str, clips: Sequence[Clip], concurrency: int
) -> tuple[float, dict[int, str | None], Trace]:
    """``concurrency`` threads, each with its own client: each retries on its own clock."""
    trace = Trace()
    local = threading.local()
    clients: list[tuple[httpx.Client, VoxtralClient]] = []
    lock = threading.Lock()

    def client() -> VoxtralClient:
        if not hasattr(local, "client"):
            http = trace.http_client()
            local.client = VoxtralClient(api_key=API_KEY, base_url=base_url, http_client=http)
            with lock:
                clients.append((http, local.client))
        return local.client  # type: ignore[no-any-return]

    def one(index: int) -> tuple[int, str | None]:
        try:
            result = client().transcribe(clips[index].path, **OPTIONS)
        except Exception as error:
            return index, f"{type(error).__name__}: {error}"
        return index, check(clips[index], result.text, result.segments)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = dict(pool.map(one, range(len(clips))))
    wall = time.monotonic() - started
    for http, _ in clients:
        http.close()
    return wall, outcomes, trace


Run = Callable[[str, Sequence[Clip]], tuple[float, dict[int, str | None], Trace]]


def run_side(
    server: ServerProcess,
    name: str,
    run: Run,
    clips: Sequence[Clip],
    *,
    precise_retry_after: bool,
    per_client_check: bool = True,
) -> Side:
    base_url = server.start(precise_retry_after=precise_retry_after)
    print(f"  {name} ...", end="", flush=True)
    wall, outcomes, trace = run(base_url, clips)
    records, errors = server.records()
    print(f" {wall:.1f} s", flush=True)
    return Side(name, wall, outcomes, trace, records, errors, per_client_check)


# --------------------------------------------------------------------------- the report


def describe(side: Side, files: int) -> tuple[list[str], list[str]]:
    """The side's row, and its detail lines."""
    trace = side.trace
    throttled = trace.throttled
    early = early_sends(throttled, trace.sent)
    server_side = server_early(side.records, trace)
    lost = side.lost(files)
    statuses: dict[int | None, int] = {}
    for record, _ in side.records:
        statuses[record.status] = statuses.get(record.status, 0) + 1
    margin = "-" if early.margin is None else f"{early.margin * 1000:+.1f} ms"
    server_margin = "-" if server_side.margin is None else f"{server_side.margin * 1000:+.1f} ms"
    row = [
        side.name,
        f"{side.wall:.2f}",
        f"{files / side.wall:.2f}",
        str(len(lost)),
        str(len(trace.sent)),
        str(len(throttled)),
        str(len(trace.sent) - files),
        str(trace.peak_in_flight()),
        f"{early.count} ({margin})",
        f"{server_side.count} ({server_margin})",
    ]
    waits = sorted({wait for _, wait in throttled})
    details = [
        f"{side.name}: server statuses {dict(sorted(statuses.items(), key=str))}; "
        f"429 waits asked: {', '.join(f'{w:g}' for w in waits[:6]) or '-'}"
        + (" ..." if len(waits) > 6 else "")
        + (f" s; 200s/s while sending: {_ok_rate(side.records):.2f}" if side.records else ""),
    ]
    if throttled:
        holds, held = held_time(throttled)
        details.append(
            f"  Retry-After waits in force (their union): {held:.2f} s of {side.wall:.2f} s, "
            f"in {holds} stretch(es)"
        )
    details += [f"  lost {line}" for line in lost[:10]]
    details += [f"  server error: {error}" for error in side.server_errors[:5]]
    if not side.per_client_check and early.count:
        details.append(
            "  (one client per thread: a send during another thread's Retry-After is no "
            "violation of that thread's client, but the server counts it against the key)"
        )
    return row, details


def held_time(throttled: Sequence[tuple[float, float]]) -> tuple[int, float]:
    """How many separate stretches the 429s' waits make, and their total seconds."""
    stretches: list[list[float]] = []
    for start, wait in sorted(throttled):
        if stretches and start <= stretches[-1][1]:
            stretches[-1][1] = max(stretches[-1][1], start + wait)
        else:
            stretches.append([start, start + wait])
    return len(stretches), sum(end - start for start, end in stretches)


def _ok_rate(records: Sequence[tuple[RecordedRequest, int | None]]) -> float:
    """Successful requests per second between the first and the last arrival."""
    arrivals = [record.arrived for record, _ in records]
    span = max(arrivals) - min(arrivals)
    ok = sum(1 for record, _ in records if record.status == 200)
    return ok / span if span > 0 else math.inf


HEADER = [
    "side",
    "wall s",
    "files/s",
    "lost",
    "requests",
    "429s",
    "retries",
    "peak in flight",
    "early sends (margin)",
    "server view",
]


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def failures(baseline: Side, bulks: Sequence[Side], files: int, target: float) -> list[str]:
    """What missed a target; ``target`` is the speed-up each bulk run must reach."""
    missed: list[str] = []
    for side in [baseline, *bulks]:
        if lost := side.lost(files):
            missed.append(f"{side.name}: {len(lost)} file(s) lost (target 0)")
    for side in bulks:
        speedup = baseline.wall / side.wall
        if speedup < target:
            missed.append(f"{side.name}: {speedup:.2f}x faster (target >= {target:.2f}x)")
        early = early_sends(side.trace.throttled, side.trace.sent)
        if early.count:
            missed.append(
                f"{side.name}: {early.count} request(s) sent while a Retry-After was running "
                f"(closest {early.margin * 1000:+.1f} ms)"
                if early.margin is not None
                else f"{side.name}: {early.count} early request(s)"
            )
        if not side.trace.throttled:
            missed.append(f"{side.name}: no 429 at all: the rate limit did not bind")
    return missed


# --------------------------------------------------------------------------- main


@contextmanager
def clips_in_temp(count: int, seed: int) -> Iterator[tuple[list[Clip], float]]:
    with tempfile.TemporaryDirectory(prefix="voxtral-bulk-") as directory:
        started = time.monotonic()
        clips = make_clips(Path(directory), count, seed)
        yield clips, time.monotonic() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--latency", type=float, default=LATENCY, help="server seconds per request")
    parser.add_argument(
        "--latency-per-audio-second",
        type=float,
        default=LATENCY_PER_AUDIO_SECOND,
        help="server seconds added per second of audio",
    )
    parser.add_argument("--rate-limit", type=float, default=RATE_LIMIT, help="requests per second")
    parser.add_argument("--burst", type=float, default=BURST, help="token bucket size")
    parser.add_argument(
        "--retry-after",
        choices=("seconds", "ms", "both"),
        default="both",
        help="whole-second Retry-After, retry-after-ms too, or a bulk run with each",
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive thread pool")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.files < 1 or args.concurrency < 1:
        parser.error("--files and --concurrency must be >= 1")
    if args.rate_limit <= 0 or args.burst < 1:
        parser.error("--rate-limit must be > 0 and --burst >= 1")

    settings = ServerSettings(
        args.latency, args.latency_per_audio_second, args.rate_limit, args.burst
    )
    modes = {"seconds": [False], "ms": [True], "both": [False, True]}[args.retry_after]
    server = ServerProcess(settings)
    try:
        with clips_in_temp(args.files, args.seed) as (clips, made):
            seconds = [clip.seconds for clip in clips]
            size = sum(clip.path.stat().st_size for clip in clips)
            latencies = [args.latency + args.latency_per_audio_second * s for s in seconds]
            print(
                f"{len(clips)} distinct clips: {min(seconds):.2f}-{max(seconds):.2f} s of "
                f"speech-like WAV (16 kHz mono), {size / 1e6:.1f} MB, made in {made:.1f} s"
            )
            print(
                f"server (child process): answers after {args.latency:g} s + "
                f"{args.latency_per_audio_second:g} s per audio second ({min(latencies):.2f}-"
                f"{max(latencies):.2f} s, mean {sum(latencies) / len(latencies):.2f} s); limit "
                f"{args.rate_limit:g} req/s, burst {args.burst:g}, 429 answered at once"
            )
            bound = max(0.0, len(clips) - args.burst) / args.rate_limit + max(latencies)
            print(
                f"no client can beat about {bound:.1f} s under this limit ((files - burst) / "
                f"rate + the slowest answer): at most {sum(latencies) / bound:.1f}x the server "
                "time of a sequential loop"
            )
            # the whole-second mode tells a client no rate: in a run too long to finish at
            # the pool's full speed on the burst alone, it must find the limiter empty twice
            # (its burst, then its rate), and each 1-s hold refills only ``burst``
            top = args.concurrency * len(latencies) / sum(latencies)
            drained = top * args.burst / (top - args.rate_limit) if top > args.rate_limit else 0
            blind = None
            if drained and len(clips) - args.burst > 2 * drained:
                blind = bound + 2 * max(0.0, 1.0 - args.burst / args.rate_limit)
                print(
                    "with Retry-After in whole seconds and no rate-limit header, a client "
                    "that learns the rate instead of guessing it must find the limiter empty "
                    "twice (its burst, then its rate), each 1-s hold losing 1 - burst / rate "
                    f"s: none beats about {blind:.2f} s"
                )
            concurrency = args.concurrency
            print("running (each side against a fresh server):")
            baseline = run_side(
                server, "sequential loop", sequential, clips, precise_retry_after=False
            )
            bulks = [
                run_side(
                    server,
                    f"bulk, {'retry-after-ms' if precise else 'Retry-After s'}",
                    lambda url, c: bulk(url, c, concurrency),
                    clips,
                    precise_retry_after=precise,
                )
                for precise in modes
            ]
            extra = []
            if not args.no_naive:
                extra.append(
                    run_side(
                        server,
                        "naive pool, Retry-After s",
                        lambda url, c: naive_pool(url, c, concurrency),
                        clips,
                        precise_retry_after=False,
                        per_client_check=False,
                    )
                )
    finally:
        server.close()

    rows, details = [HEADER], []
    for side in [baseline, *bulks, *extra]:
        row, lines = describe(side, len(clips))
        rows.append(row)
        details += lines
    print()
    print(table(rows))
    print()
    print("\n".join(details))
    print()
    for side in [*bulks, *extra]:
        print(
            f"speed-up {side.name}: {baseline.wall / side.wall:.2f}x "
            f"(sequential {baseline.wall:.2f} s / {side.wall:.2f} s); "
            f"{len(clips) / side.wall:.1f} files/s against a limit of {args.rate_limit:g} req/s"
        )
        if blind is not None and side.name == "bulk, Retry-After s":
            print(
                f"  {blind / side.wall:.0%} of the {baseline.wall / blind:.2f}x that no client "
                "learning the rate beats in this mode"
            )
    target = MIN_SHARE_OF_BOUND * baseline.wall / bound
    print(
        f"target: {MIN_SHARE_OF_BOUND:.0%} of the bound's {baseline.wall / bound:.2f}x "
        f"(sequential {baseline.wall:.2f} s / {bound:.2f} s) = {target:.2f}x"
    )
    missed = failures(baseline, bulks, len(clips), target)
    print()
    if missed:
        print("TARGETS MISSED:")
        print("\n".join(f"  {line}" for line in missed))
        return 1
    print(
        f"targets met: every bulk run >= {target:.2f}x, no file lost, "
        "no request sent sooner than a Retry-After allowed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
