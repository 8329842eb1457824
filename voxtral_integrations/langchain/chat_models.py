"""``ChatVoxtral``: Voxtral's chat completions (text, audio, tools) as a LangChain chat model.

The model is thin over the core client: it converts LangChain messages into the
core's message dicts (:func:`message_dicts`), calls ``VoxtralClient.chat`` (or the
async twin) and maps the answer back (:func:`chat_result`, :func:`generation_chunk`).
The converters are pure functions; the audio shapes LangChain users write all
become one ``{"type": "input_audio", "input_audio": ...}`` part, which the core
puts in Mistral's or vLLM's shape for the selected backend.

Audio content blocks accepted in human messages:

- LangChain v1 standard blocks: ``{"type": "audio", "base64": ..., "mime_type": ...}``,
  ``{"type": "audio", "url": ...}`` and ``{"type": "audio", "file_id": ...}``;
- LangChain v0 blocks: ``{"type": "audio", "source_type": "base64" | "url" | "id", ...}``;
- OpenAI's ``{"type": "input_audio", "input_audio": {"data": ..., "format": "wav"}}``;
- Mistral's own ``{"type": "input_audio", "input_audio": "<base64, URL or signed URL>"}``.

Audio data in a format the chat endpoint does not decode (it takes wav, mp3, flac,
ogg and webm), such as ``audio/mp4`` from an m4a, is converted to FLAC by the core
client before sending; a URL is fetched by the server, so its MIME type, when
given, must be one of those.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InputTokenDetails,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolCallChunk,
    ToolMessage,
    UsageMetadata,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, ConfigDict, Field

from .._chat_content import (
    ChatOptions,
    api_tool_call,
    api_tool_choice,
    arguments_text,
    base64_part,
    chat_options,
    check_choices,
    check_fetchable,
    looks_like_url,
    parse_data_url,
    parsed_arguments,
    received_tool_call_id,
    tool_message,
    url_part,
)
from .._chat_content import api_tool_call_id as api_tool_call_id  # as llama_index.llms has it
from .._constants import API_KEY_ENV, DEFAULT_CHAT_MODEL
from .._dialects import Backend, dialect
from .._exceptions import InvalidInputError
from .._models import ChatCompletion, ChatCompletionChunk, Usage
from .._models import ToolCall as APIToolCall
from .._redaction import redact_url
from ._clients import VoxtralClientFields

__all__ = [
    "ChatVoxtral",
    "audio_file_ids",
    "audio_part",
    "chat_result",
    "generation_chunk",
    "message_dicts",
    "tool_choice_param",
]

_PROVIDER = "mistralai"
"""``response_metadata["model_provider"]``: the answers have Mistral's API shape."""

_SEND_INLINE = "send the audio as base64 data instead"
"""What a LangChain user does with audio the server cannot fetch."""
_UNSENDABLE_BLOCKS = frozenset({"image", "video", "file", "text-plain"})
"""LangChain standard blocks Voxtral chat cannot take (it hears audio and reads text)."""


ToolChoice = builtins.dict[str, Any] | str | bool | None


# --------------------------------------------------------------------------- LangChain -> API


def message_dicts(
    messages: Sequence[BaseMessage], *, signed_urls: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """LangChain messages as the core client's message dicts.

    ``signed_urls`` maps the ``file_id`` of audio blocks to a URL the server can
    fetch (``ChatVoxtral`` fills it with ``get_signed_url``); a ``file_id`` missing
    from it raises :class:`InvalidInputError`.
    """
    return [
        _message_dict(message, f"messages[{index}]", signed_urls or {})
        for index, message in enumerate(messages)
    ]


def _message_dict(message: BaseMessage, where: str, signed: Mapping[str, str]) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _text(message.content, where)}
    if isinstance(message, HumanMessage):  # a user `name` is not part of Mistral's schema
        return {"role": "user", "content": _user_content(message.content, where, signed)}
    if isinstance(message, AIMessage):
        return _assistant_dict(message, where)
    if isinstance(message, ToolMessage):
        return tool_message(_text(message.content, where), message.tool_call_id, message.name)
    if isinstance(message, ChatMessage):
        return {"role": message.role, "content": _user_content(message.content, where, signed)}
    raise InvalidInputError(
        f"{where} is a {type(message).__name__}, which Voxtral chat does not take: use "
        "SystemMessage, HumanMessage, AIMessage, ToolMessage or ChatMessage.",
        argument="messages",
    )


