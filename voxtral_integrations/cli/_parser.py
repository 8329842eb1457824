"""The ``voxtral`` command line: its commands, their help and examples (argparse).

Each command's parser names the function that runs it (``run``) and the program
name its errors go under (``prog``); the flag groups commands share are
:mod:`._flag_groups`'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._constants import (
    DEFAULT_BATCH_TIMEOUT_HOURS,
    DEFAULT_BULK_CONCURRENCY,
    DEFAULT_REALTIME_MODEL,
    MAX_BATCH_TIMEOUT_HOURS,
)
from .._options import UPLOAD_CODECS
from .._version import __version__
from ._cache import _CACHE_POLICY, run_cache_clear, run_cache_info
from ._commands import (
    run_batch_cancel,
    run_batch_results,
    run_batch_status,
    run_batch_submit,
)
from ._exits import PROG
from ._flag_groups import (
    _add_cache_dir_flag,
    _add_collect_flags,
    _add_cost_flags,
    _add_format_flag,
    _add_live_flags,
    _add_server_flags,
    _add_speech_flags,
    _add_transcription_flags,
    _positive_int,
)
from ._live import run_listen, run_transcribe
from ._outputs import DEFAULT_FORMAT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Transcribe audio and video with Mistral's Voxtral models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_MAIN_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    transcribe = _command(
        commands,
        "transcribe",
        "transcribe files, directories, globs and URLs",
        _TRANSCRIBE_DESCRIPTION,
        _TRANSCRIBE_EPILOG,
    )
    _add_transcription_flags(transcribe, backends=True, realtime=True)
    output = transcribe.add_argument_group("output and resuming")
    output.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="write DIR/<name>.<format> per input (default: everything to stdout)",
    )
    output.add_argument(
        "--overwrite",
        action="store_true",
        help="transcribe inputs again even when their output file exists",
    )
    _add_cache_dir_flag(output, "resume cache of finished chunks (see `voxtral cache`)")
    output.add_argument("--no-cache", action="store_true", help="do not use the resume cache")
    output.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_BULK_CONCURRENCY,
        metavar="N",
        help="requests in flight across all files and chunks (default: %(default)s)",
    )
    output.add_argument(
        "--upload-codec",
        choices=UPLOAD_CODECS,
        default="auto",
        help="how audio the API does not take is converted: auto (lossless sources as "
        "FLAC, lossy ones as Opus near their bit rate) or flac (default: %(default)s)",
    )
    output.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars over files and chunks on stderr (default: when stderr is a terminal)",
    )
    output.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    _add_cost_flags(transcribe, batch=False)
    transcribe.set_defaults(run=run_transcribe, prog=transcribe.prog)
    _add_listen_parser(commands)
    _add_batch_parsers(commands)
    _add_cache_parsers(commands)
    return parser


def _command(commands: Any, name: str, what: str, description: str, epilog: str) -> Any:
    """A command's parser, its description and examples shown as written."""
    return commands.add_parser(
        name,
        help=what,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=epilog,
    )


def _add_listen_parser(commands: Any) -> None:
    listen = _command(
        commands,
        "listen",
        "transcribe the microphone live (the `listen` extra)",
        _LISTEN_DESCRIPTION,
        _LISTEN_EPILOG,
    )
    _add_format_flag(listen, None, "the turns' lines only")
    options = listen.add_argument_group("transcription options")
    options.add_argument(
        "--model",
        default=DEFAULT_REALTIME_MODEL,
        help="realtime model id (default: %(default)s; on vllm: the served model's name)",
    )
    _add_speech_flags(options, "two-letter language code (a Realtime 3 model)")
    _add_live_flags(options)
    options.add_argument(
        "--device",
        metavar="DEVICE",
        help="input device: its number or a part of its name, as `python -m sounddevice` "
        "lists them (default: the system's)",
    )
    output = listen.add_argument_group("output")
    output.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="with --format: write the session's transcript to FILE when it ends (default: stdout)",
    )
    output.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    _add_server_flags(listen, backends=True)
    listen.set_defaults(run=run_listen, prog=listen.prog)


def _add_cache_parsers(commands: Any) -> None:
    cache = commands.add_parser(
        "cache",
        help="inspect or clear the resume cache of finished chunks",
        description="`voxtral transcribe` keeps each finished chunk of a recording (its "
        "transcription) so that a re-run after a failure or Ctrl-C sends only the missing "
        f"ones. The cache holds transcripts: {_CACHE_POLICY}.",
    )
    actions = cache.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, run, what in (
        ("info", run_cache_info, "print where the cache is, its entries, size and age"),
        ("clear", run_cache_clear, "remove every entry (only the cache's own files)"),
    ):
        action = actions.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".")
        _add_cache_dir_flag(action, "the cache to look at")
        action.set_defaults(run=run, prog=action.prog)


