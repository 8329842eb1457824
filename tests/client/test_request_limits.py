"""A ``max_chunk_seconds`` over the backend's per-request limit is refused before anything is sent.

Every entry point goes through the dialect's ``check_chunking``: the clients (sync and
async, one file, many, streamed, batch), the loaders at construction, and the CLI
through the client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.support.audio_factory import encode, speech_pcm
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_voxtral import FakeVoxtral
from voxtral_integrations import AsyncVoxtralClient, InvalidInputError, VoxtralClient
from voxtral_integrations._catalogue import (
    CATALOGUE,
    DEFAULT_MODEL_LIMITS,
    MODEL_LIMITS,
    ModelLimits,
)
from voxtral_integrations._constants import (
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_TRANSCRIPTION_MODEL,
    VLLM_LIMITS,
)
from voxtral_integrations._dialects import dialect
from voxtral_integrations._options import transcription_options
from voxtral_integrations.cli import main
from voxtral_integrations.langchain import VoxtralLoader, VoxtralParser
from voxtral_integrations.llama_index import VoxtralReader

BASE_URL = "http://127.0.0.1:9/v1"


class Refuse:
    """A transport that fails the test if any request reaches it."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(500)


def clients(backend: str) -> tuple[VoxtralClient, Refuse]:
    refuse = Refuse()
    client = VoxtralClient(
        FAKE_API_KEY,
        base_url=BASE_URL,
        backend=backend,  # type: ignore[arg-type]
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    return client, refuse


def assert_refused(error: InvalidInputError, value: float, limit: float) -> None:
    message = str(error)
    assert error.argument == "max_chunk_seconds"
    assert f"`max_chunk_seconds`={value:g}" in message
    assert f"{limit:g} s" in message and f"at most {limit:g}" in message


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "talk.wav"
    path.write_bytes(encode(speech_pcm([(0.2, 0.8)], 1.0), "wav"))
    return path


CALLS: dict[str, Callable[[VoxtralClient, Path, float], Any]] = {
    "transcribe": lambda c, a, s: c.transcribe(a, max_chunk_seconds=s),
    "transcribe_many": lambda c, a, s: c.transcribe_many([a], max_chunk_seconds=s),
    "stream_transcription": lambda c, a, s: c.stream_transcription(a, max_chunk_seconds=s),
    "submit_batch": lambda c, a, s: c.submit_batch(a, manifest_dir=a.parent, max_chunk_seconds=s),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(
    ("backend", "limit"),
    [("vllm", VLLM_LIMITS.max_seconds), ("mistral", DEFAULT_MODEL_LIMITS.max_seconds)],
)
def test_over_the_limit_is_refused_before_sending(
    wav: Path, call: str, backend: str, limit: float
) -> None:
    if call == "submit_batch" and backend == "vllm":
        pytest.skip("vLLM has no Batch API (refused as unsupported before this check)")
    client, refuse = clients(backend)
    with client, pytest.raises(InvalidInputError) as raised:
        CALLS[call](client, wav, limit + 1)
    assert_refused(raised.value, limit + 1, limit)
    assert refuse.sent == []


def test_the_limit_itself_is_accepted(wav: Path) -> None:
    client, refuse = clients("vllm")
    with client, pytest.raises(Exception) as raised:  # the 500 of the refusing transport
        client.transcribe(wav, max_chunk_seconds=VLLM_LIMITS.max_seconds)
    assert not isinstance(raised.value, InvalidInputError)
    assert len(refuse.sent) >= 1


def test_async_client_refuses_too(wav: Path) -> None:
    async def main_() -> None:
        refuse = Refuse()
        http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
        async with AsyncVoxtralClient(backend="vllm", base_url=BASE_URL, http_client=http) as c:
            with pytest.raises(InvalidInputError) as raised:
                await c.transcribe(wav, max_chunk_seconds=3600)
        await http.aclose()
        assert_refused(raised.value, 3600, VLLM_LIMITS.max_seconds)
        assert refuse.sent == []

    anyio.run(main_)


@pytest.mark.parametrize(
    "make",
    [
        lambda: VoxtralLoader("a.wav", backend="vllm", granularity="file", max_chunk_seconds=3600),
        lambda: VoxtralParser(backend="vllm", granularity="file", max_chunk_seconds=3600),
        lambda: VoxtralReader(backend="vllm", granularity="file", max_chunk_seconds=3600),
        lambda: VoxtralLoader("a.wav", api_key=FAKE_API_KEY, max_chunk_seconds=3601),
    ],
    ids=["loader", "parser", "reader", "loader-mistral"],
)
def test_loaders_refuse_at_construction(make: Callable[[], object]) -> None:
    with pytest.raises(InvalidInputError) as raised:
        make()
    assert raised.value.argument == "max_chunk_seconds"


def test_cli_refuses_before_sending(
    wav: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[httpx.Request] = []
    monkeypatch.setattr(httpx.Client, "send", lambda self, request, **_: sent.append(request))
    flags = ["--backend", "vllm", "--base-url", BASE_URL, "--max-chunk-seconds", "3600"]
    code = main(["transcribe", str(wav), *flags])
    err = capsys.readouterr().err
    assert code != 0
    assert "3600" in err and "at most 1800" in err
    assert sent == []


@pytest.mark.parametrize(
    ("backend", "model", "limit"),
    [
        ("mistral", "voxtral-mini-latest", DEFAULT_MODEL_LIMITS.max_seconds),
        ("mistral", "voxtral-mini-2507", MODEL_LIMITS["voxtral-mini-2507"].max_seconds),
        ("vllm", "voxtral-mini-latest", VLLM_LIMITS.max_seconds),
    ],
)
@pytest.mark.parametrize("diarize", [False, True])
def test_diarized_audio_aims_at_the_model_limit(
    backend: str, model: str, limit: float, diarize: bool
) -> None:
    options = transcription_options(model=model, diarize=diarize)
    plan = dialect(backend).chunk_limits(options, None)
    chosen = dialect(backend).chunk_limits(options, 600.0)
    concurrent = min(DEFAULT_CHUNK_SECONDS, limit)
    assert plan["target_seconds"] == (limit if diarize else concurrent)
    assert plan["max_chunk_seconds"] == limit
    assert chosen["target_seconds"] == chosen["max_chunk_seconds"] == 600.0  # the caller's


@pytest.mark.parametrize(("diarize", "requests"), [(False, 3), (True, 1)])
def test_a_diarized_recording_goes_in_one_request_where_the_model_allows(
    diarize: bool, requests: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # scaled down: a 50 s recording, a 60 s model limit and a 20 s concurrency target
    # stand for 40 minutes, Mistral's 60 and the 15-minute target
    monkeypatch.setattr("voxtral_integrations._dialects.DEFAULT_CHUNK_SECONDS", 20)
    mini = CATALOGUE[DEFAULT_TRANSCRIPTION_MODEL]
    scaled = replace(mini, limits=ModelLimits(60, 25_000_000))
    monkeypatch.setitem(CATALOGUE, DEFAULT_TRANSCRIPTION_MODEL, scaled)  # type: ignore[index]
    regions = [(start, start + 4.0) for start in range(1, 49, 6)]
    fake = FakeVoxtral()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    audio = encode(speech_pcm(regions, 50.0), "wav")
    with VoxtralClient(FAKE_API_KEY, base_url=BASE_URL, http_client=http) as client:
        result = client.transcribe(audio, diarize=diarize, timestamp_granularities="segment")
    assert len(fake.uploads) == requests
    assert len(result.segments) == len(regions)
