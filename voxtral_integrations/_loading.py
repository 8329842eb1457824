"""Framework-free loading: many audio sources in, records out, one file's failure contained.

The LangChain loader and parser and the LlamaIndex reader share this: the same
options, the same checks before anything is sent, the same transcription calls
and the same records, so the two adapters only map records to their Document
types. Files are transcribed side by side by the client's ``transcribe_many``,
under one budget of requests in flight across files and chunks; with
``mode="batch"`` they go to Mistral's Batch API as one job instead
(:func:`load_batch`, :func:`aload_batch` on the async client), and come back as
the same records.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import anyio

from ._async_client import AsyncVoxtralClient
from ._bulk import Source
from ._client import VoxtralClient
from ._constants import (
    DEFAULT_BULK_CONCURRENCY,
    DEFAULT_GRANULARITY,
    DEFAULT_TRANSCRIPTION_MODEL,
    DEFAULT_WINDOW_SECONDS,
    MEDIA_SUFFIXES,
)
from ._dialects import Backend, dialect
from ._estimate import priced
from ._exceptions import (
    AudioError,
    InvalidInputError,
    LoadError,
    UnsupportedFeatureError,
    VoxtralError,
)
from ._options import (
    CHUNKING_OPTIONS,
    TRANSCRIPTION_OPTIONS,
    ChunkingOptions,
    given,
    transcription_options,
)
from ._outcomes import CostEstimate, TranscriptionResult
from ._records import (
    Granularity,
    Record,
    TranscriptFormat,
    check_record_options,
    records,
    source_name,
)
from ._sources import files_under

logger = logging.getLogger("voxtral_integrations")

OnError = Literal["raise", "skip"]
Mode = Literal["online", "batch"]


@dataclass(frozen=True)
class LoadOptions:
    """How audio becomes records; checked as a whole by :meth:`check`.

    Each adapter passes its arguments through :func:`load_options`, by name: the
    load's own options are the fields here, the transcription and chunking options
    are taken by the tables of ``_options`` (so an option added there needs no
    field here), and the tests hold every adapter's signature to these fields and
    to ``VoxtralClient.transcribe``'s options.
    """

    granularity: Granularity = DEFAULT_GRANULARITY
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    transcript_format: TranscriptFormat = "text"
    on_error: OnError = "raise"
    mode: Mode = "online"
    batch_dir: str | os.PathLike[str] | None = None
    transcription: Mapping[str, Any] = field(
        default_factory=lambda: {"model": DEFAULT_TRANSCRIPTION_MODEL}
    )
    """The transcription options as given (checked by :meth:`check`); timestamps
    follow from ``granularity``."""
    chunking: ChunkingOptions = field(
        default_factory=lambda: ChunkingOptions(concurrency=DEFAULT_BULK_CONCURRENCY)
    )

    @property
    def model(self) -> str:
        return str(self.transcription.get("model", DEFAULT_TRANSCRIPTION_MODEL))

    def check(self) -> None:
        """Raise ``InvalidInputError`` for any bad option, before any audio is read."""
        check_record_options(self.granularity, self.window_seconds, self.transcript_format)
        if self.on_error not in ("raise", "skip"):
            raise InvalidInputError(
                f"`on_error`={self.on_error!r}: use 'raise' or 'skip'.", argument="on_error"
            )
        if self.transcription.get("language") and self.needs_timestamps:
            raise InvalidInputError(
                f"`language` cannot be combined with granularity={self.granularity!r}"
                + (
                    f"/transcript_format={self.transcript_format!r}"
                    if self.transcript_format != "text"
                    else ""
                )
                + ": that needs segment timestamps, and the API rejects language together "
                "with timestamps. Drop `language` (the model detects it), or use "
                "granularity='file'.",
                argument="language",
            )
        self._check_mode()
        transcription_options(**self._options())  # the core's own checks, up front

    def _check_mode(self) -> None:
        if self.mode not in ("online", "batch"):
            raise InvalidInputError(
                f"`mode`={self.mode!r}: use 'online' (transcribe now) or 'batch' (Mistral's "
                "Batch API: one job for all files, not rate limited, results within hours).",
                argument="mode",
            )
        if self.mode == "batch" and not self.batch_dir:
            raise InvalidInputError(
                "mode='batch' needs `batch_dir`: the directory where the job's manifest is "
                "written (its results can be collected from there by job id if this process "
                "stops waiting).",
                argument="batch_dir",
            )
        if self.mode == "online" and self.batch_dir:
            raise InvalidInputError(
                "`batch_dir` is for mode='batch'; pass mode='batch' or drop `batch_dir`.",
                argument="batch_dir",
            )
        if self.mode == "batch" and self.chunking.cache_dir:
            raise InvalidInputError(
                "`cache_dir` resumes online transcriptions; a batch job keeps its results on "
                "the server. Drop `cache_dir` with mode='batch'.",
                argument="cache_dir",
            )

    def check_backend(self, backend: Backend) -> None:
        """Raise for what the backend cannot do or take, before any load."""
        profile = dialect(backend)
        profile.check_chunking(self.chunking, self.model)
        if self.mode == "batch" and not profile.supports_files:
            raise UnsupportedFeatureError(
                "mode='batch' uses Mistral's Batch API, which vLLM does not have. Use "
                "mode='online' with the vLLM backend.",
                argument="mode",
            )
        if self.needs_timestamps and not profile.supports_timestamps:
            raise UnsupportedFeatureError(
                f"granularity={self.granularity!r} needs segment timestamps, which vLLM does "
                "not serve for Voxtral. Use granularity='file' with the vLLM backend.",
                argument="granularity",
            )

    @property
    def needs_timestamps(self) -> bool:
        timed = self.granularity != "file" or self.transcript_format != "text"
        return timed or bool(self.transcription.get("diarize"))

    def _options(self) -> dict[str, Any]:
        granularities = ["segment"] if self.needs_timestamps else None
        return {**self.transcription, "timestamp_granularities": granularities}

    def transcribe_kwargs(self) -> dict[str, Any]:
        return {**self._options(), **vars(self.chunking)}

    def estimate_kwargs(self) -> dict[str, Any]:
        """The options ``VoxtralClient.estimate`` takes: what decides the requests and cost."""
        options = {key: value for key, value in self._options().items() if key != "temperature"}
        chunking = self.chunking
        return {
            **options,
            "max_chunk_seconds": chunking.max_chunk_seconds,
            "upload_codec": chunking.upload_codec,
        }

    def batch_kwargs(self) -> dict[str, Any]:
        return {
            **self._options(),
            "manifest_dir": self.batch_dir,
            "max_chunk_seconds": self.chunking.max_chunk_seconds,
            "show_progress": self.chunking.show_progress,
        }

    def to_records(self, transcription: Any, source: str) -> list[Record]:
        return records(
            transcription,
            source=source,
            granularity=self.granularity,
            window_seconds=self.window_seconds,
            transcript_format=self.transcript_format,
        )


def load_options(arguments: Mapping[str, Any]) -> LoadOptions:
    """The :class:`LoadOptions` among an adapter's ``arguments`` (by name; others ignored)."""
    own = {f.name for f in fields(LoadOptions)} - {"transcription", "chunking"}
    transcription = given(arguments, TRANSCRIPTION_OPTIONS)
    transcription.pop("timestamp_granularities", None)  # follows from the granularity
    return LoadOptions(
        **given(arguments, own),
        transcription=transcription,
        chunking=ChunkingOptions(**given(arguments, CHUNKING_OPTIONS)),
    )


