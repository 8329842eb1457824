"""The ``voxtral`` command: transcribe files, directories, globs and URLs from a shell.

``voxtral transcribe --realtime`` and ``voxtral listen`` (the microphone) go through
the realtime endpoint instead: see :mod:`._live`.

``voxtral transcribe`` runs :meth:`VoxtralClient.transcribe_many` over everything
named on the command line and writes one output per input as soon as it is done
(atomically), so an interrupted or partly failed run keeps what finished and a
re-run does only the rest: inputs whose output exists are skipped, and the chunk
cache (on by default) resumes a half-done long file at the chunk it stopped at.

Streams: results go to stdout (or to ``--output-dir``); messages, warnings, the
summary and progress bars go to stderr. Exit codes: 0 all done, 1 some inputs
failed (each named on stderr), 2 a command line that cannot work (nothing is
sent), 3 the server refused the API key (401/403: the run stops at once, since no
other request could succeed), 130 interrupted, 141 stdout closed by its reader
(``| head``). The API key is read from ``MISTRAL_API_KEY`` only, never from an
argument (it would land in the shell history), and never printed.

The package, one job per module: ``_parser`` (commands, help), ``_flag_groups`` (the
flags commands share), ``_options`` (flags to the library's arguments and back),
``_inputs`` (what the arguments name), ``_outputs`` (formats, names, atomic writes, the
outputs index), ``_commands`` (the ``transcribe`` and ``batch`` runs), ``_live``
(``transcribe --realtime`` and ``voxtral listen``: realtime sessions, the microphone),
``_cache`` (the resume cache and ``voxtral cache``), ``_screen`` (the terminal and
Ctrl-C), ``_summary`` (the tally) and ``_exits`` (exit statuses); this module maps what
a run raises to its exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from contextlib import suppress
from typing import NoReturn

from .._constants import API_KEY_ENV
from .._dialects import dialect
from .._exceptions import (
    APIStatusError,
    AuthenticationError,
    InvalidInputError,
    PermissionDeniedError,
    VoxtralError,
)
from ._exits import (
    EXIT_CLOSED_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    EXIT_USAGE,
    PROG,
    UsageError,
    _Abandoned,
    one_line,
)
from ._options import one_line_usage
from ._parser import build_parser

__all__ = ["main"]


def _refusal_advice(error: APIStatusError, args: argparse.Namespace) -> str:
    """Why a 401/403 stopped the command, and what fixes it."""
    if not dialect(args.backend).reads_environment:
        return (
            f"{PROG}: stopped: the vLLM server wants an API key, and this command sends none "
            f"to vLLM ({API_KEY_ENV} is for Mistral's API): start vLLM without --api-key, or "
            "use VoxtralClient(backend='vllm', api_key=...) from Python."
        )
    why = (
        "the key is wrong, revoked or expired"
        if isinstance(error, AuthenticationError)
        else "the key may not use this model or resource (check its workspace and --model)"
    )
    return (
        f"{PROG}: stopped at the first refusal ({error.status_code}: {why}): no other request "
        f"could succeed, so none more was sent. Set {API_KEY_ENV} to a valid key (create "
        "one at https://console.mistral.ai/api-keys), then run the same command again."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``voxtral`` command; returns its exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help, --version, or argparse's usage error (2)
        return exit.code if isinstance(exit.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        status: int = args.run(args, sys.stdout, sys.stderr)
    except UsageError as error:
        sys.stderr.write(f"{args.prog}: error: {error}\n")
        return EXIT_USAGE
    except InvalidInputError as error:  # the library's checks, before anything is sent
        sys.stderr.write(f"{args.prog}: error: {one_line_usage(error)}\n")
        return EXIT_USAGE
    except (AuthenticationError, PermissionDeniedError) as error:  # the run stopped at it
        sys.stderr.write(f"{args.prog}: error: {one_line(error)}\n{_refusal_advice(error, args)}\n")
        return EXIT_REFUSED
    except VoxtralError as error:
        sys.stderr.write(f"{args.prog}: error: {one_line(error)}\n")
        return EXIT_FAILED
    except _Abandoned:
        sys.stderr.write(f"{PROG}: abandoned the requests in flight.\n")
        _abandon()
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted.\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _closed_pipe()
    return status


def _abandon() -> NoReturn:
    """Exit now, without waiting for the requests in flight.

    Closing the client does not wake a thread blocked reading an answer, and the
    interpreter joins every worker thread on its way out: it would wait for each
    answer all the same. What is kept is already on disk (outputs and cache entries
    are written whole or not at all, the output index is saved on the way here).
    """
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe: nothing more to say there
            stream.flush()
    os._exit(EXIT_INTERRUPTED)


def _closed_pipe() -> int:
    """Exit quietly when stdout's reader is gone, as a Unix tool does.

    What is still buffered for stdout would fail again when the interpreter flushes
    it on the way out ("Exception ignored ..."): stdout is pointed at the null
    device first (the recipe of Python's ``signal`` documentation).
    """
    try:
        stdout = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (replaced, as in tests)
        return EXIT_CLOSED_PIPE
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stdout)
    os.close(devnull)
    return EXIT_CLOSED_PIPE
