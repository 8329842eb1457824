"""VoxtralLLM: audio blocks, answers, streams, tools, metadata, keys; all offline.

The core client talks to an ``httpx.MockTransport`` that records each request and
answers like Mistral's chat endpoint (JSON, or SSE for streams).
"""

from __future__ import annotations

import base64
import io
import json
import re
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import (
    AudioBlock,
    CacheControl,
    CachePoint,
    ChatMessage,
    ChatResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.callbacks.token_counting import get_tokens_from_response
from llama_index.core.llms import LLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from tests.support.constants import FAKE_API_KEY
from voxtral_integrations import (
    APIResponseError,
    AudioError,
    AuthenticationError,
    ChatCompletion,
    ConfigurationError,
    InvalidInputError,
)
from voxtral_integrations._chat_request import chat_request
from voxtral_integrations._dialects import DIALECTS, Backend
from voxtral_integrations.llama_index.llms import (
    VOXTRAL_CONTEXT_WINDOW,
    VoxtralLLM,
    api_tool_call_id,
    audio_part,
    chat_response,
    message_dicts,
    tool_choice_param,
)


def wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(b"\x00\x00" * 1600)
    return buffer.getvalue()


WAV = wav_bytes()
WAV_B64 = base64.b64encode(WAV).decode()
MP3 = b"ID3\x04\x00\x00\x00\x00\x00#TSSE\x00\x00\x00\x0f\x00\x00\x03Lavf60.3.100\x00" + b"\x00" * 16
MP3_B64 = base64.b64encode(MP3).decode()
WEBM = b"\x1a\x45\xdf\xa3" + b"\x9f\x42\x86\x81\x01" * 6
M4A = b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 24
UNKNOWN = b"not a container we know"
AUDIO_URL = "https://example.com/audio/call.mp3"
SIGNED = "https://files.example/call?se=2026&sig=SIGNED-TOKEN"
USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 8,
    "total_tokens": 128,
    "prompt_audio_seconds": 11.5,
}


def obj(data: str, audio_format: str) -> dict[str, Any]:
    return {"type": "input_audio", "input_audio": {"data": data, "format": audio_format}}


def string(value: str) -> dict[str, Any]:
    return {"type": "input_audio", "input_audio": value}


# --------------------------------------------------------------------------- the fake API


@dataclass
class FakeChat:
    """Mistral's chat endpoint on a MockTransport; one turn per request, the last repeats.

    A turn is an assistant message: answered whole as JSON, or split into deltas
    for a stream (``deltas`` overrides the split).
    """

    turns: list[dict[str, Any]] = field(default_factory=lambda: [{"content": "It rains."}])
    deltas: list[list[dict[str, Any]]] | None = None
    usage_in_own_chunk: bool = False
    usage: dict[str, Any] = field(default_factory=lambda: dict(USAGE))
    status: int = 200
    requests: list[httpx.Request] = field(default_factory=list)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json={"object": "error", "message": "no"})
        turn = len(self.requests) - 1
        message = self.turns[min(turn, len(self.turns) - 1)]
        body = json.loads(request.content)
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        if not body.get("stream"):
            return httpx.Response(
                200,
                json={
                    "id": f"cmpl-{turn}",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", **message},
                            "finish_reason": finish,
                        }
                    ],
                    "usage": self.usage,
                },
            )
        if self.deltas is not None:
            deltas = self.deltas[min(turn, len(self.deltas) - 1)]
        elif message.get("tool_calls"):
            deltas = [{"role": "assistant", "content": ""}, {"tool_calls": message["tool_calls"]}]
        else:
            words = str(message["content"]).split(" ")
            pieces = [word + " " for word in words[:-1]] + words[-1:]
            deltas = [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces]
        frames: list[dict[str, Any]] = [
            {"id": f"c{turn}", "model": body["model"], "choices": [{"index": 0, "delta": delta}]}
            for delta in deltas
        ]
        frames[-1]["choices"][0]["finish_reason"] = finish
        if self.usage_in_own_chunk:  # vLLM's shape: a last chunk with no choices
            frames.append(
                {"id": f"c{turn}", "model": body["model"], "choices": [], "usage": self.usage}
            )
        else:
            frames[-1]["usage"] = self.usage
        sse = "".join(f"data: {json.dumps(frame)}\n\n" for frame in frames) + "data: [DONE]\n\n"
        return httpx.Response(
            200, content=sse.encode(), headers={"content-type": "text/event-stream"}
        )


def make_llm(fake: Callable[[httpx.Request], httpx.Response], **settings: Any) -> VoxtralLLM:
    settings.setdefault("api_key", FAKE_API_KEY)
    return VoxtralLLM(
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
        **settings,
    )


def spoken(audio: AudioBlock, text: str = "What is the weather?") -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text=text), audio])


# --------------------------------------------------------------------------- audio blocks

AudioCase = Callable[[Path], AudioBlock]


def on_disk(name: str, content: bytes) -> AudioCase:
    def build(tmp: Path) -> AudioBlock:
        path = tmp / name
        path.write_bytes(content)
        return AudioBlock(path=path)

    return build


