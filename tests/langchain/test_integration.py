"""LangChain's standard integration suite for ``ChatVoxtral`` (Voxtral Small), on cassettes.

Offline (CI) every test replays its cassette from ``cassettes/test_integration/``
with the network blocked; ``MISTRAL_API_KEY`` is removed and the sentinel key is
used. Live, the same tests talk to Mistral's API and rewrite their cassettes::

    MISTRAL_API_KEY=your-key python -m pytest tests/langchain/test_integration.py \
        --record-mode=rewrite

The cassettes in the repository were *constructed* by a scripted stand-in for the
chat endpoint (``tests/build_integration_cassettes.py``), not recorded: see
``cassettes/README.md``. ``test_audio_inputs`` downloads a WAV from
upload.wikimedia.org; its cassette serves that download too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.utils import function_calling
from langchain_tests.integration_tests import ChatModelIntegrationTests

from tests.support.cassette_support import vcr_config as cassette_vcr_config
from tests.support.constants import recording
from voxtral_integrations.langchain.chat_models import ChatVoxtral

if TYPE_CHECKING:
    from vcr.cassette import Cassette

pytestmark = pytest.mark.vcr

MODEL = "voxtral-small-latest"
USER_AGENT = (
    "voxtral-integrations-tests/1.0 "
    "(https://github.com/voxtral-integrations/voxtral-integrations; langchain-tests audio)"
)
"""Identifies the suite's audio download, per the Wikimedia User-Agent policy."""


@pytest.fixture
def vcr_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    config = cassette_vcr_config()
    if request.node.originalname == "test_stream_time":
        config["allow_playback_repeats"] = True  # the benchmark replays one stream many times
    return config


@pytest.mark.filterwarnings(
    # test_stream_time streams without the benchmark while recording, by the suite's design
    "ignore:Benchmark fixture was not used:pytest_benchmark.logger.PytestBenchmarkWarning"
)
class TestChatVoxtralIntegration(ChatModelIntegrationTests):
    """Voxtral Small through ``ChatVoxtral``: text, audio in, tools, structured output."""

    _api_key: str

    @pytest.fixture(autouse=True)
    def _live_or_replayed(
        self,
        api_key: str,
        request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch,
        vcr: Cassette | None,
    ) -> Iterator[None]:
        # The suite builds the model from `chat_model_params` itself: the project's
        # `api_key` fixture gives the real key while recording and the sentinel otherwise.
        self._api_key = api_key
        monkeypatch.setenv(
            "LANGCHAIN_TESTS_USER_AGENT", os.environ.get("LANGCHAIN_TESTS_USER_AGENT", USER_AGENT)
        )
        if request.node.originalname == "test_structured_few_shot_examples":
            # `tool_example_to_messages` gives each example tool call a random uuid4 id, which
            # would make the request (and its cassette) differ on every run.
            ids = (uuid.UUID(int=index) for index in range(1, 1000))
            monkeypatch.setattr(function_calling, "uuid", SimpleNamespace(uuid4=lambda: next(ids)))
        yield
        if (
            vcr is None
            or recording(request.config)
            or request.node.originalname == "test_stream_time"
        ):
            return  # test_stream_time's benchmark replays its one stream many times
        if not vcr.all_played:
            pytest.fail(
                f"the cassette of {request.node.name} holds {len(vcr)} interactions but the "
                f"test asked for {vcr.play_count}: it is stale; re-record or rebuild it."
            )

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatVoxtral

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # temperature 0, as in ChatMistralAI's standard tests: live runs stay repeatable
        return {"model": MODEL, "api_key": self._api_key, "temperature": 0}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return False  # Voxtral hears audio and reads text; it takes no images

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def enable_vcr_tests(self) -> bool:
        return True  # test_stream_time benchmarks streaming against its cassette

    @property
    def supports_model_override(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        # A dated chat-capable id: the answer's `model` contains it whether the API echoes
        # the request's model or resolves aliases.
        return "voxtral-mini-2507"
