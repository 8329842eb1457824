"""Chat content as the core and both chat adapters read it, written once.

Which audio formats the chat endpoint decodes and what other spellings name them,
``data:`` URLs, which URLs the server can fetch, what inline audio must be
converted first, tool-call ids and the options of one call: a LangChain block, a
LlamaIndex ``AudioBlock`` and a dict given to ``VoxtralClient.chat`` are judged
by the same rules. Each adapter keeps only the reading of its framework's fields
and the advice its users need (``path=`` for LlamaIndex, base64 for LangChain).

Pure: no PyAV, no I/O. Converting audio (PyAV) is the client's, which passes the
converter to :func:`map_audio_parts`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from ._constants import ACCEPTED_AUDIO_TYPES, CHAT_AUDIO_FORMATS
from ._exceptions import APIResponseError, InvalidInputError
from ._models import ChatCompletion, FunctionCall
from ._redaction import shown_url

# --------------------------------------------------------------------------- audio formats

_MIME_OF_FORMAT = {
    audio_format: ACCEPTED_AUDIO_TYPES[f".{audio_format}"] for audio_format in CHAT_AUDIO_FORMATS
}
_FORMAT_OF_MIME = {mime: audio_format for audio_format, mime in _MIME_OF_FORMAT.items()}
_FORMAT_ALIASES = {
    **{suffix[1:]: _FORMAT_OF_MIME[mime] for suffix, mime in ACCEPTED_AUDIO_TYPES.items()},
    **{mime.split("/")[1]: audio_format for mime, audio_format in _FORMAT_OF_MIME.items()},
    **dict.fromkeys(("mpeg3", "x-mpeg-3"), "mp3"),
    **dict.fromkeys(("wave", "x-wav", "vnd.wave"), "wav"),
    "x-flac": "flac",
    "x-ogg": "ogg",
}
"""A format name, file suffix or MIME subtype -> the format name sent (``mpeg`` and
``audio/mp3`` -> ``mp3``, ``opus`` -> ``ogg``, ``x-wav`` -> ``wav``...): the spellings seen
in the wild, ``audio/mp3`` being what LangChain makes of OpenAI's ``mp3``."""

ACCEPTED_AUDIO = ", ".join(
    mime if mime.endswith(f"/{audio_format}") else f"{mime} ({audio_format})"
    for audio_format, mime in _MIME_OF_FORMAT.items()
)
"""What the chat endpoint decodes, for messages: ``audio/wav, audio/mpeg (mp3), ...``."""


def audio_format(declared: object) -> str | None:
    """The format name a format, suffix or MIME type declares; ``None`` when none is.

    ``audio/x-wav; codecs=1``, ``.WAV`` and ``wave`` are ``wav``; a format the
    endpoint does not decode keeps its own name (``audio/mp4`` is ``mp4``): the
    client converts such audio before sending.
    """
    if declared is None or declared == "":
        return None
    normal = str(declared).split(";", 1)[0].strip().lower().rsplit("/", 1)[-1].lstrip(".")
    return _FORMAT_ALIASES.get(normal, normal)


def accepted_format(declared: object) -> str | None:
    """The format name when the chat endpoint decodes what ``declared`` names, else ``None``."""
    name = audio_format(declared)
    return name if name in CHAT_AUDIO_FORMATS else None


