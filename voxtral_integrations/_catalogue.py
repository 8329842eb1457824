"""What each Voxtral model is and can do, as data: the one home of these facts.

Every model id and alias the library knows is a row of :data:`CATALOGUE`: its kind
(transcription, chat, realtime), generation, the limits of one request, the options
it takes (word timestamps, diarization, context bias, streaming delays) and its price
per audio minute, online and through the Batch API. :func:`model_info` resolves an
alias to its model; a name the table does not know (a release newer than this
library, a vLLM served name such as ``mistralai/Voxtral-Mini-3B-2507``) gets
:func:`unknown_model`: the documented defaults, every option allowed (the server
says what it refuses) and no price, so a cost is ``None`` rather than a guess.

Sources (copied here on 2026-12-03, with what they said then):

* Mistral's "Migrate from Voxtral 2" page (docs.mistral.ai/studio/audio/migrate-from-voxtral-2,
  October 2026): the Voxtral 3 ids and aliases, and "Word timestamps are gone.
  ``timestamp_granularities`` accepts ``segment`` only, and ``word`` returns a 400 error."
* Mistral's model cards (platform-docs-public ``src/schema/models/models/*.ts``, August
  2026): Mini Transcribe 2 (``voxtral-mini-2602``) $0.003/min; Realtime 2602 $0.006/min;
  Voxtral Small $0.004/min of audio (plus tokens); ``voxtral-mini-2507`` retired 2026-05-31.
  The 2026-02-04 changelog introduced ``diarize`` and ``context_bias`` with Transcribe 2.
* The Realtime 3 model card (docs.mistral.ai/models/voxtral-mini-transcribe-realtime-3-0,
  2026-10-20, Public Preview): $0.008/min, delays 80-2400 ms, diarization, context bias;
  ``...-realtime-latest`` points there since October 2026 (it meant 2602 in August).
* Mistral's batch page (platform-docs-public ``public/studio-api/batch-processing.md``):
  "We offer a 50% discount on batch API". Whether it covers ``/v1/audio/transcriptions``
  is not stated, so every batch price here is marked unverified.
* Voxtral 3 transcription prices are not published by Mistral. Vercel AI Gateway lists
  0.00005834 and 0.00006667 per second of audio (under a mislabelled unit), about
  $0.0035 and $0.004 a minute for Mini and Small Transcribe 3: unverified.
* Request limits: Mistral's known-limitations page, 60 minutes and 500 MB per
  transcription request (other pages say 3 hours for Transcribe 2: the lower figure is
  the one every model meets); about 15 minutes for the 2507 models (the offline
  transcription FAQ).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ._exceptions import InvalidInputError

Kind = Literal["transcription", "chat", "realtime"]


@dataclass(frozen=True)
class ModelLimits:
    """What one request to a transcription model may carry."""

    max_seconds: float
    max_bytes: int


@dataclass(frozen=True)
class RealtimeCapabilities:
    """What a realtime model accepts in ``session.update``.

    ``delays_ms`` is the range of ``target_streaming_delay_ms``; with ``delay_step_ms``
    only its multiples are accepted, plus ``extra_delays_ms``. ``v3_fields`` says whether
    ``language``, ``context_bias``, ``diarize``, ``speaker_references`` and
    ``turn_detection`` exist (Realtime 3).
    """

    delays_ms: tuple[int, int]
    delay_step_ms: int | None = None
    extra_delays_ms: tuple[int, ...] = ()
    v3_fields: bool = False


@dataclass(frozen=True)
class Price:
    """US dollars per minute of audio; ``None`` where no price is known.

    ``verified`` is ``False`` for a figure read from a third party or derived (the
    Batch API's discount), not from Mistral's own price list for that model.
    """

    online: float | None
    batch: float | None
    verified: bool = True

    def cost(self, seconds: float | None, *, batch: bool = False) -> float | None:
        """US dollars for ``seconds`` of audio, billed by the second; ``None`` where the
        price (or the seconds) is unknown."""
        per_minute = self.batch if batch else self.online
        if per_minute is None or seconds is None:
            return None
        return per_minute * seconds / 60


@dataclass(frozen=True)
class ModelInfo:
    """One model: what it is, what one request may carry, what it takes, what it costs.

    ``model`` is the dated id an alias resolves to; ``known`` is ``False`` for a name
    the catalogue does not list (:func:`unknown_model`). ``None`` for a feature means
    "not known": the option is sent and the server decides.
    """

    model: str
    kind: Kind
    generation: str
    limits: ModelLimits
    price: Price
    word_timestamps: bool | None = None
    diarization: bool | None = None
    context_bias: bool | None = None
    realtime: RealtimeCapabilities | None = None
    also: tuple[Kind, ...] = ()
    """Other kinds of request the model serves (Voxtral Small chats and transcribes)."""
    aliases: tuple[str, ...] = ()
    successor: str | None = None
    """The model to move to where this one lacks something (e.g. word timestamps)."""
    known: bool = True

    def serves(self, kind: Kind) -> bool:
        return kind == self.kind or kind in self.also


DEFAULT_MODEL_LIMITS = ModelLimits(max_seconds=60 * 60, max_bytes=500_000_000)
"""Mistral's known-limitations page: 60 minutes and 500 MB per transcription request.
Other pages say 3 hours for Transcribe 2; the lower figure is the one every model meets."""
_LIMITS_2507 = ModelLimits(max_seconds=15 * 60, max_bytes=500_000_000)

BATCH_DISCOUNT = 0.5
"""The Batch API's price as a fraction of the online one (Mistral's batch page; unverified
for transcription)."""

_REALTIME_2602 = RealtimeCapabilities(
    delays_ms=(80, 1200), delay_step_ms=80, extra_delays_ms=(2400,)
)
_REALTIME_3 = RealtimeCapabilities(delays_ms=(80, 2400), v3_fields=True)
DEFAULT_REALTIME_CAPABILITIES = _REALTIME_3
"""A realtime model not in the table (a newer one) is checked as leniently as Realtime 3:
the server's ``error`` event says what it refuses, and a new model is not blocked here."""