def _assistant_dict(message: AIMessage, where: str) -> dict[str, Any]:
    calls = [
        api_tool_call(call.get("id"), call["name"], call["args"]) for call in message.tool_calls
    ] + [
        api_tool_call(bad.get("id"), bad.get("name") or "", bad.get("args") or "")
        for bad in message.invalid_tool_calls
    ]
    if calls:  # Mistral takes content or tool calls in one assistant message, not both
        return {"role": "assistant", "content": "", "tool_calls": calls}
    return {"role": "assistant", "content": _text(message.content, where, lenient=True)}


def _text(content: str | list[str | dict[str, Any]], where: str, *, lenient: bool = False) -> str:
    """Text-only content as one string; with ``lenient`` other blocks are dropped."""
    if isinstance(content, str):
        return content
    parts = []
    for index, block in enumerate(content):
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif not lenient:
            raise InvalidInputError(
                f"{where}.content[{index}] is a {block.get('type')!r} block; this message may "
                "hold only text for Voxtral.",
                argument="messages",
            )
    return "".join(parts)


def _user_content(
    content: str | list[str | dict[str, Any]], where: str, signed: Mapping[str, str]
) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        here = f"{where}.content[{index}]"
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind in ("audio", "input_audio"):
            parts.append(audio_part(block, signed_urls=signed, where=here))
        elif kind in _UNSENDABLE_BLOCKS:
            raise InvalidInputError(
                f"{here} is a {kind!r} block; Voxtral chat takes text and audio only.",
                argument="messages",
            )
        else:  # a provider-native part (e.g. Mistral's own); the server judges it
            parts.append(dict(block))
    return parts


def audio_part(
    block: Mapping[str, Any],
    *,
    signed_urls: Mapping[str, str] | None = None,
    where: str = "the audio block",
) -> dict[str, Any]:
    """Any audio content block as ``{"type": "input_audio", "input_audio": ...}``.

    ``input_audio`` is a string (base64, URL or signed URL) or, when the MIME type
    is known, OpenAI's ``{"data", "format"}`` object; the core client turns either
    into the backend's shape. Raises :class:`InvalidInputError` for a block with
    neither data nor URL, an unsupported MIME type, or an unresolved ``file_id``.
    """
    if block.get("type") == "input_audio":
        audio = block.get("input_audio")
        if isinstance(audio, str) and audio.strip():  # Mistral's own shape, sent as is
            if looks_like_url(audio):
                check_fetchable(audio, where, _SEND_INLINE)
            return {"type": "input_audio", "input_audio": audio}
        if isinstance(audio, Mapping) and _given(audio.get("data")):  # OpenAI's object
            return base64_part(audio["data"], audio.get("format"), where)
        raise _no_audio(block, where)
    source_type = block.get("source_type")  # LangChain v0 blocks have one; v1 blocks do not
    mime = block.get("mime_type")
    data = block.get("data") if source_type == "base64" else block.get("base64")
    url = block.get("url") if source_type in (None, "url") else None
    file_id = block.get("id") if source_type == "id" else block.get("file_id")
    if source_type is not None and source_type not in ("base64", "url", "id"):
        raise InvalidInputError(
            f"{where} has source_type={source_type!r}; audio takes 'base64', 'url' or 'id'.",
            argument="messages",
        )
    if _given(data):
        return base64_part(data, mime, where)
    if _given(url):
        if not isinstance(url, str):
            raise _no_audio(block, where)
        if (inline := parse_data_url(url)) is not None:
            return base64_part(inline.data, mime or inline.mime, where)
        return url_part(url, mime, where, _SEND_INLINE)
    if _given(file_id):
        signed = (signed_urls or {}).get(str(file_id))
        if signed is None:
            raise InvalidInputError(
                f"{where} refers to file_id={file_id!r}, which has no signed URL here; "
                "ChatVoxtral fetches one with `get_signed_url` (Mistral backend only), or "
                "pass a `url` block instead.",
                argument="messages",
            )
        return url_part(signed, mime, where, _SEND_INLINE)
    raise _no_audio(block, where)


def audio_file_ids(messages: Sequence[BaseMessage]) -> list[str]:
    """The ``file_id`` of every audio block that has neither data nor a URL, in order."""
    found: dict[str, None] = {}
    for message in messages:
        if isinstance(message.content, str):
            continue
        for block in message.content:
            if not isinstance(block, dict) or block.get("type") != "audio":
                continue
            source_type = block.get("source_type")
            if source_type == "id" and isinstance(block.get("id"), str):
                found[block["id"]] = None
            elif (
                source_type is None
                and isinstance(block.get("file_id"), str)
                and not _given(block.get("base64"))
                and not _given(block.get("url"))
            ):
                found[block["file_id"]] = None
    return list(found)


