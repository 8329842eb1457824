"""Many recordings at once: one shared budget of requests in flight, one result per input.

``VoxtralClient.transcribe_many`` (and the adapters' multi-file loads) come here.
Files are prepared and transcribed side by side, and every chunk request of every
file takes one of ``concurrency`` slots, so the budget holds across files and
chunks alike (a 3-hour file does not get 12 requests in flight on top of 16 other
files). Rate limits are the client's business (:mod:`._pacing`): a 429 slows the
whole pool down, not only the request that got it.

A file that fails is a :class:`TranscriptionResult` with its ``error``: in bulk, a
failure is data about one input, and the others go on. Results come in the order
they finish; ``index`` says where each input stood.

Except a refused key. A 401 or 403 is about the client (the key is wrong, revoked,
or may not use the model every input shares), not about an input: every other
request would get it too, each uploading its audio first. So the first one stops
the run: no request starts after it (the slot that got it is held until the run
is marked stopped), the requests already in flight are awaited, and the iterator
raises that :class:`AuthenticationError` or :class:`PermissionDeniedError` in
place of further results (what finished in flight is still given first). With a
wrong key, at most ``concurrency`` requests are sent: the first one refused and
those already out beside it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._exceptions import (
    AudioError,
    AuthenticationError,
    IncompleteTranscriptionError,
    InvalidInputError,
    PermissionDeniedError,
    VoxtralError,
)
from ._models import Transcription
from ._outcomes import TranscriptionResult
from ._progress import progress_bar
from ._records import source_name
from ._redaction import redact_urls

if TYPE_CHECKING:
    from ._dialects import MistralDialect
    from ._options import TranscriptionOptions
from ._sources import (
    AudioFileId,
    AudioInput,
    AudioSource,
    AudioUpload,
    AudioURL,
    resolve_audio,
)


@dataclass(frozen=True)
class Source:
    """One input and the name it goes by in results, metadata and messages.

    ``audio`` may be a function producing the input (reading a file from an
    ``fsspec`` file system): it is called when the file's turn comes, so a file
    that cannot be read fails like any other file.
    """

    audio: AudioInput | Callable[[], AudioInput]
    name: str

    def resolve(self) -> AudioInput:
        if not callable(self.audio):
            return self.audio
        try:
            return self.audio()
        except OSError as error:
            raise AudioError(
                f"Cannot read {self.name!r}: {error.strerror or error}.", source=self.name
            ) from error


def sources(items: AudioInput | Iterable[AudioInput], *, argument: str = "audio") -> list[Source]:
    """One or many inputs (paths, URLs, bytes, file objects), each with its name."""
    single = isinstance(items, (str, os.PathLike, bytes, bytearray, memoryview))
    listed: list[AudioInput] = [items] if single or hasattr(items, "read") else list(items)  # type: ignore[list-item, arg-type]
    if not listed:
        raise InvalidInputError("No audio given: pass at least one path or URL.", argument=argument)
    return [item if isinstance(item, Source) else Source(item, name_of(item)) for item in listed]


def name_of(item: object) -> str:
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    name = getattr(item, "name", None)
    return name if isinstance(name, str) else "<bytes>"


def checked_sources(
    dialect: MistralDialect, options: TranscriptionOptions, audio: Iterable[AudioInput]
) -> list[Source]:
    """Every input checked that can be checked without reading it.

    An unusable input (a URL scheme, a type, a feature the backend lacks) is
    raised now; a local file that is missing, empty or unreadable becomes that
    file's failed result, so one bad file among thousands does not stop the rest.
    Each input is resolved once (a pipe or socket can only be read once).
    """
    items = []
    for item in sources(audio):
        if not callable(item.audio):
            try:
                resolved = resolved_source(dialect, item, options)
            except AudioError:
                pass
            else:
                item = Source(lambda resolved=resolved: resolved, item.name)  # type: ignore[misc]
        items.append(item)
    return items


def resolved_source(
    dialect: MistralDialect, item: Source, options: TranscriptionOptions
) -> AudioSource:
    """``item``'s audio classified, and refused now if the backend cannot take it."""
    audio = item.resolve()
    source = (
        audio if isinstance(audio, (AudioUpload, AudioURL, AudioFileId)) else resolve_audio(audio)
    )
    dialect.check_transcription(options, source)
    return source