def sniff_extension(head: bytes) -> str | None:
    """The container's usual suffix from its first bytes, for content with no name."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ".webm"
    if head[4:8] == b"ftyp":
        return ".m4a"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    return None


def sniff_format(data: str) -> str | None:
    """The format of base64 audio by its first bytes (``m4a`` too); ``None`` when unknown."""
    head = data[:32]
    try:
        raw = base64.b64decode(head + "=" * (-len(head) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None
    suffix = sniff_extension(raw)
    return suffix[1:] if suffix else None


# --------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class DataURL:
    """A base64 ``data:`` URL: its declared MIME type (``None`` when empty) and its data."""

    mime: str | None
    data: str


_DATA_URL = re.compile(
    r"data:(?P<mime>[^;,]*)(?:;[^;,]*)*;base64,(?P<data>.*)", re.DOTALL | re.IGNORECASE
)


def parse_data_url(url: str) -> DataURL | None:
    """The parts of a base64 ``data:`` URL; ``None`` for anything else.

    The MIME type may be empty (``data:;base64,...``, RFC 2397): the audio's first
    bytes then tell its format. A ``data:`` URL that is not base64 is ``None``: no
    server takes percent-encoded audio, so :func:`check_fetchable` refuses it.
    """
    match = _DATA_URL.fullmatch(url)
    if match is None:
        return None
    return DataURL(match["mime"].strip() or None, match["data"])


def looks_like_url(audio: str) -> bool:
    """Whether an ``input_audio`` string is a URL rather than base64 (which has no ``:``)."""
    return ":" in audio[:64]


def check_fetchable(url: str, where: str, advice: str) -> None:
    """Refuse a URL the server cannot take (``file://``, ``ftp://``, a non-base64
    ``data:`` URL...) before anything is sent; ``advice`` says what to send instead."""
    if url.lower().startswith(("http://", "https://")) or parse_data_url(url) is not None:
        return
    raise InvalidInputError(
        f"{where} has url={shown_url(url)!r}, which the server cannot fetch: Voxtral chat "
        f"takes an http(s) URL or a base64 data: URL; {advice}.",
        argument="messages",
    )


def check_url_format(declared: object, where: str, advice: str) -> None:
    """A URL is fetched by the server as it is: the format it declares must be one the
    endpoint decodes (audio data in other formats is converted before sending)."""
    if audio_format(declared) is not None and accepted_format(declared) is None:
        kind = "MIME type" if "/" in str(declared) else "format"
        raise InvalidInputError(
            f"Unsupported audio {kind} {declared!r}: a URL is fetched by the server as it is, "
            f"and Voxtral chat decodes {ACCEPTED_AUDIO} ({where}); {advice}: other formats "
            "are then converted before sending.",
            argument="messages",
        )


# --------------------------------------------------------------------------- input_audio parts


def url_part(url: str, declared: object, where: str, advice: str) -> dict[str, Any]:
    """An http(s) URL (not a ``data:`` one: see :func:`parse_data_url`) as an
    ``input_audio`` part, once the server can fetch it and decode what it declares."""
    check_fetchable(url, where, advice)
    check_url_format(declared, where, advice)
    return {"type": "input_audio", "input_audio": url}


def audio_string(audio: object) -> str:
    """An ``input_audio`` string as sent: base64, or a URL the server can fetch."""
    if not isinstance(audio, str) or not audio.strip():
        raise InvalidInputError(
            "An `input_audio` content part needs audio: a base64 string, an http(s) URL, or "
            "a signed URL from `get_signed_url`.",
            argument="messages",
        )
    if looks_like_url(audio):
        check_fetchable(audio, "An `input_audio` content part", "pass the audio as base64 instead")
    return audio


def base64_part(data: object, declared: object, where: str) -> dict[str, Any]:
    """Base64 audio as an ``input_audio`` part: OpenAI's ``{"data", "format"}`` object
    when a format is declared, else the string (the core sniffs one for vLLM)."""
    if not isinstance(data, str):
        raise InvalidInputError(
            f"{where} carries audio data of type {type(data).__name__}; it must be a base64 "
            "string (base64.b64encode(audio).decode()).",
            argument="messages",
        )
    if not data.strip():
        raise InvalidInputError(f"{where} holds empty audio data.", argument="messages")
    name = audio_format(declared)
    if name is None:
        return {"type": "input_audio", "input_audio": data}
    return {"type": "input_audio", "input_audio": {"data": data, "format": name}}


@dataclass(frozen=True)
class InlineAudio:
    """Audio an ``input_audio`` part carries that the endpoint may not decode."""

    data: str
    """As given: base64, without the ``data:`` prefix."""
    content: bytes


def audio_to_convert(part: Mapping[str, Any], where: str) -> InlineAudio | None:
    """The inline audio of an ``input_audio`` part that must be converted before sending.

    ``None`` for a URL (the server fetches it as it is), for audio whose first bytes
    are wav, mp3, flac, ogg or webm, and for audio whose bytes say nothing and whose
    declared format (if any) is one of those: such audio is sent as it is. Raises
    :class:`InvalidInputError` for audio to convert that is not valid base64.
    """
    audio = part.get("input_audio")
    data, declared = (
        (audio.get("data"), audio.get("format")) if isinstance(audio, Mapping) else (audio, None)
    )
    if not isinstance(data, str) or not data.strip():
        return None  # no audio: the dialect says so
    if looks_like_url(data):
        inline = parse_data_url(data)
        if inline is None:
            return None  # fetched by the server as it is, or refused by the dialect
        data, declared = inline.data, declared or inline.mime
    sniffed = sniff_format(data)
    if accepted_format(sniffed) is not None:
        return None
    if sniffed is None and (declared is None or accepted_format(declared) is not None):
        return None
    try:
        return InlineAudio(data, base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            f"The audio in {where} is not valid base64; pass base64.b64encode(audio).decode().",
            argument="messages",
        ) from None


def converted_part(
    part: Mapping[str, Any], inline: InlineAudio, sent: bytes, sent_format: str
) -> dict[str, Any]:
    """``part`` carrying ``sent`` (the converter's output) in the format it now has."""
    data = inline.data if sent is inline.content else base64.b64encode(sent).decode("ascii")
    return {**part, "input_audio": {"data": data, "format": sent_format}}


def _is_audio_part(part: object) -> bool:
    return isinstance(part, Mapping) and part.get("type") == "input_audio"


def map_audio_parts(
    messages: Sequence[Any], change: Callable[[Mapping[str, Any], str], Mapping[str, Any]]
) -> Sequence[Any]:
    """``messages`` with ``change(part, "messages[i].content[j]")`` applied to every
    ``input_audio`` part. Anything that is not a list of messages is returned as it
    is, for the request builder to refuse with its own message."""
    if isinstance(messages, (str, Mapping)) or not messages:
        return messages
    mapped: list[Any] = []
    for index, message in enumerate(messages):
        if hasattr(message, "model_dump"):
            message = message.model_dump(exclude_none=True)
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list) and any(_is_audio_part(part) for part in content):
            parts = [
                change(part, f"messages[{index}].content[{position}]")
                if _is_audio_part(part)
                else part
                for position, part in enumerate(content)
            ]
            message = {**message, "content": parts}
        mapped.append(message)
    return mapped


