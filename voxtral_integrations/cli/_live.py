"""``voxtral transcribe --realtime`` and ``voxtral listen``: one realtime session per source.

Both go through :func:`run_sessions`: a source (a file decoded and paced here, or the
microphone) becomes an async iterator of raw PCM in the session's format, which a
first Ctrl-C ends as a file's end would (the session flushes and the final turns
still come); a second Ctrl-C abandons the session. The final turns are printed as
they come (``[00:01:02.5 -> 00:01:05.0] speaker_1: text``), one per line, so a pipe
gets only them; on a terminal, the open turn's partial text is rewritten in place
under them. With ``--format``, each source's turns are also rendered as one
transcription (``-o``: written atomically; else on stdout when its session ends).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .._constants import (
    DEFAULT_BULK_CONCURRENCY,
    DEFAULT_REALTIME_MODEL,
    DEFAULT_REALTIME_SAMPLE_RATE,
    DEFAULT_TRANSCRIPTION_MODEL,
    REALTIME_CHUNK_SECONDS,
)
from .._exceptions import AudioError, AuthenticationError, PermissionDeniedError, VoxtralError
from .._models import Segment, TextDeltaEvent, Transcription
from .._realtime_audio import pcm_chunks
from .._realtime_events import RealtimeErrorEvent, ReconnectedEvent, UtteranceEvent
from .._realtime_protocol import RawPCM
from . import _commands
from ._exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, PROG, UsageError, one_line
from ._inputs import expand_inputs
from ._options import realtime_kwargs
from ._outputs import DEFAULT_FORMAT, _check_writable, output_paths, render, write_atomically
from ._screen import _SCREEN, _denier, _interruptible, _sayer, _warner

LISTEN_EXTRA = "pip install 'voxtral-integrations[listen]'"
"""What installs the microphone's one dependency (``sounddevice``)."""
_BYTES_PER_SECOND = DEFAULT_REALTIME_SAMPLE_RATE * 2  # int16 mono


@dataclass
class Source:
    """One session's audio: ``open(stop)`` gives its PCM, which ends once ``stop`` is set."""

    name: str
    open: Callable[[threading.Event], AsyncIterator[bytes]]
    target: Path | None = None


@dataclass
class _Heard:
    """What one session finalised, and how much audio it was sent."""

    turns: list[UtteranceEvent] = field(default_factory=list)
    sent_bytes: int = 0


def file_source(path: Path, *, pace: bool) -> Callable[[threading.Event], AsyncIterator[bytes]]:
    """A file's audio decoded to the session's PCM, at the speed of speech unless not ``pace``."""

    async def chunks(stop: threading.Event) -> AsyncIterator[bytes]:
        pcm = pcm_chunks(path, sample_rate=DEFAULT_REALTIME_SAMPLE_RATE, realtime=pace)
        try:
            async for chunk in pcm:
                if stop.is_set():
                    return
                yield chunk
        finally:
            await pcm.aclose()  # type: ignore[attr-defined]

    return chunks


def open_microphone(device: str | None) -> Callable[[threading.Event], AsyncIterator[bytes]]:
    """The default (or ``device``) input as int16 16 kHz mono PCM, 0.1 s a chunk, until
    ``stop``: the one place the microphone is touched (tests replace it).

    ``sounddevice`` is imported now, so a missing extra is a usage error before anything
    connects. It calls back on a thread of its own: each block is handed to the loop.
    """
    sounddevice = _sounddevice()

    async def chunks(stop: threading.Event) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        blocks: asyncio.Queue[bytes] = asyncio.Queue()

        def heard(data: Any, frames: int, when: Any, status: Any) -> None:
            loop.call_soon_threadsafe(blocks.put_nowait, bytes(data))

        try:
            stream = sounddevice.RawInputStream(
                samplerate=DEFAULT_REALTIME_SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=round(DEFAULT_REALTIME_SAMPLE_RATE * REALTIME_CHUNK_SECONDS),
                device=_device(device),
                callback=heard,
            )
        except (sounddevice.PortAudioError, ValueError) as error:  # no such device, no input
            raise AudioError(
                f"cannot open the microphone ({one_line(error)}): pick one with --device "
                "(`python -m sounddevice` lists them).",
                source="microphone",
            ) from None
        with stream:
            while not stop.is_set():
                try:
                    yield await asyncio.wait_for(blocks.get(), REALTIME_CHUNK_SECONDS)
                except TimeoutError:
                    continue

    return chunks


