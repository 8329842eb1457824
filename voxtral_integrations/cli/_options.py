"""The command line's transcription options, to the library's arguments and back.

:func:`transcription_kwargs` turns the flags ``transcribe`` and ``batch submit``
share into the library's keyword arguments, checked as a command line, and
:func:`realtime_kwargs` those of ``transcribe --realtime`` and ``listen`` into
``stream_realtime``'s;
``_FLAGS`` is the way back, naming the flag of the argument a library error is about.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._constants import (
    DEFAULT_REALTIME_ENCODING,
    DEFAULT_REALTIME_SAMPLE_RATE,
    REALTIME_DONE_TIMEOUT,
    REALTIME_MAX_RECONNECTS,
    REALTIME_STALL_TIMEOUT,
)
from .._exceptions import InvalidInputError
from .._realtime_loading import check_realtime
from ._exits import UsageError, one_line
from ._inputs import _URL
from ._outputs import TIMED_FORMATS

_FLAGS = {
    "model": "--model",
    "language": "--language",
    "temperature": "--temperature",
    "timestamp_granularities": "--timestamps (or a timed --format: jsonl, srt, vtt)",
    "diarize": "--diarize",
    "context_bias": "--context-bias",
    "max_chunk_seconds": "--max-chunk-seconds",
    "concurrency": "--concurrency",
    "upload_codec": "--upload-codec",
    "manifest_dir": "--manifest-dir",
    "timeout_hours": "--timeout-hours",
    "poll_interval": "--poll-interval",
    "job_id": "JOB_ID",
    "target_streaming_delay_ms": "--delay",
}
"""The command-line flag of each library argument, to name it in error messages."""


def transcription_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The options shared by ``transcribe`` and ``batch submit``, checked as a command line."""
    timed = args.format in TIMED_FORMATS
    if args.language and (timed or args.timestamps or args.diarize):
        reason = (
            f"--format {args.format} needs segment timestamps"
            if timed
            else ("--timestamps" if args.timestamps else "--diarize") + " is set"
        )
        raise UsageError(
            f"--language cannot be used here: {reason}, and the API rejects a language "
            "together with timestamps or diarization. Drop --language (the model detects "
            "the language)."
        )
    granularities = [args.timestamps] if args.timestamps else ["segment"] if timed else None
    terms = context_bias_terms(args)
    return {
        "model": args.model,
        "language": args.language,
        "temperature": args.temperature,
        "timestamp_granularities": granularities,
        "diarize": args.diarize,
        "context_bias": terms,
        "max_chunk_seconds": args.max_chunk_seconds,
    }


def context_bias_terms(args: argparse.Namespace) -> list[str] | None:
    """``--context-bias``'s terms (each flag one comma-separated list), checked."""
    terms = [term for value in args.context_bias or () for term in value.split(",") if term]
    _check_context_bias(terms)
    return terms or None


def realtime_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``stream_realtime``'s options from the flags, checked before anything connects.

    The audio reaches the session as raw PCM already in its format and already paced
    (``_live``'s sources), so the session does not pace it again.
    """
    options = {
        "model": args.model,
        "sample_rate": DEFAULT_REALTIME_SAMPLE_RATE,
        "encoding": DEFAULT_REALTIME_ENCODING,
        "target_streaming_delay_ms": args.delay,
        "language": args.language,
        "context_bias": context_bias_terms(args),
        "diarize": True if args.diarize else None,
        "speaker_references": None,
        "turn_detection": None,
        "end_of_speech": "auto",
        "done_timeout": REALTIME_DONE_TIMEOUT,
        "stall_timeout": REALTIME_STALL_TIMEOUT,
        "max_reconnects": REALTIME_MAX_RECONNECTS,
        "realtime": False,
    }
    return check_realtime(options, args.backend)


def _check_context_bias(terms: Sequence[str] | None) -> None:
    for term in terms or ():
        if Path(term).exists() or _URL.match(term):
            raise UsageError(
                f"--context-bias {term!r} looks like an input, not a term: --context-bias "
                "takes one comma-separated list of terms (--context-bias Voxtral,Mistral_AI)."
            )


def one_line_usage(error: InvalidInputError) -> str:
    """The library's message, naming the command-line flag of the argument it is about."""
    flag = _FLAGS.get(error.argument or "")
    return f"{one_line(error)} (option {flag})" if flag else one_line(error)
