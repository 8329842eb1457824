"""Transcription option validation (``transcription_options``): fail before sending."""

from __future__ import annotations

import re
from typing import Any

import pytest

from voxtral_integrations import InvalidInputError, VoxtralError
from voxtral_integrations._options import TranscriptionOptions, transcription_options

MODEL = "voxtral-mini-latest"


@pytest.mark.parametrize(
    ("kwargs", "argument", "fix"),
    [
        # ---- model
        pytest.param({"model": ""}, "model", "non-empty", id="model-empty"),
        pytest.param({"model": "   "}, "model", "non-empty", id="model-blank"),
        pytest.param({"model": None}, "model", "non-empty", id="model-none"),
        # ---- language
        pytest.param({"language": "english"}, "language", "'en'", id="language-word"),
        pytest.param({"language": "e"}, "language", "'en'", id="language-one-letter"),
        pytest.param({"language": "en-US"}, "language", "'en'", id="language-bcp47"),
        pytest.param({"language": "eng"}, "language", "'en'", id="language-three-letters"),
        pytest.param({"language": ""}, "language", "'en'", id="language-empty-string"),
        pytest.param({"language": "e1"}, "language", "'en'", id="language-digit"),
        pytest.param({"language": 3}, "language", "'en'", id="language-int"),
        pytest.param({"language": "en\n"}, "language", "'en'", id="language-trailing-newline"),
        # ---- temperature
        pytest.param({"temperature": -0.1}, "temperature", ">= 0", id="temperature-negative"),
        pytest.param({"temperature": "0.2"}, "temperature", ">= 0", id="temperature-string"),
        pytest.param({"temperature": True}, "temperature", ">= 0", id="temperature-bool"),
        pytest.param({"temperature": float("nan")}, "temperature", ">= 0", id="temperature-nan"),
        pytest.param({"temperature": float("inf")}, "temperature", ">= 0", id="temperature-inf"),
        # ---- diarize
        pytest.param({"diarize": "yes"}, "diarize", "True or False", id="diarize-string"),
        pytest.param({"diarize": 1}, "diarize", "True or False", id="diarize-int"),
        pytest.param({"diarize": None}, "diarize", "True or False", id="diarize-none"),
        # ---- timestamp granularities
        pytest.param(
            {"timestamp_granularities": ["segments"]},
            "timestamp_granularities",
            "'segment'",
            id="granularity-plural",
        ),
        pytest.param(
            {"timestamp_granularities": "sentence"},
            "timestamp_granularities",
            "'segment'",
            id="granularity-unknown-string",
        ),
        pytest.param(
            {"timestamp_granularities": ["segment", "Word"]},
            "timestamp_granularities",
            "'word'",
            id="granularity-wrong-case",
        ),
        pytest.param(
            {"timestamp_granularities": 5},
            "timestamp_granularities",
            "list",
            id="granularity-not-a-sequence",
        ),
        # ---- language + timestamps / diarize
        pytest.param(
            {"language": "en", "timestamp_granularities": ["segment"]},
            "language",
            "combined with `timestamp_granularities`: the API rejects the pair. Drop `language`",
            id="language-with-timestamps",
        ),
        pytest.param(
            {"language": "en", "diarize": True},
            "language",
            "combined with `diarize`",  # what was passed, not the timestamps it implies
            id="language-with-diarize",
        ),
        # ---- context bias
        pytest.param(
            {"context_bias": ["farewell address"]}, "context_bias", "'_'", id="bias-space"
        ),
        pytest.param({"context_bias": ["a,b"]}, "context_bias", "'_'", id="bias-comma"),
        pytest.param({"context_bias": [""]}, "context_bias", "non-empty", id="bias-empty-item"),
        pytest.param({"context_bias": ["a\tb"]}, "context_bias", "'_'", id="bias-tab"),
        pytest.param(
            {"context_bias": ["word\n"]}, "context_bias", "'_'", id="bias-trailing-newline"
        ),
        pytest.param({"context_bias": [3]}, "context_bias", "term", id="bias-non-string-item"),
        pytest.param(
            {"context_bias": "Mistral"}, "context_bias", "context_bias=['Mistral']", id="bias-str"
        ),
        pytest.param(
            {"context_bias": [f"w{i}" for i in range(101)]},
            "context_bias",
            "at most 100",
            id="bias-101-items",
        ),
        pytest.param({"context_bias": 5}, "context_bias", "list", id="bias-not-a-sequence"),
    ],
)
def test_bad_input_raises_with_argument_and_fix(
    kwargs: dict[str, Any], argument: str, fix: str
) -> None:
    kwargs = {"model": MODEL, **kwargs}
    with pytest.raises(InvalidInputError) as info:
        transcription_options(**kwargs)
    error = info.value
    assert error.argument == argument
    assert isinstance(error, ValueError)
    assert isinstance(error, VoxtralError)
    assert fix in str(error)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, TranscriptionOptions(model=MODEL), id="defaults"),
        pytest.param({"language": "EN"}, TranscriptionOptions(MODEL, "en"), id="language-lowered"),
        pytest.param({"language": "Fr"}, TranscriptionOptions(MODEL, "fr"), id="language-mixed"),
        pytest.param({"language": None}, TranscriptionOptions(MODEL), id="language-none"),
        pytest.param({"temperature": 0}, TranscriptionOptions(MODEL, temperature=0.0), id="t0"),
        pytest.param(
            {"temperature": 1}, TranscriptionOptions(MODEL, temperature=1.0), id="t-int-to-float"
        ),
        pytest.param(
            {"temperature": 0.7}, TranscriptionOptions(MODEL, temperature=0.7), id="t-float"
        ),
        pytest.param(
            {"timestamp_granularities": "segment"},
            TranscriptionOptions(MODEL, timestamp_granularities=("segment",)),
            id="granularity-string-to-tuple",
        ),
        pytest.param(
            {"timestamp_granularities": ["word", "segment", "word"]},
            TranscriptionOptions(MODEL, timestamp_granularities=("word", "segment")),
            id="granularity-duplicates-removed-order-kept",
        ),
        pytest.param(
            {"timestamp_granularities": ("segment", "segment")},
            TranscriptionOptions(MODEL, timestamp_granularities=("segment",)),
            id="granularity-tuple",
        ),
        pytest.param(
            {"timestamp_granularities": []},
            TranscriptionOptions(MODEL),
            id="granularity-empty-list",
        ),
        pytest.param(
            {"diarize": True, "timestamp_granularities": ["segment"]},
            TranscriptionOptions(MODEL, timestamp_granularities=("segment",), diarize=True),
            id="diarize-with-segments",
        ),
        pytest.param(
            {"context_bias": ["Mistral", "farewell_address", "Voxtral-3"]},
            TranscriptionOptions(MODEL, context_bias=("Mistral", "farewell_address", "Voxtral-3")),
            id="bias-list-to-tuple",
        ),
        pytest.param(
            {"context_bias": ("café", "Zürich")},
            TranscriptionOptions(MODEL, context_bias=("café", "Zürich")),
            id="bias-non-ascii",
        ),
        pytest.param(
            {"context_bias": [f"w{i}" for i in range(100)]},
            TranscriptionOptions(MODEL, context_bias=tuple(f"w{i}" for i in range(100))),
            id="bias-100-items",
        ),
        pytest.param({"context_bias": []}, TranscriptionOptions(MODEL), id="bias-empty-list"),
    ],
)
def test_good_input_is_normalised(kwargs: dict[str, Any], expected: TranscriptionOptions) -> None:
    assert transcription_options(model=MODEL, **kwargs) == expected


def test_context_bias_generator_is_consumed_once() -> None:
    options = transcription_options(model=MODEL, context_bias=(word for word in ["a", "b"]))
    assert options.context_bias == ("a", "b")


def test_language_message_quotes_the_bad_value() -> None:
    with pytest.raises(InvalidInputError, match=re.escape("'english'")):
        transcription_options(model=MODEL, language="english")


def test_first_problem_reported_is_the_model() -> None:
    with pytest.raises(InvalidInputError) as info:
        transcription_options(model="", language="english")
    assert info.value.argument == "model"