class BulkProgress:
    """Bars over files and chunks; the chunk total grows as each file is planned."""

    def __init__(self, files: int, enabled: bool) -> None:
        self._lock = threading.Lock()
        width = _bar_width()
        self._files = progress_bar(
            total=files, desc="files", unit="file", disable=not enabled, ncols=width
        )
        self._chunks = progress_bar(
            total=0, desc="chunks", unit="chunk", disable=not enabled, ncols=width
        )

    def planned(self, chunks: int) -> None:
        with self._lock:
            self._chunks.total = (self._chunks.total or 0) + chunks
            self._chunks.refresh()

    def chunk_done(self) -> None:
        with self._lock:
            self._chunks.update(1)

    def file_done(self) -> None:
        with self._lock:
            self._files.update(1)

    def close(self) -> None:
        # In the order they stand: a bar left on screen is redrawn at the cursor, so
        # closing the lower one first would draw it over the upper one (they swapped).
        self._files.close()
        self._chunks.close()


def _bar_width() -> int | None:
    """The terminal's width less room for the ``^C`` it echoes when Ctrl-C is pressed
    and for the cursor after it.

    A bar as wide as the terminal leaves the cursor in its last column: the echo
    then wraps to the next line, the bars are no longer where they were drawn, and
    what comes next (the "finishing" message, the bars drawn again) lands on them.
    ``None`` (tqdm's own choice) when stderr is not a terminal.
    """
    try:
        return max(os.get_terminal_size(sys.stderr.fileno()).columns - len("^C") - 1, 20)
    except (AttributeError, OSError, ValueError):
        return None


Slot = Callable[[], AbstractContextManager[object]]
AsyncSlot = Callable[[], AbstractAsyncContextManager[object]]
TranscribeOne = Callable[[Source, Slot, BulkProgress], Transcription]
AsyncTranscribeOne = Callable[[Source, AsyncSlot, BulkProgress], Awaitable[Transcription]]


def _failed(index: int, source: Source, error: Exception) -> TranscriptionResult:
    """The result of an input that failed; an unexpected error is wrapped, not raised,
    so one odd file (an unwritable cache, a codec crash) cannot end a run of thousands."""
    name = source_name(source.name)
    if not isinstance(error, VoxtralError):
        detail = redact_urls(str(error))
        wrapped = VoxtralError(f"{name!r} failed unexpectedly: {type(error).__name__}: {detail}")
        wrapped.__cause__ = error
        error = wrapped
    return TranscriptionResult(index, name, error=error)


class _Stopped(Exception):
    """The caller stopped iterating, or the key was refused: chunks not yet sent are not sent."""


REFUSED = (AuthenticationError, PermissionDeniedError)
"""The errors that stop a bulk run: no request with this key can succeed."""


def transcribe_many(
    items: Sequence[Source],
    transcribe_one: TranscribeOne,
    *,
    concurrency: int,
    show_progress: bool,
) -> BulkResults:
    """:func:`_transcribe_many`'s results, which also say how many requests are in flight."""
    flight = _InFlight()
    results = _transcribe_many(
        items, transcribe_one, concurrency=concurrency, show_progress=show_progress, flight=flight
    )
    return BulkResults(results, flight)


