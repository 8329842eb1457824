"""Many realtime sessions in one process: CPU, pacing and completeness, by session count.

N sessions (1, 10 and 100 by default, side by side in one run) each stream an audio
file at real-time pace, as a user would::

    async with client.realtime(model) as session:
        ... await session.send_audio(path); await session.end()   # paced at real time
        ... async for event in session: ...

all started at once on one ``AsyncVoxtralClient``, against the strict fake
(``realtime_server.py``: ``FakeRealtimeServer`` in a child process, so its work is
not the client's). The files are tone speech (``tests/support/audio_factory.py``) in
WAV (16 kHz), FLAC (16 kHz) and MP3 (44.1 kHz, resampled by the client), ~30 s each
with utterances of 3-7 words between pauses, which the fake hears word by word and
the client's default end-of-speech detector flushes. Per session count:

- **client CPU per wall second** (``getrusage`` of the benchmark process: the event
  loop and the decoding threads; target **under 1.0 core at 100 sessions**), and the
  same per session;
- **lateness** of every audio frame: when the fake received it against when it was
  due. Frame *k* of a session is due ``audio_before_k / rate`` after the session's
  schedule started; the start is taken as the one that makes the session's earliest
  frame on time (``min(arrival - audio_before / rate)``), so every figure is at least
  as strict as the pacer's own start. Target: **no frame more than 50 ms late**;
- **completeness**: each session's utterances are exactly its file's, in order, each
  final from a ``done``, with no reconnection.

Also printed: when each session's first audio reached the fake (after the handshake
and the decoder's start), and the fake's own CPU. Exits 1 if a target is missed.

    python benchmarks/realtime_scale.py
    python benchmarks/realtime_scale.py --sessions 1 50 200 --seconds 45
    python benchmarks/realtime_scale.py --smoke        # 2 sessions of 5 s, no target
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run as a script: measure this checkout, not an installed copy
    sys.path.insert(0, str(_ROOT))

from benchmarks.realtime_latency import MODELS, percentile  # noqa: E402
from benchmarks.realtime_server import API_KEY, Dialect, Frame, RealtimeServerProcess  # noqa: E402
from tests.support.audio_factory import FORMATS as FORMATS_BY_NAME  # noqa: E402
from tests.support.audio_factory import WORDS, encode, heard_words, tone_speech  # noqa: E402
from voxtral_integrations import (  # noqa: E402
    AsyncVoxtralClient,
    RealtimeEvent,
    ReconnectedEvent,
    UtteranceEvent,
)

RATE = 16_000
BYTES_PER_SECOND = 2 * RATE
SESSIONS = (1, 10, 100)
SECONDS = 30.0
FORMATS = ("wav", "flac", "mp3")
TARGET_CORES = 1.0
"""Client CPU seconds per wall second at the largest session count (100 by default)."""
TARGET_LATE_MS = 50.0
SEED = 20_261_203
APPENDS = {"input_audio.append", "input_audio_buffer.append"}
STEADY = 3.0
"""Seconds into a session after which its frames count as steady state (the start-up of
the other sessions, all at once by default, is over)."""


# --------------------------------------------------------------------------- the files


@dataclass(frozen=True)
class Recording:
    path: Path
    utterances: list[str]


def _script(rng: random.Random, seconds: float) -> tuple[list[Any], list[str]]:
    """Utterances of 3-7 words (0.15-0.35 s, 0.05-0.15 s apart) between 1.0-1.6 s pauses;
    the last one ends at least a pause before the end."""
    script: list[Any] = []
    texts: list[str] = []
    at = 0.3
    while True:
        words = rng.sample(WORDS, rng.randint(3, 7))
        said, position = [], at
        for word in words:
            length = round(rng.uniform(0.15, 0.35), 3)
            said.append((round(position, 3), round(position + length, 3), word))
            position += length + rng.uniform(0.05, 0.15)
        if said[-1][1] + 1.0 > seconds:
            return script, texts
        script += said
        texts.append(" ".join(word for _, _, word in said))
        at = said[-1][1] + rng.uniform(1.0, 1.6)


def heard(data: bytes) -> list[str]:
    """The words the fake would hear in ``data`` decoded with PyAV alone (not the client)."""
    import av

    pcm = bytearray()
    with av.open(io.BytesIO(data)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        for frame in [*container.decode(audio=0), None]:
            for out in resampler.resample(frame):
                pcm += bytes(out.planes[0])[: out.samples * 2]
    return [word for _, _, word in heard_words(bytes(pcm))]


def make_recording(path: Path, name: str, seconds: float, rng: random.Random) -> Recording:
    """A file in format ``name`` whose words survive its codec: a lossy codec can blur
    a short word past the fake's ear (its frequency read off by more than 8 Hz), and a
    script that loses one is drawn again."""
    for _ in range(20):
        script, texts = _script(rng, seconds)
        data = encode(tone_speech(script, seconds), name)
        if heard(data) == " ".join(texts).split():
            path.write_bytes(data)
            return Recording(path, texts)
    raise RuntimeError(f"no script of {seconds} s survives {name} intact")


def make_recordings(directory: Path, seconds: float, seed: int) -> list[Recording]:
    """One file per format of FORMATS, each with its own utterances."""
    rng = random.Random(seed)
    return [
        make_recording(directory / f"speech{FORMATS_BY_NAME[name][3]}", name, seconds, rng)
        for name in FORMATS
    ]


# --------------------------------------------------------------------------- a run


@dataclass
class SessionResult:
    recording: Recording
    events: list[RealtimeEvent]
    error: BaseException | None = None

    def problems(self) -> list[str]:
        if self.error is not None:
            return [f"{self.recording.path.name}: {type(self.error).__name__}: {self.error}"]
        said = [event for event in self.events if isinstance(event, UtteranceEvent)]
        found: list[str] = []
        if [u.text for u in said] != self.recording.utterances:
            found.append(
                f"{self.recording.path.name}: utterances {[u.text for u in said]} != "
                f"{self.recording.utterances}"
            )
        if any(u.final != "done" for u in said):
            found.append(f"{self.recording.path.name}: an utterance final without its done")
        if any(isinstance(event, ReconnectedEvent) for event in self.events):
            found.append(f"{self.recording.path.name}: reconnected")
        return found


async def stream(
    client: AsyncVoxtralClient, model: str, recording: Recording, delay: float
) -> SessionResult:
    result = SessionResult(recording, [])
    await asyncio.sleep(delay)
    try:
        async with client.realtime(model) as session:

            async def speak() -> None:
                await session.send_audio(recording.path)
                await session.end()

            sender = asyncio.create_task(speak())
            async for event in session:
                result.events.append(event)
            await sender
    except Exception as exc:  # reported, not raised: the other sessions' figures still count
        result.error = exc
    return result


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Run:
    sessions: int
    wall: float
    cpu: float
    server_cpu: float
    results: list[SessionResult]
    late_ms: list[float]
    steady_ms: list[float]
    """The lateness of the appends after the first STEADY seconds of each session."""
    first_audio: list[float]
    connections: int

    @property
    def cores(self) -> float:
        return self.cpu / self.wall

    @property
    def problems(self) -> list[str]:
        found = [problem for result in self.results for problem in result.problems()]
        if self.connections != self.sessions:
            found.append(f"{self.connections} connections for {self.sessions} sessions")
        return found


@dataclass(frozen=True)
class Lateness:
    """One connection's appends: each one's lateness (ms) and its place in the audio (s),
    and how long after ``session.created`` the first one came (s)."""

    late_ms: list[float]
    due: list[float]
    first_audio: float | None


def lateness(frames: list[Frame]) -> Lateness:
    """Each append's lateness against the session's schedule (see the module docstring)."""
    arrivals: list[tuple[float, float]] = []  # (arrival, seconds of audio before it)
    before = 0
    for frame in frames:
        if frame.dir == "in" and frame.type in APPENDS and frame.audio_bytes:
            arrivals.append((frame.time, before / BYTES_PER_SECOND))
            before += frame.audio_bytes
    if not arrivals:
        return Lateness([], [], None)
    start = min(arrival - due for arrival, due in arrivals)
    return Lateness(
        [1000 * (arrival - due - start) for arrival, due in arrivals],
        [due for _, due in arrivals],
        arrivals[0][0] - frames[0].time,
    )


async def run_sessions(
    server: RealtimeServerProcess,
    dialect: Dialect,
    recordings: list[Recording],
    count: int,
    stagger: float,
) -> Run:
    base_url = server.start(dialect)
    key = API_KEY if dialect == "mistral" else None
    assigned = [recordings[number % len(recordings)] for number in range(count)]
    async with AsyncVoxtralClient(key, base_url=base_url, backend=dialect) as client:
        server_cpu, cpu, started = server.cpu(), _cpu(), time.monotonic()
        results = await asyncio.gather(
            *(
                stream(client, MODELS[dialect], recording, stagger * number / count)
                for number, recording in enumerate(assigned)
            )
        )
        wall, cpu = time.monotonic() - started, _cpu() - cpu
        server_cpu = server.cpu() - server_cpu
    connections = server.records()
    late: list[float] = []
    steady: list[float] = []
    first: list[float] = []
    for frames in connections:
        found = lateness(frames)
        late += found.late_ms
        steady += [ms for ms, due in zip(found.late_ms, found.due, strict=True) if due >= STEADY]
        if found.first_audio is not None:
            first.append(found.first_audio)
    return Run(count, wall, cpu, server_cpu, list(results), late, steady, first, len(connections))


# --------------------------------------------------------------------------- the report


def report(runs: list[Run], audio_seconds: float) -> None:
    base = runs[0]
    print(
        f"{'sessions':>8} {'wall s':>7} {'CPU s':>6} {'cores':>6} {'x first':>7} "
        f"{'CPU ms/session-s':>16} {'fake cores':>10} {'frames':>7} {'late p50':>8} "
        f"{'p99':>6} {'max':>6} {'steady p99':>10} {'max ms':>6} {'1st audio s':>11} "
        f"{'complete':>9}"
    )
    for run in runs:
        per_session = 1000 * run.cpu / run.sessions / audio_seconds
        complete = sum(not result.problems() for result in run.results)
        first = f"{median(run.first_audio):.2f}/{max(run.first_audio, default=0):.2f}"
        print(
            f"{run.sessions:8d} {run.wall:7.1f} {run.cpu:6.2f} {run.cores:6.3f} "
            f"{run.cores / base.cores:6.1f}x {per_session:16.2f} "
            f"{run.server_cpu / run.wall:10.3f} {len(run.late_ms):7d} "
            f"{median(run.late_ms):8.1f} {percentile(run.late_ms, 0.99):6.1f} "
            f"{max(run.late_ms):6.1f} {percentile(run.steady_ms, 0.99):10.1f} "
            f"{max(run.steady_ms):6.1f} {first:>11} {complete:>4d}/{run.sessions:<4d}"
        )


def median(values: Sequence[float]) -> float:
    return percentile(values, 0.5) if values else float("nan")


def missed_targets(runs: list[Run]) -> list[str]:
    missed = [f"{run.sessions} sessions: {problem}" for run in runs for problem in run.problems]
    largest = runs[-1]
    if largest.cores >= TARGET_CORES:
        missed.append(f"{largest.sessions} sessions: {largest.cores:.3f} cores >= {TARGET_CORES:g}")
    for run in runs:
        if max(run.late_ms) > TARGET_LATE_MS:
            steady = max(run.steady_ms)
            missed.append(
                f"{run.sessions} sessions: a frame {max(run.late_ms):.1f} ms late "
                f"(> {TARGET_LATE_MS:g}); after the first {STEADY:g} s: {steady:.1f} ms"
            )
    return missed


async def warm_up(server: RealtimeServerProcess, dialect: Dialect, directory: Path) -> None:
    """One short session first: PyAV's import and first decode, pydantic's first models."""
    short = make_recording(directory / "warm-up.mp3", "mp3", 3.0, random.Random(SEED))
    await run_sessions(server, dialect, [short], 1, 0.0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, nargs="+", default=list(SESSIONS))
    parser.add_argument("--seconds", type=float, default=SECONDS, help="audio per file (s)")
    parser.add_argument("--dialect", choices=("mistral", "vllm"), default="mistral")
    parser.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        help="start the sessions spread evenly over this many seconds (default: all at once)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--smoke", action="store_true", help="2 sessions of 5 s; no target")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sessions, args.seconds = [2], 5.0
    if min(args.sessions) < 1 or args.seconds < 5 or args.stagger < 0:
        parser.error("--sessions must be >= 1, --seconds >= 5 and --stagger >= 0")
    with tempfile.TemporaryDirectory(prefix="voxtral-realtime-") as name:
        directory = Path(name)
        made = time.monotonic()
        recordings = make_recordings(directory, args.seconds, args.seed)
        print(
            f"{len(recordings)} files of {args.seconds:g} s tone speech ("
            + ", ".join(
                f"{r.path.suffix[1:]} {r.path.stat().st_size // 1000} kB, "
                f"{len(r.utterances)} utterances"
                for r in recordings
            )
            + f"), made in {time.monotonic() - made:.1f} s; sessions use them in turn, "
            + (f"started over {args.stagger:g} s" if args.stagger else "all started at once")
            + f", {args.dialect} dialect, the fake in a child process"
        )
        runs = []
        with contextlib.closing(RealtimeServerProcess()) as server:
            if not args.smoke:
                asyncio.run(warm_up(server, args.dialect, directory))
            for count in args.sessions:
                run = run_sessions(server, args.dialect, recordings, count, args.stagger)
                runs.append(asyncio.run(run))
                print(f"  {count} session(s): {runs[-1].wall:.1f} s")
    print()
    report(runs, args.seconds)
    print(
        "\ncores: client CPU s per wall s; x first: against the first row; late: each "
        "append's arrival at the fake against its real-time schedule, ms (steady: after the "
        f"first {STEADY:g} s of each session); 1st audio: median/max s from session.created "
        "to the session's first append at the fake"
    )
    missed = missed_targets(runs)
    print()
    if args.smoke:
        problems = [line for run in runs for line in run.problems]
        if problems:
            print("INCOMPLETE:\n" + "\n".join(f"  {line}" for line in problems))
            return 1
        print("smoke run: every session complete; timing targets not checked")
        return 0
    if missed:
        print("TARGETS MISSED:\n" + "\n".join(f"  {line}" for line in missed))
        return 1
    print(
        f"targets met: under {TARGET_CORES:g} core at {runs[-1].sessions} sessions, no frame "
        f"over {TARGET_LATE_MS:g} ms late, every session complete"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
