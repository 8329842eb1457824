"""The flag groups the ``voxtral`` commands share, and the values their flags take.

``transcribe`` and ``batch submit`` take the same transcription and cost flags,
``transcribe --realtime`` and ``listen`` the same speech and live ones, every command
talking to a server the same server flags, and both ``batch`` commands that collect
results the same collecting ones: each group is declared once here, so a flag reads
the same (name, type, help) wherever it is offered. The commands themselves are
:mod:`._parser`'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._constants import (
    CLI_CACHE_DIR_NAME,
    DEFAULT_REALTIME_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    TIMESTAMP_GRANULARITIES,
)
from .._dialects import BACKENDS
from ._outputs import DEFAULT_FORMAT, SUFFIXES


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return value


def _dollars(text: str) -> float:
    try:
        return _seconds(text)  # the same check: a finite number >= 0
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of US dollars >= 0") from None


def _add_format_flag(
    parser: argparse.ArgumentParser, default: str | None = DEFAULT_FORMAT, shown: str = ""
) -> None:
    parser.add_argument(
        "-f",
        "--format",
        choices=list(SUFFIXES),
        default=default,
        help="txt: the text; json: the whole transcription with its source; jsonl: one "
        "line per segment (source, start, end, speaker_id, text); srt, vtt: subtitles "
        f"(default: {shown or '%(default)s'})",
    )


def _add_transcription_flags(
    parser: argparse.ArgumentParser, *, backends: bool, realtime: bool = False
) -> None:
    parser.add_argument(
        "audio",
        nargs="+",
        metavar="PATH_OR_URL",
        help="audio or video files, directories (searched recursively), globs, http(s) URLs",
    )
    _add_format_flag(
        parser,
        None if realtime else DEFAULT_FORMAT,
        DEFAULT_FORMAT + ("; with --realtime: the turns' timed lines" if realtime else ""),
    )
    options = parser.add_argument_group("transcription options")
    options.add_argument(
        "--model",
        default=None if realtime else DEFAULT_TRANSCRIPTION_MODEL,
        help=f"model id (default: {DEFAULT_TRANSCRIPTION_MODEL}"
        + (f"; with --realtime: {DEFAULT_REALTIME_MODEL})" if realtime else ")"),
    )
    _add_speech_flags(
        options,
        "two-letter language code to skip detection (not with timestamps, --diarize, "
        "or the timed formats; with --realtime: a Realtime 3 model)",
    )
    options.add_argument(
        "--timestamps",
        choices=TIMESTAMP_GRANULARITIES,
        help="request segment or word timestamps (word: not on Voxtral 3 models; srt, vtt "
        "and jsonl request segment timestamps themselves)",
    )
    options.add_argument(
        "--temperature", type=float, metavar="T", help="sampling temperature (>= 0)"
    )
    options.add_argument(
        "--max-chunk-seconds",
        type=_positive_float,
        metavar="S",
        help="longest stretch of audio per request; longer files are split at pauses "
        "(default: 15 minutes, within the model's limit)",
    )
    if realtime:
        live = parser.add_argument_group("realtime (see also `voxtral listen`)")
        live.add_argument(
            "--realtime",
            action="store_true",
            help="stream each local file through the realtime endpoint, one session after "
            "another: final turns printed as they come, the open turn's partial text live "
            "on a terminal",
        )
        _add_live_flags(live)
        live.add_argument(
            "--no-pace",
            action="store_true",
            help="with --realtime: send the audio as fast as the server takes it, not at the "
            "speed of speech",
        )
    _add_server_flags(parser, backends=backends)


def _add_speech_flags(group: Any, language: str) -> None:
    """The options the HTTP and the realtime transcriptions share."""
    group.add_argument("--language", metavar="xx", help=language)
    group.add_argument("--diarize", action="store_true", help="label segments by speaker")
    group.add_argument(
        "--context-bias",
        metavar="TERM[,TERM...]",
        action="append",
        help="terms to spell right (names, jargon; join words with _), separated by commas; "
        "repeatable (--context-bias Voxtral,Mistral_AI --context-bias vLLM)",
    )


def _add_live_flags(group: Any) -> None:
    group.add_argument(
        "--delay",
        type=_positive_int,
        metavar="MS",
        help="how far behind the audio the text may run, in milliseconds, within the "
        "model's range (default: the server's)",
    )


def _add_server_flags(parser: argparse.ArgumentParser, *, backends: bool) -> None:
    connection = parser.add_argument_group("server")
    if backends:
        connection.add_argument(
            "--backend",
            choices=BACKENDS,
            default="mistral",
            help="mistral (key from MISTRAL_API_KEY) or vllm (default: %(default)s)",
        )
    else:
        parser.set_defaults(backend="mistral")
    connection.add_argument(
        "--base-url",
        metavar="URL",
        help="API base URL (default: MISTRAL_BASE_URL, else Mistral's"
        + ("; http://localhost:8000/v1 for vllm)" if backends else ")"),
    )


def _add_cost_flags(parser: argparse.ArgumentParser, *, batch: bool) -> None:
    """``--dry-run`` and ``--max-cost``; with ``batch`` (a job for the Batch API) the
    budget is held to the Batch API's price."""
    cost = parser.add_argument_group("cost (priced from the model catalogue)")
    cost.add_argument(
        "--dry-run",
        action="store_true",
        help="probe every input locally and print a table of what a run would send (files, "
        "audio minutes, chunks, requests, bytes to upload, diarization overlap) and its "
        "estimated cost online and via the Batch API; sends nothing, needs no API key",
    )
    cost.add_argument(
        "--max-cost",
        type=_dollars,
        metavar="USD",
        help="refuse (exit 2, nothing sent) "
        + ("a job whose estimated Batch API cost" if batch else "a run whose estimated online cost")
        + " is higher",
    )


def _add_cache_dir_flag(group: Any, what: str) -> None:
    group.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help=f"{what} (default: $XDG_CACHE_HOME/{CLI_CACHE_DIR_NAME}, else "
        f"~/.cache/{CLI_CACHE_DIR_NAME})",
    )


def _add_collect_flags(group: Any) -> None:
    group.add_argument(
        "--wait", action="store_true", help="wait for the job to end, then write the outputs"
    )
    group.add_argument(
        "--poll-interval",
        type=_seconds,
        metavar="S",
        help="seconds between status checks with --wait (default: 2, growing to 60)",
    )
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="write every output even where it exists (by default an input whose output "
        "exists is skipped, as `transcribe` does)",
    )
    group.add_argument(
        "--keep-files",
        action="store_true",
        help="keep the uploaded audio in the Files API after collecting the results",
    )
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars on stderr (default: when stderr is a terminal)",
    )
    group.add_argument("-q", "--quiet", action="store_true", help="no summary line")