def _no_audio(block: Mapping[str, Any], where: str) -> InvalidInputError:
    return InvalidInputError(
        f"{where} has no audio: a block with keys {sorted(block)} needs base64 data "
        "(`base64`, or `data` with source_type='base64'), a `url`, or a `file_id`; "
        "an `input_audio` part needs a non-empty string or {'data', 'format'}.",
        argument="messages",
    )


def _given(value: object) -> bool:
    return value is not None and value != ""


def tool_choice_param(
    choice: ToolChoice, tool_names: Sequence[str], backend: Backend = "mistral"
) -> str | dict[str, Any]:
    """LangChain's ``tool_choice`` as the API's.

    ``"auto"`` and ``"none"`` pass; ``"any"``, ``"required"`` and ``True`` force some
    tool (``"any"`` on Mistral, ``"required"`` on vLLM); a bound tool's name forces
    that tool; a dict is sent as given.
    """
    if choice is True or choice is False:
        choice = "any" if choice else "none"
    if not isinstance(choice, (str, Mapping)):
        raise InvalidInputError(f"tool_choice={choice!r} is not supported.", argument="tool_choice")
    return api_tool_choice(choice, tool_names, dialect(backend).force_tool_choice)


# --------------------------------------------------------------------------- API -> LangChain


def chat_result(completion: ChatCompletion) -> ChatResult:
    """A chat completion as LangChain's result: one ``AIMessage`` per choice."""
    check_choices(completion)
    usage = usage_metadata(completion.usage)
    generations = []
    for choice in completion.choices:
        calls, bad_calls = _tool_calls(choice.message.tool_calls or [])
        metadata = _metadata(completion.model, choice.finish_reason, completion.usage)
        message = AIMessage(
            content=_content(choice.message.content),
            tool_calls=calls,
            invalid_tool_calls=bad_calls,
            usage_metadata=usage,
            response_metadata=metadata,
            id=completion.id or None,
        )
        generations.append(ChatGeneration(message=message))
    return ChatResult(generations=generations)


def generation_chunk(
    chunk: ChatCompletionChunk, *, include_usage: bool = True
) -> ChatGenerationChunk | None:
    """One streamed chunk as LangChain's; ``None`` for a chunk that adds nothing.

    The model name and finish reason are set once, on the chunk that finishes the
    choice; usage (and the audio seconds) on the chunk that carries it, the last.
    """
    choice = chunk.choices[0] if chunk.choices else None
    usage = usage_metadata(chunk.usage) if include_usage and chunk.usage is not None else None
    if choice is None and usage is None:
        return None
    metadata: dict[str, Any] = {"model_provider": _PROVIDER}
    content: str | list[str | dict[str, Any]] = ""
    calls: list[ToolCallChunk] = []
    if choice is not None:
        content = _content(choice.delta.content)
        calls = [
            tool_call_chunk(
                name=call.function.name or None,
                args=arguments_text(call.function) or None,
                id=call.id,
                index=call.index if call.index is not None else position,
            )
            for position, call in enumerate(choice.delta.tool_calls or [])
        ]
        if choice.finish_reason:
            metadata.update(model_name=chunk.model, finish_reason=choice.finish_reason)
    if usage is not None and chunk.usage and chunk.usage.prompt_audio_seconds is not None:
        metadata["prompt_audio_seconds"] = chunk.usage.prompt_audio_seconds
    message = AIMessageChunk(
        content=content,
        tool_call_chunks=calls,
        usage_metadata=usage,
        response_metadata=metadata,
        id=chunk.id or None,
    )
    return ChatGenerationChunk(message=message)


def usage_metadata(usage: Usage) -> UsageMetadata:
    """The API's token counts in LangChain's terms.

    ``input_token_details`` carries the audio and cached prompt tokens when the
    server reports them; the audio *seconds* it bills are not tokens, so they stay
    in ``response_metadata["prompt_audio_seconds"]``.
    """
    metadata = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    )
    details = InputTokenDetails()
    if usage.audio_tokens is not None:
        details["audio"] = usage.audio_tokens
    if usage.cached_tokens is not None:
        details["cache_read"] = usage.cached_tokens
    if details:
        metadata["input_token_details"] = details
    return metadata


