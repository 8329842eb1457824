"""How long does ``import voxtral_integrations`` take, next to the httpx and pydantic it builds on?

Every round imports ``httpx``, ``pydantic`` and ``voxtral_integrations``, and runs
``from voxtral_integrations import VoxtralClient`` (the package imports its names when
first used, so the bare import alone says little of what a program pays), each in a
fresh interpreter started with ``python -X importtime`` from the repository root (so
the checkout is what is imported), and reads from that report the cumulative time of
the top-level modules the statement imported: the import alone, without the
interpreter's own start-up.
The same child also measures the import's CPU time (``time.process_time``), which a
busy machine inflates less than the wall time. The order of the three rotates every
round, so drift in the machine's speed hits all alike. Bytecode is cached (in a
temporary directory, not in the checkout) and written by a warm-up round, as for an
installed package, whatever ``PYTHONDONTWRITEBYTECODE`` says: compiling the sources
would otherwise be most of what is measured.

Reported: each module's median over the rounds (with the fastest and slowest
round, and the median CPU time), the ratios of ``voxtral_integrations`` to ``httpx``
and to ``pydantic`` (steadier than the times on a busy machine: a slow moment slows
all three), and the costliest modules of the ``VoxtralClient`` import by
their own (self) time, median over the rounds, with their cumulative time. Exits 1
if the median ``voxtral_integrations`` import is above the target (120 ms), 0
otherwise.

    python benchmarks/import_time.py               # 21 rounds, 10 costliest modules
    python benchmarks/import_time.py --runs 51 --top 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TARGET_MS = 120.0
STATEMENTS = {
    "httpx": "import httpx",
    "pydantic": "import pydantic",
    "voxtral_integrations": "import voxtral_integrations",
    "VoxtralClient": "from voxtral_integrations import VoxtralClient",
}
MODULES = tuple(STATEMENTS)
MEASURED = "voxtral_integrations"
"""The bare import, which the target is for."""
PROFILED = "VoxtralClient"
"""What a program using the client pays: its costliest modules are listed."""
_MARK = "-- the statement starts --"
_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Line:
    """One line of ``-X importtime``: a module, its own and its cumulative time (us)."""

    name: str
    depth: int
    self_us: int
    cumulative_us: int


def parse(report: str) -> list[Line]:
    """The module lines of a ``-X importtime`` report (stderr), in the order printed."""
    lines = []
    for text in report.splitlines():
        if not text.startswith("import time:"):
            continue
        own, cumulative, name = text[len("import time:") :].split("|", 2)
        if not own.strip().isdigit():  # the header
            continue
        indent = len(name) - len(name.lstrip(" "))
        lines.append(Line(name.strip(), (indent - 1) // 2, int(own), int(cumulative)))
    return lines


def after_mark(report: str) -> str:
    """What ``-X importtime`` printed once the statement started (not the start-up)."""
    return report.split(_MARK, 1)[1]


@dataclass(frozen=True)
class Imported:
    """One import of a module in a fresh interpreter."""

    lines: list[Line]
    """Its ``-X importtime`` lines."""
    cpu_ms: float

    @property
    def total_ms(self) -> float:
        """The cumulative times of the top-level modules the statement imported."""
        return sum(line.cumulative_us for line in self.lines if line.depth == 0) / 1000


def import_once(label: str, env: dict[str, str]) -> Imported:
    timed = (
        f"import sys, time; sys.stderr.write({_MARK!r}); sys.stderr.flush(); "
        f"cpu = time.process_time(); {STATEMENTS[label]}; "
        "print((time.process_time() - cpu) * 1000)"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", timed],
        cwd=_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return Imported(parse(after_mark(done.stderr)), float(done.stdout))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=21, help="rounds (default 21)")
    parser.add_argument("--top", type=int, default=10, help="costliest modules shown (10)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="voxtral-import-time-") as bytecode:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = bytecode
        return measure(args.runs, args.top, env)


def measure(runs: int, top: int, env: dict[str, str]) -> int:
    imported = subprocess.run(
        [sys.executable, "-c", f"import {MEASURED}; print({MEASURED}.__file__)"],
        cwd=_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for module in MODULES:  # warm-up: bytecode written, files in the page cache
        import_once(module, env)

    totals: dict[str, list[float]] = {module: [] for module in MODULES}
    cpu: dict[str, list[float]] = {module: [] for module in MODULES}
    own: defaultdict[str, list[float]] = defaultdict(list)
    cumulative: defaultdict[str, list[float]] = defaultdict(list)
    count = 0
    for round_number in range(runs):
        shift = round_number % len(MODULES)
        for module in MODULES[shift:] + MODULES[:shift]:
            run = import_once(module, env)
            totals[module].append(run.total_ms)
            cpu[module].append(run.cpu_ms)
            if module == PROFILED:
                count = len(run.lines)
                for line in run.lines:
                    own[line.name].append(line.self_us / 1000)
                    cumulative[line.name].append(line.cumulative_us / 1000)

    medians = {module: statistics.median(times) for module, times in totals.items()}
    cpu_medians = {module: statistics.median(times) for module, times in cpu.items()}
    print(f"python {sys.version.split()[0]}, {runs} rounds; {MEASURED} from {imported}")
    print(f"\n{'bare import':<24}{'median':>10}{'fastest':>10}{'slowest':>10}{'cpu':>10}")
    for module, times in totals.items():
        print(
            f"{module:<24}{medians[module]:>8.1f}ms{min(times):>8.1f}ms{max(times):>8.1f}ms"
            f"{cpu_medians[module]:>8.1f}ms"
        )
    for measured in (MEASURED, PROFILED):
        for base in ("httpx", "pydantic"):
            ratio = medians[measured] / medians[base]
            cpu_ratio = cpu_medians[measured] / cpu_medians[base]
            print(f"{measured} / {base}: {ratio:.2f} (cpu: {cpu_ratio:.2f})")
    print(f"\n{PROFILED} imports {count} modules; the {top} costliest by own time:")
    print(f"{'module':<48}{'self':>10}{'cumulative':>12}")
    ranked = sorted(own, key=lambda name: statistics.median(own[name]), reverse=True)
    for name in ranked[:top]:
        self_ms = statistics.median(own[name])
        print(f"{name:<48}{self_ms:>8.1f}ms{statistics.median(cumulative[name]):>10.1f}ms")

    missed = medians[MEASURED] > TARGET_MS
    verdict = "MISSED" if missed else "met"
    print(f"\ntarget: {MEASURED} under {TARGET_MS:.0f} ms (median): {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
