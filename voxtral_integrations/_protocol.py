"""The wire protocol, without I/O: build requests, parse responses and errors.

Two dialects speak it. :class:`MistralDialect` is Mistral's hosted API.
:class:`VLLMDialect` is Voxtral served by vLLM's OpenAI-compatible server, whose
differences all live in that one class: an upload is required (no ``file_url`` or
``file_id``), there are no timestamps, diarization or context bias, transcription
responses and streams have OpenAI's shape, and chat audio is an object rather
than a string. What vLLM cannot do raises :class:`UnsupportedFeatureError`
instead of being dropped.

The client turns a :class:`RequestSpec` into an ``httpx.Request`` once per attempt
(an upload is re-opened each time) and hands bodies back here to parse.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from ._chat_content import audio_string, looks_like_url, sniff_format
from ._constants import (
    DEFAULT_MODEL_LIMITS,
    MAX_CONTEXT_BIAS_ITEMS,
    MODEL_LIMITS,
    RETRYABLE_STATUS_CODES,
    TIMESTAMP_GRANULARITIES,
    VLLM_LIMITS,
    ModelLimits,
)
from ._exceptions import (
    APIResponseError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    UnprocessableEntityError,
    UnsupportedFeatureError,
)
from ._models import (
    ChatCompletionChunk,
    DoneEvent,
    LanguageEvent,
    SegmentEvent,
    TextDeltaEvent,
    Transcription,
    TranscriptionStreamEvent,
    UnknownEvent,
    Usage,
)
from ._redaction import redact_urls, redact_urls_in, shortened
from ._retry import parse_retry_after
from ._sources import AudioSource, AudioUpload, AudioURL
from ._sse import ServerSentEvent, SSEDecoder

_Event = TypeVar("_Event")

Backend = Literal["mistral", "vllm"]
BACKENDS: tuple[Backend, ...] = ("mistral", "vllm")

_LANGUAGE = re.compile(r"[A-Za-z]{2}")
_CONTEXT_BIAS_ITEM = re.compile(r"[^,\s]+")
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "mistral-correlation-id", "x-kong-request-id")


# --------------------------------------------------------------------------- options


def request_limits(backend: Backend, model: str) -> ModelLimits:
    """How long and how large one transcription request to ``model`` on ``backend`` may be."""
    if backend == "vllm":
        return VLLM_LIMITS
    return MODEL_LIMITS.get(model, DEFAULT_MODEL_LIMITS)


def check_chunking(
    max_chunk_seconds: float | None, concurrency: int, *, backend: Backend, model: str
) -> None:
    """Raise ``InvalidInputError`` for a chunk length or concurrency that cannot work.

    Every entry point that sends local audio (the clients, the loaders, the CLI
    through the client, batch submission) calls this before anything is read or
    sent: a ``max_chunk_seconds`` over the backend's per-request limit would only
    come back as a 400 after the whole upload.
    """
    if max_chunk_seconds is not None and (
        isinstance(max_chunk_seconds, bool)
        or not isinstance(max_chunk_seconds, (int, float))
        or not max_chunk_seconds >= 10
    ):
        raise InvalidInputError(
            f"`max_chunk_seconds`={max_chunk_seconds!r} must be a number of seconds >= 10.",
            argument="max_chunk_seconds",
        )
    limit = request_limits(backend, model).max_seconds
    if max_chunk_seconds is not None and max_chunk_seconds > limit:
        served = "vLLM" if backend == "vllm" else f"model {model!r}"
        raise InvalidInputError(
            f"`max_chunk_seconds`={_number(max_chunk_seconds)} is over the {_number(limit)} s "
            f"one request to {served} may carry: pass at most {_number(limit)}, or leave it "
            "unset (long audio is then split to fit).",
            argument="max_chunk_seconds",
        )
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInputError(
            f"`concurrency`={concurrency!r} must be a whole number >= 1.", argument="concurrency"
        )


@dataclass(frozen=True)
class TranscriptionOptions:
    """Checked transcription options; construct with :func:`transcription_options`."""

    model: str
    language: str | None = None
    temperature: float | None = None
    timestamp_granularities: tuple[str, ...] = ()
    diarize: bool = False
    context_bias: tuple[str, ...] = ()


def transcription_options(
    *,
    model: str,
    language: str | None = None,
    temperature: float | None = None,
    timestamp_granularities: Sequence[str] | str | None = None,
    diarize: bool = False,
    context_bias: Sequence[str] | None = None,
) -> TranscriptionOptions:
    """Check every option against what the API accepts; raise ``InvalidInputError``."""
    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError("`model` must be a non-empty model id.", argument="model")
    if language is not None and (
        not isinstance(language, str) or not _LANGUAGE.fullmatch(language)
    ):
        raise InvalidInputError(
            f"`language`={language!r} is not a two-letter ISO 639-1 code. Use e.g. 'en' or "
            "'fr', or leave it unset to let the model detect the language.",
            argument="language",
        )
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or temperature < 0
    ):
        raise InvalidInputError(
            f"`temperature`={temperature!r} must be a number >= 0.", argument="temperature"
        )
    if not isinstance(diarize, bool):
        raise InvalidInputError(f"`diarize`={diarize!r} must be True or False.", argument="diarize")
    granularities = _granularities(timestamp_granularities)
    if diarize and not granularities:
        granularities = ("segment",)  # speaker ids arrive on segments only
    if language is not None and (granularities or diarize):
        asked = "timestamp_granularities" if granularities else "diarize"
        raise InvalidInputError(
            f"`language` cannot be combined with `{asked}`: the API rejects the pair. Drop "
            "`language` (the model detects it) or drop the timestamps/diarization.",
            argument="language",
        )
    return TranscriptionOptions(
        model=model,
        language=language.lower() if language else None,
        temperature=float(temperature) if temperature is not None else None,
        timestamp_granularities=granularities,
        diarize=diarize,
        context_bias=_context_bias(context_bias),
    )


def _granularities(value: Sequence[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else _as_tuple(value, "timestamp_granularities")
    for item in items:
        if item not in TIMESTAMP_GRANULARITIES:
            raise InvalidInputError(
                f"Unknown timestamp granularity {item!r}: use 'segment' or 'word' "
                "(Voxtral 3 models accept 'segment' only).",
                argument="timestamp_granularities",
            )
    return tuple(dict.fromkeys(items))


def _context_bias(value: Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        raise InvalidInputError(
            f"`context_bias` must be a list of words, not the string {value!r}; e.g. "
            f"context_bias=[{value!r}].",
            argument="context_bias",
        )
    items = _as_tuple(value, "context_bias")
    if len(items) > MAX_CONTEXT_BIAS_ITEMS:
        raise InvalidInputError(
            f"`context_bias` has {len(items)} items; the API accepts at most "
            f"{MAX_CONTEXT_BIAS_ITEMS}. Keep the rarest, most important terms.",
            argument="context_bias",
        )
    for item in items:
        if not isinstance(item, str) or not _CONTEXT_BIAS_ITEM.fullmatch(item):
            raise InvalidInputError(
                f"`context_bias` item {item!r} must be one non-empty term without spaces or "
                "commas; join multi-word terms with '_' (e.g. 'farewell_address').",
                argument="context_bias",
            )
    return items


def _as_tuple(value: object, argument: str) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInputError(
            f"`{argument}` must be a list of strings, got {type(value).__name__}.",
            argument=argument,
        )
    return tuple(value)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class RequestSpec:
    """Everything needed to send one API call, independent of sync or async I/O."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, str] | None = None
    form: Mapping[str, str | list[str]] | None = None
    upload: AudioUpload | None = None
    stream: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    transient_not_found: bool = False
    """A 404 here is a routing glitch, not a missing resource: retry it once (``_retry``)."""

    @contextmanager
    def body(self) -> Iterator[dict[str, Any]]:
        """``httpx.build_request`` keyword arguments for one attempt, upload opened.

        A form is always sent as multipart, even without a file part: httpx would
        otherwise url-encode it, and the API accepts only multipart/form-data.
        """
        if self.form is None:
            yield {"json": self.json, "params": self.params}
        elif self.upload is None:
            fields = [
                (name, (None, item))
                for name, value in self.form.items()
                for item in (value if isinstance(value, list) else [value])
            ]
            yield {"files": fields, "params": self.params}
        else:
            with self.upload.open() as content:
                upload = (self.upload.filename, content, self.upload.mime_type)
                yield {"data": self.form, "files": {"file": upload}, "params": self.params}


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
        return _number(value)
    return value


