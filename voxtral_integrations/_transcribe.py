"""Long-file orchestration: chunk payloads in, one stitched transcription out.

The client hands over the payloads ``_audio.prepare`` made and a function that
transcribes one of them (with its own retries). This module runs them with bounded
concurrency (threads for the sync client, tasks for the async one), keeps finished
chunks in an optional resume cache, shows progress, and stitches the results. A
chunk that still fails does not lose the others: they are cached (with
``cache_dir``) and carried by the :class:`IncompleteTranscriptionError` raised once
every chunk has had its turn.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio

from ._audio import Payload, Plan
from ._chunking import stitch
from ._exceptions import IncompleteTranscriptionError, VoxtralError
from ._models import (
    Chunk,
    Transcription,
)
from ._options import TranscriptionOptions
from ._progress import progress_bar
from ._sources import AudioUpload

logger = logging.getLogger("voxtral_integrations")

SendOne = Callable[[AudioUpload], Transcription]
AsyncSendOne = Callable[[AudioUpload], Awaitable[Transcription]]


class ChunkCache:
    """Finished chunk transcriptions on disk, keyed by everything that shaped them.

    The key is the SHA-256 of the audio content, the chunk's range, the backend and
    its base URL (never the key), the model and every option, so a changed file,
    option or server never reuses a stale result: a test or vLLM server's answers
    are not replayed as the real API's. Entries are written atomically (temporary
    file, then rename). A loaded entry carries its usage as ``replayed_usage``: an
    earlier run paid for it.
    """

    def __init__(
        self, directory: str | os.PathLike[str], upload: AudioUpload, scope: dict[str, Any]
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with upload.open() as content:
            if isinstance(content, bytes):
                digest.update(content)
            else:
                for block in iter(lambda: content.read(1 << 20), b""):
                    digest.update(block)
        self._scope = {"audio": digest.hexdigest(), **scope}

    def _path(self, chunk: Chunk) -> Path:
        key = json.dumps(
            {**self._scope, "start": round(chunk.start, 3), "end": round(chunk.end, 3)},
            sort_keys=True,
        )
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def load(self, chunk: Chunk) -> Transcription | None:
        try:
            cached = Transcription.model_validate_json(self._path(chunk).read_bytes())
        except (OSError, ValueError):
            return None
        return cached.model_copy(update={"replayed_usage": cached.usage})

    def store(self, chunk: Chunk, result: Transcription) -> None:
        path = self._path(chunk)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".chunk-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(result.model_dump_json())
        os.replace(temporary, path)


_CACHE_FILE = re.compile(r"[0-9a-f]{64}\.json|\.chunk-[^/\\]+\.tmp")
"""The names :class:`ChunkCache` gives its entries, and its temporaries (a crash's leftovers)."""


def cache_files(directory: str | os.PathLike[str]) -> list[os.DirEntry[str]]:
    """The files a :class:`ChunkCache` wrote in ``directory``, and nothing else: a
    ``cache_dir`` may hold other files, which are not the cache's to count or delete.
    A missing directory has none."""
    try:
        with os.scandir(directory) as entries:
            return [e for e in entries if _CACHE_FILE.fullmatch(e.name) and e.is_file()]
    except FileNotFoundError:
        return []


def chunk_cache(
    cache_dir: str | os.PathLike[str] | None,
    upload: AudioUpload,
    options: TranscriptionOptions,
    backend: str,
    base_url: str,
) -> ChunkCache | None:
    """The resume cache of ``upload``'s chunks in ``cache_dir``; none without a directory."""
    if not cache_dir:
        return None
    scope = {"backend": backend, "base_url": base_url, **asdict(options)}
    return ChunkCache(cache_dir, upload, scope)


@contextmanager
def spooled(payload: Payload) -> Iterator[AudioUpload]:
    """``payload``'s upload, ready to be sent and resent, for the length of one request.

    A converted chunk is encoded once, into a temporary file that every attempt
    re-reads (httpx streams it): memory holds no chunk, however many are in
    flight, and a retry resends the bytes instead of encoding them again. The file
    is removed when the block ends: on success, on failure and on cancellation.
    Other payloads (byte ranges of the original, a file sent as it is) are
    re-read from their source on each attempt and need no file.
    """
    if payload.encode is None:
        yield payload.upload
        return
    path = _spool_file(payload.upload)
    try:
        _encode_when_a_core_is_free(payload.encode, path)
        yield _spooled_upload(payload.upload, path)
    finally:
        path.unlink(missing_ok=True)


@asynccontextmanager
async def aspooled(payload: Payload) -> AsyncIterator[AudioUpload]:
    """The async twin of :func:`spooled`: the encoding runs in a worker thread, which a
    cancellation waits for before the file is removed."""
    if payload.encode is None:
        yield payload.upload
        return
    path = _spool_file(payload.upload)
    try:
        await anyio.to_thread.run_sync(_encode_when_a_core_is_free, payload.encode, path)
        yield _spooled_upload(payload.upload, path)
    finally:
        path.unlink(missing_ok=True)


def _encoder_threads() -> ThreadPoolExecutor:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return ThreadPoolExecutor(max_workers=max(1, cores or 1), thread_name_prefix="voxtral-encode")


_ENCODERS = _encoder_threads()
"""The threads chunks are encoded in, for the whole process: one per core this process
may use. Encoding is CPU work, so ten chunks encoded side by side on two cores finish
no sooner than two at a time, but all at the end: the first request would wait for
every encoding, and memory would hold ten decoders. The request threads wait here
rather than encode themselves: each thread that encodes keeps its own malloc arena,
and ten arenas each holding a freed encoder's buffers took a 2-hour m4a sent as FLAC
from 119 to 193 MB. The threads start with the first encoding and then stay, idle,
for the life of the process."""


def _encoders_after_fork() -> None:
    """A forked child has none of its parent's threads: it gets threads of its own
    (the parent's pool, counting idle threads the child lacks, would never run a task)."""
    global _ENCODERS
    _ENCODERS = _encoder_threads()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_encoders_after_fork)


