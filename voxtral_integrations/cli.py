"""The ``voxtral`` command: transcribe files, directories, globs and URLs from a shell.

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
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn, TextIO
from urllib.parse import unquote, urlsplit

from tqdm.auto import tqdm

from ._batch import check_job_id, manifest_path, read_manifest, write_manifest
from ._bulk import TranscriptionResult
from ._client import VoxtralClient
from ._constants import (
    API_KEY_ENV,
    CLI_CACHE_DIR_NAME,
    CLI_CACHE_MAX_AGE_DAYS,
    DEFAULT_BATCH_TIMEOUT_HOURS,
    DEFAULT_BULK_CONCURRENCY,
    DEFAULT_TRANSCRIPTION_MODEL,
    MAX_BATCH_TIMEOUT_HOURS,
    MEDIA_SUFFIXES,
    TIMESTAMP_GRANULARITIES,
)
from ._dialects import BACKENDS, dialect
from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    IncompleteTranscriptionError,
    InvalidInputError,
    PermissionDeniedError,
    VoxtralError,
)
from ._models import BatchJob, Transcription, Usage, speaker_link
from ._records import source_name, srt, vtt
from ._redaction import redact_urls, redact_urls_in
from ._sources import files_under
from ._transcribe import cache_files
from ._version import __version__

PROG = "voxtral"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

EXIT_CLOSED_PIPE = 128 + 13
"""The reader of stdout went away (``| head -1``): the status of a tool killed by SIGPIPE,
as a shell reports it, so ``set -o pipefail`` still tells a cut-short output."""
SUFFIXES = {"txt": ".txt", "json": ".json", "jsonl": ".jsonl", "srt": ".srt", "vtt": ".vtt"}
"""Output formats and the suffix of their files under ``--output-dir``."""
OUTPUT_INDEX = ".voxtral-outputs.json"
"""In ``--output-dir``: the input each output was written for, so a re-run skips only its own."""
INDEX_SAVE_SECONDS = 1.0
"""The index is saved at most this often while outputs come in (and at the end): a
rewrite per output would cost a large corpus quadratic time."""
TIMED_FORMATS = ("srt", "vtt", "jsonl")
"""Formats made of timed segments: segment timestamps are requested for them."""
DEFAULT_FORMAT = "txt"

_URL = re.compile(r"^https?://", re.IGNORECASE)
_OTHER_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_GLOB = re.compile(r"[*?[]")
_UNSAFE = re.compile(r"[^\w.-]+")

_FLAGS = {
    "model": "--model",
    "language": "--language",
    "temperature": "--temperature",
    "timestamp_granularities": "--timestamps (or a timed --format: jsonl, srt, vtt)",
    "diarize": "--diarize",
    "context_bias": "--context-bias",
    "max_chunk_seconds": "--max-chunk-seconds",
    "concurrency": "--concurrency",
    "manifest_dir": "--manifest-dir",
    "timeout_hours": "--timeout-hours",
    "poll_interval": "--poll-interval",
    "job_id": "JOB_ID",
}
"""The command-line flag of each library argument, to name it in error messages."""


class UsageError(Exception):
    """A command line that cannot work: exit 2, before anything is sent."""


class _Abandoned(KeyboardInterrupt):
    """A second Ctrl-C: the requests in flight are not waited for."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Input:
    """One recording to transcribe: a local path or an http(s) URL, and its printable name."""

    audio: Path | str
    name: str
    """The path as found, or the URL without its query string (signed URLs are credentials)."""


Denied = Callable[[Path, str], None]
"""Told of each path that cannot be read for want of permission, with the reason and fix."""

_CANNOT_READ = "permission denied: it may not be read (give your user read access: chmod u+r)"
_CANNOT_LIST = (
    "permission denied: the directory may not be listed (give your user read and search "
    "access: chmod u+rx)"
)
_CANNOT_REACH = (
    "permission denied: a directory on its path may not be searched (give your user "
    "search access to each: chmod u+x DIR)"
)


class _Counted:
    """A :data:`Denied` that counts: a directory with a denied part is not "empty"."""

    def __init__(self, denied: Denied) -> None:
        self._denied = denied
        self.count = 0

    def __call__(self, path: Path, reason: str) -> None:
        self.count += 1
        self._denied(path, reason)


