"""No timestamp bias: 20 minutes in every container, sent whole and in 5 chunks.

Each container gets the same generated recording: speech-like bursts (1-8 s, a
few harmonics under a syllable-rate envelope, 2 ms fades, boundaries off any 10 ms grid)
between digital-silence pauses (0.4-2 s), from a fixed seed, so every boundary is
known to the sample. ``VoxtralClient.transcribe(path, timestamp_granularities=
["segment"])`` sends it to a fake server behind ``httpx.MockTransport`` that decodes
what it is sent (PyAV, as a server would) and answers one segment per burst it
hears, with times relative to the audio it received, placed to the sample. Each
recording goes through twice: **direct** (one request) and **chunked** (five
requests, cut at pauses, stitched back by the client).

Printed: the fake's own error on the raw PCM (the floor: what a perfect client
would measure), then one row per container and path: segments found / planted,
the mean start and end error (the bias), the largest error, and whether every
boundary is within 0.02 s. Exits 1 if any row breaks the targets (every boundary
within 0.02 s, mean start and end bias under 0.01 s, every burst found once, the
planned number of requests), 0 otherwise.

    python benchmarks/timestamp_bias.py
    python benchmarks/timestamp_bias.py --minutes 4   # a quicker look
    python benchmarks/timestamp_bias.py --pauses 0.2 0.3   # every cut next to speech
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run as a script: measure this checkout, not an installed copy
    sys.path.insert(0, str(_ROOT))

from benchmarks.local_server import parse_multipart  # noqa: E402
from voxtral_integrations import VoxtralClient  # noqa: E402

SEED = 20_261_202
MINUTES = 20.0
RATE = 16_000
"""The generated recording's rate, and the rate the fake decodes everything to."""
CHUNKS = 5
PAUSES = (0.4, 2.0)
"""Seconds of silence between bursts: the planner cuts well inside one. ``--pauses
0.2 0.3`` leaves it no room, so every cut lands next to speech."""
MAX_ERROR = 0.02
"""Seconds any boundary may be from the truth (the issue's target)."""
MAX_MEAN_BIAS = 0.01
"""Seconds the mean start (and end) error may be: a bias, not jitter."""

HOP = 160
"""The fake's analysis frame: 10 ms at 16 kHz."""
THRESHOLD = 400.0
"""RMS (s16) above which a frame counts as speech; generated silence is 0."""
EDGE = 1000
"""Sample magnitude (s16) that marks a burst's first and last sample: each edge found
frame by frame is then moved to the sample, so the fake's own error stays far below
the bias it is there to show."""
BRIDGE_FRAMES = 15
"""Quieter stretches shorter than this (150 ms) inside a burst are codec dropouts."""
MIN_FRAMES = 10
"""Loud stretches shorter than this (100 ms) are codec noise, not a burst."""
RAMP_SECONDS = 0.002
"""Each burst fades in and out over 2 ms, as speech does. A step would be a click,
which an MDCT codec spreads over its block (36 ms for MP3 at 16 kHz): the fake then
hears a burst end up to 20 ms late in the file itself, with no client involved."""


@dataclass(frozen=True)
class Container:
    """How one row's file is written: PyAV's container format, codec and rate."""

    format: str
    codec: str
    rate: int
    suffix: str
    options: dict[str, str] = field(default_factory=dict)
    """FFmpeg muxer options."""


CONTAINERS: dict[str, Container] = {
    "wav": Container("wav", "pcm_s16le", 16_000, ".wav"),
    "flac": Container("flac", "flac", 16_000, ".flac"),
    "ogg (opus)": Container("ogg", "libopus", 48_000, ".ogg"),
    "mp3 44.1 kHz": Container("mp3", "libmp3lame", 44_100, ".mp3"),
    "mp3 16 kHz": Container("mp3", "libmp3lame", 16_000, ".mp3"),
    "m4a (converted)": Container("ipod", "aac", 44_100, ".m4a"),
    "m4a without edit list": Container("ipod", "aac", 16_000, ".m4a", {"use_editlist": "0"}),
    "aac (ADTS)": Container("adts", "aac", 16_000, ".aac"),
}
"""The issue's containers, plus the three whose priming nothing in the file marks
for a decoder (an MP3 byte range, an MP4 without an edit list, raw ADTS)."""


