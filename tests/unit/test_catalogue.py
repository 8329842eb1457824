"""The model catalogue as tables: aliases, options, prices, unknown names, and what a
run's results and estimates compute from them."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable

import pytest

from tests.support.constants import REPO
from voxtral_integrations import (
    CostEstimate,
    FileEstimate,
    IncompleteTranscriptionError,
    InvalidInputError,
    Transcription,
    TranscriptionResult,
    Usage,
    model_info,
)
from voxtral_integrations._catalogue import (
    CATALOGUE,
    DEFAULT_MODEL_LIMITS,
    DEFAULT_REALTIME_CAPABILITIES,
    MODEL_LIMITS,
    REALTIME_MODELS,
    Price,
    audio_cost,
    unsupported_options,
)
from voxtral_integrations._constants import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_REALTIME_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
)
from voxtral_integrations._options import transcription_options
from voxtral_integrations._realtime_protocol import realtime_options

live = functools.partial(realtime_options, encoding="pcm_s16le", sample_rate=16000)
"""A realtime session's options, the audio format fixed."""


@pytest.mark.parametrize(
    ("name", "model", "kind", "generation"),
    [
        ("voxtral-mini-latest", "voxtral-mini-2602", "transcription", "2"),
        ("voxtral-mini-2602", "voxtral-mini-2602", "transcription", "2"),
        ("voxtral-mini-transcribe-latest", "voxtral-mini-transcribe-3-0", "transcription", "3"),
        ("voxtral-mini-transcribe-3", "voxtral-mini-transcribe-3-0", "transcription", "3"),
        ("voxtral-small-latest", "voxtral-small-2507", "chat", "1"),
        ("voxtral-small-transcribe-latest", "voxtral-small-transcribe-3-0", "transcription", "3"),
        (
            "voxtral-mini-transcribe-realtime-latest",
            "voxtral-mini-transcribe-realtime-3-0",
            "realtime",
            "3",
        ),
        (
            "voxtral-mini-transcribe-realtime-2602",
            "voxtral-mini-transcribe-realtime-2602",
            "realtime",
            "2",
        ),
    ],
)
def test_aliases_resolve_to_their_model(name: str, model: str, kind: str, generation: str) -> None:
    info = model_info(name)
    assert (info.model, info.kind, info.generation, info.known) == (model, kind, generation, True)


def test_every_name_is_one_models_and_the_defaults_are_known() -> None:
    names = [name for info in set(CATALOGUE.values()) for name in (info.model, *info.aliases)]
    assert sorted(names) == sorted(CATALOGUE)  # no alias claimed by two models
    for default in (DEFAULT_TRANSCRIPTION_MODEL, DEFAULT_CHAT_MODEL, DEFAULT_REALTIME_MODEL):
        assert model_info(default).known, default
    assert model_info(DEFAULT_CHAT_MODEL).serves("transcription")


@pytest.mark.parametrize(
    ("name", "online", "batch", "verified"),
    [
        ("voxtral-mini-latest", 0.003, 0.0015, False),  # batch: the 50% discount, on trust
        ("voxtral-mini-transcribe-latest", 0.0035, 0.00175, False),  # a third party's figure
        ("voxtral-small-latest", 0.004, 0.002, False),
        ("voxtral-mini-transcribe-realtime-2602", 0.006, None, True),
        ("voxtral-mini-transcribe-realtime-latest", 0.008, None, True),  # moved, at a new price
        ("voxtral-mini-2507", None, None, True),  # retired
    ],
)
def test_prices_per_minute(
    name: str, online: float | None, batch: float | None, verified: bool
) -> None:
    assert model_info(name).price == Price(online=online, batch=batch, verified=verified)


@pytest.mark.parametrize(
    "name", ["mistralai/Voxtral-Mini-3B-2507", "voxtral-mini-transcribe-4-0", "my-served-name"]
)
def test_an_unknown_name_gets_the_documented_defaults_and_no_price(name: str) -> None:
    info = model_info(name)
    assert not info.known and info.model == name
    assert info.limits == DEFAULT_MODEL_LIMITS
    assert info.realtime == DEFAULT_REALTIME_CAPABILITIES
    assert info.price.online is None and info.price.batch is None
    assert audio_cost(name, 600.0) is None
    # every option is sent: the server decides
    transcription_options(model=name, timestamp_granularities=["word"], diarize=False)
    transcription_options(model=name, diarize=True, context_bias=["Voxtral"])