AUDIO_FORMS: list[tuple[str, AudioCase, dict[str, Any]]] = [
    ("raw bytes", lambda _: AudioBlock(audio=WAV), obj(WAV_B64, "wav")),
    ("raw mp3 bytes", lambda _: AudioBlock(audio=MP3), obj(MP3_B64, "mp3")),
    ("base64 bytes", lambda _: AudioBlock(audio=WAV_B64.encode()), obj(WAV_B64, "wav")),
    ("base64 string", lambda _: AudioBlock(audio=WAV_B64), obj(WAV_B64, "wav")),
    ("bytes with format", lambda _: AudioBlock(audio=MP3, format="mp3"), obj(MP3_B64, "mp3")),
    ("format as MIME", lambda _: AudioBlock(audio=MP3, format="audio/mpeg"), obj(MP3_B64, "mp3")),
    ("format 'mpeg'", lambda _: AudioBlock(audio=MP3, format="MPEG"), obj(MP3_B64, "mp3")),
    (
        "format 'opus'",
        lambda _: AudioBlock(audio=b"OggS\x00", format="opus"),
        obj("T2dnUwA=", "ogg"),
    ),
    (
        "sniffed webm",
        lambda _: AudioBlock(audio=WEBM),
        obj(base64.b64encode(WEBM).decode(), "webm"),
    ),
    (
        "no format anywhere",
        lambda _: AudioBlock(audio=UNKNOWN),
        string(base64.b64encode(UNKNOWN).decode()),
    ),
    ("file object", lambda _: AudioBlock(audio=io.BytesIO(WAV)), obj(WAV_B64, "wav")),
    ("path .wav", on_disk("note.wav", WAV), obj(WAV_B64, "wav")),
    ("path .mp3", on_disk("memo.mp3", MP3), obj(MP3_B64, "mp3")),
    ("path without suffix", on_disk("recording", WAV), obj(WAV_B64, "wav")),
    ("http URL", lambda _: AudioBlock(url=AUDIO_URL), string(AUDIO_URL)),
    ("URL with format", lambda _: AudioBlock(url=AUDIO_URL, format="mp3"), string(AUDIO_URL)),
    ("signed URL", lambda _: AudioBlock(url=SIGNED), string(SIGNED)),
    ("data URL", lambda _: AudioBlock(url=f"data:audio/wav;base64,{WAV_B64}"), obj(WAV_B64, "wav")),
    (
        "data URL without MIME",
        lambda _: AudioBlock(url=f"data:;base64,{MP3_B64}"),
        obj(MP3_B64, "mp3"),
    ),
]


@pytest.mark.parametrize(
    ("build", "expected"),
    [case[1:] for case in AUDIO_FORMS],
    ids=[case[0] for case in AUDIO_FORMS],
)
def test_every_audio_block_form_becomes_one_input_audio_part(
    tmp_path: Path, build: AudioCase, expected: dict[str, Any]
) -> None:
    assert audio_part(build(tmp_path)) == expected


@pytest.mark.parametrize(
    ("build", "expected"),
    [case[1:] for case in AUDIO_FORMS],
    ids=[case[0] for case in AUDIO_FORMS],
)
@pytest.mark.parametrize("backend", ["mistral", "vllm"])
def test_chat_sends_every_form_in_the_backends_shape(
    tmp_path: Path, backend: Backend, build: AudioCase, expected: dict[str, Any]
) -> None:
    fake = FakeChat()
    llm = make_llm(fake, backend=backend)
    answer = llm.chat([spoken(build(tmp_path))])
    assert answer.message.content == "It rains."
    (body,) = fake.bodies
    text, sent = body["messages"][0]["content"]
    assert text == {"type": "text", "text": "What is the weather?"}
    given = expected["input_audio"]
    data = given["data"] if isinstance(given, dict) else given
    if backend == "mistral":
        assert sent == {"type": "input_audio", "input_audio": data}
    elif data.startswith("https://"):
        assert sent == {"type": "audio_url", "audio_url": {"url": data}}
    else:
        assert sent["type"] == "input_audio"
        assert sent["input_audio"]["data"] == data
        assert sent["input_audio"]["format"] == (
            given["format"] if isinstance(given, dict) else "wav"  # the core's fallback
        )


def test_audio_and_text_keep_their_order_and_text_only_messages_stay_strings() -> None:
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
        ChatMessage(
            role=MessageRole.USER,
            blocks=[
                AudioBlock(audio=WAV),
                TextBlock(text="Compare with:"),
                AudioBlock(url=AUDIO_URL),
                CachePoint(cache_control=CacheControl(type="ephemeral")),
            ],
        ),
        ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text="a"), TextBlock(text="b")]),
    ]
    assert message_dicts(messages) == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                obj(WAV_B64, "wav"),
                {"type": "text", "text": "Compare with:"},
                string(AUDIO_URL),
            ],
        },
        {"role": "user", "content": "a\nb"},  # joined as ChatMessage.content joins them
    ]


