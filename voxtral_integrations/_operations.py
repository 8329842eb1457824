"""The work behind the clients' methods, written once for a thin sync shell and its twin.

``VoxtralClient`` and ``AsyncVoxtralClient`` hold the public signatures: each
method builds the option values and calls one method here. :class:`Operations`
does the work over a :class:`SyncTransport`, in the calling thread;
:class:`AsyncOperations` is its twin, which awaits and keeps codec and file work off
the event loop (``tests/unit/test_twins.py`` holds them to it). What both decide
alike (is this input usable here, which request, which cache, is this body a result)
is in their base, ``_operations_base``, over the pure ``_dialects``, ``_requests``,
``_chat_request`` and ``_responses``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import anyio
import httpx
from pydantic import BaseModel

from . import _transcribe
from ._audio import Payload, Plan, prepare, prepare_short_wav
from ._chat_content import carries_inline_audio
from ._events import ChatChunks
from ._models import (
    ChatCompletion,
    ChatCompletionChunk,
    Transcription,
    TranscriptionStreamEvent,
    UploadedFile,
)
from ._operations_base import SharedOperations, realtime_token_of
from ._options import (
    ChunkingOptions,
    TranscriptionOptions,
    UploadCodec,
)
from ._outcomes import CostEstimate, TranscriptionResult
from ._realtime_events import RealtimeEvent, RealtimeToken
from ._realtime_protocol import RawPCM
from ._requests import RequestSpec
from ._responses import parsed
from ._sources import (
    AudioInput,
    AudioSource,
    AudioUpload,
)
from ._streaming import AsyncStream, Stream
from ._transcribe import aspooled, materialised, no_slot, spooled
from ._transport import AsyncTransport, SyncTransport

if TYPE_CHECKING:  # bulk, batch and estimate machinery load on first use
    from ._bulk import AsyncSlot, BulkProgress, Slot, Source
    from ._flow import AnyHost, Flow

_T = TypeVar("_T")
_Model = TypeVar("_Model", bound=BaseModel)
_P = ParamSpec("_P")


class Operations(SharedOperations[SyncTransport]):
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
        from . import _bulk

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
            on_planned=progress.planned if progress else None,
        )

    def payloads(
        self,
        upload: AudioUpload,
        options: TranscriptionOptions,
        max_chunk_seconds: float | None,
        upload_codec: UploadCodec = "auto",
        *,
        planned: bool = False,
    ) -> Plan:
        """Probe, convert and split local audio as the model's limits require; the cuts
        are found as the plan is read, or before it is returned with ``planned``."""
        limits = self.dialect.chunk_limits(options, max_chunk_seconds)
        return _prepared(upload, {**limits, "upload_codec": upload_codec}, planned)

    def estimate(
        self, audio: AudioInput | Iterable[AudioInput], arguments: Mapping[str, Any]
    ) -> CostEstimate:
        """What a run would send and cost (``_estimate``); nothing is sent."""
        from ._estimate import estimate_for

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
        self, payloads: Sequence[Payload], options: TranscriptionOptions
    ) -> Iterator[TranscriptionStreamEvent]:
        from ._long_stream import LongStream

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
        return self.transport.send(spec, functools.partial(realtime_token_of, model=model))

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
        from ._flow import Host, run

        host = Host(
            dialect=self.dialect,
            base_url=self.base_url,
            send=self.read,
            payloads=functools.partial(self.payloads, planned=True),
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


class AsyncOperations(SharedOperations[AsyncTransport]):
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
        from . import _bulk

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
            on_planned=progress.planned if progress else None,
        )

    async def payloads(
        self,
        upload: AudioUpload,
        options: TranscriptionOptions,
        max_chunk_seconds: float | None,
        upload_codec: UploadCodec = "auto",
        *,
        planned: bool = False,
    ) -> Plan:
        """A short WAV is answered on the event loop; anything needing a codec in a thread
        (``planned``: every cut too; otherwise reading the plan finds them, so read it in
        worker threads, as ``atranscribe_chunks`` does)."""
        limits = {
            **self.dialect.chunk_limits(options, max_chunk_seconds),
            "upload_codec": upload_codec,
        }
        quick = prepare_short_wav(upload, **limits)
        if quick is not None:
            return quick
        return await anyio.to_thread.run_sync(_prepared, upload, limits, planned)

    async def estimate(
        self, audio: AudioInput | Iterable[AudioInput], arguments: Mapping[str, Any]
    ) -> CostEstimate:
        """The probes run in a worker thread."""
        from ._estimate import estimate_for

        return await anyio.to_thread.run_sync(estimate_for, self.dialect, audio, arguments)

    async def stream_transcription(
        self,
        audio: AudioInput | None,
        file_id: str | None,
        options: TranscriptionOptions,
        chunking: ChunkingOptions,
    ) -> AsyncStream[TranscriptionStreamEvent]:
        source = self.checked_source(options, audio, file_id)
        payloads: Sequence[Payload] = []
        if isinstance(source, AudioUpload):
            payloads = await self.payloads(
                source, options, chunking.max_chunk_seconds, chunking.upload_codec, planned=True
            )
        if len(payloads) > 1:
            return AsyncStream(self._long_events(payloads, options), _nothing)
        audio_source = source
        if payloads and payloads[0].upload is not source:  # converted: encode off the loop
            audio_source = await anyio.to_thread.run_sync(materialised, payloads[0].upload)
        spec = self.dialect.transcription_request(options, audio_source, stream=True)
        return await self.transport.stream(spec, lambda: self.dialect.transcription_events(options))

    async def _long_events(
        self, payloads: Sequence[Payload], options: TranscriptionOptions
    ) -> AsyncIterator[TranscriptionStreamEvent]:
        from ._long_stream import LongStream

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
        return await self.transport.send(spec, functools.partial(realtime_token_of, model=model))

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
        from ._flow import AsyncHost, arun

        host = AsyncHost(
            dialect=self.dialect,
            base_url=self.base_url,
            send=self.read,
            payloads=functools.partial(self.payloads, planned=True),
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


def _prepared(upload: AudioUpload, limits: dict[str, Any], planned: bool) -> Plan:
    plan = prepare(upload, **limits)[1]
    if planned:
        len(plan)  # finds every cut
    return plan


def _check_source(audio: Any) -> None:
    """A missing path, empty bytes or a thing that is no audio source fail here, before
    the session connects (``AudioError`` naming it)."""
    from ._realtime_audio import _kind

    _kind(audio.source if isinstance(audio, RawPCM) else audio)


async def _nothing() -> None:
    return None


def _as_read(response: httpx.Response) -> httpx.Response:
    """The response itself, its body read: for callers that parse it themselves."""
    return response
