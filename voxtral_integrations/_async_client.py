"""``AsyncVoxtralClient``: the awaitable twin of ``_client.VoxtralClient``.

Same signatures and the same one call per method, over ``AsyncOperations``; the
documentation of each method is its sync twin's (``tests/unit/test_twins.py`` holds the
two to differ only where one awaits).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from ._client import BaseClient, default_ssl_context
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
from ._dialects import Backend
from ._models import (
    ChatCompletion,
    ChatCompletionChunk,
    DeletedFile,
    SignedURL,
    Transcription,
    TranscriptionStreamEvent,
    UploadedFile,
)
from ._operations import AsyncOperations
from ._options import UploadCodec
from ._outcomes import BatchJob, CostEstimate, TranscriptionResult
from ._realtime_events import RealtimeEvent, RealtimeToken
from ._realtime_protocol import TurnDetection
from ._settings import ClientSettings
from ._sources import AudioInput
from ._streaming import AsyncStream
from ._transport import AsyncTransport

if TYPE_CHECKING:  # asyncio and the session load when a session is opened
    from ._realtime import RealtimeSession
    from ._realtime_vad import VoiceActivityDetector


class AsyncVoxtralClient(BaseClient):
    """The asynchronous twin of :class:`VoxtralClient`: same arguments, awaitable methods.

    Example::

        async with AsyncVoxtralClient() as client:
            result = await client.transcribe("meeting.mp3")
            stream = await client.stream_transcription("meeting.mp3")
            async for event in stream:
                ...
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        backend: Backend = "mistral",
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(ClientSettings.of(locals()), http_client_given=http_client is not None)
        self._http = http_client or httpx.AsyncClient(
            headers=self._headers, timeout=self._timeout, verify=default_ssl_context()
        )
        self._transport = AsyncTransport(self._http, self._route)
        self._ops = AsyncOperations(self._dialect, self.backend, self.base_url, self._transport)

    async def close(self) -> None:
        """Close the connection pool (not a caller-supplied ``http_client``)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncVoxtralClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def transcribe(
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
        """See :meth:`VoxtralClient.transcribe`; codec work runs in worker threads."""
        options, chunking = self._ops.options(locals())
        return await self._ops.transcribe(audio, file_id, options, chunking)

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
    ) -> AsyncIterator[TranscriptionResult]:
        """See :meth:`VoxtralClient.transcribe_many`; use ``async for`` over the result.

        Not a coroutine: options and inputs are checked when it is called, and the
        returned iterator does the work (asyncio tasks) as you iterate.
        """
        options, chunking = self._ops.options(locals())
        return self._ops.transcribe_many(audio, options, chunking)

    async def estimate(
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
        """See :meth:`VoxtralClient.estimate`; the probes run in a worker thread."""
        return await self._ops.estimate(audio, locals())

    async def stream_transcription(
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
    ) -> AsyncStream[TranscriptionStreamEvent]:
        """See :meth:`VoxtralClient.stream_transcription`; iterate with ``async for``."""
        options, chunking = self._ops.options(locals())
        return await self._ops.stream_transcription(audio, file_id, options, chunking)

    @overload
    async def chat(
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
    async def chat(
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
    ) -> AsyncStream[ChatCompletionChunk]: ...

    @overload
    async def chat(
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
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]: ...

    async def chat(
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
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        """See :meth:`VoxtralClient.chat`."""
        return await self._ops.chat(
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

    async def upload_file(self, audio: AudioInput, *, purpose: str = "audio") -> UploadedFile:
        """See :meth:`VoxtralClient.upload_file`."""
        return await self._ops.send(self._ops.upload_request(audio, purpose), UploadedFile)

    async def get_signed_url(self, file: str | UploadedFile, *, expiry: int = 24) -> SignedURL:
        """See :meth:`VoxtralClient.get_signed_url`."""
        return await self._ops.send(self._ops.signed_url_request(file, expiry), SignedURL)

    async def delete_file(self, file: str | UploadedFile) -> DeletedFile:
        """See :meth:`VoxtralClient.delete_file`."""
        return await self._ops.send(self._ops.delete_request(file), DeletedFile)

    async def download_file(self, file_id: str | UploadedFile) -> bytes:
        """See :meth:`VoxtralClient.download_file`."""
        return await self._ops.download(file_id)

    async def create_realtime_token(
        self, model: str = DEFAULT_REALTIME_MODEL, *, ttl_seconds: int | None = None
    ) -> RealtimeToken:
        """See :meth:`VoxtralClient.create_realtime_token`."""
        return await self._ops.realtime_token(model, ttl_seconds)

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
    ) -> AsyncIterator[RealtimeEvent]:
        """See :meth:`VoxtralClient.stream_realtime`; iterate with ``async for``.

        Not a coroutine: the options are checked when it is called, and the session
        opens when the iteration starts.
        """
        return self._ops.stream_realtime(locals())

    def realtime(
        self,
        model: str = DEFAULT_REALTIME_MODEL,
        *,
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
    ) -> RealtimeSession:
        """A live transcription session over WebSocket; use it with ``async with``.

        Example::

            async with client.realtime() as session:
                async def speak() -> None:
                    await session.send_audio("meeting.wav")   # paced at real time
                    await session.end()
                task = asyncio.create_task(speak())
                async for utterance in session.utterances():
                    print(f"{utterance.start:7.2f} {utterance.end:7.2f}  {utterance.text}")

        Args:
            model: A realtime model. The default is pinned to the dated 2602 model;
                Realtime 3 (``voxtral-mini-transcribe-realtime-3-0``) adds the
                ``language``, ``context_bias``, ``diarize``, ``speaker_references``
                and ``turn_detection`` fields. On vLLM: the served model's name.
            sample_rate: Of the PCM :meth:`RealtimeSession.send` takes (8000 to
                96000; vLLM takes 16000 only). ``send_audio`` converts to it.
            encoding: ``pcm_s16le`` (default), ``pcm_s32le``, ``pcm_f16le``,
                ``pcm_f32le``, ``pcm_mulaw`` or ``pcm_alaw``; raw mono PCM.
            target_streaming_delay_ms: How far behind the audio the text may run:
                80 to 2400 ms on Realtime 3; multiples of 80 up to 1200, or 2400, on 2602.
            language: Two-letter code (Realtime 3).
            context_bias: Terms to steer spelling (Realtime 3).
            diarize: Speaker labels on segments (Realtime 3; not with turn detection).
            speaker_references: Speaker name to base64 audio of them (needs diarize).
            turn_detection: Server-side turn detection (Realtime 3): ``True`` for the
                defaults, a :class:`TurnDetection` or a mapping of its fields.
            end_of_speech: When a turn is flushed without :meth:`RealtimeSession.flush`:
                ``"auto"`` flushes at the server's ``turn.end`` with turn detection,
                else when a local loudness detector hears speech end; ``None``
                flushes only when asked; or any object with ``feed(pcm) -> list[float]``
                (the stream times at which speech ended).
            done_timeout: Seconds a flushed turn waits for its ``done`` before its
                deltas are taken as final.
            stall_timeout: Seconds of speech without any server event after which the
                connection is taken for stalled and replaced.
            max_reconnects: Connections that may replace a dropped or stalled one.

        Everything is checked before connecting (``InvalidInputError``; what the
        backend cannot do, ``UnsupportedFeatureError``). Entering the ``async with``
        connects (retried like a request), waits for the session and configures it;
        settings lock at the first audio, so other settings need a new session.
        """
        return self._ops.realtime_session(locals())

    # ---- Batch API: the same flows as ``VoxtralClient``'s, awaited

    async def submit_batch(
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
        """See :meth:`VoxtralClient.submit_batch`.

        Local audio is probed and cut, and the manifest written, in worker threads;
        the uploads and the job go through this client.
        """
        arguments = locals()
        from . import _batch_flow

        self._dialect.check_files_supported()
        options, chunking = self._ops.options(arguments)
        return await self._ops.batch(
            _batch_flow.submit,
            audio,
            manifest_dir=manifest_dir,
            options=options,
            max_chunk_seconds=chunking.max_chunk_seconds,
            timeout_hours=timeout_hours,
            metadata=metadata,
            show_progress=show_progress,
        )

    async def get_batch(self, job_id: str) -> BatchJob:
        """See :meth:`VoxtralClient.get_batch`."""
        from . import _batch_flow

        return await self._ops.batch(_batch_flow.get, job_id)

    async def wait_for_batch(
        self,
        job_id: str,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        show_progress: bool = False,
    ) -> BatchJob:
        """See :meth:`VoxtralClient.wait_for_batch`; the polls sleep on the event loop."""
        from . import _batch_flow

        return await self._ops.batch(
            _batch_flow.wait,
            job_id,
            poll_interval=poll_interval,
            timeout=timeout,
            show_progress=show_progress,
        )

    async def batch_results(
        self, job_id: str, *, manifest_dir: str | os.PathLike[str], delete_files: bool = True
    ) -> list[TranscriptionResult]:
        """See :meth:`VoxtralClient.batch_results`."""
        from . import _batch_flow

        return await self._ops.batch(
            _batch_flow.results, job_id, manifest_dir=manifest_dir, delete_files=delete_files
        )

    async def cancel_batch(self, job_id: str) -> BatchJob:
        """See :meth:`VoxtralClient.cancel_batch`."""
        from . import _batch_flow

        return await self._ops.batch(_batch_flow.cancel, job_id)
