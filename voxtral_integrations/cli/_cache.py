"""The resume cache of finished chunks: where it is, its pruning, ``voxtral cache``."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from .._constants import CLI_CACHE_DIR_NAME, CLI_CACHE_MAX_AGE_DAYS
from .._transcribe import cache_files
from ._exits import EXIT_FAILED, EXIT_OK, PROG, UsageError
from ._screen import _sayer


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/voxtral-integrations``, else ``~/.cache/voxtral-integrations``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base, CLI_CACHE_DIR_NAME)


def cache_dir(args: argparse.Namespace) -> Path:
    """The resume cache a command uses: ``--cache-dir``, else :func:`default_cache_dir`."""
    return args.cache_dir or default_cache_dir()


def _usable_cache(args: argparse.Namespace, say: Callable[[str], None]) -> Path | None:
    """The resume cache's folder, or ``None`` (``--no-cache``, or a folder that cannot be
    made: a run is never failed by its cache, only slower to resume)."""
    if args.no_cache:
        return None
    directory = cache_dir(args)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        say(
            f"{PROG}: warning: the resume cache {str(directory)!r} cannot be created "
            f"({error.strerror}); going on without it (--cache-dir DIR to choose another, "
            "--no-cache to silence this)."
        )
        return None
    return directory


def prune_cache(directory: Path, max_age_days: float = CLI_CACHE_MAX_AGE_DAYS) -> None:
    """Remove the cache's entries older than ``max_age_days``; never fails a run (it tidies)."""
    cutoff = time.time() - max_age_days * 86400
    with suppress(OSError):
        for entry in cache_files(directory):
            with suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)


def run_cache_info(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    directory = cache_dir(args)
    files = _cache_files_or_fail(directory)
    stats = [entry.stat() for entry in files]
    lines = [
        f"location: {directory}" + ("" if directory.is_dir() else " (not created yet)"),
        f"entries: {len(files)} finished chunk(s), {_size(sum(s.st_size for s in stats))}",
    ]
    if stats:
        lines.append(
            f"written: {_when(min(s.st_mtime for s in stats))} to "
            f"{_when(max(s.st_mtime for s in stats))}"
        )
    lines.append(f"policy: {_CACHE_POLICY}")
    out.write("\n".join(lines) + "\n")
    return EXIT_OK


def run_cache_clear(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    directory = cache_dir(args)
    removed, freed, kept = 0, 0, []
    for entry in _cache_files_or_fail(directory):
        try:
            size = entry.stat().st_size
            os.unlink(entry.path)
        except FileNotFoundError:  # another run pruned it meanwhile
            continue
        except OSError as error:
            kept.append(f"{entry.name} ({error.strerror or error})")
            continue
        removed, freed = removed + 1, freed + size
    say = _sayer(err)
    say(
        f"{PROG}: removed {removed} cache entr{'y' if removed == 1 else 'ies'} "
        f"({_size(freed)}) from {str(directory)!r}"
    )
    if kept:
        say(f"{PROG}: error: could not remove {len(kept)}: {', '.join(kept[:3])}")
        return EXIT_FAILED
    return EXIT_OK


def _cache_files_or_fail(directory: Path) -> list[os.DirEntry[str]]:
    try:
        return cache_files(directory)
    except OSError as error:
        raise UsageError(
            f"Cannot read the resume cache {str(directory)!r} ({error.strerror or error}); "
            "pass --cache-dir to name another."
        ) from error


def _size(count: int) -> str:
    value, unit = float(count), "bytes"
    for bigger in ("kB", "MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


_CACHE_POLICY = (
    f"entries older than {CLI_CACHE_MAX_AGE_DAYS} days are removed when `voxtral transcribe` "
    "runs; `voxtral cache clear` removes them all"
)
