"""The ``/chat/completions`` request, checked and built once for both backends.

Its shape is the same on Mistral and on vLLM except for what the dialect decides
(how an audio part is written, whether a stream asks for its usage), so it is
built here over a :class:`~._dialects.MistralDialect` and never compares backends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._dialects import MistralDialect
from ._exceptions import InvalidInputError
from ._requests import RequestSpec


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
        if dialect.stream_usage_option:
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
