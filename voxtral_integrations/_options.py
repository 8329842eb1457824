"""Transcription and chunking options as checked values, without I/O.

Below the public signatures only these values travel: :class:`TranscriptionOptions`
(what one transcription asks of the model) and :class:`ChunkingOptions` (how local
audio is cut and sent). Each is checked once, here, and the names of their fields
are the one table of options (:data:`TRANSCRIPTION_OPTIONS`, :data:`CHUNKING_OPTIONS`)
that the clients, the loaders and the CLI take from.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from ._catalogue import Kind, ModelInfo, model_info, unsupported_options
from ._constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_REALTIME_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    MAX_CONTEXT_BIAS_ITEMS,
    TIMESTAMP_GRANULARITIES,
)
from ._exceptions import (
    InvalidInputError,
)

_LANGUAGE = re.compile(r"[A-Za-z]{2}")
_CONTEXT_BIAS_ITEM = re.compile(r"[^,\s]+")


UploadCodec = Literal["auto", "flac"]
UPLOAD_CODECS: tuple[UploadCodec, ...] = ("auto", "flac")
"""How converted audio is sent: ``"auto"`` keeps a lossless source lossless (FLAC) and
sends a lossy one as Opus near its own bit rate (``_audio.upload_format``); ``"flac"``
sends everything converted as FLAC."""


@dataclass(frozen=True)
class ChunkingOptions:
    """How local audio is cut, sent and kept: the options that are not the model's.

    Checked against a backend's per-request limit by the dialect's
    ``check_chunking`` (which knows the limit), before anything is read or sent.
    """

    max_chunk_seconds: float | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    cache_dir: str | os.PathLike[str] | None = None
    show_progress: bool = False
    upload_codec: UploadCodec = "auto"

    def check(self, *, max_seconds: float, served: str) -> None:
        """Raise ``InvalidInputError`` for a chunk length or concurrency that cannot work.

        Every entry point that sends local audio (the clients, the loaders, the CLI
        through the client, batch submission) checks this before anything is read or
        sent: a ``max_chunk_seconds`` over the backend's per-request limit
        (``max_seconds``, for what ``served`` names) would only come back as a 400
        after the whole upload.
        """
        max_chunk_seconds, concurrency = self.max_chunk_seconds, self.concurrency
        if max_chunk_seconds is not None and (
            isinstance(max_chunk_seconds, bool)
            or not isinstance(max_chunk_seconds, (int, float))
            or not max_chunk_seconds >= 10
        ):
            raise InvalidInputError(
                f"`max_chunk_seconds`={max_chunk_seconds!r} must be a number of seconds >= 10.",
                argument="max_chunk_seconds",
            )
        if max_chunk_seconds is not None and max_chunk_seconds > max_seconds:
            limit = number_text(max_seconds)
            raise InvalidInputError(
                f"`max_chunk_seconds`={number_text(max_chunk_seconds)} is over the {limit} s "
                f"one request to {served} may carry: pass at most {limit}, or leave it "
                "unset (long audio is then split to fit).",
                argument="max_chunk_seconds",
            )
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidInputError(
                f"`concurrency`={concurrency!r} must be a whole number >= 1.",
                argument="concurrency",
            )
        if self.upload_codec not in UPLOAD_CODECS:
            raise InvalidInputError(
                f"`upload_codec`={self.upload_codec!r} must be one of "
                f"{', '.join(map(repr, UPLOAD_CODECS))}.",
                argument="upload_codec",
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
    check_language(language)
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
    if language is not None and (granularities or diarize):
        asked = "diarize" if diarize else "timestamp_granularities"
        raise InvalidInputError(
            f"`language` cannot be combined with `{asked}`: the API rejects the pair. Drop "
            "`language` (the model detects it) or drop the timestamps/diarization.",
            argument="language",
        )
    if diarize and not granularities:
        granularities = ("segment",)  # speaker ids arrive on segments only
    bias = _context_bias(context_bias)
    check_model_kind(model, "transcription")
    _check_model_takes(model, granularities, diarize, bias)
    return TranscriptionOptions(
        model=model,
        language=language.lower() if language else None,
        temperature=float(temperature) if temperature is not None else None,
        timestamp_granularities=granularities,
        diarize=diarize,
        context_bias=bias,
    )


def check_model_kind(model: str, kind: Kind) -> None:
    """Refuse a model the catalogue knows serves other requests than ``kind``, before
    anything is sent: a realtime model given a file, or a file model a live stream,
    would fail only at the server (a model it does not list may serve anything)."""
    info = model_info(model)
    if info.serves(kind):
        return
    if kind == "realtime":
        instead = (
            f"for live audio use model={DEFAULT_REALTIME_MODEL!r} (or another realtime "
            "model), or transcribe the recording as a file with this one"
        )
    else:
        instead = (
            "it transcribes live audio over a WebSocket (client.realtime, stream_realtime, "
            "`voxtral transcribe --realtime`); for a file use model="
            f"{DEFAULT_TRANSCRIPTION_MODEL!r}"
        )
    raise InvalidInputError(
        f"model {_shown(model, info)} is a {info.kind} model, not a {kind} one: {instead}.",
        argument="model",
    )


def _shown(model: str, info: ModelInfo) -> str:
    """``model`` as an error names it: with the model its alias stands for (``info``)."""
    return repr(model) if model == info.model else f"{model!r} (an alias of {info.model!r})"


def _check_model_takes(
    model: str, granularities: tuple[str, ...], diarize: bool, context_bias: tuple[str, ...]
) -> None:
    """Refuse an option the catalogue knows ``model`` cannot take, before anything is sent:
    the server's 400 would come only after the upload (Voxtral 3 dropped word timestamps)."""
    info = model_info(model)
    refused = unsupported_options(
        info,
        word_timestamps="word" in granularities,
        diarize=diarize,
        context_bias=bool(context_bias),
    )
    if refused:
        argument, instead = refused[0]
        asked = "timestamp_granularities=['word']" if "timestamp" in argument else argument
        raise InvalidInputError(
            f"`{asked}` is not supported by model {_shown(model, info)}: {instead}.",
            argument=argument,
        )


def check_language(language: str | None) -> None:
    """Raise ``InvalidInputError`` unless ``language`` is ``None`` or an ISO 639-1 code."""
    if language is not None and (
        not isinstance(language, str) or not _LANGUAGE.fullmatch(language)
    ):
        raise InvalidInputError(
            f"`language`={language!r} is not a two-letter ISO 639-1 code. Use e.g. 'en' or "
            "'fr', or leave it unset to let the model detect the language.",
            argument="language",
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


def number_text(value: float) -> str:
    """``600`` for 600.0, ``12.5`` for 12.5: a number as a message or a form shows it."""
    return repr(value) if value != int(value) else str(int(value))


TRANSCRIPTION_OPTIONS: tuple[str, ...] = tuple(f.name for f in fields(TranscriptionOptions))
"""The transcription options by name: the one table the clients and loaders build from."""
CHUNKING_OPTIONS: tuple[str, ...] = tuple(f.name for f in fields(ChunkingOptions))
"""The chunking options by name."""


def given(arguments: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The ``names`` among ``arguments`` (a public method's ``locals()``), by name.

    A public signature names every option explicitly, for its documentation and
    types; this takes them from it without spelling each one out again.
    """
    return {name: arguments[name] for name in names if name in arguments}
