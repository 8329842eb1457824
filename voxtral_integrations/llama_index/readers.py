"""``VoxtralReader`` and ``VoxtralRealtimeReader``: recordings (and live audio) as
LlamaIndex Documents with absolute timestamps.

The same records as the LangChain loader (``_records``): granularities, flat
metadata, ``source`` without query strings. Timing keys (``start``, ``end``,
``start_timestamp``, ``duration``, ``segment_index``, ``citation``) are kept out of the text
that gets embedded, so retrieval is not skewed by numbers, and left in what the
LLM sees, so an answer can cite the time; ``model`` is in neither. Nodes made
from these Documents (for example by ``SentenceSplitter`` in an
``IngestionPipeline``) inherit the times, a window's for every node cut from it;
``VoxtralNodeParser`` packs segment Documents into nodes with their own times.
``VoxtralRealtimeReader`` gives a Document per turn of a live transcription, with
the same metadata, as the turn finalises.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path, PurePath
from typing import Any

from llama_index.core.readers.base import BasePydanticReader
from llama_index.core.schema import Document
from pydantic import ConfigDict, PrivateAttr, SecretStr

from .._bulk import Source, name_of
from .._constants import (
    API_KEY_ENV,
    DEFAULT_BULK_CONCURRENCY,
    DEFAULT_GRANULARITY,
    DEFAULT_TRANSCRIPTION_MODEL,
    DEFAULT_WINDOW_SECONDS,
)
from .._dialects import dialect
from .._exceptions import LoadError
from .._loading import LoadOptions, aestimate, aload, estimate, load, load_options
from .._outcomes import CostEstimate
from .._realtime_loading import (
    RealtimeFields,
    RealtimeSource,
    aturn_records,
    check_realtime,
    turn_records,
)
from .._records import PROVENANCE_KEYS, TIMING_KEYS, Record
from ._clients import VoxtralClientFields

__all__ = ["VoxtralReader", "VoxtralRealtimeReader"]


class VoxtralReader(VoxtralClientFields, BasePydanticReader):
    """Transcribe audio into Documents; works as a ``SimpleDirectoryReader`` extractor.

    Example::

        from llama_index.core import SimpleDirectoryReader
        from voxtral_integrations.llama_index import VoxtralReader

        reader = VoxtralReader(granularity="window")
        docs = SimpleDirectoryReader(
            "calls/", file_extractor={".mp3": reader, ".m4a": reader, ".wav": reader}
        ).load_data()

    ``SimpleDirectoryReader.load_data()`` hands its extractor one file after
    another; ``await SimpleDirectoryReader(...).aload_data()`` runs them side by
    side, and ``reader.load_data("calls/")`` (a directory: every recording under it)
    or a list of paths does too, under one budget of ``concurrency`` requests.

    ``load_data`` takes a path, an ``http(s)`` URL, ``bytes``, or several of them,
    plus ``extra_info`` (merged into every Document's metadata) and ``fs`` (an
    ``fsspec`` file system to read paths from). Client settings (``api_key`` from
    ``MISTRAL_API_KEY``, ``base_url``, ``model``, ``backend``, ``max_retries``,
    ``timeout``) and transcription options (``language``, ``temperature``, ``diarize``,
    ``context_bias``, ``max_chunk_seconds``, ``concurrency``, ``cache_dir``,
    ``show_progress``, ``upload_codec``) have the names ``VoxtralLoader`` uses, and so do ``mode``
    (``"batch"`` sends all files of a load to Mistral's Batch API as one job and
    waits for it, giving the same Documents) and ``batch_dir`` (where that job's
    manifest goes; required with ``mode="batch"``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    is_remote: bool = True
    # plain strings, checked by the library itself: a bad value is an InvalidInputError
    # naming it, like everywhere else, not a pydantic ValidationError
    granularity: str = DEFAULT_GRANULARITY
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    transcript_format: str = "text"
    on_error: str = "raise"
    mode: str = "online"
    batch_dir: str | None = None
    model: str = DEFAULT_TRANSCRIPTION_MODEL
    language: str | None = None
    temperature: float | None = None
    diarize: bool = False
    context_bias: list[str] | None = None
    max_chunk_seconds: float | None = None
    concurrency: int = DEFAULT_BULK_CONCURRENCY
    cache_dir: str | None = None
    show_progress: bool = False
    upload_codec: str = "auto"
    """``"auto"`` or ``"flac"``: how audio the API does not take is converted (checked
    with the other options, an ``InvalidInputError``)."""

    _options: LoadOptions = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._check()

    def _check(self) -> None:
        """Every option checked, and the key found, before any audio is read.

        Run after pydantic's validation, in ``__init__``, so that the library's typed
        errors reach the caller as they are.
        """
        reads_environment = dialect(self.backend).reads_environment
        if self.api_key is None and reads_environment and os.environ.get(API_KEY_ENV):
            self.api_key = SecretStr(os.environ[API_KEY_ENV])
        # granularity, transcript_format, on_error and mode are plain strings here:
        # LoadOptions.check() refuses a bad one with the library's InvalidInputError
        self._options = load_options(vars(self))
        self._options.check()
        self._options.check_backend(self.backend)
        self._client_settings().resolved()  # a missing key fails here, not at the first file

    @classmethod
    def class_name(cls) -> str:
        return "VoxtralReader"

    def lazy_load_data(
        self,
        file: Any,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
    ) -> Iterator[Document]:
        """Each file's Documents as soon as that file is transcribed, in order."""
        self._check()  # options may have been changed since construction
        for _, records in load(self._client(), _sources(file, fs), self._options):
            yield from (_document(record, extra_info) for record in records)

    def load_data(
        self,
        file: Any,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
    ) -> list[Document]:
        """All Documents of one or many files (``SimpleDirectoryReader`` calls this).

        If a file fails, the :class:`LoadError` carries the Documents of the files
        before it in ``documents``.
        """
        documents: list[Document] = []
        try:
            documents.extend(self.lazy_load_data(file, extra_info=extra_info, fs=fs))
        except LoadError as error:
            error.documents = documents
            raise
        return documents

    async def aload_data(
        self,
        file: Any,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
    ) -> list[Document]:
        """Natively async: files side by side, ``concurrency`` requests in flight in all.

        If a file fails, the :class:`LoadError` carries the Documents of the files
        finished before it in ``documents``.
        """
        self._check()
        documents: list[Document] = []
        try:
            async with self._one_async_client() as client:
                loads = aload(client, _sources(file, fs), self._options)
                async for _, records in loads:
                    documents.extend(_document(record, extra_info) for record in records)
        except LoadError as error:
            error.documents = documents
            raise
        return documents

    async def alazy_load_data(
        self,
        file: Any,
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
    ) -> Iterable[Document]:
        """As the base class has it, the awaited Documents (see :meth:`aload_data`)."""
        return await self.aload_data(file, extra_info=extra_info, fs=fs)

    def estimate(self, file: Any, fs: Any = None) -> CostEstimate:
        """What :meth:`load_data` of ``file`` would send and cost, without sending
        anything: every file probed and planned locally (:meth:`VoxtralClient.estimate`),
        priced online and through the Batch API (``None`` for a model without a known
        price)."""
        self._check()
        return estimate(self._client(), _sources(file, fs), self._options)

    async def aestimate(self, file: Any, fs: Any = None) -> CostEstimate:
        """:meth:`estimate` with the files listed and probed in worker threads, off the
        event loop (probing reads and decodes audio)."""
        self._check()
        async with self._one_async_client() as client:
            return await aestimate(client, _sources(file, fs), self._options)


def _sources(file: Any, fs: Any) -> list[Source]:
    """``file`` as load sources; paths are read through ``fs`` (lazily) when one is given."""
    many = isinstance(file, Sequence) and not isinstance(file, (str, bytes, bytearray))
    sources = []
    for item in file if many else [file]:
        if isinstance(item, (bytes, bytearray)):
            sources.append(Source(bytes(item), "<bytes>"))
        elif hasattr(item, "read"):
            sources.append(Source(item, name_of(item)))
        else:
            name = os.fspath(item) if isinstance(item, (str, os.PathLike)) else str(item)
            if fs is not None and not name.lower().startswith(("http://", "https://")):
                sources.append(Source(partial(_read, fs, name), name))
            else:
                sources.append(Source(Path(item) if isinstance(item, PurePath) else name, name))
    return sources


def _read(fs: Any, name: str) -> Any:
    """A file on ``fs``, in memory, keeping its name (the suffix helps the server)."""
    with fs.open(name, "rb") as stream:
        content = io.BytesIO(stream.read())
    content.name = name
    return content


def _document(record: Record, extra_info: dict[str, Any] | None) -> Document:
    metadata = {**(extra_info or {}), **record.metadata}
    timing = [key for key in TIMING_KEYS if key in metadata]
    provenance = [key for key in PROVENANCE_KEYS if key in metadata]
    return Document(
        text=record.text,
        metadata=metadata,
        excluded_embed_metadata_keys=timing + provenance,
        excluded_llm_metadata_keys=provenance,
    )


class VoxtralRealtimeReader(VoxtralClientFields, RealtimeFields, BasePydanticReader):
    """Live transcription as Documents: one per finalised turn, yielded as it finalises.

    Example::

        from voxtral_integrations.llama_index import VoxtralRealtimeReader

        reader = VoxtralRealtimeReader(model="voxtral-mini-transcribe-realtime-3", diarize=True)
        async for doc in reader.alazy_load_data(microphone(), source_name="standup"):
            index.insert(doc)                      # searchable during the meeting

    The audio goes through the realtime endpoint (``VoxtralClient.stream_realtime``):
    a turn's Document arrives seconds after it was said, while the rest is still
    being sent. Documents come in order, each turn exactly once (also across
    reconnections), with the metadata of :class:`VoxtralReader`'s: ``source``,
    ``model``, ``language`` and ``speaker`` when known, absolute ``start``/``end``
    seconds, ``start_timestamp``, ``citation``, plus ``utterance_index`` (from 0);
    the timing keys are kept out of what is embedded, ``model`` out of what the LLM
    reads.

    The session options are the fields (those of ``VoxtralClient.stream_realtime``,
    by the same names), checked when the reader is built and at every load, before
    anything connects; client settings (``api_key`` from ``MISTRAL_API_KEY``,
    ``base_url``, ``backend``, ``max_retries``) are :class:`VoxtralReader`'s.

    ``alazy_load_data`` is an async iterator here (``async for``), not the base
    class's awaited list: a live source has no end to wait for. ``aload_data``
    awaits them all.
    """

    is_remote: bool = True

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._check()

    def _check(self) -> dict[str, Any]:
        """Every option checked, and the key found, before anything connects."""
        reads_environment = dialect(self.backend).reads_environment
        if self.api_key is None and reads_environment and os.environ.get(API_KEY_ENV):
            self.api_key = SecretStr(os.environ[API_KEY_ENV])
        options = check_realtime(vars(self), self.backend)
        self._client_settings().resolved()
        return options

    @classmethod
    def class_name(cls) -> str:
        return "VoxtralRealtimeReader"

    def lazy_load_data(
        self,
        audio: Any,
        extra_info: dict[str, Any] | None = None,
        source_name: str | None = None,
    ) -> Iterator[Document]:
        """Each turn's Document as it finalises (the session runs on a thread of its own).

        ``audio``: a path, ``bytes``, a binary file, or a sync or async iterator of
        audio bytes (a microphone), in any format PyAV decodes; checked now.
        ``extra_info`` is merged into every Document's metadata; ``source_name`` is
        its ``source`` (default: the path, ``"<bytes>"``, or ``"<stream>"``).
        """
        options = self._check()
        source = RealtimeSource(audio, source_name, argument="audio")
        records = turn_records(self._client(), source, options)
        return (_document(record, extra_info) for record in records)

    def load_data(
        self,
        audio: Any,
        extra_info: dict[str, Any] | None = None,
        source_name: str | None = None,
    ) -> list[Document]:
        """All the turns' Documents, once the audio has ended."""
        return list(self.lazy_load_data(audio, extra_info=extra_info, source_name=source_name))

    def alazy_load_data(  # type: ignore[override]
        self,
        audio: Any,
        extra_info: dict[str, Any] | None = None,
        source_name: str | None = None,
    ) -> AsyncIterator[Document]:
        """Natively async: each turn's Document as it finalises (``async for``).

        Takes what :meth:`lazy_load_data` takes, checked when called, before the
        iteration connects.
        """
        options = self._check()
        source = RealtimeSource(audio, source_name, argument="audio")
        return self._documents(source, options, extra_info)

    async def _documents(
        self, source: RealtimeSource, options: dict[str, Any], extra_info: dict[str, Any] | None
    ) -> AsyncIterator[Document]:
        async with self._one_async_client() as client:
            async for record in aturn_records(client, source, options):
                yield _document(record, extra_info)

    async def aload_data(
        self,
        audio: Any,
        extra_info: dict[str, Any] | None = None,
        source_name: str | None = None,
    ) -> list[Document]:
        """All the turns' Documents, natively async."""
        documents = self.alazy_load_data(audio, extra_info=extra_info, source_name=source_name)
        return [document async for document in documents]
