"""Chat audio content, without I/O: inline audio the chat endpoint can decode.

What is left of the former protocol module once options (``_options``), backends
and requests (``_dialects``), stream events (``_events``) and response bodies
(``_responses``) moved out; framework-neutral chat content is heading for one home.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._audio import chat_audio
from ._constants import (
    ACCEPTED_AUDIO_TYPES,
    CHAT_AUDIO_FORMATS,
)
from ._exceptions import (
    InvalidInputError,
)
from ._redaction import shown_url
from ._sources import sniff_extension

_ACCEPTED_NAMES = frozenset(
    {
        *CHAT_AUDIO_FORMATS,
        *(suffix.lstrip(".") for suffix in ACCEPTED_AUDIO_TYPES),
        *(mime.split("/")[1] for mime in ACCEPTED_AUDIO_TYPES.values()),
        *("mp3", "mpeg3", "x-mpeg-3", "x-wav", "wave", "vnd.wave", "x-flac", "x-ogg"),
    }
)
"""Declared formats, suffixes and MIME subtypes that name a format the chat endpoint takes."""
_DATA_URL = re.compile(r"data:(?P<mime>[^;,]*)(?:;[^;,]*)*;base64,(?P<data>.*)", re.DOTALL)


def accepted_audio(part: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """An ``input_audio`` part whose inline audio the chat endpoint can decode.

    Base64 (or ``data:`` URL) audio that is not wav, mp3, flac, ogg or webm (by its
    first bytes or, when they say nothing, its declared format) is converted to
    FLAC (:func:`chat_audio`); an http(s) URL is the server's to fetch, and audio
    whose content and declared format say nothing is sent as it is.
    """
    audio = part.get("input_audio")
    data, declared = (
        (audio.get("data"), audio.get("format")) if isinstance(audio, Mapping) else (audio, None)
    )
    if not isinstance(data, str) or not data.strip():
        return part  # no audio: the dialect says so
    if data[:5].lower() == "data:":
        inline = _DATA_URL.fullmatch(data)
        if inline is None:
            return part
        data, declared = inline["data"], declared or inline["mime"] or None
    elif ":" in data[:64]:
        return part  # a URL: fetched by the server as it is
    sniffed = _sniffed(data)
    if sniffed in _ACCEPTED_NAMES:
        return part
    if sniffed is None and (declared is None or _format_name(declared) in _ACCEPTED_NAMES):
        return part
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            f"The audio in {where} is not valid base64; pass base64.b64encode(audio).decode().",
            argument="messages",
        ) from None
    sent, audio_format = chat_audio(content, name=where)
    encoded = data if sent is content else base64.b64encode(sent).decode("ascii")
    return {**part, "input_audio": {"data": encoded, "format": audio_format}}


def carries_inline_audio(messages: Sequence[Any]) -> bool:
    """Whether any ``input_audio`` part of ``messages`` holds audio data (not a URL)."""
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        for part in content if isinstance(content, list) else ():
            if isinstance(part, Mapping) and part.get("type") == "input_audio":
                audio = part.get("input_audio")
                data = audio.get("data") if isinstance(audio, Mapping) else audio
                if isinstance(data, str) and not data.lower().startswith(("http://", "https://")):
                    return True
    return False


def _format_name(declared: object) -> str:
    """``audio/x-m4a; codecs=...``, ``.m4a`` or ``M4A`` as ``x-m4a``/``m4a``."""
    return str(declared).split(";", 1)[0].strip().lower().rsplit("/", 1)[-1].lstrip(".")


def _sniffed(data: str) -> str | None:
    head = data[:32]
    try:
        raw = base64.b64decode(head + "=" * (-len(head) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None
    suffix = sniff_extension(raw)
    return suffix.lstrip(".") if suffix else None


def _audio_string(audio: object) -> str:
    """Base64 or a URL the server can fetch; base64 has no ``:``, so a ``:`` marks a URL."""
    if not isinstance(audio, str) or not audio.strip():
        raise InvalidInputError(
            "An `input_audio` content part needs audio: a base64 string, an http(s) URL, or "
            "a signed URL from `get_signed_url`.",
            argument="messages",
        )
    if ":" in audio[:64] and not audio.lower().startswith(("http://", "https://", "data:")):
        raise InvalidInputError(
            f"An `input_audio` content part has the URL {shown_url(audio)!r}, which the "
            "server cannot fetch: pass an http(s) URL, a data: URL, or the audio as base64.",
            argument="messages",
        )
    return audio


def _b64_format(data: str) -> str:
    return _sniffed(data) or "wav"