def test_the_file_is_read_when_the_call_is_made(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(WAV)
    block = AudioBlock(path=path)
    path.write_bytes(MP3)  # changed after the block was made
    assert audio_part(block) == obj(MP3_B64, "wav")  # the block's format, the file's bytes


# --------------------------------------------------------------------------- bad audio


def missing_file(tmp: Path) -> AudioBlock:
    path = tmp / "gone.wav"
    path.write_bytes(WAV)
    block = AudioBlock(path=path)
    path.unlink()
    return block


def empty_file(tmp: Path) -> AudioBlock:
    path = tmp / "empty.wav"
    path.write_bytes(b"")
    return AudioBlock(path=path)


BAD_AUDIO: list[tuple[str, AudioCase, type[Exception], str]] = [
    ("no audio", lambda _: AudioBlock(), InvalidInputError, "AudioBlock with no audio"),
    ("empty bytes", lambda _: AudioBlock(audio=b""), InvalidInputError, "with no audio"),
    (
        "empty file object",
        lambda _: AudioBlock(audio=io.BytesIO()),
        InvalidInputError,
        "empty audio data",
    ),
    (
        "text file object",
        lambda _: AudioBlock(audio=io.StringIO("RIFF")),
        InvalidInputError,
        "text-mode file object",
    ),
    (
        "m4a URL",
        lambda _: AudioBlock(url="https://example.com/a.m4a"),
        InvalidInputError,
        "format 'm4a': a URL is fetched by the server as it is",
    ),
    (
        "file URL",
        lambda _: AudioBlock(url="file:///srv/audio/call.wav"),
        InvalidInputError,
        "url='file:///srv/audio/call.wav'",
    ),
    ("missing file", missing_file, AudioError, "gone.wav"),
    ("empty file", empty_file, AudioError, "empty.wav"),
]


@pytest.mark.parametrize(
    ("build", "error", "named"),
    [case[1:] for case in BAD_AUDIO],
    ids=[case[0] for case in BAD_AUDIO],
)
def test_unusable_audio_raises_a_typed_error_naming_the_value_and_the_block(
    tmp_path: Path, build: AudioCase, error: type[Exception], named: str
) -> None:
    with pytest.raises(error) as caught:
        message_dicts([ChatMessage(role="system", content="s"), spoken(build(tmp_path))])
    assert named in str(caught.value)
    assert "messages[1].blocks[1]" in str(caught.value)


def test_a_signed_url_with_an_unusable_scheme_is_named_without_its_token() -> None:
    block = AudioBlock(url="ftp://files.example/call.wav?sig=SECRET-TOKEN")
    with pytest.raises(InvalidInputError) as caught:
        audio_part(block)
    assert "ftp://files.example/call.wav" in str(caught.value)
    assert "SECRET-TOKEN" not in str(caught.value)


NOT_SENDABLE = [
    (spoken(AudioBlock(audio=WAV)).model_copy(update={"role": MessageRole.SYSTEM}), "only text"),
    (
        ChatMessage(role="user", blocks=[TextBlock(text="see"), ImageBlock(image=b"\x89PNG")]),
        "is a ImageBlock; this message may hold text and audio",
    ),
    (
        ChatMessage(role="assistant", blocks=[AudioBlock(audio=WAV)]),
        "is a AudioBlock; this message may hold only text",
    ),
]


@pytest.mark.parametrize(("message", "named"), NOT_SENDABLE)
def test_blocks_voxtral_chat_cannot_take_are_refused(message: ChatMessage, named: str) -> None:
    with pytest.raises(InvalidInputError, match="messages\\[0\\]") as caught:
        message_dicts([message])
    assert named in str(caught.value)


CALLS = {
    "chat": lambda llm, messages: llm.chat(messages),
    "stream_chat": lambda llm, messages: llm.stream_chat(messages),
}
ACALLS = {
    "achat": lambda llm, messages: llm.achat(messages),
    "astream_chat": lambda llm, messages: llm.astream_chat(messages),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_bad_input_raises_before_any_request(tmp_path: Path, call: Any) -> None:
    fake = FakeChat()
    llm = make_llm(fake)
    for build in (case[1] for case in BAD_AUDIO):
        with pytest.raises(InvalidInputError):
            call(llm, [spoken(build(tmp_path))])
    with pytest.raises(InvalidInputError, match="non-empty list"):
        list(call(llm, [])) if call is CALLS["stream_chat"] else call(llm, [])
    assert fake.requests == []


@pytest.mark.parametrize("call", ACALLS.values(), ids=ACALLS.keys())
async def test_bad_input_raises_before_any_request_async(tmp_path: Path, call: Any) -> None:
    fake = FakeChat()
    llm = make_llm(fake)
    for build in (case[1] for case in BAD_AUDIO):
        with pytest.raises(InvalidInputError):
            await call(llm, [spoken(build(tmp_path))])
    assert fake.requests == []


def test_bad_settings_raise_before_any_request() -> None:
    fake = FakeChat()
    llm = make_llm(fake, max_tokens=0)
    with pytest.raises(InvalidInputError, match="max_tokens"):
        llm.complete("hi")
    with pytest.raises(InvalidInputError, match="model"):
        make_llm(fake, model=" ").chat([ChatMessage(content="hi")])
    with pytest.raises(InvalidInputError, match="max_tokens"):
        list(make_llm(fake).stream_chat([ChatMessage(content="hi")], max_tokens=-1))
    assert fake.requests == []


# --------------------------------------------------------------------------- chat and complete


def test_chat_sends_settings_and_maps_the_answer_with_usage() -> None:
    fake = FakeChat()
    llm = make_llm(fake, temperature=0.2, max_tokens=50, additional_kwargs={"random_seed": 7})
    answer = llm.chat(
        [ChatMessage(role="system", content="Be brief."), spoken(AudioBlock(audio=MP3))]
    )
    (body,) = fake.bodies
    assert body == {
        "model": "voxtral-small-latest",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is the weather?"},
                    {"type": "input_audio", "input_audio": MP3_B64},
                ],
            },
        ],
        "temperature": 0.2,
        "max_tokens": 50,
        "random_seed": 7,
    }
    assert fake.requests[0].headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert fake.requests[0].url == "https://api.mistral.ai/v1/chat/completions"
    assert answer.message.role == MessageRole.ASSISTANT
    assert answer.message.content == "It rains."
    assert isinstance(answer.raw, ChatCompletion)
    assert answer.raw.usage.prompt_audio_seconds == 11.5
    assert answer.additional_kwargs == {
        "model": "voxtral-small-latest",
        "finish_reason": "stop",
    } | {
        "prompt_tokens": 120,
        "completion_tokens": 8,
        "total_tokens": 128,
        "prompt_audio_seconds": 11.5,
    }
    assert get_tokens_from_response(answer) == (120, 8)