def _batch(online: float) -> float:
    return round(online * BATCH_DISCOUNT, 6)


def _transcriber(
    model: str, generation: str, online: float, *, words: bool, aliases: tuple[str, ...]
) -> ModelInfo:
    """A Transcribe 2 or 3 model: the default limits, diarization and context bias, and a
    Batch API price at the discount (so the row's prices are not all verified)."""
    return ModelInfo(
        model=model,
        kind="transcription",
        generation=generation,
        limits=DEFAULT_MODEL_LIMITS,
        price=Price(online=online, batch=_batch(online), verified=False),
        word_timestamps=words,
        diarization=True,
        context_bias=True,
        aliases=aliases,
    )


def _realtime(
    model: str,
    generation: str,
    online: float,
    capabilities: RealtimeCapabilities,
    *,
    aliases: tuple[str, ...] = (),
    successor: str | None = None,
) -> ModelInfo:
    """A realtime model: diarization and context bias with the v3 session fields; no
    word timestamps (turns carry times) and no Batch API."""
    return ModelInfo(
        model=model,
        kind="realtime",
        generation=generation,
        limits=DEFAULT_MODEL_LIMITS,
        price=Price(online=online, batch=None),
        word_timestamps=False,
        diarization=capabilities.v3_fields,
        context_bias=capabilities.v3_fields,
        realtime=capabilities,
        aliases=aliases,
        successor=successor,
    )