def _metadata(model: str, finish_reason: str | None, usage: Usage) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "model_name": model,
        "model_provider": _PROVIDER,
        "finish_reason": finish_reason,
    }
    if usage.prompt_audio_seconds is not None:
        metadata["prompt_audio_seconds"] = usage.prompt_audio_seconds
    return metadata


def _content(value: str | list[dict[str, Any]] | None) -> str | list[str | dict[str, Any]]:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return [dict(part) for part in value]


def _tool_calls(raw: Sequence[APIToolCall]) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    calls: list[ToolCall] = []
    bad: list[InvalidToolCall] = []
    for call in raw:
        arguments = arguments_text(call.function)
        call_id = received_tool_call_id(call.id)
        args = parsed_arguments(arguments)
        if isinstance(args, str):  # why they are no JSON object
            bad.append(
                invalid_tool_call(name=call.function.name, args=arguments, id=call_id, error=args)
            )
        else:
            calls.append(tool_call(name=call.function.name, args=args, id=call_id))
    return calls, bad


# --------------------------------------------------------------------------- the model


class ChatVoxtral(VoxtralClientFields, BaseChatModel):
    """Mistral's Voxtral as a LangChain chat model: text, audio, tools, structured output.

    Example::

                from langchain_core.messages import HumanMessage
        from voxtral_integrations.langchain import ChatVoxtral

        model = ChatVoxtral()  # reads MISTRAL_API_KEY; model "voxtral-small-latest"
        audio = base64.b64encode(open("call.mp3", "rb").read()).decode()
        answer = model.invoke([
            HumanMessage([
                {"type": "text", "text": "What does the caller want?"},
                {"type": "audio", "base64": audio, "mime_type": "audio/mpeg"},
            ])
        ])

    Audio may also be a public ``url`` block, a ``file_id`` block for a file uploaded
    with ``VoxtralClient.upload_file`` (a signed URL, valid one hour, is fetched for
    each call; Mistral backend only), a LangChain v0 block, OpenAI's ``input_audio``
    object or Mistral's ``input_audio`` string. Audio data other than wav, mp3, flac,
    ogg or webm (m4a, aac, video...) is converted to FLAC before sending.

    Serialises without the key (``dumps(model)`` names ``MISTRAL_API_KEY`` instead).
    ``with ChatVoxtral() as model:`` (``async with`` for async calls), or ``close()``
    / ``aclose()``, releases its connections; it stays usable afterwards.
    """

    model: str = Field(default=DEFAULT_CHAT_MODEL, alias="model_name")
    """A chat-capable Voxtral model id or alias (default ``voxtral-small-latest``)."""
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    streaming: bool = False
    """Use the streaming API for ``invoke`` as well."""
    stream_usage: bool = True
    """Attach ``usage_metadata`` to the last chunk of a stream."""

    model_config = ConfigDict(populate_by_name=True)

    @property
    def _llm_type(self) -> str:
        return "voxtral-chat"

    @property
    def lc_secrets(self) -> builtins.dict[str, str]:
        return {"mistral_api_key": API_KEY_ENV}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["voxtral_integrations", "langchain", "chat_models"]

    @property
    def _identifying_params(self) -> builtins.dict[str, Any]:
        params: builtins.dict[str, Any] = {
            "model": self.model,
            "backend": self.backend,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
        }
        if self.base_url:
            params["base_url"] = redact_url(self.base_url)
        return params

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        model = kwargs.get("model")
        params = LangSmithParams(
            ls_provider=dialect(self.backend).ls_provider,
            ls_model_name=model if isinstance(model, str) else self.model,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        if stops := stop or self.stop:
            params["ls_stop"] = stops
        return params

    # ---- calls

    def _options(self, stop: list[str] | None, kwargs: builtins.dict[str, Any]) -> ChatOptions:
        """Split a call's keyword arguments into the core's; the rest go in ``extra_body``."""
        extra = {
            key: value for key, value in kwargs.items() if key not in ("stream", "stream_usage")
        }
        stops = stop if stop is not None else self.stop
        if stops:
            extra["stop"] = list(stops)
        return chat_options(
            extra, model=self.model, temperature=self.temperature, max_tokens=self.max_tokens
        )

    def _messages(self, messages: list[BaseMessage]) -> list[builtins.dict[str, Any]]:
        signed = {
            file_id: self._client().get_signed_url(file_id, expiry=1).url
            for file_id in audio_file_ids(messages)
        }
        return message_dicts(messages, signed_urls=signed)

    async def _amessages(self, messages: list[BaseMessage]) -> list[builtins.dict[str, Any]]:
        signed = {
            file_id: (await self._async_client().get_signed_url(file_id, expiry=1)).url
            for file_id in audio_file_ids(messages)
        }
        return message_dicts(messages, signed_urls=signed)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        options = self._options(stop, kwargs)
        return chat_result(self._client().chat(self._messages(messages), **options))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        options = self._options(stop, kwargs)
        completion = await self._async_client().chat(await self._amessages(messages), **options)
        return chat_result(completion)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        include_usage = kwargs.get("stream_usage", self.stream_usage)
        options = self._options(stop, kwargs)
        with self._client().chat(self._messages(messages), stream=True, **options) as stream:
            for chunk in stream:
                if (generation := generation_chunk(chunk, include_usage=include_usage)) is not None:
                    yield generation

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        include_usage = kwargs.get("stream_usage", self.stream_usage)
        options = self._options(stop, kwargs)
        payload = await self._amessages(messages)
        async with await self._async_client().chat(payload, stream=True, **options) as stream:
            async for chunk in stream:
                if (generation := generation_chunk(chunk, include_usage=include_usage)) is not None:
                    yield generation

    # ---- tools and structured output

    def bind_tools(
        self,
        tools: Sequence[builtins.dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: ToolChoice = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (anything ``convert_to_openai_tool`` takes) to the model.

        ``tool_choice``: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True``
        (call some tool), a bound tool's name (call that one), or the API's dict.
        """
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        if tool_choice is not None:
            names = [tool["function"]["name"] for tool in formatted]
            kwargs["tool_choice"] = tool_choice_param(tool_choice, names, self.backend)
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: builtins.dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, builtins.dict[str, Any] | BaseModel]:
        """Answers parsed into ``schema`` (a Pydantic class, TypedDict or JSON schema).

        ``method="function_calling"`` forces a tool call; ``"json_schema"`` uses the
        API's structured output (``response_format`` with the schema, strict unless
        ``strict=False``); ``"json_mode"`` asks for any JSON object (describe the
        shape in the prompt). With ``include_raw=True`` the result is a dict with
        ``raw``, ``parsed`` and ``parsing_error``.
        """
        if kwargs:
            raise ValueError(f"Received unsupported arguments {kwargs}")
        traced = {"kwargs": {"method": method}, "schema": schema}
        llm: Runnable[LanguageModelInput, AIMessage]
        if method == "json_mode":
            llm = self.bind(
                response_format={"type": "json_object"}, ls_structured_output_format=traced
            )
        elif schema is None:
            raise ValueError(f"method={method!r} needs a `schema`.")
        elif method == "json_schema":
            response_format = _json_schema_format(schema, strict=strict is not False)
            llm = self.bind(response_format=response_format, ls_structured_output_format=traced)
        elif method == "function_calling":
            llm = self.bind_tools(
                [schema], tool_choice="any", strict=strict, ls_structured_output_format=traced
            )
        else:
            raise ValueError(
                f"Unknown method {method!r}: use 'function_calling', 'json_schema' or 'json_mode'."
            )
        parser = _output_parser(schema, tools=method == "function_calling")
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        keep_raw = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks(
            [keep_raw], exception_key="parsing_error"
        )


def _output_parser(
    schema: builtins.dict[str, Any] | type | None, *, tools: bool
) -> Runnable[Any, Any]:
    """Parses the answer into ``schema``: a Pydantic instance, else a dict."""
    pydantic_schema = isinstance(schema, type) and is_basemodel_subclass(schema)
    if tools and schema is not None:
        if pydantic_schema:
            return PydanticToolsParser(tools=[schema], first_tool_only=True)
        name = convert_to_openai_tool(schema)["function"]["name"]
        return JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    if pydantic_schema:
        return PydanticOutputParser(pydantic_object=schema)
    return JsonOutputParser()


def _json_schema_format(schema: builtins.dict[str, Any] | type, *, strict: bool) -> dict[str, Any]:
    """``response_format`` for the API's structured output."""
    function = convert_to_openai_tool(schema, strict=strict)["function"]
    json_schema = {
        "name": function["name"],
        "schema": function.get("parameters", {}),
        "strict": strict,
    }
    if function.get("description"):
        json_schema["description"] = function["description"]
    return {"type": "json_schema", "json_schema": json_schema}