def test_call_arguments_override_settings_and_extra_ones_reach_the_body() -> None:
    fake = FakeChat()
    llm = make_llm(fake, temperature=0.2, additional_kwargs={"random_seed": 7})
    llm.chat(
        [ChatMessage(content="hi")],
        model="voxtral-mini-latest",
        temperature=0.0,
        random_seed=8,
        stop=["END"],
        response_format={"type": "json_object"},
    )
    (body,) = fake.bodies
    assert body["model"] == "voxtral-mini-latest"
    assert body["temperature"] == 0.0
    assert body["random_seed"] == 8
    assert body["stop"] == ["END"]
    assert body["response_format"] == {"type": "json_object"}


def test_complete_is_a_one_message_chat_with_usage() -> None:
    fake = FakeChat()
    result = make_llm(fake).complete("Say it rains.", max_tokens=5)
    assert fake.bodies[0]["messages"] == [{"role": "user", "content": "Say it rains."}]
    assert fake.bodies[0]["max_tokens"] == 5
    assert result.text == "It rains."
    assert result.additional_kwargs["prompt_tokens"] == 120
    assert result.additional_kwargs["prompt_audio_seconds"] == 11.5
    assert "cached_tokens" not in result.additional_kwargs
    assert isinstance(result.raw, ChatCompletion)


def test_token_details_the_server_gives_reach_additional_kwargs() -> None:
    details = {"prompt_tokens_details": {"cached_tokens": 32, "audio_tokens": 375}}
    result = make_llm(FakeChat(usage=USAGE | details)).complete("Say it rains.")
    assert result.additional_kwargs["audio_tokens"] == 375
    assert result.additional_kwargs["cached_tokens"] == 32


async def test_achat_and_acomplete_use_the_async_client(tmp_path: Path) -> None:
    fake = FakeChat()
    llm = make_llm(fake)
    path = tmp_path / "call.wav"
    path.write_bytes(WAV)
    answer = await llm.achat([spoken(AudioBlock(path=path))])  # the file is read off the loop
    result = await llm.acomplete("hi")
    assert answer.message.content == result.text == "It rains."
    assert fake.bodies[0]["messages"][0]["content"][1] == string(WAV_B64)
    assert result.additional_kwargs["total_tokens"] == 128
    assert len(fake.requests) == 2


def test_reasoning_parts_become_a_thinking_block() -> None:
    content = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Rain is mentioned."}]},
        {"type": "text", "text": "It rains."},
    ]
    answer = make_llm(FakeChat(turns=[{"content": content}])).chat([ChatMessage(content="?")])
    thinking, text = answer.message.blocks
    assert isinstance(thinking, ThinkingBlock)
    assert isinstance(text, TextBlock)
    assert thinking.content == "Rain is mentioned."
    assert answer.message.content == "It rains."


def test_a_completion_without_choices_is_a_response_error() -> None:
    completion = ChatCompletion(model="voxtral-small-latest", choices=[])
    with pytest.raises(APIResponseError, match="no choices"):
        chat_response(completion)


def test_api_errors_keep_their_type() -> None:
    fake = FakeChat(status=401)
    with pytest.raises(AuthenticationError):
        make_llm(fake, max_retries=0).chat([ChatMessage(content="hi")])


# --------------------------------------------------------------------------- streaming


def test_stream_chat_accumulates_deltas_and_puts_usage_at_the_end() -> None:
    fake = FakeChat(turns=[{"content": "It rains in Barcelona."}])
    responses = list(make_llm(fake).stream_chat([spoken(AudioBlock(audio=WAV))]))
    assert fake.bodies[0]["stream"] is True
    assert [r.delta for r in responses] == ["It ", "rains ", "in ", "Barcelona."]
    assert [r.message.content for r in responses] == [
        "It ",
        "It rains ",
        "It rains in ",
        "It rains in Barcelona.",
    ]
    *early, last = responses
    assert all("prompt_tokens" not in r.additional_kwargs for r in early)
    assert last.additional_kwargs == {
        "model": "voxtral-small-latest",
        "finish_reason": "stop",
        "prompt_tokens": 120,
        "completion_tokens": 8,
        "total_tokens": 128,
        "prompt_audio_seconds": 11.5,
    }
    assert get_tokens_from_response(last) == (120, 8)