def _add_batch_parsers(commands: Any) -> None:
    batch = _command(
        commands,
        "batch",
        "the Batch API: submit a corpus now, collect the transcripts later",
        _BATCH_DESCRIPTION,
        _BATCH_EPILOG,
    )
    actions = batch.add_subparsers(dest="action", metavar="ACTION", required=True)
    raw = argparse.RawDescriptionHelpFormatter

    submit = actions.add_parser(
        "submit",
        help="upload the audio and create a job; prints its id",
        description="Check and prepare every input (converted, long files split), upload it "
        "and create a batch job. The job id is printed on stdout; the manifest that maps the "
        "job's requests back to the inputs is written to --output-dir.",
        formatter_class=raw,
        epilog=_BATCH_EPILOG,
    )
    _add_transcription_flags(submit, backends=False)
    job = submit.add_argument_group("job")
    job.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="where the job's manifest goes (and the outputs, with --wait); needed "
        "unless --dry-run",
    )
    job.add_argument(
        "--timeout-hours",
        type=_positive_int,
        default=DEFAULT_BATCH_TIMEOUT_HOURS,
        metavar="H",
        help=f"hours the job may run, 1 to {MAX_BATCH_TIMEOUT_HOURS} (default: %(default)s)",
    )
    _add_collect_flags(job)
    _add_cost_flags(submit, batch=True)
    submit.set_defaults(run=run_batch_submit, prog=submit.prog)

    status = actions.add_parser(
        "status",
        help="a job's status and request counts",
        description="Print a batch job's status and request counts on stdout.",
        formatter_class=raw,
        epilog=_BATCH_EPILOG,
    )
    status.add_argument("job_id", metavar="JOB_ID", help="the id `batch submit` printed")
    status.add_argument("--json", action="store_true", help="the whole job, as JSON")
    _add_server_flags(status, backends=False)
    status.set_defaults(run=run_batch_status, prog=status.prog)

    results = actions.add_parser(
        "results",
        help="write one output per input of a finished job",
        description="Download a finished job's results and write one output per input to "
        "--output-dir (as `transcribe` does). Exits 1 naming each input that failed. The "
        "uploaded audio is deleted from the Files API once the results are in hand, unless "
        "--keep-files; the results themselves stay downloadable for 24 hours.",
        formatter_class=raw,
        epilog=_BATCH_EPILOG,
    )
    results.add_argument("job_id", metavar="JOB_ID", help="the id `batch submit` printed")
    _add_format_flag(results, None, f"the --format given to `batch submit`, else {DEFAULT_FORMAT}")
    where = results.add_argument_group("job")
    where.add_argument(
        "-o", "--output-dir", type=Path, required=True, metavar="DIR", help="where outputs go"
    )
    where.add_argument(
        "--manifest-dir",
        type=Path,
        metavar="DIR",
        help="where `batch submit` wrote the manifest (default: --output-dir)",
    )
    _add_collect_flags(where)
    _add_server_flags(results, backends=False)
    results.set_defaults(run=run_batch_results, prog=results.prog)

    cancel = actions.add_parser(
        "cancel",
        help="stop a job (what it finished stays collectable)",
        description="Ask the server to stop a batch job; prints its status.",
        formatter_class=raw,
        epilog=_BATCH_EPILOG,
    )
    cancel.add_argument("job_id", metavar="JOB_ID", help="the id `batch submit` printed")
    _add_server_flags(cancel, backends=False)
    cancel.set_defaults(run=run_batch_cancel, prog=cancel.prog)


_MAIN_EPILOG = """\
examples:
  voxtral transcribe meeting.mp3
  voxtral transcribe --realtime meeting.mp3
  voxtral listen
  voxtral transcribe recordings/ --output-dir transcripts/ --format srt
  voxtral batch submit corpus/ --output-dir transcripts/ --wait
  voxtral cache info
  voxtral transcribe --help
  voxtral batch --help

The API key is read from the MISTRAL_API_KEY environment variable.
"""

