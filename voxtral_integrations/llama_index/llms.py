"""``VoxtralLLM``: Voxtral's chat completions (text, audio, tools) as a LlamaIndex LLM.

The LLM is thin over the core client: it turns LlamaIndex ``ChatMessage`` objects
into the core's message dicts (:func:`message_dicts`), calls ``VoxtralClient.chat``
(or the async twin) and maps the answer back (:func:`chat_response`, and a stream
state for streamed chunks). The converters are pure functions.

Each ``AudioBlock`` becomes one ``{"type": "input_audio", "input_audio": ...}``
part, whatever it holds:

- ``audio``: bytes, a base64 string (LlamaIndex stores either as base64) or a
  binary file object;
- ``path``: a local file, read and base64-encoded when the call is made;
- ``url``: an ``http(s)`` URL (the server fetches it) or a ``data:`` URL.

The format comes from the block (``format``, which LlamaIndex guesses from the
data or the file suffix) or is sniffed from the bytes. Audio other than wav, mp3,
flac, ogg or webm (m4a, aac, video...) is converted to FLAC by the core client,
which also puts the part in Mistral's or vLLM's shape for the selected backend.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from io import IOBase
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CitableBlock,
    CitationBlock,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json
from llama_index.core.utils import resolve_binary
from pydantic import Field

from .._adapter_clients import ClosesClients
from .._chat_answers import ToolCallDraft, ToolCallDrafts, text_and_thinking, usage_counts
from .._chat_content import (
    ChatOptions,
    api_tool_call,
    api_tool_call_id,
    api_tool_choice,
    audio_format,
    base64_part,
    chat_options,
    check_choices,
    parse_data_url,
    parsed_arguments,
    sniff_format,
    tool_message,
    url_part,
)
from .._constants import DEFAULT_CHAT_MODEL
from .._dialects import Backend, dialect
from .._exceptions import AudioError, InvalidInputError
from .._models import ChatCompletion, ChatCompletionChunk
from .._redaction import redact_url
from .._sources import AudioUpload, resolve_audio
from ._clients import VoxtralClientFields

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = [
    "VOXTRAL_CONTEXT_WINDOW",
    "VoxtralLLM",
    "api_tool_call_id",
    "audio_part",
    "chat_response",
    "message_dicts",
    "tool_choice_param",
]

VOXTRAL_CONTEXT_WINDOW = 32_768
"""Voxtral's context: 32k tokens (about 30 minutes of audio for understanding)."""

_SEND_INLINE = "pass the audio as `path=` (a local file) or `audio=` instead"
"""What a LlamaIndex user does with audio the server cannot fetch."""
_SYSTEM_ROLES = frozenset({MessageRole.SYSTEM, MessageRole.DEVELOPER})
_ASSISTANT_ROLES = frozenset({MessageRole.ASSISTANT, MessageRole.CHATBOT, MessageRole.MODEL})
_TOOL_ROLES = frozenset({MessageRole.TOOL, MessageRole.FUNCTION})
_LLAMA_INDEX_ONLY = frozenset({"stream", "formatted", "verbose", "allow_parallel_tool_calls"})
"""Keyword arguments LlamaIndex passes along that are not API fields."""


# --------------------------------------------------------------------------- LlamaIndex -> API


def message_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """LlamaIndex chat messages as the core client's message dicts.

    Raises :class:`InvalidInputError` (naming the message and block) for a block
    Voxtral chat cannot take, or audio that cannot be sent; a local audio file
    that cannot be read raises :class:`AudioError`. Nothing is sent.
    """
    if isinstance(messages, (str, ChatMessage)):
        raise InvalidInputError(
            "`messages` must be a list of ChatMessage, e.g. [ChatMessage(role='user', "
            "content='...')]; use `complete` for a single prompt string.",
            argument="messages",
        )
    return [_message_dict(message, f"messages[{index}]") for index, message in enumerate(messages)]


