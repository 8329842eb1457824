"""Realtime events without I/O: typed models, and one parser per dialect.

A realtime session yields the transcription events the SSE stream has
(:class:`TextDeltaEvent`, :class:`LanguageEvent`, :class:`SegmentEvent`,
:class:`DoneEvent`, :class:`UnknownEvent`) and the ones below. Parsers never raise,
as the official SDK's does not: an unknown type, a frame that is not JSON, or one
that fails its schema becomes an :class:`UnknownEvent` whose ``error`` says why, so
a server that adds a field or a type never ends a live session.

Times: the parsers give the times of the server's session (each new session starts
at 0). :class:`~._realtime_turns.TurnAssembler` shifts them to absolute stream
seconds, in one place, before anything reaches a caller.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ._models import (
    DoneEvent,
    LanguageEvent,
    SegmentEvent,
    TextDeltaEvent,
    UnknownEvent,
    Usage,
)
from ._responses import json_value, vllm_usage

__all__ = [
    "RealtimeErrorEvent",
    "RealtimeEvent",
    "RealtimeToken",
    "ReconnectedEvent",
    "SessionCreatedEvent",
    "SessionUpdatedEvent",
    "TurnEvent",
    "UtteranceEvent",
]


class _Event(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        populate_by_name=True,
        hide_input_in_errors=True,
        defer_build=True,
    )


class SessionCreatedEvent(_Event):
    """``session.created``: the server opened the session (``request_id`` for support)."""

    type: Literal["session.created"] = "session.created"
    request_id: str | None = None
    session: dict[str, Any] = Field(default_factory=dict)


class SessionUpdatedEvent(_Event):
    """``session.updated``: the settings the server applied (Mistral only)."""

    type: Literal["session.updated"] = "session.updated"
    session: dict[str, Any] = Field(default_factory=dict)


class TurnEvent(_Event):
    """``turn.start``, ``turn.eager_end``, ``turn.resume`` or ``turn.end`` (Realtime 3 with
    ``turn_detection``); ``time`` in absolute stream seconds, ``end_reason`` on ``turn.end``
    (``"threshold"`` or ``"timeout"``)."""

    type: Literal["turn.start", "turn.eager_end", "turn.resume", "turn.end"]
    time: float
    end_reason: str | None = None


class RealtimeErrorEvent(_Event):
    """``error``: the server refused a frame or failed. Not always terminal: a refused
    frame leaves the session open. ``code`` is an int on Mistral, a word on vLLM."""

    type: Literal["error"] = "error"
    message: str
    code: int | str | None = None


class UtteranceEvent(_Event):
    """One finalised turn: its text exactly once, at absolute stream seconds.

    The library's own event, not the server's. ``final`` says where the text came
    from: ``"done"`` (the server's ``transcription.done``, stripped of the turns
    already final when the server repeats them) or ``"deltas"`` (the ``done`` never
    came within ``done_timeout``: the joined deltas). ``index`` counts utterances
    from 0 over the whole stream, across reconnections. ``start``/``end`` come from
    the server's segments when it sends timed ones, else from its turn events, else
    from the audio of the turn (``_realtime_turns``).
    """

    type: Literal["utterance"] = "utterance"
    index: int
    text: str
    start: float
    end: float
    speaker_id: str | None = None
    language: str | None = None
    final: Literal["done", "deltas"] = "done"


class ReconnectedEvent(_Event):
    """The connection was replaced (dropped, stalled, or a ``done`` lost).

    ``attempt`` counts reconnections from 1; the new server session starts at
    ``offset`` absolute seconds, and ``replayed_seconds`` of audio not yet final were
    sent again. Partial text of the open turn starts again after this event.
    """

    type: Literal["reconnected"] = "reconnected"
    attempt: int
    offset: float
    replayed_seconds: float


RealtimeEvent = (
    SessionCreatedEvent
    | SessionUpdatedEvent
    | TextDeltaEvent
    | LanguageEvent
    | SegmentEvent
    | DoneEvent
    | TurnEvent
    | RealtimeErrorEvent
    | UtteranceEvent
    | ReconnectedEvent
    | UnknownEvent
)
"""Everything a realtime session yields."""


class RealtimeToken(BaseModel):
    """A short-lived browser token for the realtime endpoint (``create_realtime_token``).

    ``value`` (``rt_...``) is a secret: hidden from ``repr``, ``str`` and dumps; a web
    page opens ``new WebSocket(url, ["realtime", token.value.get_secret_value()])``.
    It is good for ``model`` only, until ``expires_at``.
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True, defer_build=True)

    value: SecretStr
    model: str
    expires_at: datetime | None = None


