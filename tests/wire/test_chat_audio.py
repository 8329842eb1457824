"""Chat audio the endpoint cannot decode (m4a...) goes out converted, whichever surface sent it.

The chat endpoint takes wav, mp3, flac, ogg and webm. An m4a made here with PyAV
is sent through the core client (sync, async, both backends), ``ChatVoxtral`` and
``VoxtralLLM`` to a real local server, and what arrived is decoded again: an
accepted format, as long as the original.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import av
import pytest
from langchain_core.messages import HumanMessage
from llama_index.core.llms import AudioBlock, ChatMessage, TextBlock

from tests.support.audio_factory import encode, speech_pcm
from tests.support.chat_server import ChatServer
from tests.support.constants import FAKE_API_KEY
from voxtral_integrations import AsyncVoxtralClient, AudioError, InvalidInputError, VoxtralClient
from voxtral_integrations.langchain import ChatVoxtral
from voxtral_integrations.llama_index import VoxtralLLM

M4A = encode(speech_pcm([(0.3, 1.4), (2.0, 2.9)], 3.2), "m4a")
WAV = encode(speech_pcm([(0.2, 0.8)], 1.0), "wav")


def seconds(audio: bytes) -> tuple[str, float]:
    """The container PyAV finds and the seconds of audio it decodes."""
    with av.open(io.BytesIO(audio)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return container.format.name, samples / stream.rate


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as running:
        yield running


def core_message(audio: Any) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is said?"},
                {"type": "input_audio", "input_audio": audio},
            ],
        }
    ]


def assert_flac_as_long_as_the_m4a(sent: bytes) -> None:
    container, duration = seconds(sent)
    assert sent[:4] == b"fLaC" and container == "flac"
    assert duration == pytest.approx(seconds(M4A)[1], abs=0.03)


def test_the_core_converts_an_m4a_for_mistral(server: ChatServer) -> None:
    with VoxtralClient(FAKE_API_KEY, base_url=server.base_url) as client:
        client.chat(core_message({"data": base64.b64encode(M4A).decode(), "format": "m4a"}))
        client.chat(core_message(base64.b64encode(M4A).decode()))  # undeclared: sniffed
    first, second = server.audio_parts()
    assert isinstance(first, str) and first == second  # Mistral's shape: a base64 string
    assert_flac_as_long_as_the_m4a(base64.b64decode(first))


def test_the_async_core_converts_an_m4a_for_vllm(server: ChatServer) -> None:
    async def main() -> None:
        async with AsyncVoxtralClient(backend="vllm", base_url=server.base_url) as client:
            await client.chat(
                core_message({"data": base64.b64encode(M4A).decode(), "format": "mp4"})
            )

    anyio.run(main)
    (part,) = server.audio_parts()
    assert part["format"] == "flac"  # vLLM's shape: the object, named as what it now is
    assert_flac_as_long_as_the_m4a(base64.b64decode(part["data"]))


def test_accepted_audio_is_sent_unchanged(server: ChatServer) -> None:
    data = base64.b64encode(WAV).decode()
    with VoxtralClient(FAKE_API_KEY, base_url=server.base_url) as client:
        client.chat(core_message(data))
    assert server.audio_parts() == [data]


def test_chat_voxtral_converts_an_audio_mp4_block(server: ChatServer) -> None:
    block = {"type": "audio", "base64": base64.b64encode(M4A).decode(), "mime_type": "audio/mp4"}
    with ChatVoxtral(api_key=FAKE_API_KEY, base_url=server.base_url) as model:
        assert model.invoke([HumanMessage(["what is said?", block])]).content == "ok"
    (part,) = server.audio_parts()
    assert_flac_as_long_as_the_m4a(base64.b64decode(part))


def test_voxtral_llm_converts_an_m4a_file(server: ChatServer, tmp_path: Path) -> None:
    path = tmp_path / "standup.m4a"
    path.write_bytes(M4A)
    message = ChatMessage(role="user", blocks=[TextBlock(text="what?"), AudioBlock(path=path)])
    with VoxtralLLM(api_key=FAKE_API_KEY, base_url=server.base_url) as llm:
        assert llm.chat([message]).message.content == "ok"
    (part,) = server.audio_parts()
    assert_flac_as_long_as_the_m4a(base64.b64decode(part))


def test_audio_too_long_for_one_message_is_refused_naming_it(
    server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("voxtral_integrations._audio.CHAT_MAX_AUDIO_SECONDS", 2)
    block = {"type": "audio", "base64": base64.b64encode(M4A).decode(), "mime_type": "audio/mp4"}
    model = ChatVoxtral(api_key=FAKE_API_KEY, base_url=server.base_url)
    with model, pytest.raises(AudioError) as raised:
        model.invoke([HumanMessage(["what is said?", block])])
    assert "messages[0].content[1]" in str(raised.value) and "at most" in str(raised.value)
    assert raised.value.source == "messages[0].content[1]"
    assert server.chat_bodies == []


def test_undecodable_audio_of_an_unaccepted_type_is_refused_naming_it(server: ChatServer) -> None:
    garbage = base64.b64encode(b"\x00\x01not audio at all" * 20).decode()
    model = ChatVoxtral(api_key=FAKE_API_KEY, base_url=server.base_url)
    with model, pytest.raises(InvalidInputError) as raised:
        model.invoke(
            [HumanMessage([{"type": "audio", "base64": garbage, "mime_type": "audio/aac"}])]
        )
    assert "messages[0].content[0]" in str(raised.value)
    assert server.chat_bodies == []
