"""What the sync and async operations decide alike: the base of both shells.

Nothing here sends, reads audio or waits: option checks, which request a method
sends, which cache a file uses, whether a body is a result. ``_operations`` holds
the two shells that do the work over it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from . import _chat_request, _dialects, _requests, _transcribe
from ._audio import decodable_chat_part
from ._chat_content import map_audio_parts
from ._constants import REALTIME_SESSION_TIMEOUT
from ._dialects import Backend, MistralDialect
from ._models import (
    Transcription,
    UploadedFile,
)
from ._options import (
    ChunkingOptions,
    TranscriptionOptions,
    given,
)
from ._realtime_events import RealtimeToken, realtime_token
from ._realtime_protocol import REALTIME_OPTIONS, check_patience, realtime_options
from ._requests import RequestSpec
from ._responses import json_value, response_error
from ._sources import (
    AudioInput,
    AudioSource,
    AudioUpload,
    check_file_id,
    local_audio,
    resolve_audio,
)
from ._transcribe import ChunkCache
from ._transport import AsyncTransport, SyncTransport

if TYPE_CHECKING:
    from ._realtime import RealtimeSession

_Transport = TypeVar("_Transport", SyncTransport, AsyncTransport)


class SharedOperations(Generic[_Transport]):
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
        return _chat_request.chat_request(
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
        return _requests.files_upload_request(local_audio(audio), purpose=purpose)

    def signed_url_request(self, file: str | UploadedFile, expiry: int) -> RequestSpec:
        self.dialect.check_files_supported()
        return _requests.signed_url_request(check_file_id(file), expiry_hours=expiry)

    def delete_request(self, file: str | UploadedFile) -> RequestSpec:
        self.dialect.check_files_supported()
        return _requests.delete_file_request(check_file_id(file))

    def content_request(self, file: str | UploadedFile) -> RequestSpec:
        self.dialect.check_files_supported()
        return _requests.file_content_request(check_file_id(file))

    def parse_transcription(
        self, response: httpx.Response, options: TranscriptionOptions
    ) -> Transcription:
        try:
            return self.dialect.parse_transcription(response.content, options)
        except ValueError as exc:  # invalid JSON and pydantic's ValidationError alike
            raise response_error(response, f"The transcription is malformed: {exc}") from exc


def realtime_token_of(response: httpx.Response, model: str) -> RealtimeToken:
    try:
        return realtime_token(json_value(response.content), model)
    except ValueError as exc:  # the message names no part of the body: it holds the secret
        raise response_error(response, f"The client session is malformed: {exc}") from None