def test_usage_in_a_chunk_of_its_own_ends_the_stream_too() -> None:
    fake = FakeChat(turns=[{"content": "It rains."}], usage_in_own_chunk=True)
    responses = list(make_llm(fake, backend="vllm").stream_chat([ChatMessage(content="?")]))
    assert fake.bodies[0]["stream_options"] == {"include_usage": True}
    assert responses[-1].message.content == "It rains."
    assert responses[-1].delta == ""
    assert responses[-1].additional_kwargs["completion_tokens"] == 8
    assert responses[-2].additional_kwargs["finish_reason"] == "stop"


def test_stream_complete_yields_growing_text_and_deltas() -> None:
    fake = FakeChat(turns=[{"content": "It rains."}])
    results = list(make_llm(fake).stream_complete("Weather?"))
    assert [r.delta for r in results] == ["It ", "rains."]
    assert [r.text for r in results] == ["It ", "It rains."]
    assert results[-1].additional_kwargs["total_tokens"] == 128


async def test_astream_chat_and_astream_complete() -> None:
    fake = FakeChat(turns=[{"content": "It rains."}])
    llm = make_llm(fake)
    responses = [r async for r in await llm.astream_chat([spoken(AudioBlock(url=AUDIO_URL))])]
    results = [r async for r in await llm.astream_complete("Weather?")]
    assert responses[-1].message.content == results[-1].text == "It rains."
    assert [r.delta for r in results] == ["It ", "rains."]
    assert responses[-1].additional_kwargs["prompt_audio_seconds"] == 11.5
    assert fake.bodies[0]["messages"][0]["content"][1] == string(AUDIO_URL)


def test_a_stream_not_iterated_sends_nothing() -> None:
    fake = FakeChat()
    make_llm(fake).stream_chat([ChatMessage(content="hi")])
    assert fake.requests == []


# --------------------------------------------------------------------------- tools


def get_weather(city: str, unit: str = "celsius") -> str:
    """The current weather in a city."""
    return f"22 degrees {unit} and sunny in {city}"


WEATHER = FunctionTool.from_defaults(fn=get_weather)
CALL = {
    "id": "D681PevKs",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Barcelona"}'},
}


def test_a_spoken_question_becomes_a_tool_call_with_parsed_arguments() -> None:
    fake = FakeChat(turns=[{"content": "", "tool_calls": [CALL]}])
    llm = make_llm(fake)
    response = llm.chat_with_tools([WEATHER], user_msg=spoken(AudioBlock(audio=MP3)))
    (body,) = fake.bodies
    assert body["tools"] == [WEATHER.metadata.to_openai_tool()]
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is False
    assert body["messages"][0]["content"][1] == string(MP3_B64)
    (selection,) = llm.get_tool_calls_from_response(response)
    assert selection.tool_id == "D681PevKs"
    assert selection.tool_name == "get_weather"
    assert selection.tool_kwargs == {"city": "Barcelona"}
    assert response.additional_kwargs["finish_reason"] == "tool_calls"
    assert response.message.content is None


def test_predict_and_call_runs_the_tool() -> None:
    fake = FakeChat(turns=[{"content": "", "tool_calls": [CALL]}])
    output = make_llm(fake).predict_and_call([WEATHER], user_msg=spoken(AudioBlock(audio=WAV)))
    assert output.response == "22 degrees celsius and sunny in Barcelona"


