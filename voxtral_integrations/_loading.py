"""Framework-free loading: many audio sources in, records out, one file's failure contained.

The LangChain loader and parser and the LlamaIndex reader share this: the same
options, the same checks before anything is sent, the same transcription calls
and the same records, so the two adapters only map records to their Document
types. Files are transcribed one after another by ``load`` (each file's chunks
concurrently), and several at once by ``aload``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._client import AsyncVoxtralClient, VoxtralClient
from ._constants import DEFAULT_CONCURRENCY, DEFAULT_TRANSCRIPTION_MODEL
from ._exceptions import AudioError, InvalidInputError, LoadError, VoxtralError
from ._protocol import transcription_options
from ._records import (
    DEFAULT_WINDOW_SECONDS,
    Granularity,
    Record,
    TranscriptFormat,
    check_record_options,
    records,
    source_name,
)
from ._sources import AudioInput

logger = logging.getLogger("voxtral_integrations")

OnError = Literal["raise", "skip"]
DEFAULT_FILE_CONCURRENCY = 4


@dataclass(frozen=True)
class LoadOptions:
    """How audio becomes records; checked as a whole by :meth:`check`."""

    granularity: Granularity = "segment"
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    transcript_format: TranscriptFormat = "text"
    model: str = DEFAULT_TRANSCRIPTION_MODEL
    language: str | None = None
    diarize: bool = False
    context_bias: Sequence[str] | None = None
    max_chunk_seconds: float | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    cache_dir: str | os.PathLike[str] | None = None
    show_progress: bool = False
    on_error: OnError = "raise"
    transcription_extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ``InvalidInputError`` for any bad option, before any audio is read."""
        check_record_options(self.granularity, self.window_seconds, self.transcript_format)
        if self.on_error not in ("raise", "skip"):
            raise InvalidInputError(
                f"`on_error`={self.on_error!r}: use 'raise' or 'skip'.", argument="on_error"
            )
        if self.language and self.needs_timestamps:
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
        transcription_options(**self._options())  # the core's own checks, up front

    @property
    def needs_timestamps(self) -> bool:
        return self.granularity != "file" or self.transcript_format != "text" or self.diarize

    def _options(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "language": self.language,
            "timestamp_granularities": ["segment"] if self.needs_timestamps else None,
            "diarize": self.diarize,
            "context_bias": self.context_bias,
        }

    def transcribe_kwargs(self) -> dict[str, Any]:
        return {
            **self._options(),
            "max_chunk_seconds": self.max_chunk_seconds,
            "concurrency": self.concurrency,
            "cache_dir": self.cache_dir,
            "show_progress": self.show_progress,
        }

    def to_records(self, transcription: Any, source: str) -> list[Record]:
        return records(
            transcription,
            source=source,
            granularity=self.granularity,
            window_seconds=self.window_seconds,
            transcript_format=self.transcript_format,
        )


@dataclass(frozen=True)
class Source:
    """One input and the name it goes by in metadata and messages.

    ``audio`` may be a function producing the input (reading a file from an
    ``fsspec`` file system): it is called when the file's turn comes, so a file
    that cannot be read fails like any other file, under ``on_error``.
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


def sources(items: AudioInput | Sequence[AudioInput]) -> list[Source]:
    """One or many paths or URLs (or other audio inputs), each with its name."""
    single = isinstance(items, (str, os.PathLike, bytes, bytearray, memoryview))
    listed: list[AudioInput] = [items] if single or hasattr(items, "read") else list(items)  # type: ignore[list-item, arg-type]
    if not listed:
        raise InvalidInputError(
            "No audio to load: pass at least one path or URL.", argument="file_path"
        )
    return [Source(item, name_of(item)) for item in listed]


def name_of(item: object) -> str:
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    name = getattr(item, "name", None)
    return name if isinstance(name, str) else "<bytes>"


def load(
    client: VoxtralClient, items: Sequence[Source], options: LoadOptions
) -> Iterator[tuple[Source, list[Record]]]:
    """Each source's records as soon as that source is done, in order."""
    for source in items:
        try:
            transcription = client.transcribe(source.resolve(), **options.transcribe_kwargs())
        except VoxtralError as error:
            _handle(error, source, options)
            continue
        yield source, options.to_records(transcription, source.name)


async def aload(
    client: AsyncVoxtralClient,
    items: Sequence[Source],
    options: LoadOptions,
    *,
    file_concurrency: int = DEFAULT_FILE_CONCURRENCY,
) -> AsyncIterator[tuple[Source, list[Record]]]:
    """Sources transcribed ``file_concurrency`` at a time; each yielded when it is done.

    Plain asyncio tasks, not a task group: a generator may be abandoned between two
    yields, and a task group must not stay open across a yield. Whatever is still
    running when the caller stops (or a file fails) is cancelled on the way out.
    """
    limiter = asyncio.Semaphore(max(1, file_concurrency))

    async def one(source: Source) -> tuple[Source, Any]:
        async with limiter:
            try:
                audio = source.resolve()
                return source, await client.transcribe(audio, **options.transcribe_kwargs())
            except VoxtralError as error:
                return source, error

    tasks = [asyncio.ensure_future(one(source)) for source in items]
    try:
        for finished in asyncio.as_completed(tasks):
            source, outcome = await finished
            if isinstance(outcome, VoxtralError):
                _handle(outcome, source, options)
                continue
            yield source, options.to_records(outcome, source.name)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _handle(error: VoxtralError, source: Source, options: LoadOptions) -> None:
    """Raise a :class:`LoadError` naming the file or, with ``on_error='skip'``, log and go on."""
    name = source_name(source.name)  # a signed URL's token never reaches a message
    if options.on_error == "skip":
        logger.warning("skipped %s: %s", name, error)
        return
    raise LoadError(
        f"Could not load {name!r}: {error} (files loaded before it were already "
        "returned; pass on_error='skip' to go on past failures).",
        source=name,
    ) from error
