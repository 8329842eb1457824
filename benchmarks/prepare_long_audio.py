"""Two hours of MP3, prepared for upload: our stream copy against the seed notebook's pydub.

One run does three things with the same 2-hour MP3 of speech-like bursts (1-8 s)
between pauses (0.3-2 s), made once from a fixed seed and cached under /tmp:

1. **Our preparation**, in a fresh child process: ``resolve_audio(path)``,
   ``prepare(..., max_chunk_seconds=840)`` (14-minute chunks, as the seed notebook
   uses), then every chunk payload's bytes produced and hashed, one at a time.
2. **The seed notebook's approach**, in another fresh child process:
   ``pydub.AudioSegment.from_file(path)``, fixed 14-minute slices, and
   ``chunk.export(BytesIO(), format="mp3")`` for each (pydub runs ffmpeg).
   Printed: both wall times and peak resident memories, the ratio of the times
   (target >= 10), and where our cuts landed against the generated pauses.
3. **End to end**: ``VoxtralClient.transcribe(path, timestamp_granularities=
   ["segment"], concurrency=8)`` with the library's default chunking (even chunks
   of about 15 minutes: eight for two hours) against the local server
   (``local_server.py``, in a thread), which answers each chunk after a latency
   proportional to its audio duration. Printed: the wall time, the slowest
   chunk's time on the server, and their ratio (target <= 1.5); the stitched
   result is checked (chunk count, ordered segments that tile the recording,
   chunk offsets applied).

Exits 1 if any target is missed or a check fails (every figure is printed
either way), 0 otherwise.

    python benchmarks/prepare_long_audio.py
    python benchmarks/prepare_long_audio.py --profile   # where our time goes
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import hashlib
import importlib.util
import io
import itertools
import json
import math
import pstats
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(_ROOT))

SEED = 20_260_517
DURATION = 2 * 3600.0
RATE = 16_000
"""Mono, 16 kHz (MPEG-2 Layer III): what speech is often recorded at, and what
Voxtral's encoder works at. ``--rate 44100`` makes a podcast-style file instead."""
BITRATE = 64_000
CHUNK_SECONDS = 840.0
"""14 minutes, the seed notebook's chunk length."""
MAX_BYTES = 500_000_000
"""The API's request limit, as the client passes it to ``prepare``."""
CONCURRENCY = 8
LATENCY_PER_AUDIO_SECOND = 0.010
"""Server seconds per second of audio: a 14-minute chunk is answered after 8.4 s."""
CACHE_DIR = Path("/tmp/voxtral-benchmarks")

MIN_SPEEDUP = 10.0
MAX_OUR_RSS_MB = 200.0
MAX_WALL_OVER_SLOWEST = 1.5

INSTALL_HINT = (
    "The pydub comparison needs pydub and an ffmpeg binary (with ffprobe):\n"
    "    python -m pip install pydub\n"
    "    apt-get update && apt-get install -y ffmpeg\n"
    "and, on Python 3.13 or later (the standard library's audioop is gone):\n"
    "    python -m pip install audioop-lts"
)


# --------------------------------------------------------------------------- the audio


@dataclass(frozen=True)
class Speech:
    """Where the generated file has speech: bursts, and the pauses between them."""

    duration: float
    bursts: list[tuple[float, float]]
    pauses: list[tuple[float, float]]
    """Silences between two bursts (the lead-in before the first burst included)."""

    def pause_at(self, time: float) -> tuple[float, float] | None:
        """The pause holding ``time``, or ``None`` when ``time`` is in a burst."""
        index = bisect.bisect_right(self.pauses, (time, math.inf)) - 1
        if index >= 0 and self.pauses[index][0] <= time <= self.pauses[index][1]:
            return self.pauses[index]
        return None


def plan_speech(duration: float, rate: int, seed: int) -> Speech:
    """Bursts of 1-8 s after pauses of 0.3-2 s, in whole samples, from ``seed``."""
    rng = random.Random(seed)
    total = round(duration * rate)
    bursts: list[tuple[float, float]] = []
    pauses: list[tuple[float, float]] = []
    position = 0
    while position < total:
        pause = round(rng.uniform(0.3, 2.0) * rate)
        burst = round(rng.uniform(1.0, 8.0) * rate)
        start = min(position + pause, total)
        end = min(start + burst, total)
        pauses.append((position / rate, start / rate))
        if end > start:
            bursts.append((start / rate, end / rate))
        position = end
    return Speech(total / rate, bursts, pauses)