def _encode_when_a_core_is_free(encode: Callable[[str], None], path: Path) -> None:
    _ENCODERS.submit(encode, str(path)).result()


SPOOL_PREFIX = "voxtral-upload-"
"""The names of :func:`spooled`'s temporary files begin so (in ``tempfile.gettempdir()``)."""


def _spool_file(upload: AudioUpload) -> Path:
    handle, name = tempfile.mkstemp(prefix=SPOOL_PREFIX, suffix=Path(upload.filename).suffix)
    os.close(handle)
    return Path(name)


def _spooled_upload(upload: AudioUpload, path: Path) -> AudioUpload:
    return AudioUpload(
        upload.name,
        upload.filename,
        upload.mime_type,
        path.stat().st_size,
        lambda: path.open("rb"),
        path,
    )


def materialised(upload: AudioUpload) -> AudioUpload:
    """``upload`` with its content produced now, once: retries then resend, not re-encode."""
    content = upload.read_all()
    return AudioUpload(
        upload.name, upload.filename, upload.mime_type, len(content), lambda: nullcontext(content)
    )


def _progress(payloads: Plan, enabled: bool) -> Any:
    """The chunks' bar (none for one chunk); its total is set once every cut is found."""
    return progress_bar(
        desc=Path(payloads.name).name[:40],
        unit="chunk",
        disable=not enabled or payloads.whole,
        leave=False,
    )


class _Reading:
    """What reading a :class:`Plan` found, while it runs: the chunks planned, how many
    of them an earlier run answered (the cache), how many were answered before the
    last cut was found, and the error that stopped the planning, if one did."""

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.cached = 0
        self.answered_early = 0
        self.failure: Exception | None = None
        self.complete = False


