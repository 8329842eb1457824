"""VoxtralTranscriptionTool: a path or URL in, ``[HH:MM:SS] text`` lines out, sync and async."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.load import dumps
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from tests.support.audio_factory import encode, speech_pcm
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_voxtral import FakeVoxtral, multipart
from voxtral_integrations import InvalidInputError, UnsupportedFeatureError
from voxtral_integrations.langchain.tools import VoxtralTranscriptionTool

URL = "https://example.com/calls/standup.mp3"
SEGMENTS = [
    {"text": " Good morning.", "start": 0.4, "end": 1.9, "speaker_id": "speaker_1"},
    {"text": " Morning! Shall we start?", "start": 65.2, "end": 67.0, "speaker_id": "speaker_2"},
    {"text": "Yes.", "start": 3725.0, "end": 3726.0, "speaker_id": "speaker_1"},
]


class FakeTranscriptions:
    """The transcription endpoint for URL requests: records the form, answers segments."""

    def __init__(self) -> None:
        self.forms: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form, upload = multipart(request)
        assert upload is None, "these tests send URLs"
        self.forms.append(form)
        diarized = form.get("diarize") == ["true"]
        timed = bool(form.get("timestamp_granularities"))
        segments = [
            {key: value for key, value in s.items() if diarized or key != "speaker_id"}
            for s in SEGMENTS
        ]
        body = {
            "model": form["model"][0],
            "text": "Good morning. Morning! Shall we start? Yes.",
            "language": None,
            "segments": segments if timed else [],
            "usage": {"prompt_audio_seconds": 3726},
        }
        return httpx.Response(200, json=body)


def transcription_tool(fake: Any, **settings: Any) -> VoxtralTranscriptionTool:
    settings.setdefault("api_key", FAKE_API_KEY)
    return VoxtralTranscriptionTool(
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
        **settings,
    )


def test_the_tool_returns_timestamped_lines_for_a_url() -> None:
    fake = FakeTranscriptions()
    text = transcription_tool(fake).invoke({"path_or_url": URL})
    assert text == (
        "[00:00:00] Good morning.\n[00:01:05] Morning! Shall we start?\n[01:02:05] Yes."
    )
    (form,) = fake.forms
    assert form["file_url"] == [URL]
    assert form["model"] == ["voxtral-mini-latest"]
    assert form["timestamp_granularities"] == ["segment"]
    assert "language" not in form and "diarize" not in form


def test_diarize_names_the_speaker_of_each_line() -> None:
    fake = FakeTranscriptions()
    text = transcription_tool(fake).invoke({"path_or_url": URL, "diarize": True})
    assert text.splitlines()[:2] == [
        "[00:00:00] speaker_1: Good morning.",
        "[00:01:05] speaker_2: Morning! Shall we start?",
    ]
    assert fake.forms[0]["diarize"] == ["true"]


def test_a_language_is_dropped_because_the_api_rejects_it_with_timestamps() -> None:
    fake = FakeTranscriptions()
    text = transcription_tool(fake).invoke({"path_or_url": URL, "language": "en"})
    assert "language" not in fake.forms[0]
    assert text.startswith("[00:00:00] Good morning.")


async def test_ainvoke_uses_the_async_client() -> None:
    fake = FakeTranscriptions()
    text = await transcription_tool(fake).ainvoke({"path_or_url": URL, "diarize": True})
    assert text.startswith("[00:00:00] speaker_1: Good morning.")
    assert len(fake.forms) == 1


def test_a_tool_call_gets_a_tool_message_back() -> None:
    call = {
        "type": "tool_call",
        "id": "Ab3De6Gh9",
        "name": "voxtral_transcribe",
        "args": {"path_or_url": URL},
    }
    message = transcription_tool(FakeTranscriptions()).invoke(call)
    assert isinstance(message, ToolMessage)
    assert message.tool_call_id == "Ab3De6Gh9"
    assert str(message.content).startswith("[00:00:00] Good morning.")


def test_a_local_long_recording_keeps_absolute_times(tmp_path: Path) -> None:
    path = tmp_path / "voicemail.wav"
    path.write_bytes(encode(speech_pcm([(1.0, 2.5), (70.0, 72.0)], 75.0), "wav"))
    fake = FakeVoxtral()
    text = transcription_tool(fake, model="voxtral-mini-2507").invoke({"path_or_url": str(path)})
    assert text == "[00:00:01] words 0\n[00:01:10] words 1"


def test_the_vllm_backend_returns_plain_text_and_uses_the_language(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    path = tmp_path / "note.wav"
    path.write_bytes(encode(speech_pcm([(0.5, 1.5)], 2.0), "wav"))
    requests: list[httpx.Request] = []

    def vllm(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"text": " Hola, buenos días.", "usage": {"seconds": 2}})

    tool = VoxtralTranscriptionTool(
        backend="vllm",
        model="mistralai/Voxtral-Mini-3B-2507",
        http_client=httpx.Client(transport=httpx.MockTransport(vllm)),
    )
    assert tool.mistral_api_key is None  # MISTRAL_API_KEY is never sent to a vLLM host
    assert tool.invoke({"path_or_url": str(path), "language": "es"}) == "Hola, buenos días."
    form, _ = multipart(requests[0])
    assert form["language"] == ["es"]
    assert "timestamp_granularities" not in form
    assert "authorization" not in requests[0].headers


def test_the_vllm_backend_refuses_diarization_clearly(tiny_wav: Path) -> None:
    tool = transcription_tool(FakeTranscriptions(), backend="vllm")
    with pytest.raises(UnsupportedFeatureError, match="cannot honour diarize"):
        tool.invoke({"path_or_url": str(tiny_wav), "diarize": True})


def test_a_missing_file_is_a_typed_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mp3"
    with pytest.raises(InvalidInputError, match=r"nowhere\.mp3"):
        transcription_tool(FakeTranscriptions()).invoke({"path_or_url": str(missing)})


def test_the_schema_an_agent_sees() -> None:
    tool: BaseTool = transcription_tool(FakeTranscriptions())
    assert tool.name == "voxtral_transcribe"
    assert "[HH:MM:SS]" in tool.description
    assert "language code is ignored" in tool.description
    schema = tool.get_input_schema().model_json_schema()
    assert schema["required"] == ["path_or_url"]
    assert set(schema["properties"]) == {"path_or_url", "language", "diarize"}
    assert "timestamps" in schema["properties"]["language"]["description"]


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    tool = VoxtralTranscriptionTool()
    assert tool.mistral_api_key is not None
    assert tool.mistral_api_key.get_secret_value() == FAKE_API_KEY


def test_the_key_never_shows_in_repr_str_or_serialisation() -> None:
    tool = transcription_tool(FakeTranscriptions(), base_url="https://api.mistral.ai/v1")
    rendered = [repr(tool), str(tool), dumps(tool), json.dumps(tool.model_dump(), default=str)]
    for text in rendered:
        assert FAKE_API_KEY not in text