def _voice(rate: int, pitch: float, seed: int) -> bytes:
    """One second of a speech-like sound: harmonics under a 4 Hz envelope, plus noise."""
    rng = random.Random(seed)
    samples = [0] * rate
    for i in range(rate):
        t = i / rate
        envelope = 0.55 + 0.45 * math.sin(2 * math.pi * 4 * t)
        tone = sum(math.sin(2 * math.pi * pitch * k * t) / k for k in (1, 2, 3))
        samples[i] = int(7000 * envelope * tone + rng.uniform(-300, 300))
    return b"".join(sample.to_bytes(2, "little", signed=True) for sample in samples)


def speech_pcm(speech: Speech, rate: int) -> Iterator[bytes]:
    """The file's mono s16 PCM, a region at a time, cut from a few precomputed voices."""
    longest = 8 * rate
    voices = [_voice(rate, pitch, seed) * 8 for seed, pitch in enumerate((105, 130, 165, 210))]
    silence = bytes(2 * round(2.0 * rate) + 2)
    position = 0
    for number, (start, end) in enumerate(speech.bursts):
        first, last = round(start * rate), round(end * rate)
        yield silence[: 2 * (first - position)]
        yield voices[number % len(voices)][: 2 * min(last - first, longest)]
        position = last
    yield bytes(2 * (round(speech.duration * rate) - position))