def test_the_limits_and_realtime_tables_are_views_of_the_catalogue() -> None:
    fifteen_minutes = {"voxtral-mini-2507", "voxtral-small-2507", "voxtral-small-latest"}
    assert set(MODEL_LIMITS) == fifteen_minutes
    assert MODEL_LIMITS["voxtral-small-latest"].max_seconds == 15 * 60
    realtime = {name for name, info in CATALOGUE.items() if info.kind == "realtime"}
    assert set(REALTIME_MODELS) == realtime
    assert REALTIME_MODELS["voxtral-mini-transcribe-realtime-latest"].v3_fields
    assert not REALTIME_MODELS["voxtral-mini-transcribe-realtime-2602"].v3_fields


@pytest.mark.parametrize(
    ("model", "options", "argument", "instead"),
    [
        (
            "voxtral-mini-transcribe-latest",
            {"timestamp_granularities": ["word"]},
            "timestamp_granularities",
            "timestamp_granularities=['segment']",
        ),
        (
            "voxtral-small-transcribe-3-0",
            {"timestamp_granularities": ["segment", "word"]},
            "timestamp_granularities",
            "model='voxtral-mini-2602'",
        ),
        (  # a realtime model is refused for files before its options are looked at
            "voxtral-mini-transcribe-realtime-2602",
            {"diarize": True},
            "model",
            "model='voxtral-mini-latest'",
        ),
        (
            "voxtral-mini-transcribe-realtime-latest",
            {},
            "model",
            "(an alias of 'voxtral-mini-transcribe-realtime-3-0') is a realtime model",
        ),
    ],
)
def test_an_option_the_model_cannot_take_is_refused_naming_both_and_the_way_out(
    model: str, options: dict[str, object], argument: str, instead: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        transcription_options(model=model, **options)  # type: ignore[arg-type]
    assert raised.value.argument == argument
    message = str(raised.value)
    assert repr(model) in message and instead in message
    assert (argument in message) or ("timestamp_granularities=['word']" in message)


@pytest.mark.parametrize(
    ("served", "argument", "instead"),
    [
        ({"diarization": False}, "diarize", "drop `diarize`, or use model='voxtral-mini-2602'"),
        (
            {"context_bias": False},
            "context_bias",
            "drop `context_bias`, or use model='voxtral-mini-2602'",
        ),
        ({"diarization": None, "context_bias": None}, None, None),  # not known: the server says
    ],
)
def test_a_row_without_an_option_refuses_it(
    served: dict[str, object], argument: str | None, instead: str | None
) -> None:
    row = dataclasses.replace(model_info("voxtral-mini-transcribe-3-0"), **served)
    refused = unsupported_options(row, word_timestamps=False, diarize=True, context_bias=True)
    assert refused == ([(argument, instead)] if argument else [])


@pytest.mark.parametrize(
    ("check", "model", "refused"),
    [
        (transcription_options, "voxtral-mini-transcribe-realtime-2602", "realtime model"),
        (transcription_options, "mistralai/Voxtral-Mini-3B-2507", None),  # a vLLM served name
        (transcription_options, "voxtral-small-latest", None),  # chats and transcribes
        (live, "voxtral-mini-latest", "model='voxtral-mini-transcribe-realtime"),
        (live, "voxtral-small-2507", "is a chat model, not a realtime one"),
        (live, "voxtral-mini-transcribe-realtime-latest", None),
        (live, "mistralai/Voxtral-Mini-4B-Realtime-2602", None),
    ],
)
def test_a_model_is_used_for_what_it_serves(
    check: Callable[..., object], model: str, refused: str | None
) -> None:
    if refused is None:
        check(model=model)
        return
    with pytest.raises(InvalidInputError, match=re.escape(refused)) as raised:
        check(model=model)
    assert raised.value.argument == "model"


@pytest.mark.parametrize(
    ("model", "options"),
    [
        ("voxtral-mini-transcribe-latest", {"timestamp_granularities": ["segment"]}),
        ("voxtral-mini-transcribe-latest", {"diarize": True, "context_bias": ["Voxtral"]}),
        ("voxtral-mini-latest", {"timestamp_granularities": ["word"]}),
        ("voxtral-mini-2507", {"diarize": True}),  # undocumented either way: the server decides
    ],
)
def test_what_the_model_takes_passes(model: str, options: dict[str, object]) -> None:
    assert transcription_options(model=model, **options).model == model  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("price", "seconds", "batch", "cost"),
    [
        (Price(0.003, 0.0015), 90.0, False, 0.0045),
        (Price(0.003, 0.0015), 90.0, True, 0.00225),
        (Price(0.006, None), 30.0, True, None),
        (Price(None, None), 30.0, False, None),
        (Price(0.003, 0.0015), None, False, None),
    ],
)
def test_a_price_bills_by_the_second(
    price: Price, seconds: float | None, batch: bool, cost: float | None
) -> None:
    assert price.cost(seconds, batch=batch) == pytest.approx(cost)