def expand_inputs(
    arguments: Sequence[str], warn: Callable[[str], None], denied: Denied
) -> list[Input]:
    """Paths, directories (recursive, sorted), globs and URLs, as a list without duplicates.

    A file named explicitly is kept whatever its suffix (the library probes content);
    files found in a directory or by a glob are kept only with an audio or video
    suffix and when they can be read (not empty, not a dangling link), and the
    others are skipped with a warning naming them: one bad file in a directory
    must not stop the run. Hidden files and directories are not searched. A path
    the user may not read or list (the file, a directory, or one above it) goes to
    ``denied`` instead: it is a failed input, not a skipped one, and not "empty".
    """
    found: list[Path | str] = []
    counted = _Counted(denied)
    for argument in arguments:
        if _URL.match(argument):
            found.append(argument)
            continue
        if _OTHER_SCHEME.match(argument):
            raise UsageError(
                f"{source_name(argument)!r}: only http(s) URLs can be transcribed; download "
                "the file first, or pass a path."
            )
        path = Path(argument)
        try:
            status: os.stat_result | None = path.stat()
        except PermissionError:
            counted(path, _CANNOT_REACH)
            continue
        except OSError:  # missing, a dangling link: perhaps a glob
            status = None
        if status is not None and stat.S_ISDIR(status.st_mode):
            before = counted.count
            media = _media_in(path, warn, counted)
            if not media and counted.count == before:
                raise UsageError(
                    f"{argument!r} contains no audio or video file (looked for "
                    f"{_suffix_list()}). Name a file explicitly to try it anyway."
                )
            found.extend(media)
        elif status is not None:
            found.append(path)
        elif _GLOB.search(argument):
            found.extend(_glob(argument, warn, counted))
        else:
            raise UsageError(f"No such file or directory: {argument!r}.")
    unique: dict[object, Input] = {}
    for item in found:
        key = item if isinstance(item, str) else item.resolve()
        if key not in unique:
            name = source_name(item) if isinstance(item, str) else str(item)
            unique[key] = Input(item, name)
    return list(unique.values())


def _glob(pattern: str, warn: Callable[[str], None], denied: _Counted) -> list[Path]:
    """A glob's audio and video files (the shell did not expand it: quoted, or Windows)."""
    media: list[Path] = []
    before = denied.count
    base, *parts = _glob_parts(pattern)
    for path in sorted(set(_matches(Path(base), parts, denied)), key=lambda path: path.parts):
        if path.is_dir():
            media.extend(_media_in(path, warn, denied))
        elif not _is_media(path):
            warn(_unsupported(path))
        elif _usable(path, warn, denied):
            media.append(path)
    if not media and denied.count == before:
        raise UsageError(
            f"{pattern!r} matches no audio or video file (looked for {_suffix_list()})."
        )
    return media


def _glob_parts(pattern: str) -> list[str]:
    """The pattern's leading part without wildcards (``.`` if none), then its other parts."""
    parts = list(Path(pattern).parts)
    plain = next((n for n, part in enumerate(parts) if _GLOB.search(part)), len(parts))
    return [os.path.join(*parts[:plain]) if plain else os.curdir, *parts[plain:]]


def _matches(base: Path, parts: Sequence[str], denied: Denied) -> Iterator[Path]:
    """What ``base/parts...`` matches, as :func:`glob.glob` with ``recursive=True`` would,
    except that ``**`` does not follow symlinks to directories: two links back to an
    ancestor make glob's walk grow without end. Hidden names match only a part that
    starts with a dot, as in glob."""
    if not parts:
        yield base
        return
    part, rest = parts[0], parts[1:]
    if not _GLOB.search(part):
        try:
            exists = (base / part).exists() or (not rest and (base / part).is_symlink())
        except PermissionError:
            denied(base / part, _CANNOT_REACH)
            return
        if exists:
            yield from _matches(base / part, rest, denied)
        return
    try:
        entries = sorted(os.scandir(base), key=lambda entry: entry.name)
    except PermissionError:
        denied(base, _CANNOT_LIST)
        return
    except OSError:
        return
    visible = [entry for entry in entries if not entry.name.startswith(".") or part[0] == "."]
    if part == "**":
        yield from _matches(base, rest, denied)
        for entry in visible:
            if entry.is_dir(follow_symlinks=False):
                yield from _matches(Path(entry.path), parts, denied)
            elif not rest:
                yield Path(entry.path)
        return
    for entry in visible:
        if fnmatch.fnmatch(entry.name, part) and (not rest or entry.is_dir()):
            yield from _matches(Path(entry.path), rest, denied)


def _media_in(directory: Path, warn: Callable[[str], None], denied: Denied) -> list[Path]:
    def unlisted(error: OSError) -> None:
        if isinstance(error, PermissionError):
            denied(Path(error.filename or directory), _CANNOT_LIST)
        else:
            warn(f"skipping {error.filename or str(directory)!r}: {error.strerror or error}")

    media = []
    for path in files_under(directory, onerror=unlisted):
        if not _is_media(path):
            warn(_unsupported(path))
        elif _usable(path, warn, denied):
            media.append(path)
    return media


def _usable(path: Path, warn: Callable[[str], None], denied: Denied) -> bool:
    """Whether a found file can be sent; if not, say why (it is skipped, the run goes on)."""
    try:
        status = path.stat()
    except PermissionError:
        denied(path, _CANNOT_REACH)
        return False
    except OSError as error:
        reason = "a link to nothing" if path.is_symlink() else (error.strerror or str(error))
    else:
        if not stat.S_ISREG(status.st_mode):
            reason = "not a regular file"
        elif status.st_size == 0:
            reason = "an empty file"
        elif not os.access(path, os.R_OK):
            denied(path, _CANNOT_READ)
            return False
        else:
            return True
    warn(f"skipping {str(path)!r}: {reason}")
    return False


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_SUFFIXES


