"""An answer's content as the adapters read it: text and reasoning, usage, tool calls.

What Mistral's answers look like (``thinking`` parts, usage counts, tool calls
streamed in fragments by index) is known here once; each adapter only builds its
framework's objects from it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._chat_content import arguments_text, received_tool_call_id
from ._models import ToolCall, Usage


def text_and_thinking(content: str | list[dict[str, Any]] | None) -> tuple[str, str]:
    """(text, reasoning) of an answer's content: a string, or a list of parts."""
    if content is None:
        return "", ""
    if isinstance(content, str):
        return content, ""
    text: list[str] = []
    thinking: list[str] = []
    for part in content:
        if part.get("type") == "text":
            text.append(str(part.get("text") or ""))
        elif part.get("type") == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, str):
                thinking.append(inner)
            elif isinstance(inner, list):
                thinking.extend(
                    str(item.get("text") or "") for item in inner if isinstance(item, Mapping)
                )
    return "".join(text), "".join(thinking)


def usage_counts(usage: Usage) -> dict[str, Any]:
    """An answer's usage by the API's names; the audio and cache counts when given."""
    counts: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    }
    if usage.prompt_audio_seconds is not None:
        counts["prompt_audio_seconds"] = usage.prompt_audio_seconds
    if usage.audio_tokens is not None:
        counts["audio_tokens"] = usage.audio_tokens
    if usage.cached_tokens is not None:
        counts["cached_tokens"] = usage.cached_tokens
    return counts


class ToolCallDraft:
    """One tool call of an answer, whole or being assembled from streamed fragments."""

    def __init__(self, call_id: str | None, name: str, arguments: str) -> None:
        self.id = received_tool_call_id(call_id)
        self.name = name
        self.arguments = arguments

    @classmethod
    def of(cls, call: ToolCall) -> ToolCallDraft:
        return cls(call.id, call.function.name, arguments_text(call.function))

    def add(self, fragment: ToolCall) -> None:
        self.name = fragment.function.name or self.name
        if isinstance(fragment.function.arguments, str):
            self.arguments += fragment.function.arguments
        else:  # an object is always whole
            self.arguments = arguments_text(fragment.function)


class ToolCallDrafts:
    """The tool calls of a streamed answer, in order, assembled from their fragments."""

    def __init__(self) -> None:
        self.calls: list[ToolCallDraft] = []
        self._by_index: dict[int, ToolCallDraft] = {}

    def merge(self, fragments: Sequence[ToolCall]) -> None:
        """A fragment continues the call at its ``index``, unless it names another id."""
        for position, fragment in enumerate(fragments):
            index = fragment.index if fragment.index is not None else position
            current = self._by_index.get(index)
            if current is None or (fragment.id and fragment.id != current.id):
                current = ToolCallDraft.of(fragment)  # a new call (whole, or its first piece)
                self._by_index[index] = current
                self.calls.append(current)
            else:
                current.add(fragment)