def _message_dict(message: ChatMessage, where: str) -> dict[str, Any]:
    if not isinstance(message, ChatMessage):
        raise InvalidInputError(
            f"{where} is a {type(message).__name__}, not a llama_index ChatMessage.",
            argument="messages",
        )
    role = message.role
    if role == MessageRole.USER:
        return {"role": "user", "content": _user_content(message.blocks, where)}
    if role in _SYSTEM_ROLES:  # Mistral has no "developer" role; it is the system prompt
        return {"role": "system", "content": _text(message.blocks, where)}
    if role in _ASSISTANT_ROLES:
        return _assistant_dict(message, where)
    if role in _TOOL_ROLES:
        call_id = message.additional_kwargs.get("tool_call_id")
        name = message.additional_kwargs.get("name") or message.additional_kwargs.get("tool_name")
        return tool_message(
            _text(message.blocks, where), str(call_id) if call_id else None, name and str(name)
        )
    raise InvalidInputError(  # pragma: no cover - MessageRole has no other members today
        f"{where} has role {role!r}, which Voxtral chat does not take.", argument="messages"
    )


def _assistant_dict(message: ChatMessage, where: str) -> dict[str, Any]:
    calls = [
        api_tool_call(block.tool_call_id, block.tool_name, block.tool_kwargs)
        for block in message.blocks
        if isinstance(block, ToolCallBlock)
    ]
    if not calls:  # LlamaIndex integrations older than ToolCallBlock kept them here
        calls = [
            _legacy_tool_call(call) for call in message.additional_kwargs.get("tool_calls") or []
        ]
    if calls:  # Mistral takes content or tool calls in one assistant message, not both
        return {"role": "assistant", "content": "", "tool_calls": calls}
    return {"role": "assistant", "content": _text(message.blocks, where)}


def _legacy_tool_call(call: Any) -> dict[str, Any]:
    if hasattr(call, "model_dump"):
        call = call.model_dump()
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping):
        raise InvalidInputError(
            f"An assistant message's additional_kwargs['tool_calls'] holds {call!r}; expected "
            "{'id', 'function': {'name', 'arguments'}} (or use ToolCallBlock).",
            argument="messages",
        )
    return api_tool_call(
        call.get("id"), str(function.get("name") or ""), function.get("arguments") or ""
    )


def _text(blocks: Sequence[Any], where: str) -> str:
    """Text-only content as one string, the way ``ChatMessage.content`` joins it."""
    parts: list[str] = []
    for index, block in enumerate(blocks):
        text = _block_text(block, f"{where}.blocks[{index}]", audio_here=False)
        if text is not None:
            parts.append(text)
    return "\n".join(parts)


def _block_text(block: Any, where: str, *, audio_here: bool) -> str | None:
    """The text of a text-bearing block; ``None`` for blocks that carry nothing to send."""
    if isinstance(block, TextBlock):
        return block.text
    if isinstance(block, (CachePoint, ThinkingBlock, ToolCallBlock)):
        return None  # a caching hint, the model's own reasoning, calls: not prompt text
    if isinstance(block, CitableBlock):
        texts = [_block_text(inner, where, audio_here=False) for inner in block.content]
        return "\n".join(text for text in texts if text is not None)
    if isinstance(block, CitationBlock):
        return _block_text(block.cited_content, where, audio_here=False)
    allowed = "text and audio" if audio_here else "only text"
    raise InvalidInputError(
        f"{where} is a {type(block).__name__}; this message may hold {allowed} for Voxtral "
        "chat (audio goes in user messages).",
        argument="messages",
    )


