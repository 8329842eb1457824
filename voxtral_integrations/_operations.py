"""The work behind the clients' methods, written once for a thin sync shell and its twin.

``VoxtralClient`` and ``AsyncVoxtralClient`` hold the public signatures: each
method builds the option values and calls one method here. :class:`Operations`
does the work over a :class:`SyncTransport`, in the calling thread;
:class:`AsyncOperations` is its twin, which awaits and keeps codec and file work off
the event loop (``tests/test_twins.py`` holds them to it). What both decide alike
(is this input usable here, which request, which cache, is this body a result) is
in :class:`_Shared`, over the pure ``_dialects`` and ``_responses``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

import anyio
import httpx
from pydantic import BaseModel

from . import _bulk, _dialects, _transcribe
from ._audio import Payload, decodable_chat_part, prepare, prepare_short_wav
from ._bulk import AsyncSlot, BulkProgress, Slot, Source, TranscriptionResult
from ._chat_content import carries_inline_audio, map_audio_parts
from ._constants import REALTIME_SESSION_TIMEOUT
from ._dialects import Backend, MistralDialect, RequestSpec
from ._estimate import estimate_for
from ._events import ChatChunks
from ._flow import AnyHost, AsyncHost, Flow, Host, arun, run
from ._long_stream import LongStream
from ._models import (
    ChatCompletion,
    ChatCompletionChunk,
    CostEstimate,
    Transcription,
    TranscriptionStreamEvent,
    UploadedFile,
)
from ._options import (
    ChunkingOptions,
    TranscriptionOptions,
    UploadCodec,
    given,
)
from ._realtime_events import RealtimeEvent, RealtimeToken, realtime_token
from ._realtime_protocol import REALTIME_OPTIONS, RawPCM, check_patience, realtime_options
from ._responses import json_value, parsed, response_error
from ._sources import (
    AudioInput,
    AudioSource,
    AudioUpload,
    check_file_id,
    local_audio,
    resolve_audio,
)
from ._streaming import AsyncStream, Stream
from ._transcribe import ChunkCache, aspooled, materialised, no_slot, spooled
from ._transport import AsyncTransport, SyncTransport

if TYPE_CHECKING:
    from ._realtime import RealtimeSession

_T = TypeVar("_T")
_Model = TypeVar("_Model", bound=BaseModel)
_P = ParamSpec("_P")
_Transport = TypeVar("_Transport", SyncTransport, AsyncTransport)


class _Shared(Generic[_Transport]):
    """What both shells decide alike; nothing here sends, reads audio or waits."""

    def __init__(
        self, dialect: MistralDialect, backend: Backend, base_url: str, transport: _Transport
    ) -> None:
        self.dialect = dialect
        self.backend = backend
        self.base_url = base_url
        self.transport: _Transport = transport

    def options(self, arguments: Mapping[str, Any]) -> tuple[TranscriptionOptions, ChunkingOptions]:
        """A public method's options, checked (``_dialects.checked_options``)."""
        return _dialects.checked_options(self.dialect, arguments)

    def checked_source(
        self, options: TranscriptionOptions, audio: AudioInput | None, file_id: str | None
    ) -> AudioSource:
        """The audio classified and checked against the backend; nothing is read or sent yet."""
        source = resolve_audio(audio, file_id=file_id)
        self.dialect.check_transcription(options, source)
        return source

    def cache(
        self,
        cache_dir: str | os.PathLike[str] | None,
        upload: AudioUpload,
        options: TranscriptionOptions,
    ) -> ChunkCache | None:
        if not cache_dir:
            return None
        return _transcribe.chunk_cache(cache_dir, upload, options, self.backend, self.base_url)

    def chat_request(self, messages: Sequence[Mapping[str, Any]], **options: Any) -> RequestSpec:
        """Inline audio the endpoint may not decode is converted (PyAV) before the
        request is built."""
        return _dialects.chat_request(
            self.dialect, map_audio_parts(messages, decodable_chat_part), **options
        )

    def realtime_session(self, arguments: Mapping[str, Any]) -> RealtimeSession:
        """A session for a public method's ``arguments`` (its ``locals()``), all checked
        before anything connects: the options against the model, then the backend.

        The session's module (and asyncio) load here, not with the package."""
        from ._realtime import RealtimeSession, end_of_speech_detector
        from ._realtime_connection import SessionSettings

        options = realtime_options(**given(arguments, REALTIME_OPTIONS))
        self.dialect.realtime.check(options)
        reconnects = check_patience(
            arguments["done_timeout"], arguments["stall_timeout"], arguments["max_reconnects"]
        )
        route = self.transport.route
        settings = SessionSettings(
            wire=self.dialect.realtime,
            options=options,
            base_url=self.base_url,
            key=route.secret,
            user_agent=route.headers["User-Agent"],
            policy=route.policy,
            session_timeout=REALTIME_SESSION_TIMEOUT,
            done_timeout=float(arguments["done_timeout"]),
            stall_timeout=float(arguments["stall_timeout"]),
            max_reconnects=reconnects,
        )
        return RealtimeSession(
            settings, end_of_speech_detector(arguments["end_of_speech"], options)
        )

    def token_request(self, model: str, ttl_seconds: int | None) -> RequestSpec:
        return self.dialect.realtime_token_request(model, ttl_seconds)

    def upload_request(self, audio: AudioInput, purpose: str) -> RequestSpec:
        self.dialect.check_files_supported()
        return _dialects.files_upload_request(local_audio(audio), purpose=purpose)

    def signed_url_request(self, file: str | UploadedFile, expiry: int) -> RequestSpec:
        self.dialect.check_files_supported()
        return _dialects.signed_url_request(check_file_id(file), expiry_hours=expiry)

    def delete_request(self, file: str | UploadedFile) -> RequestSpec:
        self.dialect.check_files_supported()
        return _dialects.delete_file_request(check_file_id(file))

    def content_request(self, file: str | UploadedFile) -> RequestSpec:
        self.dialect.check_files_supported()
        return _dialects.file_content_request(check_file_id(file))

    def parse_transcription(
        self, response: httpx.Response, options: TranscriptionOptions
    ) -> Transcription:
        try:
            return self.dialect.parse_transcription(response.content, options)
        except ValueError as exc:  # invalid JSON and pydantic's ValidationError alike
            raise response_error(response, f"The transcription is malformed: {exc}") from exc


