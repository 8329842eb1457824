"""Pure pieces both chat adapters need, so LangChain and LlamaIndex histories agree."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from ._exceptions import InvalidInputError


class ChatOptions(TypedDict):
    """The keyword arguments of ``VoxtralClient.chat`` one adapter call sets."""

    model: str
    tools: list[dict[str, Any]] | None
    tool_choice: str | dict[str, Any] | None
    response_format: dict[str, Any] | None
    temperature: float | None
    max_tokens: int | None
    extra_body: dict[str, Any] | None


def chat_options(
    kwargs: dict[str, Any], *, model: str, temperature: float | None, max_tokens: int | None
) -> ChatOptions:
    """A call's keyword arguments as the core's, over the adapter's own settings;
    the ones the core does not name go in ``extra_body``. ``kwargs`` is consumed."""
    return ChatOptions(
        model=kwargs.pop("model", None) or model,
        tools=kwargs.pop("tools", None),
        tool_choice=kwargs.pop("tool_choice", None),
        response_format=kwargs.pop("response_format", None),
        temperature=kwargs.pop("temperature", temperature),
        max_tokens=kwargs.pop("max_tokens", max_tokens),
        extra_body=kwargs or None,
    )


_TOOL_CALL_ID = re.compile(r"[a-zA-Z0-9]{9}")


def api_tool_call_id(tool_call_id: str | None) -> str:
    """A tool call id the API accepts: 9 letters or digits, the same for the same input.

    Mistral (and vLLM's Mistral tokenizer) refuse other ids, such as the ones other
    providers generate; an assistant's tool call and the tool message answering it
    map alike, in either adapter.
    """
    value = tool_call_id or ""
    if _TOOL_CALL_ID.fullmatch(value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()[:9]


def api_tool_choice(
    choice: str | Mapping[str, Any], tool_names: Sequence[str], force: str
) -> str | dict[str, Any]:
    """A framework's ``tool_choice`` as the API's.

    ``"auto"`` and ``"none"`` pass; ``"any"`` and ``"required"`` force some tool,
    sent as ``force`` (the backend's word: its dialect's ``force_tool_choice``); a
    tool's name forces that tool; a dict is sent as given.
    """
    if isinstance(choice, Mapping):
        return dict(choice)
    if choice in ("auto", "none"):
        return choice
    if choice in ("any", "required"):
        return force
    if choice in tool_names:
        return {"type": "function", "function": {"name": choice}}
    raise InvalidInputError(
        f"tool_choice={choice!r} is not 'auto', 'any', 'required', 'none' or the name of "
        f"a given tool ({', '.join(map(repr, tool_names)) or 'none given'}).",
        argument="tool_choice",
    )