def write_mp3(path: Path, speech: Speech, rate: int, bitrate: int) -> None:
    """Encode ``speech`` with PyAV's libmp3lame (CBR) to ``path``, atomically."""
    import av

    partial = path.with_suffix(".partial")
    with av.open(str(partial), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
        stream.codec_context.bit_rate = bitrate
        step = rate  # one-second frames
        pts = 0
        pending = b""
        for piece in speech_pcm(speech, rate):
            pending += piece
            while len(pending) >= 2 * step:
                pts = _encode(container, stream, pending[: 2 * step], pts, rate)
                pending = pending[2 * step :]
        if pending:
            _encode(container, stream, pending, pts, rate)
        for packet in stream.encode(None):
            container.mux(packet)
    partial.replace(path)


def _encode(container: Any, stream: Any, pcm: bytes, pts: int, rate: int) -> int:
    import av

    frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
    frame.planes[0].update(pcm)
    frame.sample_rate = rate
    frame.pts = pts
    frame.time_base = Fraction(1, rate)
    for packet in stream.encode(frame):
        container.mux(packet)
    return pts + len(pcm) // 2


def cached_mp3(duration: float, rate: int, bitrate: int, seed: int) -> tuple[Path, Speech, float]:
    """The generated file (made now unless cached), its speech map, and seconds spent making it."""
    speech = plan_speech(duration, rate, seed)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    name = f"speech-{duration:.0f}s-{rate}hz-{bitrate // 1000}k-seed{seed}-v1.mp3"
    path = CACHE_DIR / name
    if path.exists() and path.stat().st_size > 0:
        return path, speech, 0.0
    started = time.perf_counter()
    write_mp3(path, speech, rate, bitrate)
    return path, speech, time.perf_counter() - started


# --------------------------------------------------------------------------- child processes


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child_ours(path: str) -> dict[str, Any]:
    """Our preparation of ``path``: probe, plan the cuts, produce every payload's bytes."""
    from voxtral_integrations._audio import prepare
    from voxtral_integrations._sources import AudioUpload, resolve_audio

    baseline = _rss_mb()
    started = time.perf_counter()
    upload = resolve_audio(path)
    assert isinstance(upload, AudioUpload)
    info, payloads = prepare(upload, max_chunk_seconds=CHUNK_SECONDS, max_bytes=MAX_BYTES)
    planned = time.perf_counter()
    digests, sizes = [], []
    for payload in payloads:
        with payload.upload.open() as content:
            data = content if isinstance(content, bytes) else content.read()
        digests.append(hashlib.sha256(data).hexdigest()[:12])
        sizes.append(len(data))
        del data
    finished = time.perf_counter()
    return {
        "seconds": finished - started,
        "plan_seconds": planned - started,
        "bytes_seconds": finished - planned,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _peak_rss_mb(),
        "duration": info.duration,
        "chunks": [[p.chunk.start, p.chunk.end] for p in payloads],
        "sizes": sizes,
        "digests": digests,
    }


def child_pydub(path: str) -> dict[str, Any]:
    """The seed notebook: decode it all with pydub, slice every 14 minutes, export MP3."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # audioop, on 3.11 and 3.12
        from pydub import AudioSegment  # type: ignore[import-untyped]

    baseline = _rss_mb()
    started = time.perf_counter()
    audio = AudioSegment.from_file(path)
    loaded = time.perf_counter()
    chunk_ms = round(CHUNK_SECONDS * 1000)
    sizes = []
    for index in range(math.ceil(len(audio) / chunk_ms)):
        chunk = audio[index * chunk_ms : min((index + 1) * chunk_ms, len(audio))]
        buffer = io.BytesIO()
        chunk.export(buffer, format="mp3")
        sizes.append(len(buffer.getvalue()))
        hashlib.sha256(buffer.getvalue())
    finished = time.perf_counter()
    return {
        "seconds": finished - started,
        "plan_seconds": loaded - started,
        "bytes_seconds": finished - loaded,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _peak_rss_mb(),
        "duration": len(audio) / 1000,
        "sizes": sizes,
    }


def child_profile(path: str) -> dict[str, Any]:
    """Our preparation under cProfile; prints the top functions to stderr."""
    profiler = cProfile.Profile()
    result = profiler.runcall(child_ours, path)
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(15)
    return result


CHILDREN: dict[str, Callable[[str], dict[str, Any]]] = {
    "ours": child_ours,
    "pydub": child_pydub,
    "profile": child_profile,
}


def run_child(name: str, path: Path) -> dict[str, Any]:
    """Run ``CHILDREN[name](path)`` in a fresh interpreter; its JSON result."""
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", name, str(path)],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if name == "profile":
        print(completed.stderr, end="")
    if completed.returncode != 0:
        raise RuntimeError(f"the {name!r} child failed:\n{completed.stderr.strip()}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def pydub_missing() -> str | None:
    """Why the pydub comparison cannot run here, or ``None`` if it can."""
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if importlib.util.find_spec("pydub") is None:
        missing.insert(0, "pydub")
    if sys.version_info >= (3, 13) and importlib.util.find_spec("audioop") is None:
        missing.append("audioop (audioop-lts)")
    return f"missing: {', '.join(missing)}" if missing else None


# --------------------------------------------------------------------------- end to end


@dataclass(frozen=True)
class EndToEnd:
    wall: float
    server_times: list[float]
    """Seconds each chunk request spent on the server (head read to answer), by arrival."""
    arrivals: list[float]
    """Seconds from the call to each request's arrival."""
    problems: list[str]
    chunks: int

    @property
    def slowest(self) -> float:
        return max(self.server_times)

    def ideal(self, concurrency: int) -> float:
        """The makespan of these server times run in request order on ``concurrency`` slots."""
        slots = [0.0] * concurrency
        for seconds in self.server_times:
            slots.sort()
            slots[0] += seconds
        return max(slots)


def end_to_end(
    path: Path, planned: Sequence[Sequence[float]], latency: float, concurrency: int
) -> EndToEnd:
    from benchmarks.local_server import LocalVoxtralServer, mp3_seconds
    from voxtral_integrations import VoxtralClient

    with LocalVoxtralServer(
        latency_per_audio_second=latency, audio_duration=mp3_seconds, max_body_bytes=MAX_BYTES
    ) as server:
        with VoxtralClient(api_key="bench", base_url=server.base_url) as client:
            started = time.monotonic()
            result = client.transcribe(  # the library's own chunking: even ~15-minute chunks
                str(path), timestamp_granularities=["segment"], concurrency=concurrency
            )
            wall = time.monotonic() - started
        records = server.requests
    problems = check_stitched(result, [[c.start, c.end] for c in result.chunks])
    if [r.status for r in records] != [200] * len(result.chunks):
        problems.append(f"{len(records)} requests, statuses {[r.status for r in records]}")
    return EndToEnd(
        wall=wall,
        server_times=[r.responded - r.arrived for r in records],
        arrivals=[r.arrived - started for r in records],
        problems=problems,
        chunks=len(result.chunks),
    )


def check_stitched(
    result: Any, planned: Sequence[Sequence[float]], tolerance: float = 0.05
) -> list[str]:
    """What is wrong with the stitched transcription.

    The server answers each chunk with segments spanning all of it, so the stitched
    segments must tile the recording, and a segment must start at every chunk's
    offset. ``planned`` is the chunks ``prepare`` made in the child process.
    """
    problems = []
    chunks, segments = result.chunks, result.segments
    got = [[round(c.start, 6), round(c.end, 6)] for c in chunks]
    if got != [[round(start, 6), round(end, 6)] for start, end in planned]:
        problems.append(f"{len(chunks)} chunks, not the {len(planned)} planned: {got}")
    duration = planned[-1][1]
    starts = [s.start for s in segments]
    if any(s.start is None or s.end is None or s.end < s.start for s in segments):
        problems.append("a segment has no times or ends before it starts")
        return problems
    if starts != sorted(starts):
        problems.append("segments are not in order")
    # the first MP3 chunk starts before 0 by the encoder delay: where its audio begins
    if not segments or abs(segments[0].start - chunks[0].start) > tolerance:
        problems.append(f"the first segment does not start at {chunks[0].start:.3f} s")
    if segments and abs(segments[-1].end - duration) > tolerance:
        problems.append(f"the last segment ends at {segments[-1].end:.2f}, not {duration:.2f}")
    gaps = [
        (a.end, b.start)
        for a, b in itertools.pairwise(segments)
        if abs(b.start - a.end) > tolerance
    ]
    if gaps:
        problems.append(f"{len(gaps)} gaps or overlaps between segments, first {gaps[0]}")
    unshifted = [c for c in chunks[1:] if min(abs(s - c.start) for s in starts) > tolerance]
    if unshifted:
        problems.append(f"{len(unshifted)} chunk(s) without a segment at their start offset")
    return problems


# --------------------------------------------------------------------------- report


def start_offset(path: Path) -> float:
    """Where the generated audio starts in the MP3's packet times: the encoder's delay.

    Chunk times are packet times; LAME's output starts this much later (its tag
    tells a gapless decoder to skip it), so a cut at packet time ``t`` is at
    ``t - offset`` in the generated audio.
    """
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return float(stream.start_time * stream.time_base) if stream.start_time else 0.0


def cut_report(
    chunks: Sequence[Sequence[float]], speech: Speech, offset: float
) -> tuple[int, list[str]]:
    """How many cuts fell in a generated pause, and one line per cut."""
    inside, lines = 0, []
    for cut, _ in chunks[1:]:
        start = cut - offset
        pause = speech.pause_at(start)
        if pause is not None:
            inside += 1
            margin = min(start - pause[0], pause[1] - start)
            where = f"in pause {pause[0]:.2f}-{pause[1]:.2f} ({margin * 1000:.0f} ms from its edge)"
        else:
            edges = [edge for p in speech.pauses for edge in p]
            nearest = min(edges, key=lambda edge: abs(edge - start))
            where = f"IN SPEECH, {abs(nearest - start) * 1000:.0f} ms from the nearest pause"
        lines.append(f"  cut at {cut:9.3f} s ({start:9.3f} s generated)  {where}")
    return inside, lines


def compare(path: Path, speech: Speech, *, skip_pydub: bool) -> tuple[dict[str, Any], list[str]]:
    """Steps 1 and 2: our preparation and pydub's, each in a fresh child process."""
    failures: list[str] = []
    ours = run_child("ours", path)
    print(
        f"\nours:  {ours['seconds']:7.2f} s  (probe + plan {ours['plan_seconds']:.2f} s, "
        f"payload bytes {ours['bytes_seconds']:.2f} s)  peak RSS {ours['peak_rss_mb']:6.1f} MB "
        f"(after imports {ours['baseline_rss_mb']:.1f} MB)  "
        f"{len(ours['chunks'])} chunks, {sum(ours['sizes']) / 1e6:.1f} MB sent as they are"
    )
    missing = pydub_missing()
    if skip_pydub:
        print("pydub: skipped (--skip-pydub)")
    elif missing is not None:
        print(f"pydub: not run, {missing}.\n{INSTALL_HINT}")
        failures.append("the pydub comparison could not run (the speed-up is unmeasured)")
    else:
        try:
            theirs = run_child("pydub", path)
        except RuntimeError as exc:
            print(f"pydub: {exc}\n{INSTALL_HINT}")
            failures.append("the pydub comparison failed (the speed-up is unmeasured)")
        else:
            sent = sum(theirs["sizes"])
            print(
                f"pydub: {theirs['seconds']:7.2f} s  (from_file {theirs['plan_seconds']:.2f} s, "
                f"exports {theirs['bytes_seconds']:.2f} s)  peak RSS "
                f"{theirs['peak_rss_mb']:6.1f} MB (after imports "
                f"{theirs['baseline_rss_mb']:.1f} MB)  {len(theirs['sizes'])} chunks, "
                f"{sent / 1e6:.1f} MB re-encoded ({sent * 8 / theirs['duration'] / 1000:.0f} "
                "kbit/s, ffmpeg's default)"
            )
            speedup = theirs["seconds"] / ours["seconds"]
            print(f"speed-up pydub / ours: {speedup:.1f}x   target >= {MIN_SPEEDUP:.0f}x")
            if speedup < MIN_SPEEDUP:
                failures.append(f"speed-up {speedup:.1f}x < {MIN_SPEEDUP:.0f}x")
    print(f"our peak RSS: {ours['peak_rss_mb']:.1f} MB   target < {MAX_OUR_RSS_MB:.0f} MB")
    if ours["peak_rss_mb"] >= MAX_OUR_RSS_MB:
        failures.append(f"our peak RSS {ours['peak_rss_mb']:.1f} MB >= {MAX_OUR_RSS_MB:.0f} MB")

    offset = start_offset(path)
    inside, lines = cut_report(ours["chunks"], speech, offset)
    cuts = len(ours["chunks"]) - 1
    print(
        f"\ncuts in a generated pause: {inside} of {cuts} (duration {ours['duration']:.3f} s "
        f"as measured, {speech.duration:.3f} s generated: the MP3 adds the encoder's delay, "
        f"{offset * 1000:.0f} ms, and padding)"
    )
    print("\n".join(lines))
    if inside < cuts:
        failures.append(f"{cuts - inside} of {cuts} cuts inside speech")
    return ours, failures


def report_end_to_end(
    path: Path, planned: Sequence[Sequence[float]], latency: float, concurrency: int
) -> list[str]:
    """Step 3: the whole pipeline against the local server; the targets it missed."""
    print(
        f"\nend to end: transcribe(concurrency={concurrency}) with the default chunking, "
        f"server latency {latency * 1000:g} ms per second of audio"
    )
    try:
        e2e = end_to_end(path, planned, latency, concurrency)
    except Exception as exc:
        print(f"  failed: {type(exc).__name__}: {exc}")
        return [f"end to end: {type(exc).__name__}: {exc}"]
    failures = []
    ratio = e2e.wall / e2e.slowest
    ideal = e2e.ideal(concurrency)
    print(
        f"  wall {e2e.wall:.2f} s, slowest chunk on the server {e2e.slowest:.2f} s, "
        f"{e2e.chunks} chunks; first request after {e2e.arrivals[0]:.2f} s"
    )
    print(
        "  requests (arrival s: seconds on the server): "
        + ", ".join(
            f"{a:.2f}: {t:.2f}" for a, t in zip(e2e.arrivals, e2e.server_times, strict=True)
        )
    )
    print(f"  wall / slowest chunk: {ratio:.2f}   target <= {MAX_WALL_OVER_SLOWEST}")
    print(
        f"  (the server times of these chunks, run in order on {concurrency} slots, take "
        f"at best {ideal:.2f} s = {ideal / e2e.slowest:.2f}x the slowest; wall / that "
        f"{e2e.wall / ideal:.2f})"
    )
    if ratio > MAX_WALL_OVER_SLOWEST:
        failures.append(f"wall / slowest chunk {ratio:.2f} > {MAX_WALL_OVER_SLOWEST}")
    print("  result: " + ("; ".join(e2e.problems) if e2e.problems else "chunks, order, offsets OK"))
    failures.extend(e2e.problems)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("NAME", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=int, default=RATE, choices=(16_000, 44_100))
    parser.add_argument("--bitrate", type=int, default=BITRATE, help="bits per second (CBR)")
    parser.add_argument("--hours", type=float, default=DURATION / 3600)
    parser.add_argument(
        "--latency-per-audio-second",
        type=float,
        default=LATENCY_PER_AUDIO_SECOND,
        help="server seconds per second of a chunk's audio (default %(default)s)",
    )
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--skip-pydub", action="store_true", help="leave the comparison out")
    parser.add_argument("--profile", action="store_true", help="also cProfile our preparation")
    args = parser.parse_args(argv)
    if args.child:
        name, path = args.child
        print(json.dumps(CHILDREN[name](path)))
        return 0

    path, speech, made = cached_mp3(args.hours * 3600, args.rate, args.bitrate, SEED)
    print(
        f"audio: {path} ({path.stat().st_size / 1e6:.1f} MB; {speech.duration / 3600:.2f} h, "
        f"mono {args.rate} Hz, {args.bitrate // 1000} kbit/s CBR MP3 from libmp3lame; "
        f"{len(speech.bursts)} bursts of 1-8 s between pauses of 0.3-2 s, seed {SEED}); "
        + (f"generated in {made:.1f} s" if made else "cached")
    )
    ours, failures = compare(path, speech, skip_pydub=args.skip_pydub)
    if args.profile:
        print("\ncProfile of our preparation (a child process):")
        run_child("profile", path)
    failures += report_end_to_end(
        path, ours["chunks"], args.latency_per_audio_second, args.concurrency
    )
    print()
    return verdict(failures)


def verdict(failures: Sequence[str]) -> int:
    """Print each failure, or that every target was met; the exit status."""
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print("PASS: every target met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