class _InFlight:
    """How many requests hold a slot: entered around each one (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __enter__(self) -> None:
        with self._lock:
            self.count += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self.count -= 1


class BulkResults(Iterator[TranscriptionResult]):
    """:func:`transcribe_many`'s results as they finish, and how many requests are out.

    ``in_flight`` is what closing the iterator waits for (the CLI says it on Ctrl-C);
    :meth:`close` starts no more requests and waits for those.
    """

    def __init__(
        self, results: Generator[TranscriptionResult, None, None], flight: _InFlight
    ) -> None:
        self._results = results
        self._flight = flight

    def __next__(self) -> TranscriptionResult:
        return next(self._results)

    @property
    def in_flight(self) -> int:
        return self._flight.count

    def close(self) -> None:
        self._results.close()


def _transcribe_many(
    items: Sequence[Source],
    transcribe_one: TranscribeOne,
    *,
    concurrency: int,
    show_progress: bool,
    flight: _InFlight,
) -> Generator[TranscriptionResult, None, None]:
    """Each input's result as soon as it is done, with at most ``concurrency`` requests out.

    ``concurrency`` threads take the files; every chunk request of every file
    holds one of ``concurrency`` slots while it is prepared and sent (so memory
    holds at most ``concurrency`` chunk payloads). When the iterator is closed,
    chunks not yet started are not sent; requests already started (including
    ones waiting out a ``Retry-After``) are awaited.
    """
    slots = threading.Semaphore(concurrency)
    stopped = threading.Event()
    refused: list[VoxtralError] = []

    @contextmanager
    def slot() -> Iterator[None]:
        with slots:
            if stopped.is_set():
                raise _Stopped
            with flight:
                try:
                    yield
                except REFUSED as error:  # marked before the slot is free for another request
                    refused.append(error)
                    stopped.set()
                    raise

    progress = BulkProgress(len(items), show_progress)

    def one(index: int, source: Source) -> TranscriptionResult:
        if stopped.is_set():  # not even prepared (decoded, split) once the key is refused
            raise _Stopped
        try:
            transcription = transcribe_one(source, slot, progress)
        except _Stopped:
            raise  # not done: the files bar does not count it
        except Exception as error:
            progress.file_done()
            return _failed(index, source, error)
        progress.file_done()
        return TranscriptionResult(index, source_name(source.name), transcription)

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="voxtral-bulk")
    try:
        futures = [pool.submit(one, index, source) for index, source in enumerate(items)]
        for future in as_completed(futures):
            try:
                result = future.result()
            except _Stopped:  # the key was refused before this input was sent
                continue
            if not _is_refusal(result.error):  # finished in flight: still delivered
                yield result
    finally:
        stopped.set()
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        finally:  # also when the wait is cut short (a second Ctrl-C): no bar left open
            progress.close()
    if refused:
        raise refused[0]


def _is_refusal(error: BaseException | None) -> bool:
    """Whether an input failed because the key was refused (raised once, not per input)."""
    if isinstance(error, IncompleteTranscriptionError):
        return any(isinstance(failure, REFUSED) for failure in error.failed.values())
    return isinstance(error, REFUSED)


def _is_stop(error: BaseException) -> bool:
    """``error`` is a :class:`_Stopped`, or a task group's group of nothing else."""
    inner = getattr(error, "exceptions", None)
    if isinstance(inner, tuple) and inner:
        return all(_is_stop(exception) for exception in inner)
    return isinstance(error, _Stopped)


async def atranscribe_many(
    items: Sequence[Source],
    transcribe_one: AsyncTranscribeOne,
    *,
    concurrency: int,
    show_progress: bool,
) -> AsyncIterator[TranscriptionResult]:
    """The async twin of :func:`transcribe_many` (asyncio tasks).

    Plain tasks, not a task group: a generator may be abandoned between two
    yields, and a task group must not stay open across a yield. Whatever is still
    running when the caller stops is cancelled on the way out.
    """
    import asyncio  # here, not at the top: sync and chat-only use never load it

    slots = asyncio.Semaphore(concurrency)
    files = asyncio.Semaphore(concurrency)
    progress = BulkProgress(len(items), show_progress)
    refused: list[VoxtralError] = []

    @asynccontextmanager
    async def slot() -> AsyncIterator[None]:
        async with slots:
            if refused:
                raise _Stopped
            try:
                yield
            except REFUSED as error:  # marked before the slot is free for another request
                refused.append(error)
                raise

    async def one(index: int, source: Source) -> TranscriptionResult | None:
        """The input's result; ``None`` if the key was refused before it was sent."""
        async with files:
            if refused:
                return None
            try:
                transcription = await transcribe_one(source, slot, progress)
            except Exception as error:
                return None if _is_stop(error) else _failed(index, source, error)
            finally:
                progress.file_done()
            return TranscriptionResult(index, source_name(source.name), transcription)

    tasks = [asyncio.ensure_future(one(index, source)) for index, source in enumerate(items)]
    try:
        for finished in asyncio.as_completed(tasks):
            result = await finished
            if result is not None and not _is_refusal(result.error):
                yield result
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        progress.close()
    if refused:
        raise refused[0]