@pytest.mark.parametrize(
    ("backend", "kwargs", "sent"),
    [
        ("mistral", {"tool_required": True}, "any"),
        ("vllm", {"tool_required": True}, "required"),
        ("mistral", {"tool_choice": "none"}, "none"),
        ("mistral", {"tool_choice": "required"}, "any"),
        ("vllm", {"tool_choice": "any"}, "required"),
        (
            "mistral",
            {"tool_choice": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
        ("mistral", {"tool_choice": {"type": "function", "function": {"name": "x"}}}, None),
    ],
)
def test_tool_choice_and_tool_required_reach_the_api(
    backend: Backend, kwargs: dict[str, Any], sent: Any
) -> None:
    fake = FakeChat()
    make_llm(fake, backend=backend).chat_with_tools(
        [WEATHER], user_msg="Weather?", allow_parallel_tool_calls=True, **kwargs
    )
    (body,) = fake.bodies
    assert body["tool_choice"] == (sent if sent is not None else kwargs["tool_choice"])
    assert body["parallel_tool_calls"] is True


def test_an_unknown_tool_choice_is_refused_before_any_request() -> None:
    fake = FakeChat()
    with pytest.raises(InvalidInputError, match=r"tool_choice='get_time'.*'get_weather'"):
        make_llm(fake).chat_with_tools([WEATHER], user_msg="?", tool_choice="get_time")
    assert fake.requests == []
    with pytest.raises(InvalidInputError, match="none given"):
        tool_choice_param("x", [])


def test_without_tools_no_tool_fields_are_sent() -> None:
    fake = FakeChat()
    make_llm(fake).chat_with_tools([], user_msg="hi", chat_history=[ChatMessage(content="a")])
    (body,) = fake.bodies
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(body)
    assert [m["content"] for m in body["messages"]] == ["a", "hi"]


def test_parallel_calls_are_kept_only_when_allowed() -> None:
    second = {**CALL, "id": "Q2x9TzLm1", "function": {"name": "get_weather", "arguments": "{}"}}
    fake = FakeChat(turns=[{"content": "", "tool_calls": [CALL, second]}])
    llm = make_llm(fake)
    single = llm.chat_with_tools([WEATHER], user_msg="?")
    both = llm.chat_with_tools([WEATHER], user_msg="?", allow_parallel_tool_calls=True)
    assert [s.tool_id for s in llm.get_tool_calls_from_response(single)] == ["D681PevKs"]
    assert [s.tool_id for s in llm.get_tool_calls_from_response(both)] == [
        "D681PevKs",
        "Q2x9TzLm1",
    ]


def test_no_tool_call_raises_only_when_asked_to() -> None:
    llm = make_llm(FakeChat())
    response = llm.chat([ChatMessage(content="hi")])
    with pytest.raises(ValueError, match="It rains"):
        llm.get_tool_calls_from_response(response)
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []


def test_tool_arguments_sent_as_an_object_or_malformed_are_handled() -> None:
    calls = [
        {**CALL, "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
        {**CALL, "id": "bad000001", "function": {"name": "get_weather", "arguments": "[1, 2]"}},
        {**CALL, "id": "no0id0000", "function": {"name": "get_weather", "arguments": ""}},
    ]
    llm = make_llm(FakeChat(turns=[{"content": None, "tool_calls": calls}]))
    response = llm.chat([ChatMessage(content="?")])
    assert [s.tool_kwargs for s in llm.get_tool_calls_from_response(response)] == [
        {"city": "Paris"},
        {},
        {},
    ]
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert blocks[1].tool_kwargs == "[1, 2]"  # kept as received


def test_tool_arguments_nested_too_deep_to_parse_are_kept_as_text() -> None:
    deep = "[" * 100_000  # json.loads raises RecursionError, not ValueError
    call = {**CALL, "function": {"name": "get_weather", "arguments": deep}}
    completion = ChatCompletion.model_validate(
        {
            "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [call]}}],
        }
    )
    (block,) = [b for b in chat_response(completion).message.blocks if isinstance(b, ToolCallBlock)]
    assert block.tool_kwargs == deep


def test_streamed_tool_call_fragments_are_assembled() -> None:
    deltas = [
        {"role": "assistant", "content": ""},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "chatcmpl-tool-1f2e",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Barcelona", "un'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'it": "celsius"}'}}]},
    ]
    fake = FakeChat(turns=[{"content": "", "tool_calls": [CALL]}], deltas=[deltas])
    llm = make_llm(fake, backend="vllm")
    responses = list(llm.stream_chat_with_tools([WEATHER], user_msg="Weather?"))
    partial = llm.get_tool_calls_from_response(responses[1])
    assert partial[0].tool_kwargs == {"city": "Barcelona"}  # what has arrived so far
    (selection,) = llm.get_tool_calls_from_response(responses[-1])
    assert selection.tool_id == "chatcmpl-tool-1f2e"
    assert selection.tool_kwargs == {"city": "Barcelona", "unit": "celsius"}
    assert responses[-1].additional_kwargs["finish_reason"] == "tool_calls"


def test_whole_tool_calls_with_new_ids_at_one_index_stay_apart() -> None:
    second = {**CALL, "id": "Q2x9TzLm1"}
    deltas = [{"tool_calls": [{**CALL, "index": 0}]}, {"tool_calls": [{**second, "index": 0}]}]
    fake = FakeChat(turns=[{"content": "", "tool_calls": [CALL]}], deltas=[deltas])
    llm = make_llm(fake)
    *_, last = llm.stream_chat([ChatMessage(content="?")])
    assert [s.tool_id for s in llm.get_tool_calls_from_response(last)] == [
        "D681PevKs",
        "Q2x9TzLm1",
    ]


def test_tool_history_is_sent_with_ids_the_api_accepts() -> None:
    foreign_id = "call_Xy12abcDEF345"  # another provider's id, longer than Mistral's 9 chars
    history = [
        spoken(AudioBlock(audio=WAV)),
        ChatMessage(
            role="assistant",
            blocks=[
                TextBlock(text="Let me check."),
                ToolCallBlock(
                    tool_call_id=foreign_id, tool_name="get_weather", tool_kwargs={"city": "Bcn"}
                ),
            ],
        ),
        ChatMessage(
            role="tool", content="22 degrees", additional_kwargs={"tool_call_id": foreign_id}
        ),
        ChatMessage(
            role="assistant",
            content="",
            additional_kwargs={"tool_calls": [{**CALL, "function": {**CALL["function"]}}]},
        ),
        ChatMessage(
            role="tool",
            content="sunny",
            additional_kwargs={"tool_call_id": "D681PevKs", "name": "get_weather"},
        ),
        ChatMessage(role="assistant", blocks=[ThinkingBlock(content="hm"), TextBlock(text="Ok")]),
    ]
    mapped = api_tool_call_id(foreign_id)
    assert len(mapped) == 9 and mapped.isalnum()
    assert message_dicts(history)[1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Bcn"}'},
                    "id": mapped,
                }
            ],
        },
        {"role": "tool", "content": "22 degrees", "tool_call_id": mapped},
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "content": "sunny", "tool_call_id": "D681PevKs", "name": "get_weather"},
        {"role": "assistant", "content": "Ok"},
    ]


