"""``VoxtralClient``: the public signatures, over one transport (its twin,
``AsyncVoxtralClient``, is in ``_async_client``).

Each method builds the option values and calls one operation (``_operations``), whose
sync and async shells share every decision; everything that can be decided without
the network (option checks, request shapes, parsing, error mapping) lives in
``_options``, ``_dialects`` (with ``_requests`` and ``_chat_request``), ``_events``
and ``_responses``; every request is sent by
``_transport``'s send loop, whose retries ``_attempt`` decides. The two clients differ
only where one awaits and the other does not (``tests/unit/test_twins.py`` holds
them to it), as httpcore keeps its sync and async twins in files of their own.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from ._constants import (
    DEFAULT_BATCH_TIMEOUT_HOURS,
    DEFAULT_BULK_CONCURRENCY,
    DEFAULT_CHAT_MODEL,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_REALTIME_ENCODING,
    DEFAULT_REALTIME_MODEL,
    DEFAULT_REALTIME_SAMPLE_RATE,
    DEFAULT_TRANSCRIPTION_MODEL,
    REALTIME_DONE_TIMEOUT,
    REALTIME_MAX_RECONNECTS,
    REALTIME_STALL_TIMEOUT,
)
from ._dialects import Backend, dialect
from ._models import (
    ChatCompletion,
    ChatCompletionChunk,
    DeletedFile,
    SignedURL,
    Transcription,
    TranscriptionStreamEvent,
    UploadedFile,
)
from ._operations import Operations
from ._options import UploadCodec
from ._outcomes import BatchJob, CostEstimate, TranscriptionResult
from ._realtime_events import RealtimeEvent, RealtimeToken
from ._realtime_protocol import TurnDetection
from ._redaction import redact_url
from ._settings import ClientSettings
from ._sources import AudioInput
from ._streaming import Stream
from ._transport import Route, SyncTransport

if TYPE_CHECKING:  # asyncio and the session load when a session is opened
    from ._realtime_vad import VoiceActivityDetector

logger = logging.getLogger("voxtral_integrations")


class BaseClient:
    """What both clients share: their settings resolved and their route built."""

    def __init__(self, settings: ClientSettings, *, http_client_given: bool) -> None:
        resolved = settings.resolved()
        self._dialect = dialect(resolved.backend)
        self.backend: Backend = resolved.backend
        self.base_url = resolved.base_url
        self.max_retries = resolved.max_retries
        self._owns_http = not http_client_given
        self._route = Route.of(resolved, own_pool=self._owns_http)
        self._headers, self._timeout = self._route.headers, self._route.timeout
        self._pace = self._route.pace

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(backend={self.backend!r}, "
            f"base_url={redact_url(self.base_url)!r}, max_retries={self.max_retries})"
        )


class VoxtralClient(BaseClient):
    """A synchronous client for Mistral's Voxtral audio API (or Voxtral on vLLM).

    Example::

        from voxtral_integrations import VoxtralClient

        with VoxtralClient() as client:           # reads MISTRAL_API_KEY
            result = client.transcribe("meeting.mp3", timestamp_granularities=["segment"])
        for segment in result.segments:
            print(f"{segment.start:7.2f}  {segment.text}")

    Args:
        api_key: The API key; defaults to ``MISTRAL_API_KEY``. Optional for vLLM.
        base_url: Defaults to ``MISTRAL_BASE_URL``, then ``https://api.mistral.ai/v1``
            (``http://localhost:8000/v1`` for the vLLM backend).
        backend: ``"mistral"`` or ``"vllm"`` (OpenAI-compatible vLLM serving).
        timeout: Seconds, or an ``httpx.Timeout``. The default allows 30 minutes
            for the server to answer, which hours of audio need.
        max_retries: Retries after 429, 5xx, connection errors and timeouts.
        http_client: Your own ``httpx.Client`` (proxies, certificates); it is used
            as given, with its own timeout unless ``timeout`` is passed, and is not
            closed by this client.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        backend: Backend = "mistral",
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(ClientSettings.of(locals()), http_client_given=http_client is not None)
        self._http = http_client or httpx.Client(
            headers=self._headers, timeout=self._timeout, verify=default_ssl_context()
        )
        self._transport = SyncTransport(self._http, self._route)
        self._ops = Operations(self._dialect, self.backend, self.base_url, self._transport)
        # ``VoxtralClient().transcribe(...)`` keeps no reference to close: the pool we
        # own is closed when this client is collected (or at exit), so no socket is left
        # open. ``with VoxtralClient() as client:`` closes it at a known point.
        self._closer = weakref.finalize(self, self._http.close) if self._owns_http else None

    def close(self) -> None:
        """Close the connection pool (not a caller-supplied ``http_client``).

        A client that is never closed has its own pool closed when it is garbage
        collected; ``with`` (or ``close()``) releases the connections at once.
        """
        if self._closer is not None:
            self._closer()

    def __enter__(self) -> VoxtralClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def transcribe(
        self,
        audio: AudioInput | None = None,
        *,
        file_id: str | None = None,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        language: str | None = None,
        temperature: float | None = None,
        timestamp_granularities: Sequence[str] | str | None = None,
        diarize: bool = False,
        context_bias: Sequence[str] | None = None,
        max_chunk_seconds: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        cache_dir: str | os.PathLike[str] | None = None,
        show_progress: bool = False,
        upload_codec: UploadCodec = "auto",
    ) -> Transcription:
        """Transcribe one recording.

        Args:
            audio: A path (``str`` or ``os.PathLike``), ``bytes``, a binary file
                object, an ``http(s)`` URL (fetched by the server), or an
                :class:`UploadedFile`.
            file_id: Instead of ``audio``: the id of a file uploaded with
                :meth:`upload_file`.
            model: A transcription model id or alias.
            language: Two-letter code to skip detection. The API rejects it
                together with timestamps or diarization.
            temperature: Sampling temperature (>= 0).
            timestamp_granularities: ``["segment"]`` for segment times (``"word"``
                on models that still support it). Without it ``segments`` is empty.
            diarize: Label segments with ``speaker_id``.
            context_bias: Up to 100 terms (no spaces or commas; join words with
                ``_``) to steer the spelling of names and jargon.
            max_chunk_seconds: Longest stretch sent in one request. Longer local audio
                is split at pauses (default: 15 minutes, within the model's limit).
            concurrency: How many chunks are transcribed at once.
            cache_dir: Keep finished chunks here, so a re-run after a failure sends
                only the missing ones.
            show_progress: A progress bar over chunks.
            upload_codec: How audio the API does not take is converted: ``"auto"``
                (a lossless source as FLAC, a lossy one as Opus near its own bit
                rate) or ``"flac"`` (FLAC throughout); docs/transcription.md,
                "Upload format", says why.

        Local audio is examined first: formats the API does not accept are
        converted, long audio is split, and all times in the result are absolute
        in the original recording (``result.chunks`` shows the plan).

        Raises:
            InvalidInputError: A bad option or audio input, before anything is sent
                (:class:`AudioError` for audio that cannot be used).
            APIStatusError: The server refused the request (subclass per status).
            APIConnectionError: The server could not be reached (after retries).
            IncompleteTranscriptionError: Chunks of long audio failed; the others
                are kept in the error and in ``cache_dir``.
        """
        options, chunking = self._ops.options(locals())
        return self._ops.transcribe(audio, file_id, options, chunking)

    def transcribe_many(
        self,
        audio: Iterable[AudioInput],
        *,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        language: str | None = None,
        temperature: float | None = None,
        timestamp_granularities: Sequence[str] | str | None = None,
        diarize: bool = False,
        context_bias: Sequence[str] | None = None,
        max_chunk_seconds: float | None = None,
        concurrency: int = DEFAULT_BULK_CONCURRENCY,
        cache_dir: str | os.PathLike[str] | None = None,
        show_progress: bool = False,
        upload_codec: UploadCodec = "auto",
    ) -> Iterator[TranscriptionResult]:
        """Transcribe many recordings, up to ``concurrency`` requests in flight across all.

        Takes the options of :meth:`transcribe`, applied to every input. Options and
        inputs (URL schemes, input types, what the backend supports) are checked
        now, before anything is sent; files are read when each one's turn comes.

        Returns an iterator of :class:`TranscriptionResult`, one per input, in the
        order they finish (``result.index`` is the input's position). A file that
        fails (a missing or empty local file too) is a result with ``error`` set, and
        the others go on; with ``cache_dir``, a re-run sends only what is missing. A
        429 holds every request of this client for as long as the server asked and
        narrows how many go at once (README, "Many files"). Closing the iterator
        early starts no more chunks; requests already started finish. A 401 or 403
        stops the run instead (no request with this key can succeed): nothing more
        is sent, what finishes in flight is still given, then the iterator raises
        that ``AuthenticationError`` or ``PermissionDeniedError``.

        Example::

            for result in client.transcribe_many(paths, cache_dir=".voxtral-cache"):
                if result.ok:
                    save(result.source, result.transcription)
                else:
                    print(f"{result.source}: {result.error}")
        """
        options, chunking = self._ops.options(locals())
        return self._ops.transcribe_many(audio, options, chunking)

    def estimate(
        self,
        audio: AudioInput | Iterable[AudioInput],
        *,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        language: str | None = None,
        timestamp_granularities: Sequence[str] | str | None = None,
        diarize: bool = False,
        context_bias: Sequence[str] | None = None,
        max_chunk_seconds: float | None = None,
        upload_codec: UploadCodec = "auto",
    ) -> CostEstimate:
        """What transcribing ``audio`` would send and cost, without sending anything.

        Every input (one or a list of paths, bytes or file objects) is probed and its
        cuts planned exactly as :meth:`transcribe_many` would, with the same checks:
        the files, minutes, chunks, requests, bytes to upload and diarization overlap,
        and the cost online and through the Batch API at the model's catalogue price
        (``None`` when the model has no known price).

        Raises:
            InvalidInputError: A bad option, an option the model cannot take, or a
                URL or file id (the server fetches those: their length is unknown here).
            AudioError: Audio that a run would refuse too.
        """
        return self._ops.estimate(audio, locals())

    def stream_transcription(
        self,
        audio: AudioInput | None = None,
        *,
        file_id: str | None = None,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        language: str | None = None,
        temperature: float | None = None,
        timestamp_granularities: Sequence[str] | str | None = None,
        diarize: bool = False,
        context_bias: Sequence[str] | None = None,
        max_chunk_seconds: float | None = None,
    ) -> Stream[TranscriptionStreamEvent]:
        """Transcribe with ``stream=true``: events arrive as the model produces them.

        Takes the same arguments as :meth:`transcribe`. The request is sent (and
        retried) and its first event received before this returns; a stream that
        ends before its first event is sent again, like a failed connection (nothing
        of it was seen). The iterator yields :class:`LanguageEvent`,
        :class:`TextDeltaEvent`, :class:`SegmentEvent` and :class:`UnknownEvent` for
        types this version does not know, and ends after the :class:`DoneEvent`.
        If the connection ends after the first event and before the last,
        :class:`IncompleteStreamError` is raised with the events that arrived.
        Long local audio is streamed chunk after chunk, with absolute times, and
        ends with one :class:`DoneEvent` for the whole recording.
        """
        options, chunking = self._ops.options(locals())
        return self._ops.stream_transcription(audio, file_id, options, chunking)

    @overload
    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: str = ...,
        tools: Sequence[Mapping[str, Any]] | None = ...,
        tool_choice: str | Mapping[str, Any] | None = ...,
        response_format: Mapping[str, Any] | None = ...,
        temperature: float | None = ...,
        max_tokens: int | None = ...,
        stream: Literal[False] = ...,
        extra_body: Mapping[str, Any] | None = ...,
    ) -> ChatCompletion: ...

    @overload
    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: str = ...,
        tools: Sequence[Mapping[str, Any]] | None = ...,
        tool_choice: str | Mapping[str, Any] | None = ...,
        response_format: Mapping[str, Any] | None = ...,
        temperature: float | None = ...,
        max_tokens: int | None = ...,
        stream: Literal[True],
        extra_body: Mapping[str, Any] | None = ...,
    ) -> Stream[ChatCompletionChunk]: ...

    @overload
    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: str = ...,
        tools: Sequence[Mapping[str, Any]] | None = ...,
        tool_choice: str | Mapping[str, Any] | None = ...,
        response_format: Mapping[str, Any] | None = ...,
        temperature: float | None = ...,
        max_tokens: int | None = ...,
        stream: bool,
        extra_body: Mapping[str, Any] | None = ...,
    ) -> ChatCompletion | Stream[ChatCompletionChunk]: ...

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: str = DEFAULT_CHAT_MODEL,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        response_format: Mapping[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stream: bool = False,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ChatCompletion | Stream[ChatCompletionChunk]:
        """A chat completion whose messages may contain audio.

        Audio goes in a content part ``{"type": "input_audio", "input_audio": s}``
        where ``s`` is base64 audio, an ``http(s)`` URL or a signed URL; OpenAI's
        ``{"data", "format"}`` object is accepted too and sent in the backend's shape.
        With ``stream=True`` returns a :class:`Stream` of chunks; the last carries
        ``usage``. ``extra_body`` adds other API fields (``stop``, ``random_seed``...).
        """
        return self._ops.chat(
            messages,
            model=model,
            tools=tools,
            tool_choice=tool_choice,
            response_format=response_format,
            temperature=temperature,
            max_tokens=max_tokens,
            stream=stream,
            extra=extra_body,
        )

    def upload_file(self, audio: AudioInput, *, purpose: str = "audio") -> UploadedFile:
        """Store local audio with the Files API; transcribe it later by its id."""
        return self._ops.send(self._ops.upload_request(audio, purpose), UploadedFile)

    def get_signed_url(self, file: str | UploadedFile, *, expiry: int = 24) -> SignedURL:
        """A URL valid for ``expiry`` hours. It is a credential: do not log it."""
        return self._ops.send(self._ops.signed_url_request(file, expiry), SignedURL)

    def delete_file(self, file: str | UploadedFile) -> DeletedFile:
        """Delete an uploaded file (files are otherwise kept for 30 days)."""
        return self._ops.send(self._ops.delete_request(file), DeletedFile)

    def download_file(self, file_id: str | UploadedFile) -> bytes:
        """The content of a stored file (a batch job's output, or uploaded audio)."""
        return self._ops.download(file_id)

    def create_realtime_token(
        self, model: str = DEFAULT_REALTIME_MODEL, *, ttl_seconds: int | None = None
    ) -> RealtimeToken:
        """A short-lived token with which a browser opens a realtime session itself.

        Sends ``POST /v1/client/sessions``. The token is good for ``model`` only, for
        ``ttl_seconds`` (the server's default is about 15 minutes) and may be reused
        until then; mint it just before the page connects. A page passes it as a
        subprotocol: ``new WebSocket(url, ["realtime", token])``. Its ``value`` is a
        ``SecretStr``: read it with ``.get_secret_value()`` where it is handed over.
        The vLLM backend has no tokens (``UnsupportedFeatureError``).
        """
        return self._ops.realtime_token(model, ttl_seconds)

    def stream_realtime(
        self,
        audio: Any,
        *,
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
    ) -> Iterator[RealtimeEvent]:
        """Transcribe ``audio`` through the realtime endpoint: its events, as it is heard.

        ``audio`` is anything PyAV decodes (a path, bytes, a file, a sync or async
        iterator of bytes), converted to the session's PCM and, for a file, paced at
        real time (``realtime=False`` sends it as fast as the server takes it). The
        options are those of :meth:`AsyncVoxtralClient.realtime`, checked now. The
        session ends after the audio, and the iterator after the last utterance; it
        runs on an event loop in a thread of its own. Closing the iterator early
        closes the session.
        """
        return self._ops.stream_realtime(locals())

    # ---- Batch API: the workflow is in ``_batch_flow`` (loaded on first use)

    def submit_batch(
        self,
        audio: AudioInput | Iterable[AudioInput],
        *,
        manifest_dir: str | os.PathLike[str],
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        language: str | None = None,
        temperature: float | None = None,
        timestamp_granularities: Sequence[str] | str | None = None,
        diarize: bool = False,
        context_bias: Sequence[str] | None = None,
        max_chunk_seconds: float | None = None,
        timeout_hours: int = DEFAULT_BATCH_TIMEOUT_HOURS,
        metadata: Mapping[str, str] | None = None,
        show_progress: bool = False,
    ) -> BatchJob:
        """Transcribe a corpus with Mistral's Batch API: collect the results later.

        A batch job is not rate limited and runs within ``timeout_hours`` (1 to
        168). ``audio`` is one input or a list of them (paths, bytes, file objects,
        ``http(s)`` URLs, :class:`UploadedFile`); the transcription options are
        those of :meth:`transcribe`. Every option and input is checked, and all
        local audio probed, before anything is uploaded. Local audio is prepared
        as :meth:`transcribe` prepares it (converted, split when long) and
        uploaded; URLs are sent as ``file_url`` and not split (the server fetches
        them). The job's manifest is written to ``manifest_dir`` as
        ``<job id>.voxtral-batch.json``: with it and the job id, any process can
        call :meth:`wait_for_batch` and :meth:`batch_results`. ``metadata``
        (string keys and values) is stored with the job.

        If anything fails before the job exists, the files uploaded for it are
        deleted and the error raised.
        """
        arguments = locals()
        from . import _batch_flow

        self._dialect.check_files_supported()
        options, chunking = self._ops.options(arguments)
        return self._ops.batch(
            _batch_flow.submit,
            audio,
            manifest_dir=manifest_dir,
            options=options,
            max_chunk_seconds=chunking.max_chunk_seconds,
            timeout_hours=timeout_hours,
            metadata=metadata,
            show_progress=show_progress,
        )

    def get_batch(self, job_id: str) -> BatchJob:
        """A batch job's status and request counts."""
        from . import _batch_flow

        return self._ops.batch(_batch_flow.get, job_id)

    def wait_for_batch(
        self,
        job_id: str,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        show_progress: bool = False,
    ) -> BatchJob:
        """Poll until the job ends (in any way) and return it.

        Polls after 2 s, then 1.5 times later each time, at most a minute apart
        (``poll_interval`` fixes the interval). After ``timeout`` seconds
        :class:`BatchJobError` is raised; the job goes on running.
        ``show_progress`` shows a bar over the job's completed requests.
        """
        from . import _batch_flow

        return self._ops.batch(
            _batch_flow.wait,
            job_id,
            poll_interval=poll_interval,
            timeout=timeout,
            show_progress=show_progress,
        )

    def batch_results(
        self, job_id: str, *, manifest_dir: str | os.PathLike[str], delete_files: bool = True
    ) -> list[TranscriptionResult]:
        """One :class:`TranscriptionResult` per submitted input, in input order.

        Long audio comes back stitched, with times absolute in the original
        recording, as from :meth:`transcribe`. An input whose request failed
        carries that request's error (an :class:`APIStatusError` subclass naming
        the input); one with failed chunks an :class:`IncompleteTranscriptionError`
        whose ``partial`` holds the chunks that finished. A job that failed, timed
        out or was cancelled gives what it finished, the rest as errors naming its
        status. Raises :class:`BatchJobError` when the job has not ended (see
        :meth:`wait_for_batch`) or its results expired (they are kept 24 hours).

        ``delete_files`` (default ``True``) deletes the audio and JSONL uploaded
        for the job once its results are in hand: they have no further use, and
        the Files API would otherwise keep the recordings for 30 days. The
        results stay downloadable, so this may be called again.
        """
        from . import _batch_flow

        return self._ops.batch(
            _batch_flow.results, job_id, manifest_dir=manifest_dir, delete_files=delete_files
        )

    def cancel_batch(self, job_id: str) -> BatchJob:
        """Ask the server to stop the job; what it finished stays in its results."""
        from . import _batch_flow

        return self._ops.batch(_batch_flow.cancel, job_id)


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once for every client (each build costs ~25 ms)."""
    return httpx.create_ssl_context()