def _user_content(blocks: Sequence[Any], where: str) -> str | list[dict[str, Any]]:
    """Text and audio parts in their order; text alone as one string, like ``.content``."""
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        here = f"{where}.blocks[{index}]"
        if isinstance(block, AudioBlock):
            parts.append(audio_part(block, where=here))
        elif (text := _block_text(block, here, audio_here=True)) is not None:
            parts.append({"type": "text", "text": text})
    if all(part["type"] == "text" for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def audio_part(block: AudioBlock, *, where: str = "the AudioBlock") -> dict[str, Any]:
    """An ``AudioBlock`` as ``{"type": "input_audio", "input_audio": ...}``.

    ``input_audio`` is a URL or base64 string, or OpenAI's ``{"data", "format"}``
    object when the format is known; the core client turns either into the
    backend's shape. A local file is read here. Raises :class:`InvalidInputError`
    for a block without audio, an unsupported format or URL scheme, and
    :class:`AudioError` for a file that cannot be read.
    """
    declared = audio_format(block.format)
    if _has_data(block.audio):
        data = _base64_of(block.audio, where)
    elif block.path is not None:
        data = base64.b64encode(_read_path(block.path, where)).decode("ascii")
    elif block.url is not None and str(block.url):
        url = str(block.url)
        if (inline := parse_data_url(url)) is None:
            return url_part(url, declared, where, _SEND_INLINE)
        data, declared = inline.data, declared or audio_format(inline.mime)
    else:
        raise InvalidInputError(
            f"{where} is an AudioBlock with no audio: set `audio` (bytes or base64), `path` "
            "(a local file) or `url` (http(s) or data:).",
            argument="messages",
        )
    return base64_part(data, declared or sniff_format(data), where)


def _has_data(audio: object) -> bool:
    return audio is not None and not (isinstance(audio, (bytes, str)) and not audio)


def _base64_of(audio: object, where: str) -> str:
    if isinstance(audio, IOBase):
        try:
            if audio.seekable():
                audio.seek(0)
            content = audio.read()
        except (OSError, ValueError) as exc:
            raise AudioError(
                f"{where} holds a file object that cannot be read: {exc}.", source="<file object>"
            ) from exc
        if not isinstance(content, bytes):
            raise InvalidInputError(
                f"{where} holds a text-mode file object; open the audio with 'rb'.",
                argument="messages",
            )
        return base64.b64encode(content).decode("ascii")
    if isinstance(audio, str):
        audio = audio.encode("ascii", errors="replace")
    if not isinstance(audio, bytes):
        raise InvalidInputError(
            f"{where} holds audio of type {type(audio).__name__}; use bytes, a base64 string, "
            "`path=` or `url=`.",
            argument="messages",
        )
    # what AudioBlock itself does: base64 is kept, raw bytes are encoded
    return resolve_binary(raw_bytes=audio, as_base64=True).read().decode("ascii")


def _read_path(path: Path, where: str) -> bytes:
    try:
        upload = resolve_audio(Path(path))
        assert isinstance(upload, AudioUpload)
        return upload.read_all()
    except AudioError as exc:
        raise AudioError(f"{where}: {exc}", source=exc.source) from exc
    except OSError as exc:
        raise AudioError(
            f"{where}: cannot read audio file {str(path)!r}: {exc.strerror or exc}.",
            source=str(path),
        ) from exc


def _needs_io(messages: Sequence[ChatMessage]) -> bool:
    """Whether converting ``messages`` reads files (async calls do that in a thread)."""
    return any(
        isinstance(block, AudioBlock)
        and (block.path is not None or isinstance(block.audio, IOBase))
        for message in messages
        if isinstance(message, ChatMessage)
        for block in message.blocks
    )


def tool_choice_param(
    choice: str | Mapping[str, Any] | None,
    tool_names: Sequence[str],
    *,
    tool_required: bool = False,
    backend: Backend = "mistral",
) -> str | dict[str, Any]:
    """LlamaIndex's ``tool_choice``/``tool_required`` as the API's ``tool_choice``.

    ``None`` is ``"auto"``, or "call some tool" with ``tool_required``; ``"auto"``
    and ``"none"`` pass; ``"any"`` and ``"required"`` force some tool (``"any"`` on
    Mistral, ``"required"`` on vLLM); a tool's name forces that tool; a dict is
    sent as given.
    """
    if choice is None:
        choice = "any" if tool_required else "auto"
    return api_tool_choice(choice, tool_names, dialect(backend).force_tool_choice)


# --------------------------------------------------------------------------- API -> LlamaIndex


def chat_response(completion: ChatCompletion) -> ChatResponse:
    """A chat completion as LlamaIndex's response (the first choice).

    Text becomes a ``TextBlock``, reasoning a ``ThinkingBlock`` and each tool call
    a ``ToolCallBlock``; ``raw`` is the completion, and ``additional_kwargs``
    carries the model, finish reason and usage (tokens, audio seconds).
    """
    check_choices(completion)
    choice = completion.choices[0]
    text, thinking = text_and_thinking(choice.message.content)
    calls = [ToolCallDraft.of(call) for call in choice.message.tool_calls or []]
    additional: dict[str, Any] = {"model": completion.model, "finish_reason": choice.finish_reason}
    additional.update(usage_counts(completion.usage))
    return ChatResponse(
        message=_assistant_message(text, thinking, calls),
        raw=completion,
        additional_kwargs=additional,
    )


def _assistant_message(text: str, thinking: str, calls: Sequence[ToolCallDraft]) -> ChatMessage:
    blocks: list[Any] = []
    if thinking:
        blocks.append(ThinkingBlock(content=thinking))
    if text or not calls:
        blocks.append(TextBlock(text=text))
    blocks.extend(map(_tool_call_block, calls))
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks)