def test_the_same_id_mapping_as_the_langchain_adapter() -> None:
    langchain = pytest.importorskip("voxtral_integrations.langchain.chat_models")
    for value in ("abc123", "call_Xy12abcDEF345", "D681PevKs", ""):
        assert api_tool_call_id(value) == langchain.api_tool_call_id(value)


UNKNOWN_B64 = base64.b64encode(UNKNOWN).decode()

# The same audio, as a LangChain block and as an AudioBlock, where the two adapters
# used to disagree (each comment says what the LangChain adapter did); one rule
# (voxtral_integrations._chat_content) now reads both.
SAME_AUDIO = [
    pytest.param(  # sent the data: URL itself, as if the server could fetch it
        {"type": "audio", "url": f"data:;base64,{MP3_B64}"},
        lambda: AudioBlock(url=f"data:;base64,{MP3_B64}"),
        MP3_B64,
        id="data-url-without-mime",
    ),
    pytest.param(  # sent "x-wav" as the format
        {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "x-wav"}},
        lambda: AudioBlock(audio=WAV, format="x-wav"),
        obj(WAV_B64, "wav"),
        id="format-spelled-x-wav",
    ),
    pytest.param(  # sent "audio/x-m4a" as the format
        {"type": "audio", "base64": UNKNOWN_B64, "mime_type": "audio/x-m4a"},
        lambda: AudioBlock(audio=UNKNOWN, format="audio/x-m4a"),
        obj(UNKNOWN_B64, "x-m4a"),
        id="mime-type-not-decoded",
    ),
    pytest.param(  # refused it: only audio/webm was in its table
        {"type": "audio", "url": AUDIO_URL, "mime_type": "video/webm"},
        lambda: AudioBlock(url=AUDIO_URL, format="video/webm"),
        string(AUDIO_URL),
        id="url-declaring-video-webm",
    ),
]


@pytest.mark.parametrize(("langchain_block", "build", "expected"), SAME_AUDIO)
def test_the_same_audio_part_as_the_langchain_adapter(
    langchain_block: dict[str, Any], build: Callable[[], AudioBlock], expected: object
) -> None:
    langchain = pytest.importorskip("voxtral_integrations.langchain.chat_models")
    ours, theirs = audio_part(build()), langchain.audio_part(langchain_block)
    if isinstance(expected, str):  # the base64 is sent; LangChain leaves sniffing to the core
        assert ours["input_audio"]["data"] == expected == theirs["input_audio"]
    else:
        assert ours == expected == theirs


@pytest.mark.parametrize(
    ("url", "named"),
    [
        # both sent by the LangChain adapter, which skipped a data: URL its regex missed
        ("data:audio/wav;base64,", "holds empty audio data"),
        ("data:audio/wav,RIFF%00%00", "url='data:audio/wav,RIFF%00%00', which the server cannot"),
    ],
)
def test_the_same_refusals_as_the_langchain_adapter(url: str, named: str) -> None:
    langchain = pytest.importorskip("voxtral_integrations.langchain.chat_models")
    with pytest.raises(InvalidInputError, match=re.escape(named)):
        audio_part(AudioBlock(url=url))
    with pytest.raises(InvalidInputError, match=re.escape(named)):
        langchain.audio_part({"type": "audio", "url": url})


@pytest.mark.filterwarnings(
    # the workflow engine inspects the agent's members, touching pydantic's deprecated
    # `__fields__`, `model_computed_fields`... (llama-index-core's code, not ours)
    "ignore::pydantic.warnings.PydanticDeprecationWarning"
)
async def test_a_function_agent_answers_a_spoken_question_with_a_tool() -> None:
    fake = FakeChat(
        turns=[
            {"content": "", "tool_calls": [CALL]},
            {"content": "It is sunny in Barcelona."},
        ]
    )
    agent = FunctionAgent(tools=[WEATHER], llm=make_llm(fake), system_prompt="Be brief.")
    result = await agent.run(user_msg=spoken(AudioBlock(audio=MP3)))
    assert str(result) == "It is sunny in Barcelona."
    assert [b["stream"] for b in fake.bodies] == [True, True]
    second = fake.bodies[1]["messages"]
    assert second[-2] == {"role": "assistant", "content": "", "tool_calls": [CALL]}
    assert second[-1] == {
        "role": "tool",
        "content": "22 degrees celsius and sunny in Barcelona",
        "tool_call_id": "D681PevKs",
    }


class Forecast(BaseModel):
    city: str
    sunny: bool


def test_structured_predict_forces_a_tool_call() -> None:
    call = {**CALL, "function": {"name": "Forecast", "arguments": '{"city": "Bcn", "sunny": true}'}}
    fake = FakeChat(turns=[{"content": "", "tool_calls": [call]}])
    from llama_index.core.prompts import PromptTemplate

    forecast = make_llm(fake).structured_predict(
        Forecast, PromptTemplate("Weather in {city}?"), city="Bcn"
    )
    assert forecast == Forecast(city="Bcn", sunny=True)
    assert fake.bodies[0]["tool_choice"] == "any"


# --------------------------------------------------------------------------- metadata and keys


