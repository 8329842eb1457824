"""The client against the API's own answers, replayed from ``cassettes/test_cassettes``.

Offline these replay cassettes constructed from Mistral's documentation (see
``cassettes/README.md``); with ``MISTRAL_API_KEY`` set and ``--record-mode=rewrite``
the same tests record against the live API. Assertions therefore check what holds
for any real answer (shapes, ordering, words of a known transcript), not the
exact wording of one.
"""

from __future__ import annotations

import pytest

from tests.support.cassette_scenarios import BCN_WEATHER, SCENARIOS
from voxtral_integrations import (
    AsyncVoxtralClient,
    AuthenticationError,
    BadRequestError,
    ChatCompletion,
    ChatCompletionChunk,
    DoneEvent,
    SegmentEvent,
    TextDeltaEvent,
    Transcription,
    VoxtralClient,
)

pytestmark = pytest.mark.vcr


@pytest.fixture
def client(api_key: str) -> VoxtralClient:
    return VoxtralClient(api_key=api_key, max_retries=0)


def run(name: str, client: VoxtralClient) -> object:
    return SCENARIOS[f"test_cassettes/{name}"].run(client)


def test_transcribe_url(client: VoxtralClient) -> None:
    result = run("test_transcribe_url", client)
    assert isinstance(result, Transcription)
    assert result.text.startswith("This week, I traveled to Chicago")
    assert result.segments == []  # none without timestamp_granularities
    assert result.usage.prompt_audio_seconds and result.usage.prompt_audio_seconds > 200


def test_transcribe_url_with_segments(client: VoxtralClient) -> None:
    result = run("test_transcribe_url_with_segments", client)
    assert isinstance(result, Transcription)
    assert len(result.segments) > 10
    starts = [segment.start for segment in result.segments]
    assert all(start is not None for start in starts)
    assert starts == sorted(starts)  # type: ignore[type-var]
    assert all(
        s.start is not None and s.end is not None and s.start < s.end for s in result.segments
    )
    assert result.segments[-1].end == pytest.approx(203, abs=2)
    assert " ".join(s.text for s in result.segments).startswith("This week")


def test_transcribe_upload(client: VoxtralClient) -> None:
    result = run("test_transcribe_upload", client)
    assert isinstance(result, Transcription)
    assert "Barcelona" in result.text
    assert result.usage.prompt_audio_seconds == pytest.approx(11, abs=1)


def test_transcribe_with_context_bias(client: VoxtralClient) -> None:
    result = run("test_transcribe_with_context_bias", client)
    assert isinstance(result, Transcription)
    assert "Barcelona" in result.text


def test_transcribe_diarized_with_null_bounds(client: VoxtralClient) -> None:
    result = run("test_transcribe_diarized_with_null_bounds", client)
    assert isinstance(result, Transcription)
    assert result.segments
    assert all(segment.speaker_id for segment in result.segments)
    # real diarized answers may carry null bounds; they must parse, not crash
    assert all(s.start is None or s.end is None or s.start <= s.end for s in result.segments)


def test_stream_transcription(client: VoxtralClient) -> None:
    events = run("test_stream_transcription", client)
    assert isinstance(events, list)
    assert isinstance(events[-1], DoneEvent)
    assert all(not isinstance(event, DoneEvent) for event in events[:-1])
    deltas = "".join(e.text for e in events if isinstance(e, TextDeltaEvent))
    assert "Barcelona" in deltas
    assert deltas.strip() == events[-1].text.strip()
    segments = [e for e in events if isinstance(e, SegmentEvent)]
    assert segments and all(s.start is not None and s.end is not None for s in segments)


def test_files_signed_url_flow(client: VoxtralClient) -> None:
    result = run("test_files_signed_url_flow", client)
    assert isinstance(result, dict)
    assert result["uploaded"].purpose == "audio"
    assert result["uploaded"].bytes == BCN_WEATHER.stat().st_size
    assert result["signed"].url.startswith("https://")
    assert result["signed"].url not in repr(result["signed"])
    assert "Barcelona" in result["by_url"].text
    assert "Barcelona" in result["by_id"].text
    assert result["deleted"].deleted is True


def test_chat_with_audio(client: VoxtralClient) -> None:
    result = run("test_chat_with_audio", client)
    assert isinstance(result, ChatCompletion)
    assert "Barcelona" in result.text
    assert result.usage.prompt_audio_seconds


def test_chat_with_audio_stream(client: VoxtralClient) -> None:
    chunks = run("test_chat_with_audio_stream", client)
    assert isinstance(chunks, list) and all(isinstance(c, ChatCompletionChunk) for c in chunks)
    text = "".join(str(choice.delta.content or "") for chunk in chunks for choice in chunk.choices)
    assert "Barcelona" in text
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_chat_tool_call_from_audio(client: VoxtralClient) -> None:
    result = run("test_chat_tool_call_from_audio", client)
    assert isinstance(result, ChatCompletion)
    calls = result.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather"
    assert "Barcelona" in str(calls[0].function.arguments)


def test_invalid_api_key() -> None:
    client = VoxtralClient(api_key="not-a-valid-key", max_retries=0)
    with pytest.raises(AuthenticationError) as caught:
        run("test_invalid_api_key", client)
    assert caught.value.status_code == 401
    assert "MISTRAL_API_KEY" in str(caught.value)
    assert "not-a-valid-key" not in str(caught.value)


def test_transcription_with_chat_model_is_refused(client: VoxtralClient) -> None:
    with pytest.raises(BadRequestError) as caught:
        run("test_transcription_with_chat_model_is_refused", client)
    assert caught.value.status_code == 400
    assert "voxtral-small-latest" in caught.value.server_message


@pytest.mark.vcr("test_transcribe_upload.yaml")
async def test_async_client_replays_the_same_answer(api_key: str) -> None:
    async with AsyncVoxtralClient(api_key=api_key, max_retries=0) as client:
        result = await client.transcribe(BCN_WEATHER)
    assert "Barcelona" in result.text


def test_every_scenario_has_a_test() -> None:
    tests = {name for name in globals() if name.startswith("test_")}
    mine = {key.split("/")[1] for key in SCENARIOS if key.startswith("test_cassettes/")}
    assert mine and mine <= tests
