"""Progress bars, with tqdm imported when the first bar is made.

``tqdm.auto`` brings tqdm's notebook and asyncio support, and asyncio with them: a
large share of what ``import voxtral_integrations`` cost, for bars that chat,
remote URLs and short files never draw. The keywords are tqdm's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from tqdm.auto import tqdm


def progress_bar(
    *,
    desc: str,
    unit: str,
    disable: bool,
    total: float | None = None,
    leave: bool = True,
    ncols: int | None = None,
) -> tqdm[NoReturn]:
    """A ``tqdm.auto`` bar (a plain one in a terminal, a widget in a notebook)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=disable, leave=leave, ncols=ncols)