def _transcription(
    model: str, seconds: float | None, replayed: float | None = None
) -> Transcription:
    return Transcription(
        text="hi",
        model=model,
        usage=Usage(prompt_audio_seconds=seconds),
        replayed_usage=None if replayed is None else Usage(prompt_audio_seconds=replayed),
    )


@pytest.mark.parametrize(
    ("result", "billed", "cost"),
    [
        (TranscriptionResult(0, "a", _transcription("voxtral-mini-2602", 120.0)), 120.0, 0.006),
        (
            TranscriptionResult(0, "a", _transcription("voxtral-mini-2602", 120.0), batch=True),
            120.0,
            0.003,
        ),
        # chunks replayed from the resume cache were paid for by an earlier run
        (
            TranscriptionResult(0, "a", _transcription("voxtral-mini-2602", 120.0, 60.0)),
            60.0,
            0.003,
        ),
        (TranscriptionResult(0, "a", _transcription("served/voxtral", 120.0)), 120.0, None),
        (TranscriptionResult(0, "a", _transcription("voxtral-mini-2602", None)), None, None),
        (
            TranscriptionResult(
                0,
                "a",
                error=IncompleteTranscriptionError(
                    "chunk 1 failed",
                    source="a",
                    failed={1: ValueError()},
                    partial=_transcription("voxtral-mini-2602", 30.0),
                ),
            ),
            30.0,
            0.0015,
        ),
    ],
)
def test_a_result_gives_its_billed_seconds_and_cost(
    result: TranscriptionResult, billed: float | None, cost: float | None
) -> None:
    assert result.billed_seconds == billed
    assert result.cost == pytest.approx(cost)


def test_an_estimate_adds_up_its_files_and_prices_the_overlap() -> None:
    files = (
        FileEstimate("a.mp3", 600.0, 1, 4_800_000, 0.0, converted=False),
        FileEstimate("b.m4a", 3000.0, 4, 96_000_000, 135.0, converted=True),
    )
    info = model_info("voxtral-mini-latest")
    estimate = CostEstimate("voxtral-mini-latest", info.model, info.price, files)
    assert (estimate.files, estimate.chunks, estimate.requests) == (2, 5, 5)
    assert estimate.audio_minutes == 60.0
    assert estimate.upload_bytes == 100_800_000
    assert estimate.billed_seconds == 3735.0
    assert estimate.cost == pytest.approx(0.003 * 3735 / 60)
    assert estimate.batch_cost == pytest.approx(0.0015 * 3735 / 60)
    assert not estimate.price_verified
    unknown = CostEstimate("x", "x", model_info("x").price, files)
    assert unknown.cost is None and unknown.batch_cost is None


def test_the_models_table_of_the_docs_is_the_catalogues() -> None:
    page = (REPO / "docs" / "configuration.md").read_text()
    section = page.split("## Models and cost", 1)[1]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| `")]
    documented = {}
    for cells in rows:
        model = cells[0].split("`")[1]
        online = cells[6].split()[0]
        documented[model] = None if online in ("unknown", "none") else float(online)
    listed = {info.model: info.price.online for info in set(CATALOGUE.values())}
    assert documented == listed


@pytest.mark.parametrize("model", ["", "   ", None, 123])
def test_model_info_refuses_what_is_not_a_model_id(model: object) -> None:
    with pytest.raises(InvalidInputError, match="non-empty model id") as raised:
        model_info(model)  # type: ignore[arg-type]
    assert raised.value.argument == "model"