class MistralDialect:
    """Mistral's hosted API: the reference shape of every request."""

    name: Backend = "mistral"

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


class VLLMDialect(MistralDialect):
    """vLLM's OpenAI-compatible serving of Voxtral (``vllm serve mistralai/Voxtral-...``)."""

    name: Backend = "vllm"

    def transcription_request(
        self, options: TranscriptionOptions, source: AudioSource, *, stream: bool
    ) -> RequestSpec:
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
        form: dict[str, str | list[str]] = {"model": options.model, "response_format": "json"}
        if options.language is not None:
            form["language"] = options.language
        if options.temperature is not None:
            form["temperature"] = _number(options.temperature)
        if stream:
            form["stream"] = "true"
            form["stream_include_usage"] = "true"
        return RequestSpec("POST", "/audio/transcriptions", form=form, upload=source, stream=stream)

    def parse_transcription(self, content: bytes, options: TranscriptionOptions) -> Transcription:
        body = _json(content)
        if not isinstance(body, Mapping) or not isinstance(body.get("text"), str):
            raise ValueError("expected an object with a 'text' string")
        return Transcription(
            text=body["text"],
            model=str(body.get("model") or options.model),
            language=body.get("language"),
            usage=_vllm_usage(body.get("usage")),
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
        return {"type": "input_audio", "input_audio": {"data": data, "format": _b64_format(data)}}

    def check_files_supported(self) -> None:
        raise UnsupportedFeatureError(
            "The vLLM backend has no Files API; upload, signed URLs and deletion need the "
            "Mistral backend.",
            argument="backend",
        )


DIALECTS: dict[Backend, MistralDialect] = {"mistral": MistralDialect(), "vllm": VLLMDialect()}


def chat_request(
    dialect: MistralDialect,
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str,
    tools: Sequence[Mapping[str, Any]] | None,
    tool_choice: str | Mapping[str, Any] | None,
    response_format: Mapping[str, Any] | None,
    temperature: float | None,
    max_tokens: int | None,
    stream: bool,
    extra: Mapping[str, Any] | None = None,
) -> RequestSpec:
    """A ``/chat/completions`` request; audio parts are put in the dialect's shape."""
    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError("`model` must be a non-empty model id.", argument="model")
    if isinstance(messages, (str, Mapping)) or not messages:
        raise InvalidInputError(
            "`messages` must be a non-empty list of messages such as "
            '[{"role": "user", "content": "..."}].',
            argument="messages",
        )
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise InvalidInputError(
            f"`max_tokens`={max_tokens!r} must be a positive integer.", argument="max_tokens"
        )
    payload: dict[str, Any] = {
        "model": model,
        "messages": [
            _chat_message(dialect, message, index) for index, message in enumerate(messages)
        ],
    }
    optional = {
        "tools": list(tools) if tools else None,
        "tool_choice": tool_choice,
        "response_format": response_format,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    payload.update({key: value for key, value in optional.items() if value is not None})
    reserved = sorted(set(extra or {}) & {"model", "messages", "stream"})
    if reserved:
        raise InvalidInputError(
            f"`extra_body` may not set {', '.join(reserved)}: pass them as arguments of `chat`.",
            argument="extra_body",
        )
    payload.update(extra or {})
    if stream:
        payload["stream"] = True
        if dialect.name == "vllm":
            payload["stream_options"] = {"include_usage": True}
    return RequestSpec(
        "POST",
        "/chat/completions",
        json=payload,
        stream=stream,
        headers={"Accept": "text/event-stream"} if stream else {},
    )


def _chat_message(dialect: MistralDialect, message: Any, index: int) -> dict[str, Any]:
    if hasattr(message, "model_dump"):
        message = message.model_dump(exclude_none=True)
    if not isinstance(message, Mapping) or "role" not in message:
        raise InvalidInputError(
            f"`messages[{index}]` must be a mapping with a 'role', got {type(message).__name__}.",
            argument="messages",
        )
    converted = dict(message)
    content = converted.get("content")
    if isinstance(content, list):
        converted["content"] = [
            dialect.chat_audio_part(part)
            if isinstance(part, Mapping) and part.get("type") == "input_audio"
            else part
            for part in content
        ]
    return converted


def _b64_format(data: str) -> str:
    return sniff_format(data) or "wav"


def _number(value: float) -> str:
    return repr(value) if value != int(value) else str(int(value))


def _vllm_usage(usage: Any) -> Usage:
    if not isinstance(usage, Mapping):
        return Usage()
    seconds = usage.get("seconds")
    fields = {key: value for key, value in usage.items() if key not in ("type", "seconds")}
    return Usage.model_validate({**fields, "prompt_audio_seconds": seconds})


def files_upload_request(upload: AudioUpload, *, purpose: str) -> RequestSpec:
    return RequestSpec("POST", "/files", form={"purpose": purpose}, upload=upload)


def signed_url_request(file_id: str, *, expiry_hours: int) -> RequestSpec:
    if isinstance(expiry_hours, bool) or not isinstance(expiry_hours, int) or expiry_hours < 1:
        raise InvalidInputError(
            f"`expiry`={expiry_hours!r} must be a whole number of hours >= 1.", argument="expiry"
        )
    return RequestSpec(
        "GET", f"/files/{quote(file_id, safe='')}/url", params={"expiry": str(expiry_hours)}
    )


def delete_file_request(file_id: str) -> RequestSpec:
    return RequestSpec("DELETE", f"/files/{quote(file_id, safe='')}")


def file_content_request(file_id: str) -> RequestSpec:
    return RequestSpec("GET", f"/files/{quote(file_id, safe='')}/content")


# --------------------------------------------------------------------------- streams


class EventParser(Generic[_Event]):
    """Turns the server-sent events of one stream into typed events."""

    done: bool = False
    """Set once the stream's final event has been parsed."""

    def parse(self, sse: ServerSentEvent) -> list[_Event]:
        raise NotImplementedError

    @property
    def complete(self) -> bool:
        """Whether the body may end here without having been cut short."""
        return self.done


class MistralTranscriptionEvents(EventParser[TranscriptionStreamEvent]):
    _TYPES: ClassVar[dict[str, type[TranscriptionStreamEvent]]] = {
        "transcription.language": LanguageEvent,
        "transcription.text.delta": TextDeltaEvent,
        "transcription.segment": SegmentEvent,
        "transcription.done": DoneEvent,
    }

    def parse(self, sse: ServerSentEvent) -> list[TranscriptionStreamEvent]:
        data = _json_object(sse.data)
        event_type = str(data.get("type") or sse.event or "")
        model = self._TYPES.get(event_type)
        if model is None:
            return [UnknownEvent(type=event_type, data=data)]
        event = model.model_validate({**data, "type": event_type})
        self.done = isinstance(event, DoneEvent)
        return [event]


class VLLMTranscriptionEvents(EventParser[TranscriptionStreamEvent]):
    """OpenAI-style ``transcription.chunk`` deltas ending in ``[DONE]``.

    vLLM sends no final transcript, so the parser accumulates the deltas and ends
    the stream with a synthesised :class:`DoneEvent`, the same last event Mistral's
    stream has.
    """

    def __init__(self, model: str) -> None:
        self._model = model
        self._text: list[str] = []
        self._usage = Usage()

    def parse(self, sse: ServerSentEvent) -> list[TranscriptionStreamEvent]:
        if sse.data.strip() == "[DONE]":
            self.done = True
            return [DoneEvent(text="".join(self._text), model=self._model, usage=self._usage)]
        data = _json_object(sse.data)
        if isinstance(data.get("usage"), Mapping):
            self._usage = _vllm_usage(data["usage"])
        self._model = str(data.get("model") or self._model)
        choices = data.get("choices") or []
        if not isinstance(choices, list) or not all(
            isinstance(choice, Mapping) and isinstance(choice.get("delta") or {}, Mapping)
            for choice in choices
        ):
            raise ValueError("expected 'choices' to be a list of objects with a 'delta' object")
        events: list[TranscriptionStreamEvent] = []
        for choice in choices:
            text = (choice.get("delta") or {}).get("content")
            if text:
                self._text.append(text)
                events.append(TextDeltaEvent(text=text))
        return events


class ChatChunks(EventParser[ChatCompletionChunk]):
    """Chat completion chunks. Complete at ``[DONE]``, or once a choice has finished."""

    def __init__(self) -> None:
        self._finished = False

    def parse(self, sse: ServerSentEvent) -> list[ChatCompletionChunk]:
        if sse.data.strip() == "[DONE]":
            self.done = True
            return []
        chunk = ChatCompletionChunk.model_validate(_json_object(sse.data))
        self._finished = self._finished or any(c.finish_reason for c in chunk.choices)
        return [chunk]

    @property
    def complete(self) -> bool:
        return self.done or self._finished


class EventStreamDecoder(Generic[_Event]):
    """Bytes of a streamed response in, typed events out; shared by sync and async.

    Events after the final one are ignored. A body that ends before the final event
    raises :class:`IncompleteStreamError` carrying what did arrive; an event that
    cannot be parsed raises :class:`APIResponseError`.
    """

    def __init__(self, parser: EventParser[_Event], response: httpx.Response) -> None:
        self._parser = parser
        self._response = response
        self._sse = SSEDecoder()
        self.received: list[_Event] = []

    @property
    def done(self) -> bool:
        return self._parser.done

    def feed(self, chunk: bytes) -> list[_Event]:
        return self._parse(self._sse.feed(chunk))

    def finish(self) -> list[_Event]:
        try:
            events = self._parse(self._sse.close())
        except APIResponseError:
            events = []  # the last frame was cut off by the end of the body: truncation
        if not self._parser.complete:
            raise self.incomplete("ended before its final event")
        return events

    def incomplete(self, what_happened: str) -> IncompleteStreamError:
        """The error for a stream that stopped early, carrying the events that arrived."""
        request = self._response.request
        return IncompleteStreamError(
            f"The stream from {request.method} {request.url.path} {what_happened}, after "
            f"{len(self.received)} events; retry the request. The events that did arrive are "
            "in the error's `received`.",
            method=request.method,
            url=str(request.url),
            received=list(self.received),
        )

    def _parse(self, frames: list[ServerSentEvent]) -> list[_Event]:
        events: list[_Event] = []
        for sse in frames:
            if self.done:
                break
            try:
                events.extend(self._parser.parse(sse))
            except (ValueError, ValidationError) as exc:
                raise response_error(
                    self._response, f"A stream event is malformed ({exc})"
                ) from exc
        self.received.extend(events)
        return events


def _json_object(text: str) -> dict[str, Any]:
    value = _json(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _json(text: str | bytes) -> Any:
    """``json.loads`` whose every failure is a ``ValueError`` (nesting too deep included)."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply to read") from exc


# --------------------------------------------------------------------------- responses


def response_error(response: httpx.Response, problem: str) -> APIResponseError:
    request = response.request
    return APIResponseError(
        f"{problem} ({request.method} {request.url.path}, status {response.status_code}). "
        "The server or a proxy in between returned something the API does not document.",
        method=request.method,
        url=str(request.url.copy_with(query=None)),
    )


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_ADVICE: dict[type[APIStatusError], str] = {
    BadRequestError: "The server refused the request as sent; check the options and the audio.",
    UnprocessableEntityError: "A field failed the server's validation; fix the field named above.",
    APIStatusError: "An unexpected status for this API; check `base_url` and any proxy.",
    AuthenticationError: "Check MISTRAL_API_KEY (or `api_key=`) and that the key is active.",
    PermissionDeniedError: "The key may not use this model or resource; check its workspace.",
    NotFoundError: "Check the model id, the file id, and `base_url`.",
    RequestTooLargeError: "Send a smaller file, or upload it and pass the file id.",
    RateLimitError: "Wait and retry, or lower concurrency.",
    InternalServerError: "The server failed; retry later.",
}
_NOT_IMPLEMENTED_ADVICE = (
    "The server does not implement this request (not retried: it would fail the same "
    "way); check `base_url`, and the backend (a vLLM server needs backend='vllm')."
)
_NOT_RETRIED_ADVICE = (
    "The server cannot handle this request (not retried: it would fail the same way); "
    "check `base_url` and any proxy."
)
"""Advice for a 5xx that is not retried (see ``_retry``): 501, and the rarer others."""


@dataclass(frozen=True)
class ErrorBody:
    """What the three error-body shapes have in common."""

    message: str
    code: str | None = None
    type: str | None = None
    param: str | None = None


def parse_error_body(content: bytes, status_code: int) -> tuple[ErrorBody, Any]:
    """Read any error body the API returns; never raises.

    The shapes: ``{"object": "error", "message", "type", "param", "code"}`` (the
    documented one), ``{"detail": "..."}`` (401), and FastAPI's
    ``{"detail": [{"loc", "msg", "type"}]}`` (422). Anything else (an HTML page from
    a proxy, an empty body) falls back to a short excerpt of the text. The body comes
    back with every URL in it redacted (the message is redacted by the caller).
    """
    text = content.decode("utf-8", errors="replace")
    try:
        body: Any = json.loads(text) if text.strip() else None
        parsed = _error_from_mapping(body) if isinstance(body, Mapping) else None
        body = redact_urls_in(body)
    except (ValueError, RecursionError):  # not JSON, a number too long to read, too deep
        body, parsed = None, None
    if parsed is not None:
        return parsed, body
    redacted = redact_urls(text)  # redact first: a cut URL escapes
    if redacted.lstrip().startswith("<"):
        excerpt = _page_summary(redacted)
        excerpt = excerpt and shortened(excerpt, _MAX_EXCERPT - len(_PAGE)) + _PAGE
    else:
        excerpt = " ".join(redacted.split())[:_MAX_EXCERPT]
    reason = httpx.codes.get_reason_phrase(status_code) or "error"
    return ErrorBody(excerpt or reason), body if body is not None else (redacted or None)


_MAX_EXCERPT = 200
"""Characters an error keeps of a body that is not an API error (a proxy's page)."""
_PAGE = " (an HTML page)"
_PAGE_READ = 4096
"""Characters of a page searched for its title: it comes first, and the patterns below
would take quadratic time over a hostile megabyte."""
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_HIDDEN = re.compile(r"<(?:script|style)\b.*?(?:</(?:script|style)\s*>|$)", re.I | re.S)
_TAG = re.compile(r"<[^>]*>?")


def _page_summary(page: str) -> str:
    """An HTML (or XML) page as one short line: its ``<title>``, else its text without tags.

    A proxy's or web server's error page says what happened in its title (``502 Bad
    Gateway``); its markup, dumped into a message, says nothing.
    """
    page = page[:_PAGE_READ]
    title = _TITLE.search(page)
    text = title.group(1) if title else _TAG.sub(" ", _HIDDEN.sub(" ", page))
    return redact_urls(" ".join(html.unescape(text).split()))  # an entity may hide an "@"


def _error_from_mapping(body: Mapping[str, Any]) -> ErrorBody | None:
    if isinstance(body.get("error"), Mapping):
        body = body["error"]
    detail = body.get("detail")
    if isinstance(detail, list) and detail:
        problems = []
        param = None
        for item in detail:
            if not isinstance(item, Mapping):
                problems.append(str(item))
                continue
            loc = item.get("loc")
            parts = loc if isinstance(loc, list) else [] if loc is None else [loc]
            location = ".".join(str(part) for part in parts if part != "body")
            param = param or location or None
            problems.append(
                f"{location}: {item.get('msg', '')}" if location else str(item.get("msg", ""))
            )
        first = detail[0] if isinstance(detail[0], Mapping) else {}
        return ErrorBody("; ".join(problems), type=_str_or_none(first.get("type")), param=param)
    message = body.get("message")
    if message is None and isinstance(detail, str):
        message = detail
    if message is None:
        return None
    if not isinstance(message, str):
        message = json.dumps(message)
    return ErrorBody(
        message.strip(),
        code=_str_or_none(body.get("code")),
        type=_str_or_none(body.get("type")),
        param=_str_or_none(body.get("param")),
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def status_error(
    *, method: str, url: str, status_code: int, headers: Mapping[str, str], content: bytes
) -> APIStatusError:
    """The typed error for a non-2xx response, with a message that says what to do."""
    parsed, body = parse_error_body(content, status_code)
    error_class = _STATUS_ERRORS.get(status_code)
    if error_class is None:
        error_class = InternalServerError if status_code >= 500 else APIStatusError
    request_id = next((headers[name] for name in _REQUEST_ID_HEADERS if name in headers), None)
    server_message = shortened(redact_urls(parsed.message), _MAX_SERVER_MESSAGE)
    code, type_, param = (
        shortened(redact_urls(v or ""), _MAX_ERROR_FIELD)
        for v in (parsed.code, parsed.type, parsed.param)
    )
    details = ", ".join(
        f"{label} {value}"
        for label, value in (("code", code), ("type", type_), ("param", param))
        if value
    )
    path = httpx.URL(url).path
    message = f"{method} {path} failed with {status_code}: {server_message or '(no message)'}"
    if details:
        message += f" [{details}]"
    advice = _ADVICE.get(error_class)
    if error_class is InternalServerError and status_code not in RETRYABLE_STATUS_CODES:
        advice = _NOT_IMPLEMENTED_ADVICE if status_code == 501 else _NOT_RETRIED_ADVICE
    if advice:
        message += f". {advice}"
    if request_id:
        message += f" (request id {request_id})"
    return error_class(
        message,
        method=method,
        url=url,
        status_code=status_code,
        server_message=server_message,
        code=code or None,
        type=type_ or None,
        param=param or None,
        request_id=request_id,
        retry_after=parse_retry_after(headers),
        body=body,
    )


_MAX_SERVER_MESSAGE = 1000
_MAX_ERROR_FIELD = 200
"""Characters an error keeps of the server's message, and of its code, type and param:
a proxy may answer a megabyte, and an exception is printed whole."""
