"""Streamed responses without I/O: server-sent events in, typed events out.

:class:`EventStreamDecoder` is shared by the sync and async streams; each
:class:`EventParser` reads one shape (Mistral's transcription events, vLLM's
OpenAI-style deltas, chat completion chunks) and says when the stream is complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Generic, TypeVar

import httpx
from pydantic import ValidationError

from ._exceptions import (
    APIResponseError,
    IncompleteStreamError,
)
from ._models import (
    ChatCompletionChunk,
    DoneEvent,
    LanguageEvent,
    SegmentEvent,
    TextDeltaEvent,
    TranscriptionStreamEvent,
    UnknownEvent,
    Usage,
)
from ._responses import json_object, response_error, vllm_usage
from ._sse import ServerSentEvent, SSEDecoder

_Event = TypeVar("_Event")


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
        data = json_object(sse.data)
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
        data = json_object(sse.data)
        if isinstance(data.get("usage"), Mapping):
            self._usage = vllm_usage(data["usage"])
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
        chunk = ChatCompletionChunk.model_validate(json_object(sse.data))
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