_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        model="voxtral-mini-2507",
        kind="transcription",
        also=("chat",),
        generation="1",
        limits=_LIMITS_2507,
        price=Price(online=None, batch=None),  # retired 2026-05-31: no current price
        word_timestamps=True,
        # diarize and context_bias came with Transcribe 2 (changelog 2026-02-04); whether
        # the 2507 models ignore or refuse them is not documented: the server decides
        successor="voxtral-mini-2602",
    ),
    # online: Mistral's model card; batch: the 50% discount, unverified for audio
    _transcriber("voxtral-mini-2602", "2", 0.003, words=True, aliases=("voxtral-mini-latest",)),
    # both prices: Vercel AI Gateway's, unverified
    _transcriber(
        "voxtral-mini-transcribe-3-0",
        "3",
        0.0035,
        words=False,
        aliases=("voxtral-mini-transcribe-3", "voxtral-mini-transcribe-latest"),
    ),
    ModelInfo(
        model="voxtral-small-2507",
        kind="chat",
        also=("transcription",),
        generation="1",
        limits=_LIMITS_2507,
        price=Price(online=0.004, batch=_batch(0.004), verified=False),  # audio only, + tokens
        word_timestamps=True,
        # diarize and context_bias came with Transcribe 2 (changelog 2026-02-04); whether
        # the 2507 models ignore or refuse them is not documented: the server decides
        aliases=("voxtral-small-latest",),
        successor="voxtral-small-transcribe-3-0",
    ),
    _transcriber(
        "voxtral-small-transcribe-3-0",
        "3",
        0.004,
        words=False,
        aliases=("voxtral-small-transcribe-3", "voxtral-small-transcribe-latest"),
    ),
    # both realtime prices: Mistral's model cards (2602: August 2026; 3: 2026-10-20)
    _realtime(
        "voxtral-mini-transcribe-realtime-2602",
        "2",
        0.006,
        _REALTIME_2602,
        successor="voxtral-mini-transcribe-realtime-3-0",
    ),
    _realtime(
        "voxtral-mini-transcribe-realtime-3-0",
        "3",
        0.008,
        _REALTIME_3,
        aliases=("voxtral-mini-transcribe-realtime-3", "voxtral-mini-transcribe-realtime-latest"),
    ),
)

CATALOGUE: Mapping[str, ModelInfo] = {
    name: info for info in _MODELS for name in (info.model, *info.aliases)
}
"""Every known model id and alias, each to its model's row."""

MODEL_LIMITS: Mapping[str, ModelLimits] = {
    name: info.limits for name, info in CATALOGUE.items() if info.limits != DEFAULT_MODEL_LIMITS
}
"""Per-model limits where the docs give one lower than the default (the 2507 models)."""

REALTIME_MODELS: Mapping[str, RealtimeCapabilities] = {
    name: info.realtime for name, info in CATALOGUE.items() if info.realtime is not None
}
"""Per-model realtime capabilities (2602: the open-weights rule, multiples of 80 up to
1200 plus 2400; Realtime 3: 80-2400 ms and the v3 session fields)."""


def unknown_model(model: str) -> ModelInfo:
    """The documented defaults for a name the catalogue does not list.

    The default limits, every option allowed, no price: a model released after this
    library, or a vLLM served name, works unchanged, and its cost is ``None``.
    """
    return ModelInfo(
        model=model,
        kind="transcription",
        also=("chat", "realtime"),
        generation="unknown",
        limits=DEFAULT_MODEL_LIMITS,
        price=Price(online=None, batch=None, verified=False),
        realtime=DEFAULT_REALTIME_CAPABILITIES,
        known=False,
    )


def model_info(model: str) -> ModelInfo:
    """``model``'s row, an alias resolved; for a name the catalogue does not list, the
    documented defaults (``known=False``, no price, every option allowed).

    Raises:
        InvalidInputError: ``model`` is not a non-empty string.
    """
    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError(
            f"`model`={model!r} must be a non-empty model id, e.g. 'voxtral-mini-latest'.",
            argument="model",
        )
    return CATALOGUE.get(model) or unknown_model(model)


def unsupported_options(
    info: ModelInfo, *, word_timestamps: bool, diarize: bool, context_bias: bool
) -> list[tuple[str, str]]:
    """The options ``info``'s model is known not to take, each with what to do instead."""
    elsewhere = f"use model={info.successor or 'voxtral-mini-2602'!r}"
    refused = []
    if word_timestamps and info.word_timestamps is False:
        refused.append(
            (
                "timestamp_granularities",
                "ask for timestamp_granularities=['segment'] (segment times), or for word "
                f"times {elsewhere}",
            )
        )
    for argument, wanted, served in (
        ("diarize", diarize, info.diarization),
        ("context_bias", context_bias, info.context_bias),
    ):
        if wanted and served is False:
            refused.append((argument, f"drop `{argument}`, or {elsewhere}"))
    return refused


def audio_cost(model: str, seconds: float | None, *, batch: bool = False) -> float | None:
    """US dollars for ``seconds`` of audio sent to ``model`` online (or through the Batch
    API), billed by the second; ``None`` where the price or the seconds are unknown."""
    return model_info(model).price.cost(seconds, batch=batch)