@pytest.mark.parametrize(
    "model", ["voxtral-small-latest", "voxtral-mini-2507", "my-org/fine-tuned-voxtral-v9"]
)
def test_metadata_works_for_any_model_name(model: str) -> None:
    llm = VoxtralLLM(api_key=FAKE_API_KEY, model=model)
    metadata = llm.metadata
    assert metadata.model_name == model
    assert metadata.context_window == VOXTRAL_CONTEXT_WINDOW == 32_768
    assert metadata.is_chat_model is True
    assert metadata.is_function_calling_model is True
    assert metadata.system_role == MessageRole.SYSTEM
    assert (
        VoxtralLLM(api_key=FAKE_API_KEY, max_tokens=99, context_window=8000).metadata.num_output
        == 99
    )


def test_it_is_a_function_calling_llm_with_its_own_class_name() -> None:
    llm = VoxtralLLM(api_key=FAKE_API_KEY)
    assert isinstance(llm, FunctionCallingLLM)
    assert isinstance(llm, LLM)
    assert VoxtralLLM.class_name() == "VoxtralLLM"
    assert llm.model == "voxtral-small-latest"


def test_the_key_is_never_rendered_or_serialised(monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = VoxtralLLM(api_key=FAKE_API_KEY, base_url="https://proxy.example/v1")
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    from_env = VoxtralLLM()
    for llm in (explicit, from_env):
        rendered = [
            repr(llm),
            str(llm),
            json.dumps(llm.to_dict()),
            llm.to_json(),
            llm.model_dump_json(),
        ]
        if hasattr(llm, "to_payload"):  # llama-index-core 0.14.19+
            rendered.append(json.dumps(llm.to_payload()))
        for text in rendered:
            assert FAKE_API_KEY not in text
        assert "api_key" not in llm.to_dict()
    assert explicit.to_dict()["base_url"] == "https://proxy.example/v1"
    with pytest.raises(ConfigurationError, match="query string"):  # it may carry a credential
        VoxtralLLM(api_key=FAKE_API_KEY, base_url="https://proxy.example/v1?token=T0K3N")


def test_a_serialised_llm_round_trips_and_reads_the_key_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llm = VoxtralLLM(api_key=FAKE_API_KEY, model="voxtral-mini-latest", temperature=0.1)
    data = llm.to_dict()
    assert data["class_name"] == "VoxtralLLM"
    with pytest.raises(ConfigurationError, match="MISTRAL_API_KEY"):
        VoxtralLLM.from_dict(data)
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    again = VoxtralLLM.from_json(llm.to_json())
    assert (again.model, again.temperature) == ("voxtral-mini-latest", 0.1)


def test_a_missing_key_is_a_configuration_error_not_a_validation_error() -> None:
    with pytest.raises(ConfigurationError, match="MISTRAL_API_KEY"):
        VoxtralLLM()


def test_the_key_from_the_environment_is_used_for_mistral(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    fake = FakeChat()
    make_llm(fake, api_key=None).complete("hi")
    assert fake.requests[0].headers["authorization"] == f"Bearer {FAKE_API_KEY}"


def test_the_key_from_the_environment_never_reaches_a_vllm_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    fake = FakeChat()
    llm = make_llm(fake, api_key=None, backend="vllm", base_url="http://gpu-box:8000/v1")
    llm.complete("hi")
    assert "authorization" not in fake.requests[0].headers
    assert fake.requests[0].url == "http://gpu-box:8000/v1/chat/completions"
    make_llm(fake, api_key="vllm-token", backend="vllm").complete("hi")  # given: sent
    assert fake.requests[1].headers["authorization"] == "Bearer vllm-token"


def test_changed_settings_take_effect_on_the_next_call() -> None:
    fake = FakeChat()
    llm = make_llm(fake)
    llm.base_url = "https://eu.example/v1"
    llm.complete("hi")
    copy = llm.model_copy(update={"base_url": "https://us.example/v1"})
    copy.complete("hi")
    assert [str(r.url) for r in fake.requests] == [
        "https://eu.example/v1/chat/completions",
        "https://us.example/v1/chat/completions",
    ]


def test_a_bad_base_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        VoxtralLLM(api_key=FAKE_API_KEY, base_url="api.mistral.ai")


def test_message_dicts_wants_a_list_of_messages() -> None:
    with pytest.raises(InvalidInputError, match="list of ChatMessage"):
        message_dicts("hi")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"messages\[0\] is a dict"):
        message_dicts([{"role": "user", "content": "hi"}])  # type: ignore[list-item]


def test_the_payload_is_what_the_core_would_build_for_both_backends() -> None:
    payload = message_dicts([spoken(AudioBlock(audio=WAV))])
    for backend in ("mistral", "vllm"):
        spec = chat_request(
            DIALECTS[backend],  # type: ignore[index]
            payload,
            model="voxtral-small-latest",
            tools=None,
            tool_choice=None,
            response_format=None,
            temperature=None,
            max_tokens=None,
            stream=False,
        )
        assert spec.json["messages"][0]["content"][0]["type"] == "text"


def test_responses_round_trip_through_chat_response_objects() -> None:
    answer = make_llm(FakeChat()).chat([ChatMessage(content="hi")])
    assert isinstance(answer, ChatResponse)
    dumped = answer.model_dump()
    assert dumped["raw"]["usage"]["prompt_tokens"] == 120