def realtime_token(body: Any, model: str) -> RealtimeToken:
    """The token in a ``POST /client/sessions`` answer; ``ValueError`` for another shape.

    The message never quotes the body: it holds the secret.
    """
    secret = body.get("client_secret") if isinstance(body, Mapping) else None
    value = secret.get("value") if isinstance(secret, Mapping) else None
    if not isinstance(value, str) or not value:
        raise ValueError("expected an object with a 'client_secret.value' string")
    expires = secret.get("expires_at") if isinstance(secret, Mapping) else None
    try:
        return RealtimeToken(value=SecretStr(value), model=model, expires_at=expires)
    except ValidationError:
        raise ValueError("'client_secret.expires_at' is not a date") from None


def _unknown(type_: str, data: Any, error: str) -> UnknownEvent:
    payload = data if isinstance(data, dict) else {"content": data}
    return UnknownEvent.model_validate({"type": type_, "data": payload, "error": error})


def _error_message(message: Any) -> str:
    """A message string, or an object's ``detail`` (the SDK reads it), or its JSON."""
    if isinstance(message, str):
        return message
    if isinstance(message, Mapping) and isinstance(message.get("detail"), str):
        return str(message["detail"])
    return json.dumps(message, default=str)


class RealtimeParser:
    """One dialect's text frames in, typed events out (session-relative times)."""

    _MODELS: ClassVar[dict[str, type[BaseModel]]] = {}

    def __init__(self, model: str) -> None:
        self.model = model

    def parse(self, text: str | bytes) -> RealtimeEvent:
        try:
            data = json_value(text)
        except ValueError as exc:
            return _unknown(
                "", text if isinstance(text, str) else repr(text), f"invalid JSON: {exc}"
            )
        if not isinstance(data, dict):
            return _unknown("", data, "expected a JSON object")
        type_ = data.get("type")
        if not isinstance(type_, str):
            return _unknown("", data, "missing or invalid 'type'")
        try:
            event = self._event(type_, data)
        except (ValidationError, ValueError, TypeError) as exc:
            return _unknown(type_, data, f"schema: {exc}")
        return event if event is not None else _unknown(type_, data, "unknown event type")

    def _event(self, type_: str, data: dict[str, Any]) -> RealtimeEvent | None:
        raise NotImplementedError


_TURNS = ("turn.start", "turn.eager_end", "turn.resume", "turn.end")


class MistralRealtimeParser(RealtimeParser):
    """Mistral's frames, as the SDK's models read them (extra fields kept)."""

    def _event(self, type_: str, data: dict[str, Any]) -> RealtimeEvent | None:
        if type_ in ("session.created", "session.updated"):
            session = data.get("session")
            if not isinstance(session, dict):
                raise ValueError("'session' must be an object")
            if type_ == "session.updated":
                return SessionUpdatedEvent(session=session)
            request_id = session.get("request_id")
            return SessionCreatedEvent(
                request_id=str(request_id) if request_id is not None else None, session=session
            )
        if type_ == "transcription.text.delta":
            return TextDeltaEvent.model_validate(data)
        if type_ == "transcription.language":
            return LanguageEvent.model_validate(data)
        if type_ == "transcription.segment":
            return SegmentEvent.model_validate(data)
        if type_ == "transcription.done":
            return DoneEvent.model_validate({"model": self.model, **data})
        if type_ in _TURNS:
            time = data.get("time_s")
            if isinstance(time, bool) or not isinstance(time, (int, float)):
                raise ValueError("'time_s' must be a number")
            return TurnEvent.model_validate(
                {"type": type_, "time": float(time), "end_reason": data.get("end_reason")}
            )
        if type_ == "error":
            error = data.get("error")
            if not isinstance(error, Mapping) or "message" not in error:
                raise ValueError("'error' must be an object with a 'message'")
            return RealtimeErrorEvent(
                message=_error_message(error["message"]), code=_code(error.get("code"))
            )
        return None


class VLLMRealtimeParser(RealtimeParser):
    """vLLM's OpenAI-style frames: ``delta`` for text, ``error`` as a string."""

    def _event(self, type_: str, data: dict[str, Any]) -> RealtimeEvent | None:
        if type_ == "session.created":
            session_id = data.get("id")
            return SessionCreatedEvent(
                request_id=str(session_id) if session_id is not None else None,
                session={key: value for key, value in data.items() if key != "type"},
            )
        if type_ == "transcription.delta":
            delta = data.get("delta")
            if not isinstance(delta, str):
                raise ValueError("'delta' must be a string")
            return TextDeltaEvent(text=delta)
        if type_ == "transcription.done":
            text = data.get("text")
            if not isinstance(text, str):
                raise ValueError("'text' must be a string")
            usage: Usage = vllm_usage(data.get("usage"))
            return DoneEvent(text=text, model=self.model, usage=usage)
        if type_ == "error":
            error = data.get("error")
            if isinstance(error, Mapping):
                error = error.get("message", error)
            return RealtimeErrorEvent(message=_error_message(error), code=_code(data.get("code")))
        return None


def _code(code: Any) -> int | str | None:
    if code is None or (isinstance(code, (int, str)) and not isinstance(code, bool)):
        return code
    return str(code)
