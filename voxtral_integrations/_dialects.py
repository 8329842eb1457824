"""The backends as profiles, without I/O: what each can do and how it speaks.

Two dialects speak the API. :class:`MistralDialect` is Mistral's hosted API.
:class:`VLLMDialect` is Voxtral served by vLLM's OpenAI-compatible server. Every
difference between them lives here, and nowhere else compares backend names: the
request limits, the default base URL, whether the ``MISTRAL_*`` environment is
read, the features served (an upload is required on vLLM: no ``file_url`` or
``file_id``; there are no timestamps, diarization, context bias, Files or Batch
API), the word that forces a tool call, every request's shape (transcription
responses and streams have OpenAI's shape on vLLM, and chat audio is an object
rather than a string). What vLLM cannot do raises :class:`UnsupportedFeatureError`
instead of being dropped. :func:`dialect` looks a backend up by its name.

Each request is a :class:`~._requests.RequestSpec`, which the client turns into an
``httpx.Request`` once per attempt (an upload is re-opened each time), handing
bodies back here to parse; the chat request is built over a dialect in
:mod:`._chat_request`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ._catalogue import ModelLimits, model_info
from ._chat_content import audio_string, looks_like_url, sniff_format
from ._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_VLLM_BASE_URL,
    DIARIZATION_OVERLAP_SECONDS,
    VLLM_LIMITS,
)
from ._events import EventParser, MistralTranscriptionEvents, VLLMTranscriptionEvents
from ._exceptions import (
    ConfigurationError,
    InvalidInputError,
    UnsupportedFeatureError,
)
from ._models import (
    Transcription,
    TranscriptionStreamEvent,
)
from ._options import (
    CHUNKING_OPTIONS,
    TRANSCRIPTION_OPTIONS,
    ChunkingOptions,
    TranscriptionOptions,
    given,
    number_text,
    transcription_options,
)
from ._realtime_wire import MISTRAL_REALTIME, VLLM_REALTIME, RealtimeWire
from ._requests import RequestSpec
from ._responses import json_value, vllm_usage
from ._sources import AudioSource, AudioUpload, AudioURL

Backend = Literal["mistral", "vllm"]
BACKENDS: tuple[Backend, ...] = ("mistral", "vllm")


def transcription_fields(options: TranscriptionOptions) -> dict[str, Any]:
    """The options as the API's fields, JSON-typed; the one mapping of options to fields.

    A batch line's body takes them as they are; a multipart form as text
    (:func:`_form_value`), so online and batch requests carry the same options.
    """
    fields: dict[str, Any] = {}
    if options.language is not None:
        fields["language"] = options.language
    if options.temperature is not None:
        fields["temperature"] = options.temperature
    if options.timestamp_granularities:
        fields["timestamp_granularities"] = list(options.timestamp_granularities)
    if options.diarize:
        fields["diarize"] = True
    if options.context_bias:
        fields["context_bias"] = list(options.context_bias)
    return fields


def _form_value(value: str | float | bool | list[str]) -> str | list[str]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    return value


class MistralDialect:
    """Mistral's hosted API: the reference shape of every request, and its profile."""

    name: Backend = "mistral"
    default_base_url: str = DEFAULT_BASE_URL
    reads_environment: bool = True
    """Whether ``MISTRAL_API_KEY`` and ``MISTRAL_BASE_URL`` apply: they are Mistral's,
    never sent to, or used for, another host."""
    requires_key: bool = True
    supports_timestamps: bool = True
    """Segment timestamps, and so diarization and timed records."""
    supports_files: bool = True
    """The Files API (upload, signed URLs, deletion) and the Batch API built on it."""
    force_tool_choice: str = "any"
    """The ``tool_choice`` word that forces some tool call."""
    ls_provider: str = "mistral"
    """The provider name LangSmith traces carry."""
    stream_usage_option: bool = False
    """Whether a chat stream must ask for its usage (``stream_options``)."""
    realtime: RealtimeWire = MISTRAL_REALTIME
    """How realtime sessions are spoken (``_realtime_wire``)."""

    def limits_for(self, model: str) -> ModelLimits:
        """How long and how large one transcription request to ``model`` may be
        (its row of the catalogue; the documented defaults for a model it lacks)."""
        return model_info(model).limits

    def served(self, model: str) -> str:
        """What a request goes to, as messages name it."""
        return f"model {model!r}"

    def check_chunking(self, chunking: ChunkingOptions, model: str) -> None:
        """Raise ``InvalidInputError`` for chunking that cannot work with ``model`` here."""
        chunking.check(max_seconds=self.limits_for(model).max_seconds, served=self.served(model))

    def chunk_limits(
        self, options: TranscriptionOptions, max_chunk_seconds: float | None
    ) -> dict[str, Any]:
        """How long and how large one request may be, and the chunk length to aim for.

        Without ``max_chunk_seconds`` the model's limit is the ceiling and long audio
        is shared out in chunks of about 15 minutes, for concurrency; a caller's
        ``max_chunk_seconds`` (never over the limit: :meth:`check_chunking`) is both.
        Diarized audio aims at the ceiling itself, as few requests as the model
        allows: each request numbers its speakers by first appearance, so every cut
        must be bridged by linking labels, which costs an overlap heard twice
        (:data:`DIARIZATION_OVERLAP_SECONDS`) and can leave a speaker unlinked.
        """
        limits = self.limits_for(options.model)
        aim = limits.max_seconds if options.diarize else DEFAULT_CHUNK_SECONDS
        return {
            "max_chunk_seconds": max_chunk_seconds or limits.max_seconds,
            "target_seconds": max_chunk_seconds or min(aim, limits.max_seconds),
            "max_bytes": limits.max_bytes,
            "overlap_seconds": DIARIZATION_OVERLAP_SECONDS if options.diarize else 0.0,
        }

    def check_transcription(self, options: TranscriptionOptions, source: AudioSource) -> None:
        """Refuse what this backend cannot transcribe, before any audio is read.

        Mistral's API takes every source and option this library offers.
        """

    def transcription_request(
        self, options: TranscriptionOptions, source: AudioSource, *, stream: bool
    ) -> RequestSpec:
        form: dict[str, str | list[str]] = {"model": options.model}
        upload = None
        if isinstance(source, AudioUpload):
            upload = source
        elif isinstance(source, AudioURL):
            form["file_url"] = source.url
        else:
            form["file_id"] = source.file_id
        form.update(
            {name: _form_value(value) for name, value in transcription_fields(options).items()}
        )
        if stream:
            form["stream"] = "true"
        return RequestSpec(
            "POST",
            "/audio/transcriptions",
            form=form,
            upload=upload,
            stream=stream,
            headers={"Accept": "text/event-stream"} if stream else {},
            transient_not_found="file_id" not in form,
        )

    def parse_transcription(self, content: bytes, options: TranscriptionOptions) -> Transcription:
        """Raises ``ValueError`` (incl. pydantic's) for a body that is not a transcription."""
        return Transcription.model_validate_json(content)

    def transcription_events(
        self, options: TranscriptionOptions
    ) -> EventParser[TranscriptionStreamEvent]:
        return MistralTranscriptionEvents()

    def chat_audio_part(self, part: Mapping[str, Any]) -> dict[str, Any]:
        """Mistral takes ``input_audio`` as a string: base64, URL or signed URL."""
        audio = part.get("input_audio")
        if isinstance(audio, Mapping):
            audio = audio.get("data") or audio.get("url")
        return {"type": "input_audio", "input_audio": audio_string(audio)}

    def check_files_supported(self) -> None:
        return None

    def realtime_token_request(self, model: str, ttl_seconds: int | None) -> RequestSpec:
        """``POST /client/sessions``: a short-lived token for a browser's realtime socket."""
        if not isinstance(model, str) or not model.strip():
            raise InvalidInputError("`model` must be a non-empty model id.", argument="model")
        payload: dict[str, Any] = {"model": model, "purpose": "realtime"}
        if ttl_seconds is not None:
            if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 1:
                raise InvalidInputError(
                    f"`ttl_seconds`={ttl_seconds!r} must be a whole number of seconds >= 1, "
                    "or None for the server's default (about 15 minutes).",
                    argument="ttl_seconds",
                )
            payload["ttl_seconds"] = ttl_seconds
        return RequestSpec("POST", "/client/sessions", json=payload)


