"""The terminal, shared by messages, outputs and progress bars, and its Ctrl-C.

Messages go to stderr and outputs to stdout (in input order) without breaking the
progress bars drawn there; a Ctrl-C never lands inside a line being written, and
the first one lets the requests in flight finish while a second abandons them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tqdm.auto import tqdm

from .._models import Transcription
from ._exits import PROG, _Abandoned
from ._inputs import Denied
from ._outputs import render


def _warner(say: Callable[[str], None]) -> Callable[[str], None]:
    return lambda message: say(f"{PROG}: warning: {message}")


def _sayer(err: TextIO) -> Callable[[str], None]:
    # in a terminal, each message first erases its line: what the terminal echoed
    # there (the ^C of a Ctrl-C) is not a part of it
    erase = "\x1b[K" if err.isatty() else ""

    def say(message: str) -> None:
        with _SCREEN.writing():
            tqdm.write(erase + message, file=err)  # keeps any progress bar intact

    return say


def _denier(say: Callable[[str], None], denied: list[Path]) -> Denied:
    """Name each input denied to the user as a failed one, and keep it in ``denied``."""

    def deny(path: Path, reason: str) -> None:
        denied.append(path)
        say(f"{PROG}: failed: {path}: {reason}")

    return deny


class _Writer:
    """Stdout output in input order, each input printed as soon as those before it are."""

    def __init__(self, output_format: str, out: TextIO, *, several: bool) -> None:
        self.format = output_format
        self._out = out
        self._several = several
        self._ready: dict[int, tuple[str, Transcription] | None] = {}
        self._next = 0
        self._printed = 0

    def add(self, index: int, name: str, transcription: Transcription) -> None:
        self._ready[index] = (name, transcription)
        self.flush_ready()

    def skip(self, index: int) -> None:
        self._ready[index] = None
        self.flush_ready()

    def flush_ready(self) -> None:
        while self._next in self._ready:
            self._print(self._ready.pop(self._next))
            self._next += 1

    def flush_finished(self) -> None:
        """Print what is finished, also past an input not done (on interruption)."""
        for index in sorted(self._ready):
            self._print(self._ready.pop(index))

    def _print(self, entry: tuple[str, Transcription] | None) -> None:
        if entry is None:
            return
        name, transcription = entry
        header = ""
        if self.format == "txt" and self._several:
            header = ("\n" if self._printed else "") + f"==> {name} <==\n"
        # stdout and the bars on stderr share the terminal's cursor: the bars are
        # cleared, the output written whole, then the bars drawn again below it
        with _SCREEN.writing(), tqdm.external_write_mode(file=self._out):
            self._out.write(header + render(transcription, name, self.format, compact=True))
            self._out.flush()
        self._printed += 1


class _Screen:
    """What the main thread is writing to the terminal, which a Ctrl-C must not cut into.

    A signal handler runs between two bytecodes of the main thread: one that wrote
    (or raised) there would land inside a line being written, with the bars half
    cleared. While :meth:`writing`, the handler leaves its work in ``pending``,
    and it runs once the write is whole.
    """

    def __init__(self) -> None:
        self.busy = False
        self.pending: Callable[[], None] | None = None

    @contextmanager
    def writing(self) -> Iterator[None]:
        if self.busy or threading.current_thread() is not threading.main_thread():
            yield
            return
        self.busy = True
        try:
            yield
        finally:
            self.busy = False
        pending, self.pending = self.pending, None
        if pending is not None:
            pending()


_SCREEN = _Screen()


@contextmanager
def _interruptible(finishing: Callable[[], None], *, gentle: bool = False) -> Iterator[None]:
    """The first Ctrl-C calls ``finishing`` (to say what is awaited), then interrupts;
    a second one, while the requests in flight are awaited, abandons them.

    ``gentle``: the first one only calls ``finishing`` (a live session ends its audio
    and waits for its last turns); the second interrupts.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    interrupts = 0

    def interrupt(number: int, frame: object) -> None:
        nonlocal interrupts
        if _SCREEN.busy:
            _SCREEN.pending = lambda: interrupt(number, frame)
            return
        interrupts += 1
        if interrupts > 1:
            raise KeyboardInterrupt if gentle else _Abandoned
        finishing()
        if not gentle:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