class Operations(_Shared[SyncTransport]):
    """The work behind :class:`VoxtralClient`'s methods, done in the calling thread."""

    def transcribe(
        self,
        audio: AudioInput | None,
        file_id: str | None,
        options: TranscriptionOptions,
        chunking: ChunkingOptions,
    ) -> Transcription:
        source = self.checked_source(options, audio, file_id)
        return self._transcribe_source(source, options, chunking)

    def transcribe_many(
        self, audio: Iterable[AudioInput], options: TranscriptionOptions, chunking: ChunkingOptions
    ) -> Iterator[TranscriptionResult]:
        items = _bulk.checked_sources(self.dialect, options, audio)
        quiet = dataclasses.replace(chunking, show_progress=False)  # the bar is over files

        def transcribe_one(item: Source, slot: Slot, progress: BulkProgress) -> Transcription:
            source = _bulk.resolved_source(self.dialect, item, options)
            return self._transcribe_source(source, options, quiet, slot=slot, progress=progress)

        return _bulk.transcribe_many(
            items,
            transcribe_one,
            concurrency=chunking.concurrency,
            show_progress=chunking.show_progress,
        )

    def _transcribe_source(
        self,
        source: AudioSource,
        options: TranscriptionOptions,
        chunking: ChunkingOptions,
        *,
        slot: Slot = nullcontext,
        progress: BulkProgress | None = None,
    ) -> Transcription:
        if not isinstance(source, AudioUpload):
            spec = self.dialect.transcription_request(options, source, stream=False)
            with slot():
                result = self._transcribe_request(spec, options)
            if progress:
                progress.planned(1)
                progress.chunk_done()
            return result
        payloads = self.payloads(source, options, chunking.max_chunk_seconds, chunking.upload_codec)
        if progress:
            progress.planned(len(payloads))

        def send_one(upload: AudioUpload) -> Transcription:
            spec = self.dialect.transcription_request(options, upload, stream=False)
            return self._transcribe_request(spec, options)

        return _transcribe.transcribe_chunks(
            payloads,
            send_one,
            concurrency=chunking.concurrency,
            cache=self.cache(chunking.cache_dir, source, options),
            show_progress=chunking.show_progress,
            slot=slot,
            on_chunk=progress.chunk_done if progress else None,
        )

    def payloads(
        self,
        upload: AudioUpload,
        options: TranscriptionOptions,
        max_chunk_seconds: float | None,
        upload_codec: UploadCodec = "auto",
    ) -> list[Payload]:
        """Probe, convert and split local audio as the model's limits require."""
        limits = self.dialect.chunk_limits(options, max_chunk_seconds)
        return _prepared(upload, {**limits, "upload_codec": upload_codec})

    def estimate(
        self, audio: AudioInput | Iterable[AudioInput], arguments: Mapping[str, Any]
    ) -> CostEstimate:
        """What a run would send and cost (``_estimate``); nothing is sent."""
        return estimate_for(self.dialect, audio, arguments)

    def stream_transcription(
        self,
        audio: AudioInput | None,
        file_id: str | None,
        options: TranscriptionOptions,
        chunking: ChunkingOptions,
    ) -> Stream[TranscriptionStreamEvent]:
        source = self.checked_source(options, audio, file_id)
        payloads = (
            []
            if not isinstance(source, AudioUpload)
            else self.payloads(source, options, chunking.max_chunk_seconds, chunking.upload_codec)
        )
        if len(payloads) > 1:
            return Stream(self._long_events(payloads, options), lambda: None)
        audio_source = payloads[0].upload if payloads else source
        spec = self.dialect.transcription_request(options, audio_source, stream=True)
        return self.transport.stream(spec, lambda: self.dialect.transcription_events(options))

    def _long_events(
        self, payloads: list[Payload], options: TranscriptionOptions
    ) -> Iterator[TranscriptionStreamEvent]:
        joined = LongStream([payload.chunk for payload in payloads])
        for payload in payloads:
            with spooled(payload) as upload:
                spec = self.dialect.transcription_request(options, upload, stream=True)
                events = self.transport.stream(
                    spec, lambda: self.dialect.transcription_events(options)
                )
                for event in events:
                    yield from joined.absolute(payload.chunk, event)
        yield joined.done()

    def chat(
        self, messages: Sequence[Mapping[str, Any]], *, stream: bool, **options: Any
    ) -> ChatCompletion | Stream[ChatCompletionChunk]:
        spec = self.chat_request(messages, stream=stream, **options)
        if stream:
            return self.transport.stream(spec, ChatChunks)
        return self.send(spec, ChatCompletion)

    def send(self, spec: RequestSpec, model: type[_Model]) -> _Model:
        """``spec`` sent with retries and its body read as ``model``."""
        return self.transport.send(spec, functools.partial(parsed, model=model))

    def download(self, file: str | UploadedFile) -> bytes:
        return self.read(self.content_request(file)).content

    def realtime_token(self, model: str, ttl_seconds: int | None) -> RealtimeToken:
        spec = self.token_request(model, ttl_seconds)
        return self.transport.send(spec, functools.partial(_token, model=model))

    def stream_realtime(self, arguments: Mapping[str, Any]) -> Iterator[RealtimeEvent]:
        """The session's event loop runs in a thread of its own."""
        from ._realtime import in_thread, stream_source

        session = self.realtime_session(arguments)
        _check_source(arguments["audio"])
        return in_thread(stream_source(session, arguments["audio"], arguments["realtime"]))

    def batch(
        self,
        flow: Callable[Concatenate[AnyHost, _P], Flow[_T]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """A Batch API ``flow`` (``_batch_flow``) run over what it may use of this client."""
        host = Host(
            dialect=self.dialect,
            base_url=self.base_url,
            send=self.read,
            payloads=self.payloads,
            sleep=self.transport.sleep,  # the one sleep seam, for the polls too
        )
        return run(host, flow, *args, **kwargs)

    def read(self, spec: RequestSpec) -> httpx.Response:
        """Send ``spec`` with retries; its 2xx response, body read (the Batch API's calls)."""
        return self.transport.send(spec, _as_read)

    def _transcribe_request(
        self, spec: RequestSpec, options: TranscriptionOptions
    ) -> Transcription:
        parse = functools.partial(self.parse_transcription, options=options)
        return self.transport.send(spec, parse, resend_cut_short=True)


class AsyncOperations(_Shared[AsyncTransport]):
    """The work behind :class:`AsyncVoxtralClient`'s methods: :class:`Operations`, awaited."""

    async def transcribe(
        self,
        audio: AudioInput | None,
        file_id: str | None,
        options: TranscriptionOptions,
        chunking: ChunkingOptions,
    ) -> Transcription:
        source = self.checked_source(options, audio, file_id)
        return await self._transcribe_source(source, options, chunking)

    def transcribe_many(
        self, audio: Iterable[AudioInput], options: TranscriptionOptions, chunking: ChunkingOptions
    ) -> AsyncIterator[TranscriptionResult]:
        items = _bulk.checked_sources(self.dialect, options, audio)
        quiet = dataclasses.replace(chunking, show_progress=False)  # the bar is over files

        async def transcribe_one(
            item: Source, slot: AsyncSlot, progress: BulkProgress
        ) -> Transcription:
            source = _bulk.resolved_source(self.dialect, item, options)
            return await self._transcribe_source(
                source, options, quiet, slot=slot, progress=progress
            )

        return _bulk.atranscribe_many(
            items,
            transcribe_one,
            concurrency=chunking.concurrency,
            show_progress=chunking.show_progress,
        )

    async def _transcribe_source(
        self,
        source: AudioSource,
        options: TranscriptionOptions,
        chunking: ChunkingOptions,
        *,
        slot: AsyncSlot | None = None,
        progress: BulkProgress | None = None,
    ) -> Transcription:
        if not isinstance(source, AudioUpload):
            spec = self.dialect.transcription_request(options, source, stream=False)
            async with (slot or no_slot)():
                result = await self._transcribe_request(spec, options)
            if progress:
                progress.planned(1)
                progress.chunk_done()
            return result
        payloads = await self.payloads(
            source, options, chunking.max_chunk_seconds, chunking.upload_codec
        )
        if progress:
            progress.planned(len(payloads))
        cache = None
        if chunking.cache_dir:
            cache = await anyio.to_thread.run_sync(self.cache, chunking.cache_dir, source, options)

        async def send_one(upload: AudioUpload) -> Transcription:
            spec = self.dialect.transcription_request(options, upload, stream=False)
            return await self._transcribe_request(spec, options)

        return await _transcribe.atranscribe_chunks(
            payloads,
            send_one,
            concurrency=chunking.concurrency,
            cache=cache,
            show_progress=chunking.show_progress,
            slot=slot,
            on_chunk=progress.chunk_done if progress else None,
        )

    async def payloads(
        self,
        upload: AudioUpload,
        options: TranscriptionOptions,
        max_chunk_seconds: float | None,
        upload_codec: UploadCodec = "auto",
    ) -> list[Payload]:
        """A short WAV is answered on the event loop; anything needing a codec in a thread."""
        limits = {
            **self.dialect.chunk_limits(options, max_chunk_seconds),
            "upload_codec": upload_codec,
        }
        quick = prepare_short_wav(upload, **limits)
        if quick is not None:
            return quick
        return await anyio.to_thread.run_sync(_prepared, upload, limits)

    async def estimate(
        self, audio: AudioInput | Iterable[AudioInput], arguments: Mapping[str, Any]
    ) -> CostEstimate:
        """The probes run in a worker thread."""
        return await anyio.to_thread.run_sync(estimate_for, self.dialect, audio, arguments)

    async def stream_transcription(
        self,
        audio: AudioInput | None,
        file_id: str | None,
        options: TranscriptionOptions,
        chunking: ChunkingOptions,
    ) -> AsyncStream[TranscriptionStreamEvent]:
        source = self.checked_source(options, audio, file_id)
        payloads = []
        if isinstance(source, AudioUpload):
            payloads = await self.payloads(
                source, options, chunking.max_chunk_seconds, chunking.upload_codec
            )
        if len(payloads) > 1:
            return AsyncStream(self._long_events(payloads, options), _nothing)
        audio_source = source
        if payloads and payloads[0].upload is not source:  # converted: encode off the loop
            audio_source = await anyio.to_thread.run_sync(materialised, payloads[0].upload)
        spec = self.dialect.transcription_request(options, audio_source, stream=True)
        return await self.transport.stream(spec, lambda: self.dialect.transcription_events(options))

    async def _long_events(
        self, payloads: list[Payload], options: TranscriptionOptions
    ) -> AsyncIterator[TranscriptionStreamEvent]:
        joined = LongStream([payload.chunk for payload in payloads])
        for payload in payloads:
            async with aspooled(payload) as upload:
                spec = self.dialect.transcription_request(options, upload, stream=True)
                events = await self.transport.stream(
                    spec, lambda: self.dialect.transcription_events(options)
                )
                async for event in events:
                    for absolute in joined.absolute(payload.chunk, event):
                        yield absolute
        yield joined.done()

    async def chat(
        self, messages: Sequence[Mapping[str, Any]], *, stream: bool, **options: Any
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        build = functools.partial(self.chat_request, messages, stream=stream, **options)
        # inline audio may need decoding and converting: not on the event loop
        spec = await anyio.to_thread.run_sync(build) if carries_inline_audio(messages) else build()
        if stream:
            return await self.transport.stream(spec, ChatChunks)
        return await self.send(spec, ChatCompletion)

    async def send(self, spec: RequestSpec, model: type[_Model]) -> _Model:
        """See :meth:`Operations.send`."""
        return await self.transport.send(spec, functools.partial(parsed, model=model))

    async def download(self, file: str | UploadedFile) -> bytes:
        return (await self.read(self.content_request(file))).content

    async def realtime_token(self, model: str, ttl_seconds: int | None) -> RealtimeToken:
        spec = self.token_request(model, ttl_seconds)
        return await self.transport.send(spec, functools.partial(_token, model=model))

    def stream_realtime(self, arguments: Mapping[str, Any]) -> AsyncIterator[RealtimeEvent]:
        from ._realtime import stream_source

        session = self.realtime_session(arguments)
        _check_source(arguments["audio"])
        return stream_source(session, arguments["audio"], arguments["realtime"])

    async def batch(
        self,
        flow: Callable[Concatenate[AnyHost, _P], Flow[_T]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """See :meth:`Operations.batch`; the polls sleep on the event loop."""
        host = AsyncHost(
            dialect=self.dialect,
            base_url=self.base_url,
            send=self.read,
            payloads=self.payloads,
            sleep=self.transport.sleep,
        )
        return await arun(host, flow, *args, **kwargs)

    async def read(self, spec: RequestSpec) -> httpx.Response:
        """See :meth:`Operations.read`."""
        return await self.transport.send(spec, _as_read)

    async def _transcribe_request(
        self, spec: RequestSpec, options: TranscriptionOptions
    ) -> Transcription:
        parse = functools.partial(self.parse_transcription, options=options)
        return await self.transport.send(spec, parse, resend_cut_short=True)


def _prepared(upload: AudioUpload, limits: dict[str, Any]) -> list[Payload]:
    return prepare(upload, **limits)[1]


def _check_source(audio: Any) -> None:
    """A missing path, empty bytes or a thing that is no audio source fail here, before
    the session connects (``AudioError`` naming it)."""
    from ._realtime_audio import _kind

    _kind(audio.source if isinstance(audio, RawPCM) else audio)


async def _nothing() -> None:
    return None


def _token(response: httpx.Response, model: str) -> RealtimeToken:
    try:
        return realtime_token(json_value(response.content), model)
    except ValueError as exc:  # the message names no part of the body: it holds the secret
        raise response_error(response, f"The client session is malformed: {exc}") from None


def _as_read(response: httpx.Response) -> httpx.Response:
    """The response itself, its body read: for callers that parse it themselves."""
    return response