def _unsupported(path: Path) -> str:
    return (
        f"skipping {str(path)!r}: not an audio or video file by its suffix "
        "(name it explicitly to try it anyway)"
    )


def _suffix_list() -> str:
    return " ".join(sorted(MEDIA_SUFFIXES))


def output_names(inputs: Sequence[Input], suffix: str = "") -> list[PurePosixPath]:
    """Where each input's output goes under ``--output-dir``, before the format's suffix.

    The input's stem (``talk.mp3`` -> ``talk``). Inputs whose stems clash are told
    apart by their path relative to their common parent (``a/talk``, ``b/talk``),
    then by their suffix (``talk.mp3``, ``talk.wav``), then by a short hash of their
    name (URLs), and last, for inputs with the same printable name (two signed URLs
    of one object), by ``-2``, ``-3`` in input order. Names are compared
    case-insensitively (macOS, Windows) and with ``suffix`` (the file's), so no
    output is another's file or directory; the same inputs always get the same
    names, which is what lets a re-run skip them.
    """
    names = [PurePosixPath(_stem(item)) for item in inputs]
    local = [item.audio.resolve() if isinstance(item.audio, Path) else None for item in inputs]
    clashing = _clashes(names)
    paths = [path for index in clashing if (path := local[index]) is not None]
    if paths:
        parent = Path(os.path.commonpath([path.parent for path in paths]))
        for index in clashing:
            path = local[index]
            if path is not None:
                relative = PurePosixPath(path.relative_to(parent).as_posix())
                names[index] = relative.with_name(_safe_stem(relative))
    for index in _clashes(names):
        path = local[index]
        if path is not None and path.suffix:
            names[index] = names[index].with_name(names[index].name + path.suffix)
    for index in _clashes(names):
        digest = hashlib.sha256(inputs[index].name.encode()).hexdigest()
        names[index] = names[index].with_name(f"{names[index].name}-{digest[:8]}")
    return _numbered(names, suffix)


def _numbered(names: Sequence[PurePosixPath], suffix: str) -> list[PurePosixPath]:
    """``names`` with each repeat, or file another one needs as a directory, numbered."""
    directories = {str(parent).casefold() for name in names for parent in name.parents}
    taken: set[str] = set()
    unique = []
    for name in names:
        candidate, number = name, 1
        while (file := f"{candidate}{suffix}".casefold()) in taken or file in directories:
            number += 1
            candidate = name.with_name(f"{name.name}-{number}")
        taken.add(file)
        unique.append(candidate)
    return unique


def output_paths(inputs: Sequence[Input], output_dir: Path, output_format: str) -> list[Path]:
    """``DIR/<name>.<format>`` for each input (see :func:`output_names`), each inside ``DIR``."""
    paths = [
        output_dir.joinpath(*name.parts).with_name(name.name + SUFFIXES[output_format])
        for name in output_names(inputs, SUFFIXES[output_format])
    ]
    inside = Path(os.path.abspath(output_dir))
    for item, path in zip(inputs, paths, strict=True):
        if inside not in Path(os.path.abspath(path)).parents:  # no name leaves the directory
            raise UsageError(
                f"Cannot place the output of {item.name!r} inside --output-dir "
                f"{str(output_dir)!r} (it would go to {str(path)!r}): rename the input."
            )
    return paths


def _stem(item: Input) -> str:
    if isinstance(item.audio, Path):
        return _safe_stem(PurePosixPath(item.audio.name))
    parts = urlsplit(item.audio)
    stem = PurePosixPath(unquote(parts.path)).stem or parts.hostname or "audio"
    return _UNSAFE.sub("_", stem).strip("._") or "audio"


def _safe_stem(path: PurePosixPath) -> str:
    """A file name's stem, never `.` or `..` (`..mp3`): those would leave the directory."""
    stem = path.stem or path.name
    return stem if stem.strip(".") else "audio"


def _clashes(names: Sequence[PurePosixPath]) -> list[int]:
    seen: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        seen.setdefault(str(name).casefold(), []).append(index)
    return sorted(index for group in seen.values() if len(group) > 1 for index in group)


# --------------------------------------------------------------------------- rendering


def render(transcription: Transcription, name: str, output_format: str, *, compact: bool) -> str:
    """One input's output in ``output_format``; ``compact`` JSON is one line (for stdout)."""
    if output_format == "txt":
        return transcription.text.strip() + "\n"
    if output_format == "srt":
        return srt(transcription)
    if output_format == "vtt":
        return vtt(transcription)
    if output_format == "json":
        document = {"source": name, **transcription.model_dump(mode="json")}
        return json.dumps(document, ensure_ascii=False, indent=None if compact else 2) + "\n"
    return "".join(
        json.dumps(_segment_line(segment, name), ensure_ascii=False) + "\n"
        for segment in transcription.segments
    )