def _device(device: str | None) -> int | str | None:
    return int(device) if device is not None and device.isdecimal() else device


def _sounddevice() -> Any:
    """``sounddevice``, imported when the microphone is opened (an optional extra)."""
    try:
        import sounddevice  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        raise UsageError(
            f"`voxtral listen` needs the microphone's package, sounddevice: {LISTEN_EXTRA}"
        ) from None
    except OSError as error:  # sounddevice is there, its PortAudio library is not
        raise UsageError(
            f"sounddevice cannot load the PortAudio library ({one_line(error)}): install it "
            "(Debian/Ubuntu: apt install libportaudio2; macOS: brew install portaudio)."
        ) from None
    return sounddevice


class _LiveView:
    """The final turns as lines on ``out``; on a terminal, the open turn's partial text
    rewritten in place on the line under them (cut to the width, so it never wraps)."""

    def __init__(self, out: TextIO, *, lines: bool) -> None:
        self._out = out
        self._lines = lines
        self._partials = lines and out.isatty()
        self._partial = ""

    def delta(self, text: str) -> None:
        if not self._partials:
            return
        self._partial += text
        width = shutil.get_terminal_size().columns - 1
        shown = "… " + self._partial.strip()
        self._write("\r\x1b[K" + (shown if len(shown) <= width else "…" + shown[1 - width :]))

    def restart(self) -> None:
        """A reconnection: the open turn's partial text starts again."""
        self._partial = ""
        if self._partials:
            self._write("\r\x1b[K")

    def final(self, turn: UtteranceEvent) -> None:
        self._partial = ""
        if self._lines:
            self._write(("\r\x1b[K" if self._partials else "") + turn_line(turn) + "\n")

    def header(self, name: str, first: bool) -> None:
        if self._lines:
            self._write(("" if first else "\n") + f"==> {name} <==\n")

    def close(self) -> None:
        if self._partials and self._partial:
            self._partial = ""
            self._write("\r\x1b[K")

    def _write(self, text: str) -> None:
        with _SCREEN.writing():
            self._out.write(text)
            self._out.flush()


def turn_line(turn: UtteranceEvent) -> str:
    """``[00:01:02.5 -> 00:01:05.0] speaker_1: text``."""
    speaker = f"{turn.speaker_id}: " if turn.speaker_id else ""
    return f"[{_tenths(turn.start)} -> {_tenths(turn.end)}] {speaker}{turn.text.strip()}"


def _tenths(seconds: float) -> str:
    tenths = round(max(seconds, 0.0) * 10)
    hours, rest = divmod(tenths, 36_000)
    minutes, rest = divmod(rest, 600)
    return f"{hours:02d}:{minutes:02d}:{rest // 10:02d}.{rest % 10}"


def transcription_of(turns: Sequence[UtteranceEvent], model: str) -> Transcription:
    """A session's final turns as one transcription, one segment per turn (for ``--format``)."""
    said = [turn for turn in turns if turn.text.strip()]
    return Transcription(
        text=" ".join(turn.text.strip() for turn in said),
        model=model,
        language=next((turn.language for turn in said if turn.language), None),
        segments=[
            Segment(
                text=turn.text.strip(), start=turn.start, end=turn.end, speaker_id=turn.speaker_id
            )
            for turn in said
        ],
    )


