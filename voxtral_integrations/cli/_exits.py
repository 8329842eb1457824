"""The command's name, its exit statuses, and the errors that pick one.

Every part of the command names itself ``voxtral`` in its messages and turns an
error into one line of them; :func:`voxtral_integrations.cli.main` maps what is
raised to the status (see the package's docstring for what each one means).
"""

from __future__ import annotations

PROG = "voxtral"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

EXIT_CLOSED_PIPE = 128 + 13
"""The reader of stdout went away (``| head -1``): the status of a tool killed by SIGPIPE,
as a shell reports it, so ``set -o pipefail`` still tells a cut-short output."""


class UsageError(Exception):
    """A command line that cannot work: exit 2, before anything is sent."""


class _Abandoned(KeyboardInterrupt):
    """A second Ctrl-C: the requests in flight are not waited for."""


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def counted(number: int, noun: str) -> str:
    """``number`` and ``noun``, plural unless one: "1 file", "2 files"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