def carries_inline_audio(messages: Sequence[Any]) -> bool:
    """Whether any ``input_audio`` part of ``messages`` holds audio data (not a URL)."""
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        for part in content if isinstance(content, list) else ():
            if _is_audio_part(part):
                audio = part.get("input_audio")
                data = audio.get("data") if isinstance(audio, Mapping) else audio
                if isinstance(data, str) and not data.lower().startswith(("http://", "https://")):
                    return True
    return False


# --------------------------------------------------------------------------- tools and options

_TOOL_CALL_ID_LENGTH = 9
_TOOL_CALL_ID = re.compile(rf"[a-zA-Z0-9]{{{_TOOL_CALL_ID_LENGTH}}}")


def api_tool_call_id(tool_call_id: str | None) -> str:
    """A tool call id the API accepts: 9 letters or digits, the same for the same input.

    Mistral (and vLLM's Mistral tokenizer) refuse other ids, such as the ones other
    providers generate; an assistant's tool call and the tool message answering it
    map alike, in either adapter.
    """
    value = tool_call_id or ""
    if _TOOL_CALL_ID.fullmatch(value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()[:_TOOL_CALL_ID_LENGTH]


def received_tool_call_id(call_id: str | None) -> str:
    """The id of a tool call the server answered with; a fresh one (that the API takes
    back) when it gave none, so the framework can pair the call with its result."""
    return call_id or uuid.uuid4().hex[:_TOOL_CALL_ID_LENGTH]


def arguments_text(function: FunctionCall) -> str:
    """A tool call's arguments as JSON text, as the model wrote them (not ASCII-escaped)."""
    arguments = function.arguments
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def parsed_arguments(text: str) -> dict[str, Any] | str:
    """A tool call's arguments as the JSON object they hold (blank text: none), else why
    they hold none: each framework keeps such a call, with its text, for the agent to see."""
    try:
        parsed = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        return str(exc)
    if not isinstance(parsed, dict):
        return f"the arguments are a JSON {type(parsed).__name__}, not an object"
    return parsed


def api_tool_call(call_id: str | None, name: str, arguments: object) -> dict[str, Any]:
    """An assistant's tool call as the API's; arguments that are not text become JSON."""
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if call_id:
        call["id"] = api_tool_call_id(call_id)
    return call


def tool_message(content: str, tool_call_id: str | None, name: str | None) -> dict[str, Any]:
    """A tool's result as the API's ``tool`` message, answering the call ``tool_call_id``."""
    message: dict[str, Any] = {"role": "tool", "content": content}
    if tool_call_id is not None:
        message["tool_call_id"] = api_tool_call_id(tool_call_id)
    if name:
        message["name"] = name
    return message


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


def check_choices(completion: ChatCompletion) -> None:
    """A completion without choices has no answer to map: a server fault, worth a retry."""
    if not completion.choices:
        raise APIResponseError(
            "The chat completion has no choices; retry the request.",
            method="POST",
            url="/chat/completions",
        )