def run_sessions(
    client: Any,
    sources: Sequence[Source],
    options: dict[str, Any],
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    interrupted_status: int,
) -> int:
    """Each source through its own session, in turn; the run's exit status.

    The first Ctrl-C ends the current source's audio (its final turns still come and
    its output is written) and no further source is started: ``interrupted_status``.
    A second one abandons the session (what was final is still written): 130.
    """
    started = time.monotonic()
    say = _sayer(err)
    output_format: str | None = args.format
    to_files = all(source.target is not None for source in sources)
    view = _LiveView(out, lines=output_format is None or to_files)
    stop = threading.Event()
    done = failed = turns = 0
    sent = 0

    def finishing() -> None:
        stop.set()
        say(
            f"{PROG}: stopping: waiting for the final turns of what was sent; press Ctrl-C "
            "again to abandon them"
        )

    status = EXIT_OK
    try:
        with _interruptible(finishing, gentle=True):
            for position, source in enumerate(sources):
                if stop.is_set():
                    break
                if len(sources) > 1:
                    view.header(source.name, position == 0)
                heard = _Heard()
                try:
                    _session(client, source, options, stop, view, heard, say)
                except (AuthenticationError, PermissionDeniedError):
                    raise  # no other session could succeed: main's exit 3
                except VoxtralError as error:
                    failed += 1
                    say(f"{PROG}: failed: {source.name}: {one_line(error)}")
                    continue
                except KeyboardInterrupt:
                    _output(source, heard, options["model"], output_format, args, out, say)
                    raise
                finally:
                    view.close()
                    sent += heard.sent_bytes
                    turns += len(heard.turns)
                if _output(source, heard, options["model"], output_format, args, out, say):
                    done += 1
                else:
                    failed += 1
    except KeyboardInterrupt:
        say(f"{PROG}: abandoned the session; the final turns above are kept.")
        status = EXIT_INTERRUPTED
    if stop.is_set() and status == EXIT_OK:
        status = interrupted_status
    elif failed:
        status = EXIT_FAILED
    if not args.quiet:
        say(
            f"{PROG}: {done} done, {failed} failed; {turns} turn(s); "
            f"{sent / _BYTES_PER_SECOND / 60:.1f} min of audio; {time.monotonic() - started:.1f} s"
        )
    return status


def _session(
    client: Any,
    source: Source,
    options: dict[str, Any],
    stop: threading.Event,
    view: _LiveView,
    heard: _Heard,
    say: Callable[[str], None],
) -> None:
    async def counted() -> AsyncIterator[bytes]:
        async for chunk in source.open(stop):
            heard.sent_bytes += len(chunk)
            yield chunk

    events = client.stream_realtime(RawPCM(counted()), **options)
    try:
        for event in events:
            if isinstance(event, TextDeltaEvent):
                view.delta(event.text)
            elif isinstance(event, UtteranceEvent):
                if event.text.strip():
                    heard.turns.append(event)
                    view.final(event)
            elif isinstance(event, ReconnectedEvent):
                view.restart()
            elif isinstance(event, RealtimeErrorEvent):
                say(
                    f"{PROG}: warning: {source.name}: the server said: "
                    + one_line(Exception(event.message))
                )
    finally:
        events.close()


def _output(
    source: Source,
    heard: _Heard,
    model: str,
    output_format: str | None,
    args: argparse.Namespace,
    out: TextIO,
    say: Callable[[str], None],
) -> bool:
    """Render the session's turns in ``--format``: to its file, or to stdout; False if the
    file cannot be written."""
    if output_format is None:
        return True
    text = render(
        transcription_of(heard.turns, model),
        source.name,
        output_format,
        compact=source.target is None,
    )
    if source.target is None:
        with _SCREEN.writing():
            out.write(text)
            out.flush()
        return True
    try:
        write_atomically(source.target, text)
    except OSError as error:
        say(f"{PROG}: failed: {source.name}: cannot write {str(source.target)!r}: {error.strerror}")
        return False
    return True