def load(
    client: VoxtralClient, items: Sequence[Source], options: LoadOptions
) -> Iterator[tuple[Source, list[Record]]]:
    """Each source's records in input order, as soon as it and those before it are done.

    The files are transcribed side by side (``client.transcribe_many``: up to
    ``options.chunking.concurrency`` requests in flight across files and chunks); a file
    that finishes early waits here for its turn. With ``mode="batch"``, see
    :func:`load_batch`.
    """
    items = in_directories(items)
    if options.mode == "batch":
        yield from load_batch(client, items, options)
        return
    done: dict[int, TranscriptionResult] = {}
    turn = 0
    for result in client.transcribe_many(items, **options.transcribe_kwargs()):  # type: ignore[arg-type]
        done[result.index] = result
        while turn in done:
            yielded = _records_or_skip(done.pop(turn), items[turn], options)
            if yielded is not None:
                yield yielded
            turn += 1


async def aload(
    client: AsyncVoxtralClient, items: Sequence[Source], options: LoadOptions
) -> AsyncIterator[tuple[Source, list[Record]]]:
    """Each source's records as soon as it is done (completion order), sharing one budget
    of ``options.concurrency`` requests in flight across files and chunks.

    With ``mode="batch"``, see :func:`aload_batch`.
    """
    items = await anyio.to_thread.run_sync(in_directories, items)
    if options.mode == "batch":
        async for loaded in aload_batch(client, items, options):
            yield loaded
        return
    results = client.transcribe_many(items, **options.transcribe_kwargs())  # type: ignore[arg-type]
    async for result in results:
        yielded = _records_or_skip(result, items[result.index], options)
        if yielded is not None:
            yield yielded


def estimate(client: VoxtralClient, items: Sequence[Source], options: LoadOptions) -> CostEstimate:
    """What loading ``items`` would send and cost (``VoxtralClient.estimate``): the local
    audio probed and planned as a load would, directories expanded; nothing is sent.

    With ``on_error="skip"``, audio a load would skip (unreadable, empty) is left out
    with the same warning, so the estimate is of what the load sends.
    """
    items, kwargs = in_directories(items), options.estimate_kwargs()
    if options.on_error == "raise":
        return client.estimate(items, **kwargs)  # type: ignore[arg-type]
    parts = []
    for item in items:
        try:
            parts.append(client.estimate([item], **kwargs))  # type: ignore[list-item]
        except AudioError as error:
            _handle(error, item, options)
    return _joined(parts, options)