# --------------------------------------------------------------------------- the audio


def plan_speech(
    duration: float, seed: int, pauses: tuple[float, float] = PAUSES
) -> list[tuple[int, int]]:
    """Bursts of 1-8 s after pauses of ``pauses`` seconds, as sample ranges, from ``seed``."""
    rng = np.random.default_rng(seed)
    total = round(duration * RATE)
    shortest, longest = round(pauses[0] * RATE), round(pauses[1] * RATE)
    bursts: list[tuple[int, int]] = []
    position = 0
    while True:
        start = position + int(rng.integers(shortest, longest + 1))
        end = start + int(rng.integers(RATE, 8 * RATE))
        if end > total - shortest:
            return bursts
        bursts.append((start, end))
        position = end


def speech_pcm(bursts: Sequence[tuple[int, int]], duration: float, seed: int) -> np.ndarray:
    """Mono s16 PCM: a burst over every range (each its own pitch), zeros elsewhere."""
    rng = np.random.default_rng(seed)
    pcm = np.zeros(round(duration * RATE), dtype=np.int16)
    ramp = round(RAMP_SECONDS * RATE)
    fade_in = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    for start, end in bursts:
        t = np.arange(end - start) / RATE
        pitch = 110 + 40 * rng.random()
        envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)  # ~4 syllables a second
        tone = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in (1, 2, 3))
        noise = rng.uniform(-300, 300, t.size)
        fade = np.ones(t.size)
        fade[:ramp], fade[-ramp:] = fade_in, fade_in[::-1]
        pcm[start:end] = (fade * (7000 * envelope * tone + noise)).astype(np.int16)
    return pcm


def encode(pcm: np.ndarray, container: Container) -> bytes:
    """``pcm`` (mono s16 at ``RATE``) written as ``container``."""
    output = io.BytesIO()
    with av.open(output, "w", format=container.format, options=container.options) as muxer:
        stream: Any = muxer.add_stream(container.codec, rate=container.rate, layout="mono")
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=container.rate
        )
        for offset in range(0, pcm.size, RATE):
            frame = av.AudioFrame.from_ndarray(
                pcm[None, offset : offset + RATE], format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = RATE, offset, Fraction(1, RATE)
            for resampled in resampler.resample(frame):
                muxer.mux(stream.encode(resampled))
        for resampled in resampler.resample(None):
            muxer.mux(stream.encode(resampled))
        muxer.mux(stream.encode(None))
    return output.getvalue()


# --------------------------------------------------------------------------- the fake server


def decode(audio: bytes) -> np.ndarray:
    """Any container's first audio stream as mono s16 at ``RATE``, as a server hears it."""
    pieces: list[np.ndarray] = []
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    with av.open(io.BytesIO(audio), "r") as container:
        for frame in container.decode(container.streams.audio[0]):
            pieces.extend(out.to_ndarray()[0] for out in resampler.resample(frame))
        pieces.extend(out.to_ndarray()[0] for out in resampler.resample(None))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)


def speech_regions(samples: np.ndarray) -> list[tuple[float, float]]:
    """Start and end (seconds) of every burst in ``samples``, each edge to the sample."""
    if samples.size == 0:
        return []
    squares = samples.astype(np.float64) ** 2
    frame_starts = np.arange(0, samples.size, HOP)
    counts = np.diff(np.append(frame_starts, samples.size))
    loud = np.sqrt(np.add.reduceat(squares, frame_starts) / counts) > THRESHOLD
    change = np.diff(np.concatenate(([0], loud.astype(np.int8), [0])))
    rises: list[int] = np.flatnonzero(change == 1).tolist()
    falls: list[int] = np.flatnonzero(change == -1).tolist()
    stretches: list[list[int]] = []
    for rise, fall in zip(rises, falls, strict=True):
        if stretches and rise - stretches[-1][1] < BRIDGE_FRAMES:
            stretches[-1][1] = fall
        else:
            stretches.append([rise, fall])
    magnitude = np.abs(samples.astype(np.int32))
    regions: list[tuple[float, float]] = []
    for start, end in stretches:
        if end - start < MIN_FRAMES:
            continue
        first, last = start * HOP, min(end * HOP, samples.size)
        head = np.flatnonzero(magnitude[max(0, first - HOP) : first + HOP] > EDGE)
        tail = np.flatnonzero(magnitude[max(0, last - HOP) : last + HOP] > EDGE)
        if head.size:
            first = max(0, first - HOP) + int(head[0])
        if tail.size:
            last = max(0, last - HOP) + int(tail[-1]) + 1
        regions.append((first / RATE, last / RATE))
    return regions