_HTTP_ONLY: tuple[tuple[str, object, str, str], ...] = (
    ("timestamps", None, "--timestamps", "each turn has its times"),
    ("temperature", None, "--temperature", "the realtime endpoint takes no temperature"),
    ("max_chunk_seconds", None, "--max-chunk-seconds", "a session is not split"),
    ("cache_dir", None, "--cache-dir", "a session has no resume cache"),
    ("no_cache", False, "--no-cache", "a session has no resume cache"),
    ("concurrency", DEFAULT_BULK_CONCURRENCY, "--concurrency", "sources go one at a time"),
    ("progress", None, "--progress/--no-progress", "the turns are the progress"),
    ("dry_run", False, "--dry-run", "a session's cost is its length (see `voxtral transcribe`)"),
    ("max_cost", None, "--max-cost", "a session is not estimated"),
)
"""``transcribe`` flags that have no meaning with ``--realtime``: (attribute, its default,
the flag, why)."""
_REALTIME_ONLY: tuple[tuple[str, object, str], ...] = (
    ("delay", None, "--delay"),
    ("no_pace", False, "--no-pace"),
)


def run_transcribe(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``voxtral transcribe``: through the realtime endpoint with ``--realtime``, else
    the HTTP transcriptions (:func:`._commands.run_transcribe`)."""
    if not args.realtime:
        for name, default, flag in _REALTIME_ONLY:
            if getattr(args, name) != default:
                raise UsageError(f"{flag} is an option of --realtime: add --realtime, or drop it.")
        args.model = args.model or DEFAULT_TRANSCRIPTION_MODEL
        args.format = args.format or DEFAULT_FORMAT
        return _commands.run_transcribe(args, out, err)
    for name, default, flag, why in _HTTP_ONLY:
        if getattr(args, name) != default:
            raise UsageError(f"{flag} cannot be used with --realtime: {why}. Drop {flag}.")
    args.model = args.model or DEFAULT_REALTIME_MODEL
    options = realtime_kwargs(args)
    say = _sayer(err)
    denied: list[Path] = []
    inputs = expand_inputs(args.audio, _warner(say), _denier(say, denied))
    remote = [item.name for item in inputs if not isinstance(item.audio, Path)]
    if remote:
        raise UsageError(
            f"--realtime streams local audio, and {remote[0]!r} is a URL: download it first, "
            "or drop --realtime (the HTTP endpoint fetches URLs itself)."
        )
    output_dir: Path | None = args.output_dir
    if output_dir is not None:
        args.format = args.format or DEFAULT_FORMAT
        _check_writable(output_dir)
    elif args.format in ("srt", "vtt") and len(inputs) > 1:
        raise UsageError(
            f"--format {args.format} writes one file per input: with {len(inputs)} inputs, "
            "pass --output-dir DIR."
        )
    targets: list[Path | None] = (
        list(output_paths(inputs, output_dir, args.format))
        if output_dir is not None
        else [None] * len(inputs)
    )
    pace = not args.no_pace
    sources = [
        Source(item.name, file_source(item.audio, pace=pace), target)
        for item, target in zip(inputs, targets, strict=True)
        if isinstance(item.audio, Path)
    ]
    with _commands.make_client(args.backend, args.base_url) as client:
        status = run_sessions(
            client, sources, options, args, out, err, interrupted_status=EXIT_INTERRUPTED
        )
    return EXIT_FAILED if denied and status == EXIT_OK else status


def run_listen(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``voxtral listen``: the microphone through one session, until Ctrl-C."""
    options = realtime_kwargs(args)
    if args.output is not None:
        if args.format is None:
            raise UsageError(
                f"--output {str(args.output)!r} needs --format (txt, json, jsonl, srt or vtt)."
            )
        _check_writable(args.output.parent)
    source = Source("microphone", open_microphone(args.device), args.output)
    with _commands.make_client(args.backend, args.base_url) as client:
        return run_sessions(client, [source], options, args, out, err, interrupted_status=EXIT_OK)