def _segment_line(segment: Any, name: str) -> dict[str, Any]:
    line: dict[str, Any] = {"source": name, "start": segment.start, "end": segment.end}
    if segment.speaker_id:
        line["speaker_id"] = segment.speaker_id
    line.update(speaker_link(segment))
    line["text"] = segment.text.strip()
    return line


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename).

    The file gets the mode of the one it replaces, else the one a plain ``open``
    would give (``mkstemp`` makes it private to the user, whatever the umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, _file_mode(path))
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _file_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)  # the only way to read it; set back at once
        os.umask(umask)
        return 0o666 & ~umask


# --------------------------------------------------------------------------- summary


@dataclass
class Tally:
    """What a run did, for the summary line.

    Audio and tokens are what this run sent; chunks replayed from the resume cache
    were paid for by an earlier run and are counted apart.
    """

    done: int = 0
    failed: int = 0
    skipped: int = 0
    audio_seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    replayed_seconds: float = 0.0
    replayed_tokens: int = 0
    overlap_seconds: float = 0.0

    def add_usage(self, transcription: Transcription) -> None:
        """Count ``transcription``'s audio and tokens (also a failed file's finished part)."""
        usage = transcription.usage
        replayed = transcription.replayed_usage or Usage()
        self.prompt_tokens += usage.prompt_tokens - replayed.prompt_tokens
        self.completion_tokens += usage.completion_tokens - replayed.completion_tokens
        self.replayed_tokens += replayed.prompt_tokens + replayed.completion_tokens
        replayed_seconds = replayed.prompt_audio_seconds or 0.0
        self.replayed_seconds += replayed_seconds
        if usage.prompt_audio_seconds is not None:
            self.audio_seconds += usage.prompt_audio_seconds - replayed_seconds
        elif transcription.chunks:
            sent = sum(chunk.duration for chunk in transcription.chunks)
            self.audio_seconds += sent - replayed_seconds
        elif transcription.segments and transcription.segments[-1].end is not None:
            self.audio_seconds += transcription.segments[-1].end
        self.overlap_seconds += transcription.overlap_seconds

    def summary(self, seconds: float) -> str:
        parts = [f"{self.done} done", f"{self.failed} failed"]
        if self.skipped:
            parts.append(f"skipped {self.skipped} already done")
        tokens = self.prompt_tokens + self.completion_tokens
        replayed = (
            f"; from the resume cache (paid for by an earlier run): "
            f"{self.replayed_seconds / 60:.1f} min of audio, {self.replayed_tokens} tokens"
            if self.replayed_tokens or self.replayed_seconds
            else ""
        )
        overlap = (
            f" ({self.overlap_seconds / 60:.1f} min heard twice, where diarized chunks overlap)"
            if self.overlap_seconds
            else ""
        )
        return (
            f"{PROG}: {', '.join(parts)}; {self.audio_seconds / 60:.1f} min of audio{overlap}; "
            f"{tokens} tokens ({self.prompt_tokens} prompt, {self.completion_tokens} "
            f"completion){replayed}; {seconds:.1f} s"
        )


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


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


# --------------------------------------------------------------------------- transcribe


def make_client(backend: str, base_url: str | None) -> VoxtralClient:
    """The client every subcommand uses (the one place tests may replace).

    The key comes from ``MISTRAL_API_KEY`` only; the message for a missing key
    speaks of the variable, since there is no argument to pass it.
    """
    if dialect(backend).requires_key and not os.environ.get(API_KEY_ENV):
        raise UsageError(
            f"No API key: set the {API_KEY_ENV} environment variable (create a key at "
            "https://console.mistral.ai/api-keys). There is no --api-key flag: a key on "
            "the command line would stay in the shell history."
        )
    try:
        return VoxtralClient(base_url=base_url, backend=backend)  # type: ignore[arg-type]
    except ConfigurationError as error:
        raise UsageError(str(error)) from error


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
    terms = [term for value in args.context_bias or () for term in value.split(",") if term]
    _check_context_bias(terms)
    return {
        "model": args.model,
        "language": args.language,
        "temperature": args.temperature,
        "timestamp_granularities": granularities,
        "diarize": args.diarize,
        "context_bias": terms or None,
        "max_chunk_seconds": args.max_chunk_seconds,
    }


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


def _show_progress(args: argparse.Namespace, err: TextIO) -> bool:
    return err.isatty() if args.progress is None else bool(args.progress)