def _tool_call_block(call: ToolCallDraft) -> ToolCallBlock:
    """Arguments that are no JSON object stay the text as received."""
    parsed = parsed_arguments(call.arguments)
    kwargs = call.arguments if isinstance(parsed, str) else parsed
    return ToolCallBlock(tool_call_id=call.id, tool_name=call.name, tool_kwargs=kwargs)


class _StreamState:
    """Accumulates a streamed answer; each chunk that adds something becomes a response."""

    def __init__(self) -> None:
        self.text = ""
        self.thinking = ""
        self.calls = ToolCallDrafts()

    def add(self, chunk: ChatCompletionChunk) -> ChatResponse | None:
        choice = chunk.choices[0] if chunk.choices else None
        additional: dict[str, Any] = {}
        text_delta = ""
        changed = chunk.usage is not None
        if choice is not None:
            text_delta, thinking_delta = text_and_thinking(choice.delta.content)
            self.text += text_delta
            self.thinking += thinking_delta
            if thinking_delta:
                additional["thinking_delta"] = thinking_delta
            self.calls.merge(choice.delta.tool_calls or [])
            if choice.finish_reason:
                additional.update(model=chunk.model, finish_reason=choice.finish_reason)
            changed = changed or bool(
                text_delta or thinking_delta or choice.delta.tool_calls or choice.finish_reason
            )
        if not changed:
            return None
        if chunk.usage is not None:
            additional.update(usage_counts(chunk.usage))
        return ChatResponse(
            message=_assistant_message(self.text, self.thinking, self.calls.calls),
            delta=text_delta,
            raw=chunk,
            additional_kwargs=additional,
        )


# --------------------------------------------------------------------------- the LLM