def transcribe_chunks(
    payloads: Plan,
    send_one: SendOne,
    *,
    concurrency: int,
    cache: ChunkCache | None,
    show_progress: bool,
    slot: Callable[[], AbstractContextManager[object]] = nullcontext,
    on_chunk: Callable[[], None] | None = None,
    on_planned: Callable[[int], None] | None = None,
) -> Transcription:
    """Transcribe every payload with up to ``concurrency`` threads and stitch the results.

    Each chunk's request goes out as soon as its cut is found, while the next one is
    searched (:class:`._audio.Plan`). ``slot`` is held around each chunk's request
    (``transcribe_many`` shares one budget across files through it); ``on_planned`` is
    told how many chunks there are once every cut is found, ``on_chunk`` when a chunk
    is done (never before ``on_planned``).
    """
    if payloads.whole and cache is None:  # the common short file: no pool, no bar
        with slot(), spooled(payloads[0]) as upload:
            result = send_one(upload)
        _whole_done(on_planned, on_chunk)
        return stitch([payloads[0].chunk], [result])
    results: dict[int, Transcription] = {}
    failures: dict[int, Exception] = {}
    stopped: BaseException | None = None
    reading = _Reading()

    def run(payload: Payload) -> Transcription:
        with slot(), spooled(payload) as upload:
            return send_one(upload)

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    with _progress(payloads, show_progress) as bar, pool:
        futures: dict[Future[Transcription], Payload] = {}
        try:
            for payload in payloads:
                if _to_send(payload, reading, cache, results):
                    futures[pool.submit(run, payload)] = payload
        except Exception as failure:  # a cut could not be found: what was sent is kept
            reading.failure = failure
        _plan_complete(reading, bar, cache, on_planned, on_chunk)
        for future in as_completed(futures):
            error = future.exception()
            if error is not None and not isinstance(error, VoxtralError):
                # not a chunk's failure (the run is stopping, or a bug): raised once
                # every chunk already answered is recorded, since those were paid for
                stopped = stopped or error
                continue
            _record(futures[future], error, future, results, failures, cache)
            _chunk_done(bar, on_chunk)
    if stopped is not None:
        raise stopped
    return _finish(payloads, reading, results, failures, cache)


async def atranscribe_chunks(
    payloads: Plan,
    send_one: AsyncSendOne,
    *,
    concurrency: int,
    cache: ChunkCache | None,
    show_progress: bool,
    slot: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    on_chunk: Callable[[], None] | None = None,
    on_planned: Callable[[int], None] | None = None,
) -> Transcription:
    """The async twin of :func:`transcribe_chunks`; codec work (the cut search too) runs
    in worker threads."""
    slot = slot or no_slot
    if payloads.whole and cache is None:
        async with slot(), aspooled(payloads[0]) as upload:
            result = await send_one(upload)
        _whole_done(on_planned, on_chunk)
        return stitch([payloads[0].chunk], [result])
    results: dict[int, Transcription] = {}
    failures: dict[int, Exception] = {}
    limiter = anyio.Semaphore(max(1, concurrency))
    reading = _Reading()

    with _progress(payloads, show_progress) as bar:

        async def run(payload: Payload) -> None:
            async with limiter, slot():
                try:
                    async with aspooled(payload) as upload:
                        result: Transcription | None = await send_one(upload)
                    error: Exception | None = None
                except VoxtralError as exc:
                    result, error = None, exc
            _record(payload, error, result, results, failures, cache)
            if reading.complete:
                _chunk_done(bar, on_chunk)
            else:  # told once the total is known, as the sync twin does
                reading.answered_early += 1

        async with anyio.create_task_group() as group:
            plan = iter(payloads)
            try:
                while (payload := await anyio.to_thread.run_sync(next, plan, None)) is not None:
                    if _to_send(payload, reading, cache, results):
                        group.start_soon(run, payload)
            except Exception as failure:  # a cut could not be found: what was sent is kept
                reading.failure = failure
            _plan_complete(reading, bar, cache, on_planned, on_chunk)
    return _finish(payloads, reading, results, failures, cache)


def _whole_done(
    on_planned: Callable[[int], None] | None, on_chunk: Callable[[], None] | None
) -> None:
    if on_planned:
        on_planned(1)
    if on_chunk:
        on_chunk()


