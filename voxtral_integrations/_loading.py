"""Framework-free loading: many audio sources in, records out, one file's failure contained.

The LangChain loader and parser and the LlamaIndex reader share this: the same
options, the same checks before anything is sent, the same transcription calls
and the same records, so the two adapters only map records to their Document
types. Files are transcribed side by side by the client's ``transcribe_many``,
under one budget of requests in flight across files and chunks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._bulk import Source, TranscriptionResult
from ._client import AsyncVoxtralClient, VoxtralClient
from ._constants import DEFAULT_BULK_CONCURRENCY, DEFAULT_TRANSCRIPTION_MODEL
from ._exceptions import InvalidInputError, LoadError, VoxtralError
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

logger = logging.getLogger("voxtral_integrations")

OnError = Literal["raise", "skip"]


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
    concurrency: int = DEFAULT_BULK_CONCURRENCY
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


def load(
    client: VoxtralClient, items: Sequence[Source], options: LoadOptions
) -> Iterator[tuple[Source, list[Record]]]:
    """Each source's records in input order, as soon as it and those before it are done.

    The files are transcribed side by side (``client.transcribe_many``: up to
    ``options.concurrency`` requests in flight across files and chunks); a file
    that finishes early waits here for its turn.
    """
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
    of ``options.concurrency`` requests in flight across files and chunks."""
    results = client.transcribe_many(items, **options.transcribe_kwargs())  # type: ignore[arg-type]
    async for result in results:
        yielded = _records_or_skip(result, items[result.index], options)
        if yielded is not None:
            yield yielded


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
        f"Could not load {name!r}: {error} (files loaded before it were already "
        "returned; pass on_error='skip' to go on past failures).",
        source=name,
    ) from error