_TRANSCRIBE_DESCRIPTION = """\
Transcribe audio and video files, directories (recursively: every audio and
video file in them), globs and http(s) URLs. Any format is converted and long
recordings are split at pauses; every timestamp is absolute in the recording.

Each input's output is written as soon as it is done. A re-run of the same
command skips inputs whose output exists (DIR/.voxtral-outputs.json records
which input each output is for; another input's file is never taken as done)
and, through the resume cache, sends only the missing chunks of a long file
that failed or was interrupted.
Results go to stdout unless --output-dir is given; messages, the summary and
progress go to stderr.

With --realtime, each local file is streamed through the realtime endpoint
instead, one session after another (at the speed of speech unless --no-pace):
the final turns are printed as they come, `[00:00:01.2 -> 00:00:03.4] text`,
with the open turn's partial text rewritten in place on a terminal; --format
renders each file's turns (to DIR/<name>.<format> with --output-dir). Ctrl-C
ends the audio there, still prints the final turns, then exits 130.

exit status: 0 all done, 1 some inputs failed (each named on stderr),
2 usage error (nothing was sent), 3 the server refused the API key (the
run stopped at the first 401/403), 130 interrupted, 141 stdout was closed
(`| head`)."""

_BATCH_DESCRIPTION = """\
Mistral's Batch API for corpora: the requests run on Mistral's side, outside the
real-time rate limits, within --timeout-hours. Submit once, then collect the
results from any process with the job id and the manifest in --output-dir.

exit status: 0 done, 1 some inputs failed (each named on stderr) or the job
cannot give results (not finished, expired), 2 usage error (nothing was sent,
e.g. a malformed job id), 3 the server refused the API key (401/403),
130 interrupted (the job goes on)."""

_BATCH_EPILOG = """\
examples:
  # what the job would send and cost (its "batch $" column); sends nothing
  voxtral batch submit lectures/ -o out/ --dry-run

  # submit a directory; prints the job id
  voxtral batch submit lectures/ -o out/ --format srt

  voxtral batch status 8b0e5d3c-5c1e-4a8e-9f55-6f0b4a0f2d11
  voxtral batch results 8b0e5d3c-5c1e-4a8e-9f55-6f0b4a0f2d11 -o out/ --format srt --wait
  voxtral batch cancel 8b0e5d3c-5c1e-4a8e-9f55-6f0b4a0f2d11

  # all in one go
  voxtral batch submit calls/ -o out/ --format jsonl --wait"""

_LISTEN_DESCRIPTION = """\
Transcribe the microphone live through the realtime endpoint: each final turn is
printed as it comes, with its times (and speaker, with --diarize on a Realtime 3
model); on a terminal the open turn's partial text is rewritten in place below.
Not on a terminal (a pipe), only the final turns, one per line.

Ctrl-C ends the session: the microphone is closed, what was said is flushed and
its final turns are printed (and written, with --format --output FILE) before
the command exits 0. A second Ctrl-C abandons the session at once (exit 130).
Needs the `listen` extra: pip install 'voxtral-integrations[listen]'.

exit status: 0 ended by Ctrl-C (or the device), 1 the session failed, 2 usage
error (nothing was sent, e.g. the extra is missing), 3 the server refused the
API key, 130 a second Ctrl-C abandoned the session."""

_LISTEN_EPILOG = """\
examples:
  voxtral listen
  voxtral listen --model voxtral-mini-transcribe-realtime-3 --diarize --language en
  voxtral listen --format srt --output meeting.srt
  voxtral listen --backend vllm --base-url http://gpu:8000/v1 \\
      --model mistralai/Voxtral-Mini-4B-Realtime-2602

environment:
  MISTRAL_API_KEY   the API key (never printed; there is no flag for it)
  MISTRAL_BASE_URL  the API base URL (for the mistral backend)"""

_TRANSCRIBE_EPILOG = """\
examples:
  # the text of one file, on stdout
  voxtral transcribe meeting.mp3

  # subtitles for every recording in a directory, resumable
  voxtral transcribe lectures/ -o subtitles/ --format srt

  # who said what, one JSON line per segment
  voxtral transcribe call.m4a --diarize --format jsonl > call.jsonl

  # spell names right (terms separated by commas; the flag may be repeated)
  voxtral transcribe 'talks/*.mp4' -o out/ --context-bias Voxtral,Mistral_AI

  # live through the realtime endpoint: final turns with times as they come
  voxtral transcribe --realtime call.wav
  voxtral transcribe --realtime call.wav --no-pace -o out/ --format srt

  # what a run would send and cost, without sending anything; then a capped run
  voxtral transcribe lectures/ --diarize --dry-run
  voxtral transcribe lectures/ --diarize -o out/ --max-cost 2.50

  # a remote file (fetched by the server)
  voxtral transcribe https://example.com/podcast.mp3 --format json

  # Voxtral served by vLLM (pass the served model name)
  voxtral transcribe a.wav --backend vllm --base-url http://gpu:8000/v1 \\
      --model mistralai/Voxtral-Mini-3B-2507

environment:
  MISTRAL_API_KEY   the API key (never printed; there is no flag for it)
  MISTRAL_BASE_URL  the API base URL (for the mistral backend)
  XDG_CACHE_HOME    where the resume cache goes"""
