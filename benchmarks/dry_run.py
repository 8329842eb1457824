"""``voxtral transcribe DIR --dry-run`` over 200 short files: the estimate's own cost.

Makes 200 recordings of 5-60 s (a fixed seed; noise bursts between pauses) in five
formats, 40 each: WAV and FLAC (16 kHz), MP3 and M4A/AAC (44.1 kHz), Ogg/Opus
(48 kHz), in a temporary directory. Then runs the command as a user would, in a
fresh interpreter (``python -m voxtral_integrations transcribe DIR --dry-run``, no
API key, nothing sent): first over 20 of the files, then over all 200, each a few
times, and prints the median wall time of each next to its time per file, so the
fixed cost (the interpreter, the import) and the cost per file (a probe each, a cut
plan for the few that need one) can be told apart. The table's total row is
checked (file count, minutes).

The target: **200 files in under 5 s** (the median, start-up included). Exits 1
if it is missed, 0 otherwise.

    python benchmarks/dry_run.py
    python benchmarks/dry_run.py --files 500 --runs 5 --diarize
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
SEED = 20_261_203
TARGET_SECONDS = 5.0
FORMATS = (  # suffix, container, codec, sample rate
    (".wav", "wav", "pcm_s16le", 16_000),
    (".flac", "flac", "flac", 16_000),
    (".mp3", "mp3", "libmp3lame", 44_100),
    (".m4a", "ipod", "aac", 44_100),
    (".ogg", "ogg", "libopus", 48_000),
)


def speech_like(seconds: float, rate: int, rng: random.Random) -> np.ndarray:
    """Noise bursts of 1-6 s between pauses of 0.3-1.5 s, as int16 mono."""
    samples = np.zeros(int(seconds * rate), dtype=np.int16)
    noise = np.random.default_rng(rng.randrange(2**32))
    position = rng.uniform(0.2, 1.0)
    while position < seconds:
        length = min(rng.uniform(1.0, 6.0), seconds - position)
        start, stop = int(position * rate), int((position + length) * rate)
        samples[start:stop] = noise.normal(0, 3000, stop - start).clip(-32768, 32767)
        position += length + rng.uniform(0.3, 1.5)
    return samples


def write(path: Path, samples: np.ndarray, container: str, codec: str, rate: int) -> None:
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame_size = 960 if codec == "libopus" else 1152
        for index, start in enumerate(range(0, len(samples), frame_size)):
            block = samples[start : start + frame_size]
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = index * frame_size
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)


def make_corpus(directory: Path, count: int) -> float:
    """``count`` files in ``directory``; returns their total length in seconds."""
    rng = random.Random(SEED)
    total = 0.0
    for index in range(count):
        suffix, container, codec, rate = FORMATS[index % len(FORMATS)]
        seconds = rng.uniform(5.0, 60.0)
        write(
            directory / f"rec{index:04d}{suffix}",
            speech_like(seconds, rate, rng),
            container,
            codec,
            rate,
        )
        total += seconds
    return total


def dry_run(directory: Path, extra: list[str]) -> tuple[float, str]:
    """One ``--dry-run`` in a fresh interpreter: its wall time and its table."""
    env = {key: value for key, value in os.environ.items() if key != "MISTRAL_API_KEY"}
    command = [
        sys.executable,
        "-m",
        "voxtral_integrations",
        "transcribe",
        str(directory),
        "--dry-run",
        *extra,
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=_ROOT, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the dry run failed ({done.returncode}):\n{done.stderr}")
    return elapsed, done.stdout


def total_row(table: str) -> tuple[int, float]:
    [row] = [line for line in table.splitlines() if line.startswith("total (")]
    files = int(row.split("(", 1)[1].split()[0])
    return files, float(row.split(")", 1)[1].split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--small", type=int, default=20, help="the smaller run's file count")
    parser.add_argument("--runs", type=int, default=3, help="runs of each size (median)")
    parser.add_argument("--diarize", action="store_true", help="estimate with --diarize")
    args = parser.parse_args()
    extra = ["--diarize"] if args.diarize else []
    with tempfile.TemporaryDirectory(prefix="voxtral-dry-run-") as temporary:
        root = Path(temporary)
        big, small = root / "all", root / "some"
        big.mkdir()
        small.mkdir()
        started = time.perf_counter()
        seconds = make_corpus(big, args.files)
        for path in sorted(big.iterdir())[: args.small]:
            (small / path.name).symlink_to(path)
        print(
            f"made {args.files} files ({seconds / 60:.1f} min of audio, "
            f"{', '.join(s for s, *_ in FORMATS)}) in {time.perf_counter() - started:.1f} s"
        )
        print(f"{'files':>6} {'median s':>9} {'min s':>7} {'ms/file':>8}  check")
        results = {}
        for directory, count in ((small, args.small), (big, args.files)):
            runs = [dry_run(directory, extra) for _ in range(args.runs)]
            times = [elapsed for elapsed, _ in runs]
            files, minutes = total_row(runs[-1][1])
            median = statistics.median(times)
            results[count] = median
            ok = "ok" if files == count else f"table says {files} files"
            print(
                f"{count:>6} {median:>9.2f} {min(times):>7.2f} {1000 * median / count:>8.1f}  {ok}"
            )
            if files != count:
                return 1
        marginal = (results[args.files] - results[args.small]) / (args.files - args.small)
        print(
            f"per extra file: {1000 * marginal:.1f} ms; fixed cost about "
            f"{results[args.small] - args.small * marginal:.2f} s (interpreter, import)"
        )
        print(f"last table total: {minutes:.1f} min of audio")
        passed = results[args.files] < TARGET_SECONDS
        print(
            f"target: {args.files} files under {TARGET_SECONDS:.0f} s: "
            f"{'met' if passed else 'MISSED'} ({results[args.files]:.2f} s)"
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