class VoxtralLLM(ClosesClients, VoxtralClientFields, FunctionCallingLLM):
    """Mistral's Voxtral as a LlamaIndex LLM: text, audio blocks, tools, streaming.

    Example::

        from llama_index.core.llms import AudioBlock, ChatMessage, TextBlock
        from voxtral_integrations.llama_index import VoxtralLLM

        llm = VoxtralLLM()  # reads MISTRAL_API_KEY; model "voxtral-small-latest"
        answer = llm.chat([
            ChatMessage(role="user", blocks=[
                TextBlock(text="What does the caller want?"),
                AudioBlock(path="call.mp3"),
            ])
        ])
        print(answer.message.content, answer.additional_kwargs["prompt_audio_seconds"])

    Audio may be bytes or base64 (``audio=``), a local file (``path=``), or an
    ``http(s)`` or ``data:`` URL (``url=``); audio other than wav, mp3, flac, ogg
    or webm (m4a...) is converted to FLAC before sending. Tools work through
    LlamaIndex's function calling (``chat_with_tools``, ``predict_and_call``, ``FunctionAgent``...).

    Serialises (``to_dict``, ``to_json``) without the key, which is never in the
    ``repr`` either. A key taken from ``MISTRAL_API_KEY`` is never sent to a vLLM
    host. ``with VoxtralLLM() as llm:`` (``async with`` for async calls), or
    ``close()`` / ``aclose()``, releases its connections; it stays usable afterwards.
    """

    model: str = Field(
        default=DEFAULT_CHAT_MODEL,
        description="A chat-capable Voxtral model id or alias (default voxtral-small-latest).",
    )
    temperature: float | None = Field(default=None, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, description="Most tokens to generate.")
    context_window: int = Field(
        default=VOXTRAL_CONTEXT_WINDOW,
        description="Tokens the model takes in (32k for Voxtral); set it for other models.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Other API fields sent with every call (random_seed, stop...).",
    )

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        # checked after pydantic's validation, so the core's typed errors (a missing key,
        # a bad base URL) reach the caller as they are, not wrapped in a ValidationError
        self._client_settings().resolved()

    @classmethod
    def class_name(cls) -> str:
        return "VoxtralLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Works for any model name: no model table to fall out of date."""
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            is_function_calling_model=True,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name == "base_url" and isinstance(value, str):
                value = redact_url(value)
            yield name, value

    def _options(self, kwargs: Mapping[str, Any]) -> ChatOptions:
        """A call's keyword arguments as the core's; unknown ones go in ``extra_body``."""
        extra = {**self.additional_kwargs}
        extra.update((key, value) for key, value in kwargs.items() if key not in _LLAMA_INDEX_ONLY)
        return chat_options(
            extra, model=self.model, temperature=self.temperature, max_tokens=self.max_tokens
        )

    @staticmethod
    async def _amessage_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        if _needs_io(messages):  # reading audio files must not block the event loop
            return await anyio.to_thread.run_sync(message_dicts, messages)
        return message_dicts(messages)

    # ---- chat

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        payload = message_dicts(messages)
        options = self._options(kwargs)
        return chat_response(self._client().chat(payload, **options))

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        payload = await self._amessage_dicts(messages)
        options = self._options(kwargs)
        return chat_response(await self._async_client().chat(payload, **options))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        payload = message_dicts(messages)  # bad input raises here, not on first iteration
        options = self._options(kwargs)
        client = self._client()

        def gen() -> ChatResponseGen:
            state = _StreamState()
            with client.chat(payload, stream=True, **options) as stream:
                for chunk in stream:
                    if (response := state.add(chunk)) is not None:
                        yield response

        return gen()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        payload = await self._amessage_dicts(messages)
        options = self._options(kwargs)
        client = self._async_client()

        async def gen() -> ChatResponseAsyncGen:
            state = _StreamState()
            async with await client.chat(payload, stream=True, **options) as stream:
                async for chunk in stream:
                    if (response := state.add(chunk)) is not None:
                        yield response

        return gen()

    # ---- completion (a one-message chat)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response = self.chat([ChatMessage(role=MessageRole.USER, content=prompt)], **kwargs)
        return _completion(response)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        response = await self.achat([ChatMessage(role=MessageRole.USER, content=prompt)], **kwargs)
        return _completion(response)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        responses = self.stream_chat([ChatMessage(role=MessageRole.USER, content=prompt)], **kwargs)

        def gen() -> CompletionResponseGen:
            for response in responses:
                yield _completion(response)

        return gen()

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        responses = await self.astream_chat(messages, **kwargs)

        async def gen() -> CompletionResponseAsyncGen:
            async for response in responses:
                yield _completion(response)

        return gen()

    # ---- tools

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` arguments for a call with ``tools`` (OpenAI's tool schema).

        ``tool_required`` forces a tool call unless ``tool_choice`` says otherwise;
        ``tool_choice`` may also name one of the tools. Parallel tool calls are asked
        for only with ``allow_parallel_tool_calls``.
        """
        specs = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
        if strict is not None:
            for spec in specs:
                spec["function"]["strict"] = strict
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            names = [spec["function"]["name"] for spec in specs]
            prepared["tools"] = specs
            prepared["tool_choice"] = tool_choice_param(
                tool_choice, names, tool_required=tool_required, backend=self.backend
            )
            prepared["parallel_tool_calls"] = allow_parallel_tool_calls
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Without ``allow_parallel_tool_calls``, keep only the first tool call."""
        if allow_parallel_tool_calls:
            return response
        kept: list[Any] = []
        seen_call = False
        for block in response.message.blocks:
            if isinstance(block, ToolCallBlock):
                if seen_call:
                    continue
                seen_call = True
            kept.append(block)
        response.message.blocks = kept
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The tool calls of a response (also a partial, streamed one) with parsed arguments."""
        blocks = [block for block in response.message.blocks if isinstance(block, ToolCallBlock)]
        if not blocks and error_on_no_tool_call:
            raise ValueError(
                f"Expected at least one tool call, but the model answered with text: "
                f"{(response.message.content or '')[:200]!r}."
            )
        return [
            ToolSelection(
                tool_id=block.tool_call_id or "",
                tool_name=block.tool_name,
                tool_kwargs=_selection_kwargs(block.tool_kwargs),
            )
            for block in blocks
        ]


def _selection_kwargs(arguments: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:  # partial while streaming: parse what has arrived so far
        parsed = parse_partial_json(arguments) if arguments.strip() else {}
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _completion(response: ChatResponse) -> CompletionResponse:
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        additional_kwargs=dict(response.additional_kwargs),
    )
