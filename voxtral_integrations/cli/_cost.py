"""``--dry-run`` and ``--max-cost`` of ``voxtral transcribe`` and ``voxtral batch submit``:
what a run would send and cost.

Both probe every local input the run would send (``_estimate``: the same checks and
cut plan as the run) before any client is made, so a dry run needs no API key and a
budget is checked before the first request. A URL is fetched by the server, so its
length is unknown here: a dry run leaves it out and says so; a budget refuses to
guess it. Audio that a run would refuse (unreadable, empty) fails before its upload,
so it costs nothing: it is named, and left out of the cost. Chunks in the resume cache
are counted as if sent (an upper bound). A ``batch submit`` job is billed at the Batch
API's price, so its budget is held to that. A dry run with ``--max-cost`` prints the
table, then says whether the run would be refused, in its exit status too.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .._bulk import Source
from .._dialects import checked_options, dialect
from .._estimate import estimate_file, priced
from .._exceptions import AudioError
from .._outcomes import CostEstimate, FileEstimate
from ._exits import PROG, UsageError, counted, one_line
from ._inputs import Input

_NAME_WIDTH = 34
_COLUMNS = ("minutes", "chunks", "requests", "upload MB", "overlap min", "online $", "batch $")


def estimate_inputs(
    args: argparse.Namespace,
    items: Sequence[Input],
    options: dict[str, Any],
    say: Callable[[str], None],
) -> tuple[CostEstimate, list[str], list[str]]:
    """The estimate over the local ``items``, the URLs left out (the server fetches them),
    and the audio a run would refuse (each named on stderr with why)."""
    backend = dialect(args.backend)
    checked, chunking = checked_options(backend, options)
    files: list[FileEstimate] = []
    urls: list[str] = []
    failing: list[str] = []
    for item in items:
        if not isinstance(item.audio, Path):
            urls.append(item.name)
            continue
        try:
            files.append(estimate_file(backend, Source(item.audio, item.name), checked, chunking))
        except AudioError as error:
            say(f"{PROG}: would fail: {one_line(error)}")
            failing.append(item.name)
    return priced(checked.model, files), urls, failing


def dry_run_or_budget(
    args: argparse.Namespace,
    items: Sequence[Input],
    options: dict[str, Any],
    out: TextIO,
    say: Callable[[str], None],
    *,
    batch: bool,
) -> bool:
    """``--dry-run`` and ``--max-cost`` over ``items``, before any client or key: ``True``
    once a dry run's table is printed (the run ends there); a run over budget is refused.
    ``batch``: the run goes through the Batch API, so the budget is held to its price."""
    if not args.dry_run and args.max_cost is None:
        return False
    estimate, urls, failing = estimate_inputs(args, items, options, say)
    if args.dry_run:
        out.write(render_table(estimate, urls, failing))
    if args.max_cost is not None:
        check_budget(estimate, urls, args.max_cost, batch=batch)
        if args.dry_run:
            say(f"{PROG}: within --max-cost ${args.max_cost:.4f}: the run would go ahead")
    return bool(args.dry_run)


def check_budget(
    estimate: CostEstimate, urls: Sequence[str], max_cost: float, *, batch: bool
) -> None:
    """Refuse (a ``UsageError``: nothing is sent) a run that may cost more than ``max_cost``,
    at the Batch API's price with ``batch``, else at the online one."""
    if urls:
        raise UsageError(
            f"--max-cost cannot be checked: {urls[0]!r} is fetched by the server, so its "
            "length cannot be measured locally. Drop --max-cost, or download it first."
        )
    cost = estimate.batch_cost if batch else estimate.cost
    if cost is None:
        raise UsageError(
            f"--max-cost cannot be checked: no {'Batch API ' if batch else ''}price is known "
            f"for model {estimate.model!r}. Drop --max-cost, or pass a model the catalogue "
            "prices (docs: Models and cost)."
        )
    if cost > max_cost:
        requests = counted(estimate.requests, "request")
        raise UsageError(
            f"the estimate is ${cost:.4f}{' via the Batch API' if batch else ''} for "
            f"{estimate.billed_seconds / 60:.1f} min of audio ({requests} "
            f"to {estimate.resolved_model!r}), over --max-cost ${max_cost:.4f}: nothing was "
            "sent. Raise --max-cost, or transcribe fewer files."
        )


def render_table(estimate: CostEstimate, urls: Sequence[str], failing: Sequence[str]) -> str:
    """The dry run's table: one row per file, then the totals and the prices used."""
    header = f"{'file':<{_NAME_WIDTH}}" + "".join(f"{name:>12}" for name in _COLUMNS)
    lines = [header]
    for row in estimate.per_file:
        lines.append(_row(_short(row.source), row, estimate))
    total = f"total ({counted(estimate.files, 'file')})"
    lines.append(_row(total, estimate, estimate))
    price = estimate.price
    shown = estimate.model
    if estimate.resolved_model != estimate.model:
        shown += f" (= {estimate.resolved_model})"
    per_minute = (
        f"${price.online}/min online, "
        + (f"${price.batch}/min via the Batch API" if price.batch is not None else "no batch price")
        if price.online is not None
        else "no known price"
    )
    note = (
        "" if price.verified or price.online is None else " (unverified: see docs, Models and cost)"
    )
    lines.append(f"model {shown}: {per_minute}{note}")
    for names, why in (
        (urls, "a URL's length is unknown here (the server fetches it)"),
        (failing, "a run would refuse these too, before any upload (see above)"),
    ):
        if names:
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            lines.append(f"not estimated: {counted(len(names), 'input')} ({shown}): {why}")
    lines.append(f"{PROG}: dry run: nothing was sent")
    return "\n".join(lines) + "\n"


def _row(name: str, row: FileEstimate | CostEstimate, estimate: CostEstimate) -> str:
    seconds = row.audio_seconds + row.overlap_seconds
    cells = (
        f"{row.audio_seconds / 60:.2f}",
        str(row.chunks),
        str(row.chunks),
        f"{row.upload_bytes / 1e6:.2f}",
        f"{row.overlap_seconds / 60:.2f}",
        _dollars(estimate.price.cost(seconds)),
        _dollars(estimate.price.cost(seconds, batch=True)),
    )
    return f"{name:<{_NAME_WIDTH}}" + "".join(f"{cell:>12}" for cell in cells)


def _dollars(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.4f}"


def _short(name: str) -> str:
    return name if len(name) <= _NAME_WIDTH - 1 else "..." + name[-(_NAME_WIDTH - 4) :]
