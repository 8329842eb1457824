"""``VoxtralLoader``, ``VoxtralParser`` and ``VoxtralRealtimeLoader``: recordings (and live
audio) as LangChain Documents with times.

Every Document carries absolute ``start``/``end`` seconds in the original
recording (also when a long file was sent in chunks), ``start_timestamp`` as
``HH:MM:SS``, ``citation`` as a ``<source>#t=<start>,<end>`` media-fragment link,
and flat metadata only, so any vector store takes it and a RAG answer can cite
"at 01:02:05"; ``load_and_split`` cuts between segments (``VoxtralSplitter``).
``VoxtralRealtimeLoader`` gives the same metadata for each turn of a live
transcription, as the turn finalises. The work is the core's (``_loading``,
``_realtime_loading``); these classes only map its records to ``Document``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import httpx
from langchain_core.document_loaders import BaseBlobParser, BaseLoader
from langchain_core.documents import BaseDocumentTransformer, Document
from langchain_core.documents.base import Blob

from .._adapter_clients import AdapterClients, HoldsClients
from .._bulk import Source, sources
from .._constants import (
    DEFAULT_BULK_CONCURRENCY,
    DEFAULT_GRANULARITY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_REALTIME_ENCODING,
    DEFAULT_REALTIME_MODEL,
    DEFAULT_REALTIME_SAMPLE_RATE,
    DEFAULT_TRANSCRIPTION_MODEL,
    DEFAULT_WINDOW_SECONDS,
    REALTIME_DONE_TIMEOUT,
    REALTIME_MAX_RECONNECTS,
    REALTIME_STALL_TIMEOUT,
)
from .._dialects import Backend
from .._exceptions import InvalidInputError, LoadError
from .._loading import (
    LoadOptions,
    Mode,
    OnError,
    aestimate,
    aload,
    estimate,
    load,
    load_options,
)
from .._options import UploadCodec
from .._outcomes import CostEstimate
from .._realtime_loading import RealtimeSource, aturn_records, check_realtime, turn_records
from .._records import Granularity, Record, TranscriptFormat
from .._settings import ClientSettings
from .splitters import VoxtralSplitter

if TYPE_CHECKING:
    from .._realtime_protocol import TurnDetection
    from .._realtime_vad import VoiceActivityDetector

__all__ = ["VoxtralLoader", "VoxtralParser", "VoxtralRealtimeLoader"]


def _document(record: Record) -> Document:
    return Document(page_content=record.text, metadata=dict(record.metadata))


class _VoxtralSettings(HoldsClients):
    """The client settings and transcription options the loader and parser share."""

    _key_field = "_settings"

    def __init__(self, arguments: Mapping[str, Any]) -> None:
        """``arguments``: the public constructor's, by name (``LoadOptions`` fields, the
        client settings and the two ``http_client`` arguments)."""
        self._options = load_options(arguments)
        self._options.check()
        self._options.check_backend(arguments["backend"])
        self._settings = ClientSettings.of(arguments)
        self._http = (arguments["http_client"], arguments["async_http_client"])
        self._clients = AdapterClients()
        self._settings.resolved()  # a missing key fails here, not later

    def _http_clients(self) -> tuple[httpx.Client | None, httpx.AsyncClient | None]:
        return self._http

    def __repr__(self) -> str:
        options = self._options
        return (
            f"{type(self).__name__}(granularity={options.granularity!r}, "
            f"model={options.model!r}, backend={self._settings.backend!r})"
        )


class VoxtralLoader(_VoxtralSettings, BaseLoader):
    """Transcribe audio files or URLs into Documents with timestamps.

    Example::

        from voxtral_integrations.langchain import VoxtralLoader

        docs = VoxtralLoader(["standup.m4a", "https://example.com/talk.mp3"]).load()
        docs[3].metadata  # {"source": "standup.m4a", "start": 181.3, "end": 239.9,
                          #  "start_timestamp": "00:03:01", "segment_index": 41,
                          #  "citation": "standup.m4a#t=181.3,239.9", ...}

    Args:
        file_path: One or many paths or ``http(s)`` URLs; a directory stands for
            every recording under it. Files are transcribed side by side, which
            ``GenericLoader`` (one blob after another) cannot do: give the loader the
            directory, or a list of paths, rather than a ``VoxtralParser`` to a
            ``GenericLoader``.
        granularity: ``"window"`` (the default: consecutive segments up to
            ``window_seconds``, 60 s, a new one at a speaker change; a retrieval-sized
            piece of text), ``"segment"`` (a Document per timed segment, 2-5 s) or
            ``"file"`` (one per file; ``transcript_format`` may then be ``"srt"`` or
            ``"vtt"``).
        on_error: ``"raise"`` (a :class:`LoadError` naming the file; its
            ``documents`` are those of the files before it, which ``lazy_load`` has
            yielded already) or ``"skip"`` (log a warning, go on).
        concurrency: Requests in flight at once, across files and their chunks
            (files are transcribed side by side; a 429 slows them all down).
        mode: ``"online"`` (transcribe now) or ``"batch"``: all files go to
            Mistral's Batch API as one job (not rate limited; loading waits until
            the job ends, which may take hours), giving the same Documents.
        batch_dir: With ``mode="batch"`` (required there): where the job's manifest
            is written; ``VoxtralClient.batch_results(job_id, manifest_dir=...)``
            collects the results from it if the load stops waiting.

    Client settings (``api_key``, ``base_url``, ``model``, ``backend``,
    ``max_retries``, ``timeout``, and your own ``http_client`` /
    ``async_http_client`` for proxies or certificates) and transcription options
    (``language``, ``temperature``, ``diarize``, ``context_bias``,
    ``max_chunk_seconds``, ``cache_dir``, ``show_progress``, ``upload_codec``) are those of
    ``VoxtralClient.transcribe``; ``timestamp_granularities`` follows from
    ``granularity``.
    """

    def __init__(
        self,
        file_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        granularity: Granularity = DEFAULT_GRANULARITY,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        transcript_format: TranscriptFormat = "text",
        on_error: OnError = "raise",
        mode: Mode = "online",
        batch_dir: str | os.PathLike[str] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        backend: Backend = "mistral",
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | httpx.Timeout | None = None,
        language: str | None = None,
        temperature: float | None = None,
        diarize: bool = False,
        context_bias: Sequence[str] | None = None,
        max_chunk_seconds: float | None = None,
        concurrency: int = DEFAULT_BULK_CONCURRENCY,
        cache_dir: str | os.PathLike[str] | None = None,
        show_progress: bool = False,
        upload_codec: UploadCodec = "auto",
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._sources: list[Source] = sources(file_path, argument="file_path")
        super().__init__(locals())

    def load(self) -> list[Document]:
        """All Documents; a :class:`LoadError` carries those of the files before it."""
        documents: list[Document] = []
        try:
            documents.extend(self.lazy_load())
        except LoadError as error:
            error.documents = documents
            raise
        return documents

    async def aload(self) -> list[Document]:
        """All Documents, natively async; a :class:`LoadError` carries those finished before it."""
        documents: list[Document] = []
        try:
            async for document in self.alazy_load():
                documents.append(document)
        except LoadError as error:
            error.documents = documents
            raise
        return documents

    def estimate(self) -> CostEstimate:
        """What :meth:`load` would send and cost, without sending anything: every file
        probed and planned locally (:meth:`VoxtralClient.estimate`), priced online and
        through the Batch API (``None`` for a model without a known price)."""
        return estimate(self._client(), self._sources, self._options)

    async def aestimate(self) -> CostEstimate:
        """:meth:`estimate` with the files listed and probed in worker threads, off the
        event loop (probing reads and decodes audio)."""
        async with self._one_async_client() as client:
            return await aestimate(client, self._sources, self._options)

    def lazy_load(self) -> Iterator[Document]:
        """Each file's Documents as soon as that file is transcribed, in order."""
        return self._lazy_load(self._options)

    def _lazy_load(self, options: LoadOptions) -> Iterator[Document]:
        for _, records in load(self._client(), self._sources, options):
            yield from map(_document, records)

    def load_and_split(
        self, text_splitter: BaseDocumentTransformer | None = None
    ) -> list[Document]:
        """Pieces of the transcripts, each with its own ``start``, ``end`` and ``citation``.

        By default (and with any :class:`VoxtralSplitter`) the files are loaded a
        Document per segment and packed into pieces at segment boundaries, at most
        the loader's ``window_seconds`` long (``VoxtralSplitter(window_seconds=...)``
        as given); ``granularity`` and ``transcript_format`` do not apply. Another
        splitter (``RecursiveCharacterTextSplitter``...) gets :meth:`load`'s
        Documents and copies each one's times onto every piece it cuts from it.
        """
        if text_splitter is not None and not isinstance(text_splitter, VoxtralSplitter):
            return list(text_splitter.transform_documents(self.load()))
        splitter = text_splitter or VoxtralSplitter(window_seconds=self._options.window_seconds)
        segments = dataclasses.replace(
            self._options, granularity="segment", transcript_format="text"
        )
        documents: list[Document] = []
        try:
            documents.extend(self._lazy_load(segments))
        except LoadError as error:
            error.documents = splitter.split_documents(documents)
            raise
        return splitter.split_documents(documents)

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Natively async: files transcribed concurrently, each yielded when done.

        With ``mode="batch"`` the job is submitted, awaited and collected on the
        async client, like everything else here.
        """
        async with self._one_async_client() as client:
            async for _, records in aload(client, self._sources, self._options):
                for record in records:
                    yield _document(record)


class VoxtralParser(_VoxtralSettings, BaseBlobParser):
    """The same Documents from a ``Blob``, for ``GenericLoader`` and friends.

    Example::

        from langchain_community.document_loaders.generic import GenericLoader

        loader = GenericLoader.from_filesystem(
            "calls/", glob="**/*.m4a", parser=VoxtralParser(granularity="window")
        )

    Takes the same options as :class:`VoxtralLoader` (without ``file_path``). A
    path-backed blob is read from disk; an in-memory blob (``Blob.from_data``) is
    sent from memory. ``GenericLoader`` parses one blob after another, so files go
    one at a time; ``VoxtralLoader("calls/")`` transcribes them side by side.
    """

    def __init__(
        self,
        *,
        granularity: Granularity = DEFAULT_GRANULARITY,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        transcript_format: TranscriptFormat = "text",
        api_key: str | None = None,
        base_url: str | None = None,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        backend: Backend = "mistral",
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | httpx.Timeout | None = None,
        language: str | None = None,
        temperature: float | None = None,
        diarize: bool = False,
        context_bias: Sequence[str] | None = None,
        max_chunk_seconds: float | None = None,
        concurrency: int = DEFAULT_BULK_CONCURRENCY,
        cache_dir: str | os.PathLike[str] | None = None,
        show_progress: bool = False,
        upload_codec: UploadCodec = "auto",
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(locals())

    def lazy_parse(self, blob: Blob) -> Iterator[Document]:
        """The Documents of one blob."""
        for _, records in load(self._client(), [_blob_source(blob)], self._options):
            yield from map(_document, records)

    def estimate(self, blob_or_blobs: Blob | Iterable[Blob]) -> CostEstimate:
        """What :meth:`lazy_parse` of each blob would send and cost, without sending
        anything: probed and planned locally as :meth:`VoxtralLoader.estimate` does."""
        one = isinstance(blob_or_blobs, (Blob, str, bytes, os.PathLike))
        blobs: list[Any] = [blob_or_blobs] if one else list(blob_or_blobs)
        return estimate(self._client(), [_blob_source(blob) for blob in blobs], self._options)


def _blob_source(blob: Blob) -> Source:
    """A path-backed blob is read from disk, an in-memory one sent from memory."""
    if not isinstance(blob, Blob):
        raise InvalidInputError(
            f"VoxtralParser takes a langchain Blob, not {type(blob).__name__} {blob!r:.80}: "
            "wrap a path as Blob.from_path(path), or load paths with VoxtralLoader.",
            argument="blob",
        )
    audio: Any = blob.path if blob.data is None and blob.path else blob.as_bytes()
    return Source(audio, blob.source or (str(blob.path) if blob.path else "<bytes>"))


class VoxtralRealtimeLoader(HoldsClients, BaseLoader):
    """Live transcription as Documents: one per finalised turn, yielded as it finalises.

    Example::

        from voxtral_integrations.langchain import VoxtralRealtimeLoader

        loader = VoxtralRealtimeLoader(microphone(), source_name="standup-2026-12-03")
        async for doc in loader.alazy_load():      # during the meeting
            await vector_store.aadd_documents([doc])
        # doc.metadata: {"source": "standup-2026-12-03", "model": "...", "language": "en",
        #   "utterance_index": 3, "start": 181.3, "end": 185.9, "start_timestamp":
        #   "00:03:01", "citation": "standup-2026-12-03#t=181.3,185.9", "speaker": ...}

    The audio goes through the realtime endpoint (``VoxtralClient.stream_realtime``):
    a turn's Document arrives seconds after it was said, while the rest is still being
    sent, so a meeting can be searched while it goes on. Documents come in order, each
    turn exactly once (also across reconnections), with absolute ``start``/``end``
    seconds from the first sample, and the flat metadata of :class:`VoxtralLoader`'s
    Documents: ``source``, ``model``, ``language`` and ``speaker`` when known,
    ``start_timestamp``, ``citation``, plus ``utterance_index`` (from 0). Every option
    and the audio are checked here, before anything connects.

    Args:
        audio: A path, ``bytes``, a binary file, or a sync or async iterator of audio
            bytes (a microphone, a call), in any format PyAV decodes. Files are sent at
            the pace of speech unless ``realtime=False``; an iterator is read once.
        source_name: What the Documents carry as ``source``; by default the path,
            ``"<bytes>"``, or ``"<stream>"`` for an iterator.
        model: A realtime model; ``diarize`` (a ``speaker`` per Document), ``language``,
            ``context_bias`` and ``turn_detection`` need Realtime 3
            (``voxtral-mini-transcribe-realtime-3``). On vLLM: the served model's name.
        sample_rate: The session's PCM rate (the audio is converted; vLLM: 16000).
        encoding: The session's PCM encoding (``pcm_s16le``...).
        target_streaming_delay_ms: How far behind the audio the text may run.
        language: Two-letter code (Realtime 3).
        context_bias: Terms to steer spelling (Realtime 3).
        diarize: Speaker labels (Realtime 3; not with ``turn_detection``).
        speaker_references: Speaker name to base64 audio of them (needs ``diarize``).
        turn_detection: Server-side turn detection (Realtime 3): ``True``, a
            ``TurnDetection`` or a mapping of its fields.
        end_of_speech: When a turn ends without turn detection: ``"auto"`` (a local
            loudness detector), ``None`` (one turn, at the end of the audio) or an
            object with ``feed(pcm) -> list[float]``.
        done_timeout: Seconds a turn waits for its final text before its deltas are used.
        stall_timeout: Seconds of speech without a server event before reconnecting.
        max_reconnects: Connections that may replace a dropped or stalled one.
        realtime: Pace the audio at the speed of speech (default: files yes,
            iterators no: a live source is paced by its producer).

    Client settings (``api_key``, ``base_url``, ``backend``, ``max_retries``) are
    ``VoxtralClient``'s; ``max_retries`` applies to opening the connection.
    """

    _key_field = "_settings"

    def __init__(
        self,
        audio: Any,
        *,
        source_name: str | None = None,
        model: str = DEFAULT_REALTIME_MODEL,
        sample_rate: int = DEFAULT_REALTIME_SAMPLE_RATE,
        encoding: str = DEFAULT_REALTIME_ENCODING,
        target_streaming_delay_ms: int | None = None,
        language: str | None = None,
        context_bias: Sequence[str] | None = None,
        diarize: bool | None = None,
        speaker_references: Mapping[str, str] | None = None,
        turn_detection: TurnDetection | Mapping[str, Any] | bool | None = None,
        end_of_speech: Literal["auto"] | VoiceActivityDetector | None = "auto",
        done_timeout: float = REALTIME_DONE_TIMEOUT,
        stall_timeout: float = REALTIME_STALL_TIMEOUT,
        max_reconnects: int = REALTIME_MAX_RECONNECTS,
        realtime: bool | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        backend: Backend = "mistral",
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        arguments = locals()
        self._options = check_realtime(arguments, backend)
        self._source = RealtimeSource(audio, source_name, argument="audio")
        self._settings = ClientSettings.of(arguments)
        self._clients = AdapterClients()
        self._settings.resolved()  # a missing key fails here, not at the first turn

    def __repr__(self) -> str:
        return (
            f"VoxtralRealtimeLoader(source={self._source.name!r}, "
            f"model={self._options['model']!r}, backend={self._settings.backend!r})"
        )

    def lazy_load(self) -> Iterator[Document]:
        """Each turn's Document as it finalises (the session runs on a thread of its own)."""
        for record in turn_records(self._client(), self._source, self._options):
            yield _document(record)

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Natively async: each turn's Document as it finalises, on the caller's loop."""
        async with self._one_async_client() as client:
            async for record in aturn_records(client, self._source, self._options):
                yield _document(record)