def _to_send(
    payload: Payload,
    reading: _Reading,
    cache: ChunkCache | None,
    results: dict[int, Transcription],
) -> bool:
    """Note ``payload``'s chunk as planned; whether it must be sent (an earlier run's
    answer, found in ``cache``, goes in ``results`` instead)."""
    reading.chunks.append(payload.chunk)
    found = cache.load(payload.chunk) if cache else None
    if found is None:
        return True
    results[payload.chunk.index] = found
    reading.cached += 1
    return False


def _plan_complete(
    reading: _Reading,
    bar: Any,
    cache: ChunkCache | None,
    on_planned: Callable[[int], None] | None,
    on_chunk: Callable[[], None] | None,
) -> None:
    """Every cut is found (or one could not be): the total is known, and the chunks
    already answered (cached, or back before the last cut) are done."""
    reading.complete = True
    chunks = len(reading.chunks)
    if cache and reading.cached:
        logger.debug("%d of %d chunks found in %s", reading.cached, chunks, cache.directory)
    if on_planned:
        on_planned(chunks)
    bar.total = chunks
    bar.refresh()
    for _ in range(reading.cached + reading.answered_early):
        _chunk_done(bar, on_chunk)


def _chunk_done(bar: Any, on_chunk: Callable[[], None] | None) -> None:
    bar.update(1)
    if on_chunk:
        on_chunk()


@asynccontextmanager
async def no_slot() -> AsyncIterator[None]:
    yield


def _record(
    payload: Payload,
    error: Exception | None,
    outcome: Any,
    results: dict[int, Transcription],
    failures: dict[int, Exception],
    cache: ChunkCache | None,
) -> None:
    if error is not None:
        failures[payload.chunk.index] = error
        return
    result = outcome.result() if hasattr(outcome, "result") else outcome
    results[payload.chunk.index] = result
    if cache:
        try:
            cache.store(payload.chunk, result)
        except OSError as error:  # the transcription is kept; only resuming it is lost
            logger.warning("could not cache a chunk in %s: %s", cache.directory, error)


def _finish(
    payloads: Plan,
    reading: _Reading,
    results: dict[int, Transcription],
    failures: dict[int, Exception],
    cache: ChunkCache | None,
) -> Transcription:
    chunks = reading.chunks
    if reading.failure is not None:
        if not chunks:  # the first cut: nothing was sent
            raise reading.failure
        # the rest of the recording, which could not be planned, failed as one chunk
        rest = Chunk(index=len(chunks), start=chunks[-1].end, end=payloads.duration)
        chunks = [*chunks, rest]
        failures[rest.index] = reading.failure
    if not failures:
        return stitch(chunks, [results[chunk.index] for chunk in chunks])
    if len(chunks) == 1:
        raise failures[chunks[0].index]  # one request: its own error says it all
    done = [chunk for chunk in chunks if chunk.index in results]
    partial = stitch(done, [results[chunk.index] for chunk in done]) if done else None
    first_index = min(failures)
    first = failures[first_index]
    chunk = chunks[first_index]
    kept = f"kept in {cache.directory}" if cache else "kept in this error's `partial`"
    hint = (
        "run again with the same cache_dir to send only the missing ones"
        if cache
        else ("pass cache_dir= to resume without resending them")
    )
    raise IncompleteTranscriptionError(
        f"{payloads.name!r}: {len(failures)} of {len(chunks)} chunks failed, first "
        f"chunk {chunk.index} ({_clock(chunk.start)}-{_clock(chunk.end)}): {first} "
        f"The {len(done)} finished chunks are {kept}; {hint}.",
        source=payloads.name,
        failed={chunks[index]: error for index, error in failures.items()},
        partial=partial,
    ) from first


def _clock(seconds: float) -> str:
    """``HH:MM:SS.mmm``; a first MP3 chunk starts before 0 (by the encoder delay): 0."""
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes // 60):02d}:{int(minutes % 60):02d}:{rest:06.3f}"