async def aestimate(
    client: AsyncVoxtralClient, items: Sequence[Source], options: LoadOptions
) -> CostEstimate:
    """:func:`estimate` on the async client: the directories listed and the audio probed
    in worker threads, off the event loop."""
    items = await anyio.to_thread.run_sync(in_directories, items)
    kwargs = options.estimate_kwargs()
    if options.on_error == "raise":
        return await client.estimate(items, **kwargs)  # type: ignore[arg-type]
    parts = []
    for item in items:
        try:
            parts.append(await client.estimate([item], **kwargs))  # type: ignore[list-item]
        except AudioError as error:
            _handle(error, item, options)
    return _joined(parts, options)


def _joined(parts: Sequence[CostEstimate], options: LoadOptions) -> CostEstimate:
    """One estimate of the files the ``parts`` estimated one by one."""
    return priced(options.model, [row for part in parts for row in part.per_file])


def in_directories(items: Sequence[Source]) -> list[Source]:
    """``items`` with each local directory replaced by the audio and video files under it.

    A directory is one load of all its recordings, transcribed side by side under
    one budget, where a framework's own directory readers hand them over one at a
    time. Files are found by suffix (``MEDIA_SUFFIXES``), at any depth, in path
    order; hidden files and directories are left out.
    """
    found: list[Source] = []
    for item in items:
        if not isinstance(item.audio, (str, os.PathLike)) or not os.path.isdir(item.audio):
            found.append(item)
            continue
        media = [
            path
            for path in files_under(Path(item.audio))
            if path.suffix.lower() in MEDIA_SUFFIXES and path.is_file()
        ]
        if not media:
            raise InvalidInputError(
                f"The directory {item.name!r} holds no audio or video files (looked for "
                f"{' '.join(sorted(MEDIA_SUFFIXES))}, at any depth). Check the path, or pass "
                "the files themselves.",
                argument="file_path",
            )
        found.extend(Source(path, str(path)) for path in media)
    return found


def load_batch(
    client: VoxtralClient, items: Sequence[Source], options: LoadOptions
) -> Iterator[tuple[Source, list[Record]]]:
    """Every source as one Batch API job: submitted, waited for, then records in input order.

    The records are those online transcription gives for the same answers. Local
    audio that cannot be used fails before anything is uploaded: a
    :class:`LoadError` naming it or, with ``on_error="skip"``, a warning and a job
    without it. The job's manifest goes to ``options.batch_dir``; the uploaded files
    are deleted once the results are in.
    """
    remaining = list(items)
    while remaining:
        try:
            job = client.submit_batch(remaining, **options.batch_kwargs())  # type: ignore[arg-type]
        except AudioError as error:
            _skip_unusable(error, remaining, options)
            continue
        client.wait_for_batch(job.id, show_progress=options.chunking.show_progress)
        results = client.batch_results(job.id, manifest_dir=options.batch_dir)  # type: ignore[arg-type]
        yield from _batch_records(results, remaining, options)
        return


async def aload_batch(
    client: AsyncVoxtralClient, items: Sequence[Source], options: LoadOptions
) -> AsyncIterator[tuple[Source, list[Record]]]:
    """:func:`load_batch` on the async client: the same job, its waits on the event loop."""
    remaining = list(items)
    while remaining:
        try:
            job = await client.submit_batch(remaining, **options.batch_kwargs())  # type: ignore[arg-type]
        except AudioError as error:
            _skip_unusable(error, remaining, options)
            continue
        await client.wait_for_batch(job.id, show_progress=options.chunking.show_progress)
        results = await client.batch_results(job.id, manifest_dir=options.batch_dir)  # type: ignore[arg-type]
        for loaded in _batch_records(results, remaining, options):
            yield loaded
        return


def _skip_unusable(error: AudioError, remaining: list[Source], options: LoadOptions) -> None:
    """Drop from ``remaining`` the one file ``error`` names (or raise: see :func:`_handle`)."""
    named = [s for s in remaining if error.source in (s.name, str(Path(s.name)))]
    if len(named) != 1:  # which input it was is unclear: skipping one would be a guess
        raise error
    _handle(error, named[0], options)
    remaining.remove(named[0])


def _batch_records(
    results: Sequence[TranscriptionResult], remaining: Sequence[Source], options: LoadOptions
) -> Iterator[tuple[Source, list[Record]]]:
    for result in results:
        loaded = _records_or_skip(result, remaining[result.index], options)
        if loaded is not None:
            yield loaded


def _records_or_skip(
    result: TranscriptionResult, source: Source, options: LoadOptions
) -> tuple[Source, list[Record]] | None:
    if result.error is not None:
        _handle(result.error, source, options)
        return None
    assert result.transcription is not None
    return source, options.to_records(result.transcription, source.name)


def _handle(error: VoxtralError, source: Source, options: LoadOptions) -> None:
    """Raise a :class:`LoadError` naming the file or, with ``on_error='skip'``, log and go on."""
    name = source_name(source.name)  # a signed URL's token never reaches a message
    if options.on_error == "skip":
        logger.warning("skipped %s: %s", name, error)
        return
    raise LoadError(
        f"Could not load {name!r}: {error} (the Documents of the files before it are in "
        "this error's `documents`, and a lazy load has yielded them already; pass "
        "on_error='skip' to go on past failures).",
        source=name,
    ) from error