@dataclass
class FakeVoxtral:
    """``httpx.MockTransport`` handler: one segment per burst in the uploaded audio."""

    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        boundary = request.headers["content-type"].split("boundary=", 1)[1].strip('"')
        fields, files = parse_multipart(request.read(), boundary.encode("latin-1"))
        with self._lock:  # the client sends chunks from several threads
            self.requests += 1
        regions = speech_regions(decode(files["file"].content))
        texts = [f"burst {number}" for number in range(len(regions))]
        segments = [
            {"text": text, "start": round(start, 3), "end": round(end, 3)}
            for text, (start, end) in zip(texts, regions, strict=True)
        ]
        return httpx.Response(
            200,
            json={
                "model": fields["model"][0],
                "text": " ".join(texts),
                "language": "en",
                "segments": segments,
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Row:
    container: str
    path: str
    requests: int
    allowed_requests: range
    found: int
    planted: int
    start_bias: float
    end_bias: float
    worst: float

    @property
    def failures(self) -> list[str]:
        where = f"{self.container}, {self.path}"
        problems = []
        if self.requests not in self.allowed_requests:
            allowed = self.allowed_requests
            problems.append(
                f"{where}: {self.requests} requests, not {allowed.start}-{allowed.stop - 1}"
            )
        if self.found != self.planted:
            problems.append(f"{where}: {self.found} segments for {self.planted} bursts")
        if self.worst > MAX_ERROR:
            problems.append(f"{where}: a boundary {self.worst:.4f} s off (> {MAX_ERROR})")
        for edge, bias in (("start", self.start_bias), ("end", self.end_bias)):
            if abs(bias) >= MAX_MEAN_BIAS:
                problems.append(f"{where}: mean {edge} bias {bias:+.4f} s (>= {MAX_MEAN_BIAS})")
        return problems

    def cells(self) -> list[str]:
        return [
            self.container,
            f"{self.path} ({self.requests})",
            f"{self.found}/{self.planted}",
            f"{self.start_bias:+.4f} s",
            f"{self.end_bias:+.4f} s",
            f"{self.worst:.4f} s",
            "yes" if self.worst <= MAX_ERROR else "no",
        ]


def compare(
    container: str,
    path: str,
    truth: Sequence[tuple[float, float]],
    got: Sequence[tuple[float, float]],
    requests: tuple[int, range],
) -> Row:
    """``got`` against ``truth``: each burst paired with the segment that starts nearest."""
    starts = np.array([start for start, _ in got]) if got else np.array([np.inf])
    start_errors, end_errors = [], []
    for true_start, true_end in truth:
        nearest = int(np.argmin(np.abs(starts - true_start)))
        start, end = got[nearest] if got else (np.inf, np.inf)
        start_errors.append(start - true_start)
        end_errors.append(end - true_end)
    return Row(
        container=container,
        path=path,
        requests=requests[0],
        allowed_requests=requests[1],
        found=len(got),
        planted=len(truth),
        start_bias=statistics.mean(start_errors),
        end_bias=statistics.mean(end_errors),
        worst=max(map(abs, start_errors + end_errors)),
    )


def transcribe(recording: Path, max_chunk_seconds: float) -> tuple[list[tuple[float, float]], int]:
    """The stitched segment times, and how many requests the client sent."""
    fake = FakeVoxtral()
    with VoxtralClient(
        api_key="benchmark", http_client=httpx.Client(transport=httpx.MockTransport(fake))
    ) as client:
        result = client.transcribe(
            recording,
            timestamp_granularities=["segment"],
            max_chunk_seconds=max_chunk_seconds,
            concurrency=CHUNKS,
        )
    times = [(segment.start, segment.end) for segment in result.segments]
    timed = [(start, end) for start, end in times if start is not None and end is not None]
    if len(timed) < len(times):
        raise SystemExit(f"{recording.name}: the client returned segments without times")
    return timed, fake.requests


def measure(
    name: str, pcm: np.ndarray, truth: Sequence[tuple[float, float]], folder: Path
) -> tuple[list[Row], float]:
    """Both paths for one container, and the seconds they took (encoding excluded)."""
    container = CONTAINERS[name]
    recording = folder / f"{name.split()[0]}-{container.rate}{container.suffix}"
    recording.write_bytes(encode(pcm, container))
    duration = pcm.size / RATE
    began = time.perf_counter()
    rows = []
    # Direct: a limit above the recording sends it whole. Chunked: a limit of
    # duration / 4.5 is five requests on 20 minutes (four would break it), cut near
    # every fifth; on a few minutes the planner's search windows are wide against
    # such short chunks and cut early, so it takes one or two more.
    for path, limit, expected in (
        ("direct", duration + 60, range(1, 2)),
        ("chunked", duration / (CHUNKS - 0.5), range(CHUNKS, 2 * CHUNKS)),
    ):
        got, requests = transcribe(recording, limit)
        rows.append(compare(name, path, truth, got, (requests, expected)))
    return rows, time.perf_counter() - began


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (pasteable into an issue), columns padded to line up."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes", type=float, default=MINUTES, help="recording length (default %(default)s)"
    )
    parser.add_argument(
        "--containers",
        nargs="+",
        choices=list(CONTAINERS),
        default=list(CONTAINERS),
        metavar="NAME",
        help=f"a subset of: {', '.join(CONTAINERS)}",
    )
    parser.add_argument(
        "--jobs", type=int, default=2, help="containers measured at once (default %(default)s)"
    )
    parser.add_argument(
        "--pauses",
        nargs=2,
        type=float,
        default=list(PAUSES),
        metavar=("MIN", "MAX"),
        help="seconds of silence between bursts (default %(default)s)",
    )
    args = parser.parse_args(argv)
    if not 0.2 <= args.pauses[0] <= args.pauses[1]:
        parser.error("--pauses: MIN at least 0.2 s (shorter gaps the fake bridges), MAX >= MIN")
    if not 1 <= args.minutes <= 50:
        parser.error("--minutes must be between 1 and 50 (one request holds up to 60 minutes)")

    began = time.perf_counter()
    duration = args.minutes * 60
    bursts = plan_speech(duration, SEED, tuple(args.pauses))
    pcm = speech_pcm(bursts, duration, SEED)
    truth = [(start / RATE, end / RATE) for start, end in bursts]
    print(
        f"audio: {args.minutes:g} minutes, mono {RATE} Hz, {len(bursts)} bursts of 1-8 s "
        f"between pauses of {args.pauses[0]:g}-{args.pauses[1]:g} s (seed {SEED}); generated in "
        f"{time.perf_counter() - began:.1f} s"
    )
    floor = compare("raw PCM (the fake's floor)", "", truth, speech_regions(pcm), (0, range(1)))
    failures = floor.failures

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(args.jobs) as pool:
        measured = pool.map(lambda name: measure(name, pcm, truth, Path(folder)), args.containers)
        for name, (container_rows, seconds) in zip(args.containers, measured, strict=True):
            print(f"  {name}: both paths in {seconds:.1f} s")
            rows.extend(container_rows)
    header = [
        "container",
        "path (requests)",
        "segments",
        "mean start bias",
        "mean end bias",
        "max |error|",
        f"within {MAX_ERROR} s",
    ]
    floor_cells = floor.cells()
    floor_cells[1] = "no codec, no client"
    print()
    print(table(header, [floor_cells, *(row.cells() for row in rows)]))
    print(f"\ntotal {time.perf_counter() - began:.1f} s")
    failures += [problem for row in rows for problem in row.failures]
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print(
            f"PASS: every boundary within {MAX_ERROR} s, "
            f"every mean bias under {MAX_MEAN_BIAS} s, every burst found once"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