class VLLMDialect(MistralDialect):
    """vLLM's OpenAI-compatible serving of Voxtral (``vllm serve mistralai/Voxtral-...``)."""

    name: Backend = "vllm"
    default_base_url: str = DEFAULT_VLLM_BASE_URL
    reads_environment: bool = False
    requires_key: bool = False
    supports_timestamps: bool = False
    supports_files: bool = False
    force_tool_choice: str = "required"
    ls_provider: str = "vllm"
    stream_usage_option: bool = True
    realtime: RealtimeWire = VLLM_REALTIME

    def limits_for(self, model: str) -> ModelLimits:
        return VLLM_LIMITS

    def served(self, model: str) -> str:
        return "vLLM"

    def check_transcription(self, options: TranscriptionOptions, source: AudioSource) -> None:
        if not isinstance(source, AudioUpload):
            given = "an http(s) URL" if isinstance(source, AudioURL) else "a file id"
            raise UnsupportedFeatureError(
                f"The vLLM backend needs the audio itself; {given} cannot be transcribed there. "
                "Pass a path, bytes or a file object.",
                argument="audio",
            )
        unsupported = [
            name
            for name, wanted in (
                ("diarize", options.diarize),
                ("timestamp_granularities", bool(options.timestamp_granularities)),
                ("context_bias", bool(options.context_bias)),
            )
            if wanted
        ]
        if unsupported:
            raise UnsupportedFeatureError(
                f"The vLLM backend cannot honour {', '.join(unsupported)}: vLLM serves Voxtral "
                "without segment timestamps, diarization or context bias. Use the Mistral "
                "backend for these, or drop them.",
                argument=unsupported[0],
            )

    def transcription_request(
        self, options: TranscriptionOptions, source: AudioSource, *, stream: bool
    ) -> RequestSpec:
        self.check_transcription(options, source)
        assert isinstance(source, AudioUpload)  # for the type checker: checked just above
        form: dict[str, str | list[str]] = {"model": options.model, "response_format": "json"}
        if options.language is not None:
            form["language"] = options.language
        if options.temperature is not None:
            form["temperature"] = number_text(options.temperature)
        if stream:
            form["stream"] = "true"
            form["stream_include_usage"] = "true"
        return RequestSpec("POST", "/audio/transcriptions", form=form, upload=source, stream=stream)

    def parse_transcription(self, content: bytes, options: TranscriptionOptions) -> Transcription:
        body = json_value(content)
        if not isinstance(body, Mapping) or not isinstance(body.get("text"), str):
            raise ValueError("expected an object with a 'text' string")
        return Transcription(
            text=body["text"],
            model=str(body.get("model") or options.model),
            language=body.get("language"),
            usage=vllm_usage(body.get("usage")),
        )

    def transcription_events(
        self, options: TranscriptionOptions
    ) -> EventParser[TranscriptionStreamEvent]:
        return VLLMTranscriptionEvents(options.model)

    def chat_audio_part(self, part: Mapping[str, Any]) -> dict[str, Any]:
        """vLLM wants OpenAI's ``{"data", "format"}`` object, or ``audio_url`` for a URL."""
        audio = part.get("input_audio")
        if isinstance(audio, Mapping) and audio.get("data") and audio.get("format"):
            return {"type": "input_audio", "input_audio": dict(audio)}
        data = audio_string(audio.get("data") if isinstance(audio, Mapping) else audio)
        if looks_like_url(data):
            return {"type": "audio_url", "audio_url": {"url": data}}
        return {
            "type": "input_audio",
            "input_audio": {"data": data, "format": sniff_format(data) or "wav"},
        }

    def realtime_token_request(self, model: str, ttl_seconds: int | None) -> RequestSpec:
        raise UnsupportedFeatureError(
            "The vLLM backend has no client sessions: its realtime route takes no key, so a "
            "browser connects to it directly. Tokens need the Mistral backend.",
            argument="backend",
        )

    def check_files_supported(self) -> None:
        raise UnsupportedFeatureError(
            "The vLLM backend has no Files API; upload, signed URLs and deletion need the "
            "Mistral backend.",
            argument="backend",
        )


def checked_options(
    dialect: MistralDialect, arguments: Mapping[str, Any]
) -> tuple[TranscriptionOptions, ChunkingOptions]:
    """A public method's options, checked against the model and this backend's limits:
    ``arguments`` is its ``locals()``.

    The signature names every option, for its documentation and types; the values
    are taken from it by the names of the two tables (``_options``).
    """
    options = transcription_options(**given(arguments, TRANSCRIPTION_OPTIONS))
    chunking = ChunkingOptions(**given(arguments, CHUNKING_OPTIONS))
    dialect.check_chunking(chunking, options.model)
    return options, chunking


DIALECTS: dict[Backend, MistralDialect] = {"mistral": MistralDialect(), "vllm": VLLMDialect()}


def dialect(backend: str) -> MistralDialect:
    """The profile of ``backend``: the one place a backend name is looked up."""
    if backend not in DIALECTS:
        raise ConfigurationError(
            f"Unknown backend {backend!r}: use 'mistral' (Mistral's API) or 'vllm' "
            "(Voxtral served by vLLM)."
        )
    return DIALECTS[backend]