def run_transcribe(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    started = time.monotonic()
    say = _sayer(err)
    options = transcription_kwargs(args)
    resume_cache = _usable_cache(args, say)
    if resume_cache is not None:
        prune_cache(resume_cache)
    warn = _warner(say)
    denied: list[Path] = []
    inputs = expand_inputs(args.audio, warn, _denier(say, denied))
    output_dir: Path | None = args.output_dir
    if output_dir is None and args.format in ("srt", "vtt") and len(inputs) > 1:
        raise UsageError(
            f"--format {args.format} writes one file per input: with {len(inputs)} inputs, "
            "pass --output-dir DIR."
        )
    if output_dir is not None:
        _check_writable(output_dir)
    targets: list[Path | None] = (
        list(output_paths(inputs, output_dir, args.format))  # list: invariant element type
        if output_dir is not None
        else [None] * len(inputs)
    )
    tally = Tally()
    index = _OutputIndex(output_dir) if output_dir is not None else None
    targets, todo = plan_outputs(
        inputs, targets, index, args.format, overwrite=args.overwrite, warn=warn
    )
    tally.skipped = len(inputs) - len(todo)
    if todo:
        with make_client(args.backend, args.base_url) as client:
            results = client.transcribe_many(  # checks every option before sending anything
                [inputs[index].audio for index in todo],
                **options,
                concurrency=args.concurrency,
                cache_dir=resume_cache,
                show_progress=_show_progress(args, err),
            )
            writer = _Writer(args.format, out, several=len(inputs) > 1)

            def finishing() -> None:
                in_flight: int | None = getattr(results, "in_flight", None)  # BulkResults'
                if in_flight == 0:
                    say(f"{PROG}: stopping; no request is in flight")
                    return
                say(
                    f"{PROG}: finishing {'the' if in_flight is None else in_flight} request(s) "
                    "in flight; press Ctrl-C again to abandon them"
                )

            try:
                with _interruptible(finishing):
                    try:
                        for result in results:
                            position = todo[result.index]
                            _handle(
                                result,
                                inputs[position],
                                targets[position],
                                writer,
                                tally,
                                say,
                                index,
                            )
                    finally:
                        _close(results)  # nothing more is sent; requests in flight are awaited
            except KeyboardInterrupt as interrupt:
                writer.flush_finished()  # held back for input order: printed all the same
                say(_interrupted(tally, output_dir, args.no_cache))
                if isinstance(interrupt, _Abandoned):
                    raise
                return EXIT_INTERRUPTED
            finally:
                writer.flush_ready()
                if index is not None:
                    index.save()
    tally.failed += len(denied)
    if tally.failed:
        say(
            f"{PROG}: {tally.failed} input(s) failed (named above); run the same command "
            "again to retry them"
            + (" (finished outputs are skipped)" if output_dir is not None else "")
            + "."
        )
    return _finish(tally, args.quiet, started, say)


def _finish(tally: Tally, quiet: bool, started: float, say: Callable[[str], None]) -> int:
    if not quiet:
        say(tally.summary(time.monotonic() - started))
    return EXIT_FAILED if tally.failed else EXIT_OK


def _handle(
    result: TranscriptionResult,
    item: Input,
    target: Path | None,
    writer: _Writer,
    tally: Tally,
    say: Callable[[str], None],
    index: _OutputIndex | None,
) -> None:
    """Write (or queue for stdout) one finished input, or name its failure on stderr."""
    if result.error is not None:
        tally.failed += 1
        error = result.error
        if isinstance(error, IncompleteTranscriptionError) and error.partial is not None:
            tally.add_usage(error.partial)
        writer.skip(result.index)
        say(f"{PROG}: failed: {item.name}: {one_line(error)}")
        return
    transcription = result.unwrap()
    tally.done += 1
    tally.add_usage(transcription)
    if target is not None:
        try:
            write_atomically(target, render(transcription, item.name, writer.format, compact=False))
        except OSError as error:  # the folder was checked; a full disk or a change since
            tally.done -= 1
            tally.failed += 1
            say(f"{PROG}: failed: {item.name}: cannot write {str(target)!r}: {error.strerror}")
            return
        if index is not None:
            index.record(target, source_key(item))
    else:
        writer.add(result.index, item.name, transcription)


class _OutputIndex:
    """``DIR/.voxtral-outputs.json``: output file -> its input (:func:`source_key`).

    A file of the right name may hold another input's output (``x/talk.wav`` then
    ``y/talk.wav`` into one directory); the index tells them apart for every format.
    A missing or damaged index is empty: outputs it does not know are taken as done.
    Both sides are stored relative to ``DIR`` (``talk.txt`` -> ``../audio/talk.wav``),
    so a tree moved or shared whole keeps its index, which names no home directory;
    an index of absolute paths (older versions) is read all the same.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._root = directory.resolve()
        self._path = directory / OUTPUT_INDEX
        self._entries = {
            output: self._relative(source) for output, source in _read_index(self._path).items()
        }
        self._unsaved = False
        self._saved_at = time.monotonic()

    def owner(self, target: Path) -> str | None:
        """The :func:`source_key` of the input ``target`` was written for, if known."""
        source = self._entries.get(self._key(target))
        if source is None or _URL.match(source):
            return source
        return os.path.normpath(os.path.join(self._root, source))  # an absolute one stays

    def record(self, target: Path, source: str) -> None:
        self._entries[self._key(target)] = self._relative(source)
        self._unsaved = True
        if time.monotonic() - self._saved_at >= INDEX_SAVE_SECONDS:
            self.save()

    def save(self) -> None:
        if self._unsaved:
            text = json.dumps(self._entries, ensure_ascii=False, indent=1, sort_keys=True)
            write_atomically(self._path, text + "\n")
            self._unsaved = False
            self._saved_at = time.monotonic()

    def _key(self, target: Path) -> str:
        return target.relative_to(self._directory).as_posix()

    def _relative(self, source: str) -> str:
        """A local input's absolute path as relative to ``DIR``; a URL's name as it is."""
        if _URL.match(source) or not os.path.isabs(source):
            return source
        try:
            return Path(os.path.relpath(source, self._root)).as_posix()
        except ValueError:  # on another drive (Windows): only an absolute path names it
            return source


def _read_index(path: Path) -> dict[str, str]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {key: value for key, value in entries.items() if isinstance(value, str)}


def source_key(item: Input) -> str:
    """What an output records as its input: a local file's absolute path, or the URL's name."""
    return str(item.audio.resolve()) if isinstance(item.audio, Path) else item.name


def plan_outputs(
    inputs: Sequence[Input],
    targets: Sequence[Path | None],
    index: _OutputIndex | None,
    output_format: str,
    *,
    overwrite: bool,
    warn: Callable[[str], None],
) -> tuple[list[Path | None], list[int]]:
    """Each input's output file, and the positions of the inputs to transcribe.

    An input whose output exists is skipped, unless ``overwrite``, or unless that
    file was written for another input: then its output goes to ``<name>-2``
    (``-3``...), never over the other one.
    """
    planned = list(targets)
    taken = {str(target).casefold() for target in targets if target is not None}
    todo = []
    for position, (item, target) in enumerate(zip(inputs, targets, strict=True)):
        if target is None or overwrite:
            todo.append(position)
            continue
        candidate, number, other = target, 1, None
        while candidate.exists():
            owner = _owner(candidate, output_format, index)
            if owner is None or owner in (item.name, source_key(item)):
                break  # done by an earlier run
            other = other or owner
            while True:
                number += 1
                stem = target.name.removesuffix(SUFFIXES[output_format])
                candidate = target.with_name(f"{stem}-{number}{SUFFIXES[output_format]}")
                if str(candidate).casefold() not in taken:
                    break
        else:
            todo.append(position)
            if other is not None:
                warn(
                    f"{str(target)!r} holds the output of {other!r}, not of {item.name!r}: "
                    f"writing {str(candidate)!r}"
                )
        taken.add(str(candidate).casefold())
        planned[position] = candidate
    return planned, todo


def _owner(target: Path, output_format: str, index: _OutputIndex | None) -> str | None:
    """The input ``target`` was written for, if the index or the file itself says."""
    recorded = index.owner(target) if index is not None else None
    if recorded is not None or output_format not in ("json", "jsonl"):
        return recorded
    try:
        with target.open(encoding="utf-8") as file:
            document = json.loads(file.read() if output_format == "json" else file.readline())
    except (OSError, ValueError):
        return None
    source = document.get("source") if isinstance(document, dict) else None
    return source if isinstance(source, str) else None


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
def _interruptible(finishing: Callable[[], None]) -> Iterator[None]:
    """The first Ctrl-C calls ``finishing`` (to say what is awaited), then interrupts;
    a second one, while the requests in flight are awaited, abandons them."""
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
            raise _Abandoned
        finishing()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _close(results: Iterator[TranscriptionResult]) -> None:
    close = getattr(results, "close", None)
    if close is not None:
        close()


def _interrupted(tally: Tally, output_dir: Path | None, no_cache: bool) -> str:
    kept = (
        f"{tally.done} finished output(s) in {str(output_dir)!r} are kept and will be skipped; "
        if output_dir is not None
        else ""
    )
    cached = "" if no_cache else " (finished chunks of long files come from the cache)"
    return f"{PROG}: interrupted. {kept}run the same command again to transcribe the rest{cached}."


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/voxtral-integrations``, else ``~/.cache/voxtral-integrations``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base, CLI_CACHE_DIR_NAME)


# --------------------------------------------------------------------------- cache


def cache_dir(args: argparse.Namespace) -> Path:
    """The resume cache a command uses: ``--cache-dir``, else :func:`default_cache_dir`."""
    return args.cache_dir or default_cache_dir()


def _check_writable(directory: Path) -> None:
    """``--output-dir`` can take files: probed in it, or in its nearest existing parent
    (it is made with the first output, so a run that writes nothing leaves nothing).

    Checked before anything is sent, so a folder the user may not write to is a usage
    error, not a traceback after every upload. A probe, not ``os.access``: root passes
    that check even on a read-only file system.
    """
    flag = f"--output-dir {str(directory)!r}"
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag}: {str(existing)!r} exists and is not a directory.")
    try:
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".voxtral-probe-"))
    except OSError as error:
        raise UsageError(
            f"{flag} cannot be written to ({error.strerror}): choose a folder you may "
            "write to, or fix its permissions (chmod u+rwx)."
        ) from None


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


# --------------------------------------------------------------------------- batch


def run_batch_submit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    say = _sayer(err)
    options = transcription_kwargs(args)
    denied: list[Path] = []
    inputs = expand_inputs(args.audio, _warner(say), _denier(say, denied))
    if denied:  # a job is submitted whole or not at all
        raise UsageError(
            f"{len(denied)} input(s) may not be read (named above); nothing was submitted."
        )
    with make_client(args.backend, args.base_url) as client:
        job = client.submit_batch(
            [item.audio for item in inputs],
            manifest_dir=args.output_dir,
            **options,
            timeout_hours=args.timeout_hours,
            show_progress=_show_progress(args, err),
        )
        _record_format(args.output_dir, job.id, args.format, _warner(say))
        out.write(job.id + "\n")
        out.flush()
        say(
            f"{PROG}: submitted batch job {job.id} ({len(inputs)} input(s)); its manifest is "
            f"{str(manifest_path(args.output_dir, job.id))!r}"
        )
        if not args.wait:
            say(
                f"{PROG}: see how it goes with `voxtral batch status {job.id}`, collect it with "
                f"`voxtral batch results {job.id} -o {args.output_dir} --wait`"
            )
            return EXIT_OK
        return _collect(client, job.id, args, args.output_dir, out, err)


def _record_format(
    manifest_dir: Path, job_id: str, output_format: str, warn: Callable[[str], None]
) -> None:
    """Keep ``--format`` in the job's manifest: ``batch results`` defaults to it."""
    manifest = read_manifest(manifest_dir, job_id)
    try:
        write_manifest(manifest_dir, manifest.model_copy(update={"output_format": output_format}))
    except OSError as error:  # the job and its manifest stand; only the default is lost
        warn(
            f"could not record --format in the manifest ({error.strerror or error}): pass "
            f"--format {output_format} to `voxtral batch results`"
        )


def run_batch_results(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    job_id = check_job_id(args.job_id)
    manifest_dir = args.manifest_dir or args.output_dir
    manifest = read_manifest(manifest_dir, job_id)  # before anything is asked
    options = manifest.options
    if args.format is None:  # an explicit --format wins
        recorded = manifest.output_format
        args.format = recorded if recorded in SUFFIXES else DEFAULT_FORMAT
    if args.format in TIMED_FORMATS and not options.timestamp_granularities:
        raise UsageError(
            f"Job {job_id} was submitted without timestamps, so it has no segments for "
            f"--format {args.format}: use --format txt or json, or submit again with "
            f"--format {args.format}."
        )
    with make_client(args.backend, args.base_url) as client:
        return _collect(client, job_id, args, manifest_dir, out, err)


def _collect(
    client: VoxtralClient,
    job_id: str,
    args: argparse.Namespace,
    manifest_dir: Path,
    out: TextIO,
    err: TextIO,
) -> int:
    """Wait for the job if asked, then write one output per input (the ``transcribe`` way)."""
    started = time.monotonic()
    say = _sayer(err)
    try:
        job = (
            client.wait_for_batch(
                job_id, poll_interval=args.poll_interval, show_progress=_show_progress(args, err)
            )
            if args.wait
            else client.get_batch(job_id)
        )
    except KeyboardInterrupt:
        say(
            f"{PROG}: stopped waiting; job {job_id} goes on. Collect it later with "
            f"`voxtral batch results {job_id} -o {args.output_dir} --wait`."
        )
        return EXIT_INTERRUPTED
    if not job.done:
        say(
            f"{PROG}: batch job {job_id} is {job.status} ({_counts(job)}); its results come "
            "once it ends: add --wait, or check it with `voxtral batch status`."
        )
        return EXIT_FAILED
    if job.status != "SUCCESS":
        say(f"{PROG}: batch job {job_id} ended {job.status}: {_counts(job)}")
    results = client.batch_results(
        job_id, manifest_dir=manifest_dir, delete_files=not args.keep_files
    )
    inputs = [
        Input(result.source if _URL.match(result.source) else Path(result.source), result.source)
        for result in results
    ]
    index = _OutputIndex(args.output_dir)
    targets, todo = plan_outputs(
        inputs,
        output_paths(inputs, args.output_dir, args.format),
        index,
        args.format,
        overwrite=args.overwrite,
        warn=_warner(say),
    )
    writer = _Writer(args.format, out, several=True)
    tally = Tally(skipped=len(inputs) - len(todo))
    try:
        for position in todo:
            _handle(
                results[position], inputs[position], targets[position], writer, tally, say, index
            )
    finally:
        index.save()
    if tally.failed:
        say(
            f"{PROG}: {tally.failed} input(s) failed (named above); transcribe them again "
            "with `voxtral transcribe` or a new batch."
        )
    return _finish(tally, args.quiet, started, say)


def run_batch_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    job_id = check_job_id(args.job_id)
    with make_client(args.backend, args.base_url) as client:
        job = client.get_batch(job_id)
    if args.json:  # server messages may echo a signed URL: a credential
        out.write(json.dumps(redact_urls_in(job.model_dump(mode="json")), indent=2) + "\n")
    else:
        out.write(_describe_job(job))
    return EXIT_OK


def run_batch_cancel(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    job_id = check_job_id(args.job_id)
    with make_client(args.backend, args.base_url) as client:
        job = client.cancel_batch(job_id)
    out.write(_describe_job(job))
    return EXIT_OK


def _describe_job(job: BatchJob) -> str:
    lines = [f"{job.id}  {job.status}", f"requests: {_counts(job)}"]
    lines.extend(
        f"error: {one_line(Exception(redact_urls(p.message)))} ({p.count}x)" for p in job.errors
    )
    return "\n".join(lines) + "\n"


def _counts(job: BatchJob) -> str:
    return (
        f"{job.completed_requests} of {job.total_requests} done, "
        f"{job.succeeded_requests} succeeded, {job.failed_requests} failed"
    )


# --------------------------------------------------------------------------- parser


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


def _add_transcription_flags(parser: argparse.ArgumentParser, *, backends: bool) -> None:
    parser.add_argument(
        "audio",
        nargs="+",
        metavar="PATH_OR_URL",
        help="audio or video files, directories (searched recursively), globs, http(s) URLs",
    )
    _add_format_flag(parser)
    options = parser.add_argument_group("transcription options")
    options.add_argument(
        "--model", default=DEFAULT_TRANSCRIPTION_MODEL, help="model id (default: %(default)s)"
    )
    options.add_argument(
        "--language",
        metavar="xx",
        help="two-letter language code to skip detection (not with timestamps, "
        "--diarize, or the timed formats)",
    )
    options.add_argument(
        "--timestamps",
        choices=TIMESTAMP_GRANULARITIES,
        help="request segment or word timestamps (srt, vtt and jsonl request segment "
        "timestamps themselves)",
    )
    options.add_argument("--diarize", action="store_true", help="label segments by speaker")
    options.add_argument(
        "--context-bias",
        metavar="TERM[,TERM...]",
        action="append",
        help="terms to spell right (names, jargon; join words with _), separated by commas; "
        "repeatable (--context-bias Voxtral,Mistral_AI --context-bias vLLM)",
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
    _add_server_flags(parser, backends=backends)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Transcribe audio and video with Mistral's Voxtral models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_MAIN_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe files, directories, globs and URLs",
        description=_TRANSCRIBE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_TRANSCRIBE_EPILOG,
    )
    _add_transcription_flags(transcribe, backends=True)
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
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars over files and chunks on stderr (default: when stderr is a terminal)",
    )
    output.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    transcribe.set_defaults(run=run_transcribe, prog=transcribe.prog)
    _add_batch_parsers(commands)
    _add_cache_parsers(commands)
    return parser


_CACHE_POLICY = (
    f"entries older than {CLI_CACHE_MAX_AGE_DAYS} days are removed when `voxtral transcribe` "
    "runs; `voxtral cache clear` removes them all"
)


def _add_cache_dir_flag(group: Any, what: str) -> None:
    group.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help=f"{what} (default: $XDG_CACHE_HOME/{CLI_CACHE_DIR_NAME}, else "
        f"~/.cache/{CLI_CACHE_DIR_NAME})",
    )


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
    batch = commands.add_parser(
        "batch",
        help="the Batch API: submit a corpus now, collect the transcripts later",
        description=_BATCH_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_BATCH_EPILOG,
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
        required=True,
        metavar="DIR",
        help="where the job's manifest goes (and the outputs, with --wait)",
    )
    job.add_argument(
        "--timeout-hours",
        type=_positive_int,
        default=DEFAULT_BATCH_TIMEOUT_HOURS,
        metavar="H",
        help=f"hours the job may run, 1 to {MAX_BATCH_TIMEOUT_HOURS} (default: %(default)s)",
    )
    _add_collect_flags(job)
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


_MAIN_EPILOG = """\
examples:
  voxtral transcribe meeting.mp3
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
  # submit a directory; prints the job id
  voxtral batch submit lectures/ -o out/ --format srt

  voxtral batch status 8b0e5d3c-5c1e-4a8e-9f55-6f0b4a0f2d11
  voxtral batch results 8b0e5d3c-5c1e-4a8e-9f55-6f0b4a0f2d11 -o out/ --format srt --wait
  voxtral batch cancel 8b0e5d3c-5c1e-4a8e-9f55-6f0b4a0f2d11

  # all in one go
  voxtral batch submit calls/ -o out/ --format jsonl --wait"""

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

  # a remote file (fetched by the server)
  voxtral transcribe https://example.com/podcast.mp3 --format json

  # Voxtral served by vLLM (pass the served model name)
  voxtral transcribe a.wav --backend vllm --base-url http://gpu:8000/v1 \\
      --model mistralai/Voxtral-Mini-3B-2507

environment:
  MISTRAL_API_KEY   the API key (never printed; there is no flag for it)
  MISTRAL_BASE_URL  the API base URL (for the mistral backend)
  XDG_CACHE_HOME    where the resume cache goes"""


# --------------------------------------------------------------------------- entry point


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
