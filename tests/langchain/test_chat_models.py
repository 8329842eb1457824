"""ChatVoxtral: message and audio converters, answers, streams, tools, structured output.

Everything runs offline: the core client talks to an ``httpx.MockTransport`` that
records each request and answers like Mistral's chat endpoint (JSON or SSE).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumpd, dumps, loads
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel, ValidationError

from tests.support.constants import FAKE_API_KEY
from voxtral_integrations import (
    APIResponseError,
    AuthenticationError,
    ChatCompletion,
    ChatCompletionChunk,
    InvalidInputError,
    UnsupportedFeatureError,
    Usage,
)
from voxtral_integrations._chat_request import chat_request
from voxtral_integrations._dialects import DIALECTS, Backend
from voxtral_integrations.langchain.chat_models import (
    ChatVoxtral,
    api_tool_call_id,
    audio_file_ids,
    audio_part,
    chat_result,
    generation_chunk,
    message_dicts,
    tool_choice_param,
    usage_metadata,
)

WAV_B64 = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAgD4AAAB9AAACABAAZGF0YQAAAAA="  # a real WAV header
MP3_B64 = "SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjYwLjMuMTAwAAAAAAAAAAAAAAD/"
AUDIO_URL = "https://example.com/audio/call.mp3"
SIGNED = "https://files.example/call.mp3?se=2026&sig=SIGNED-TOKEN"
TOOL_ID = api_tool_call_id("abc123")


# --------------------------------------------------------------------------- audio blocks


def audio(input_audio: object) -> dict[str, Any]:
    return {"type": "input_audio", "input_audio": input_audio}


def obj(data: str, fmt: str) -> dict[str, Any]:
    return audio({"data": data, "format": fmt})


AUDIO_BLOCKS = [
    # LangChain v1 standard blocks
    ({"type": "audio", "base64": WAV_B64, "mime_type": "audio/wav"}, obj(WAV_B64, "wav")),
    ({"type": "audio", "base64": MP3_B64, "mime_type": "audio/mpeg"}, obj(MP3_B64, "mp3")),
    ({"type": "audio", "base64": MP3_B64, "mime_type": "audio/mp3"}, obj(MP3_B64, "mp3")),
    (
        {"type": "audio", "base64": "T2dn", "mime_type": "audio/ogg; codecs=opus"},
        obj("T2dn", "ogg"),
    ),
    ({"type": "audio", "base64": "ZkxhQw==", "mime_type": "audio/x-flac"}, obj("ZkxhQw==", "flac")),
    ({"type": "audio", "base64": "GkXf", "mime_type": "AUDIO/WEBM"}, obj("GkXf", "webm")),
    ({"type": "audio", "base64": WAV_B64}, audio(WAV_B64)),
    ({"type": "audio", "url": AUDIO_URL}, audio(AUDIO_URL)),
    ({"type": "audio", "url": AUDIO_URL, "mime_type": "audio/mpeg"}, audio(AUDIO_URL)),
    ({"type": "audio", "url": f"data:audio/wav;base64,{WAV_B64}"}, obj(WAV_B64, "wav")),
    ({"type": "audio", "file_id": "file-abc", "mime_type": "audio/mpeg"}, audio(SIGNED)),
    (
        {"type": "audio", "id": "lc_1", "base64": WAV_B64, "mime_type": "audio/wav"},
        obj(WAV_B64, "wav"),
    ),
    # LangChain v0 blocks
    (
        {"type": "audio", "source_type": "base64", "data": WAV_B64, "mime_type": "audio/wav"},
        obj(WAV_B64, "wav"),
    ),
    ({"type": "audio", "source_type": "url", "url": AUDIO_URL}, audio(AUDIO_URL)),
    ({"type": "audio", "source_type": "id", "id": "file-abc"}, audio(SIGNED)),
    # OpenAI's object
    (obj(WAV_B64, "wav"), obj(WAV_B64, "wav")),
    (obj(MP3_B64, "mp3"), obj(MP3_B64, "mp3")),
    (obj(MP3_B64, "MPEG"), obj(MP3_B64, "mp3")),
    (audio({"data": WAV_B64}), audio(WAV_B64)),
    # Mistral's own string
    (audio(WAV_B64), audio(WAV_B64)),
    (audio(AUDIO_URL), audio(AUDIO_URL)),
    (audio(SIGNED), audio(SIGNED)),
]


@pytest.mark.parametrize(("block", "expected"), AUDIO_BLOCKS)
def test_every_audio_block_shape_becomes_one_input_audio_part(
    block: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert audio_part(block, signed_urls={"file-abc": SIGNED}) == expected


@pytest.mark.parametrize(("block", "expected"), AUDIO_BLOCKS)
@pytest.mark.parametrize("backend", ["mistral", "vllm"])
def test_the_core_sends_every_shape_in_the_backends_form(
    backend: Backend, block: dict[str, Any], expected: dict[str, Any]
) -> None:
    message = HumanMessage([{"type": "text", "text": "What is said?"}, block])
    payload = message_dicts([message], signed_urls={"file-abc": SIGNED})
    spec = chat_request(
        DIALECTS[backend],
        payload,
        model="voxtral-small-latest",
        tools=None,
        tool_choice=None,
        response_format=None,
        temperature=None,
        max_tokens=None,
        stream=False,
    )
    sent = spec.json["messages"][0]["content"][1]
    given = expected["input_audio"]
    data = given["data"] if isinstance(given, dict) else given
    if backend == "mistral":
        assert sent == {"type": "input_audio", "input_audio": data}
    elif data.startswith("https://"):
        assert sent == {"type": "audio_url", "audio_url": {"url": data}}
    else:
        assert sent["type"] == "input_audio"
        assert sent["input_audio"]["data"] == data
        assert sent["input_audio"]["format"] in ("wav", "mp3", "ogg", "flac", "webm")


BAD_AUDIO = [
    ({"type": "audio"}, "has no audio: a block with keys ['type']"),
    ({"type": "audio", "mime_type": "audio/wav"}, "keys ['mime_type', 'type']"),
    ({"type": "audio", "base64": "", "mime_type": "audio/wav"}, "has no audio"),
    ({"type": "audio", "source_type": "base64", "url": AUDIO_URL}, "has no audio"),
    ({"type": "audio", "url": AUDIO_URL, "mime_type": "audio/mp4"}, "MIME type 'audio/mp4'"),
    (audio(""), "has no audio"),
    (audio(None), "has no audio"),
    (audio({"format": "wav"}), "has no audio"),
    ({"type": "audio", "base64": b"RIFF", "mime_type": "audio/wav"}, "of type bytes"),
    ({"type": "audio", "file_id": "file-missing"}, "file_id='file-missing'"),
    ({"type": "audio", "source_type": "text", "text": "hi"}, "source_type='text'"),
]


@pytest.mark.parametrize(("block", "named"), BAD_AUDIO)
def test_unusable_audio_blocks_raise_a_typed_error_naming_the_value(
    block: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        message_dicts([HumanMessage(["listen:", block])], signed_urls={"file-abc": SIGNED})
    assert named in str(caught.value)
    assert "messages[0].content[1]" in str(caught.value)
    assert caught.value.argument == "messages"


def test_the_unsupported_type_error_lists_what_chat_accepts() -> None:
    with pytest.raises(InvalidInputError, match=r"audio/wav, audio/mpeg \(mp3\), audio/flac"):
        audio_part({"type": "audio", "url": AUDIO_URL, "mime_type": "audio/x-m4a"})


def test_audio_file_ids_lists_the_blocks_that_need_a_signed_url() -> None:
    messages: list[BaseMessage] = [
        SystemMessage("system"),
        HumanMessage(
            [
                {"type": "audio", "file_id": "file-1"},
                {"type": "audio", "source_type": "id", "id": "file-2"},
                {"type": "audio", "file_id": "file-3", "url": AUDIO_URL},  # has a URL already
                {"type": "audio", "id": "lc_block", "base64": WAV_B64},  # a v1 block id
                {"type": "audio", "file_id": "file-1"},
            ]
        ),
    ]
    assert audio_file_ids(messages) == ["file-1", "file-2"]


# --------------------------------------------------------------------------- messages

ADD_CALL = {"name": "add", "args": {"a": 1, "b": 2}, "id": "abc123", "type": "tool_call"}

MESSAGES = [
    (SystemMessage("Be brief."), {"role": "system", "content": "Be brief."}),
    (
        SystemMessage([{"type": "text", "text": "Be "}, "brief."]),
        {"role": "system", "content": "Be brief."},
    ),
    (HumanMessage("hi", name="ana"), {"role": "user", "content": "hi"}),
    (
        HumanMessage(["a", {"type": "text", "text": "b", "id": "lc_1"}]),
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    ),
    (AIMessage("The sum is 3."), {"role": "assistant", "content": "The sum is 3."}),
    (
        AIMessage([{"type": "text", "text": "Let me"}, {"type": "reasoning", "reasoning": "x"}]),
        {"role": "assistant", "content": "Let me"},
    ),
    (
        AIMessage(
            [
                {"type": "text", "text": "I'll add."},
                {"type": "tool_use", "id": "abc123", "name": "add", "input": {"a": 1, "b": 2}},
            ],
            tool_calls=[ADD_CALL],
        ),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": TOOL_ID,
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
        },
    ),
    (
        AIMessage("", tool_calls=[{**ADD_CALL, "id": "Ab3De6Gh9", "args": {"city": "Zürich"}}]),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "Ab3De6Gh9",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"city": "Zürich"}'},
                }
            ],
        },
    ),
    (
        AIMessage(
            "",
            invalid_tool_calls=[
                {
                    "name": "add",
                    "args": "{oops",
                    "id": "abc123",
                    "error": "bad",
                    "type": "invalid_tool_call",
                }
            ],
        ),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": TOOL_ID,
                    "type": "function",
                    "function": {"name": "add", "arguments": "{oops"},
                }
            ],
        },
    ),
    (
        ToolMessage("3", tool_call_id="abc123", name="add"),
        {"role": "tool", "content": "3", "tool_call_id": TOOL_ID, "name": "add"},
    ),
    (
        ToolMessage([{"type": "text", "text": '{"result": 3}'}], tool_call_id="Ab3De6Gh9"),
        {"role": "tool", "content": '{"result": 3}', "tool_call_id": "Ab3De6Gh9"},
    ),
    (
        ChatMessage(role="user", content=[audio(WAV_B64)]),
        {"role": "user", "content": [audio(WAV_B64)]},
    ),
]


@pytest.mark.parametrize(("message", "expected"), MESSAGES)
def test_messages_become_the_cores_message_dicts(
    message: BaseMessage, expected: dict[str, Any]
) -> None:
    assert message_dicts([message]) == [expected]


def test_a_tool_call_and_its_result_keep_matching_ids() -> None:
    call = AIMessage("", tool_calls=[{**ADD_CALL, "id": "call_8f2a0c1b9e"}])
    result = ToolMessage("3", tool_call_id="call_8f2a0c1b9e")
    sent_call, sent_result = message_dicts([call, result])
    assert sent_call["tool_calls"][0]["id"] == sent_result["tool_call_id"]
    assert len(sent_result["tool_call_id"]) == 9 and sent_result["tool_call_id"].isalnum()


@pytest.mark.parametrize(
    ("message", "named"),
    [
        (HumanMessage(["look", {"type": "image", "url": "https://x/y.png"}]), "'image' block"),
        (
            HumanMessage([{"type": "file", "base64": "JVBE", "mime_type": "application/pdf"}]),
            "'file'",
        ),
        (ToolMessage([{"type": "image", "base64": "AAAA"}], tool_call_id="x"), "'image' block"),
        (FunctionMessage("3", name="add"), "FunctionMessage"),
    ],
)
def test_content_voxtral_cannot_take_raises_naming_it(message: BaseMessage, named: str) -> None:
    with pytest.raises(InvalidInputError, match=named):
        message_dicts([SystemMessage("s"), message])


def test_provider_native_parts_pass_through() -> None:
    part = {"type": "document_url", "document_url": "https://x/doc.pdf"}
    assert message_dicts([HumanMessage([part])]) == [{"role": "user", "content": [part]}]


@pytest.mark.parametrize(
    ("choice", "backend", "expected"),
    [
        ("auto", "mistral", "auto"),
        ("none", "mistral", "none"),
        ("any", "mistral", "any"),
        ("required", "mistral", "any"),
        (True, "mistral", "any"),
        (False, "mistral", "none"),
        ("any", "vllm", "required"),
        ("required", "vllm", "required"),
        ("add", "mistral", {"type": "function", "function": {"name": "add"}}),
        ("add", "vllm", {"type": "function", "function": {"name": "add"}}),
        (
            {"type": "function", "function": {"name": "add"}},
            "mistral",
            {"type": "function", "function": {"name": "add"}},
        ),
    ],
)
def test_tool_choice_in_the_apis_terms(choice: Any, backend: Any, expected: object) -> None:
    assert tool_choice_param(choice, ["add", "multiply"], backend) == expected


def test_an_unknown_tool_choice_names_the_choice_and_the_tools() -> None:
    with pytest.raises(InvalidInputError, match=r"tool_choice='divide'.*'add', 'multiply'"):
        tool_choice_param("divide", ["add", "multiply"])


# --------------------------------------------------------------------------- answers


def completion(**message: Any) -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "cmpl-1",
            "model": "voxtral-small-2507",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "", **message},
                    "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 120,
                "completion_tokens": 8,
                "total_tokens": 128,
                "prompt_audio_seconds": 11.5,
            },
        }
    )


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        pytest.param(
            {"prompt_tokens": 120, "completion_tokens": 8, "total_tokens": 128},
            {"input_tokens": 120, "output_tokens": 8, "total_tokens": 128},
            id="counts-only",
        ),
        pytest.param(
            {"prompt_tokens": 5, "completion_tokens": 2},
            {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
            id="total-missing",
        ),
        pytest.param(
            {
                "prompt_tokens": 400,
                "completion_tokens": 26,
                "total_tokens": 426,
                "prompt_audio_seconds": 7,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 375},
            },
            {
                "input_tokens": 400,
                "output_tokens": 26,
                "total_tokens": 426,
                "input_token_details": {"audio": 375, "cache_read": 0},
            },
            id="audio-and-cached-tokens",
        ),
        pytest.param(
            {"prompt_tokens": 50, "completion_tokens": 4, "num_cached_tokens": 32},
            {
                "input_tokens": 50,
                "output_tokens": 4,
                "total_tokens": 54,
                "input_token_details": {"cache_read": 32},
            },
            id="cached-tokens-older-spelling",
        ),
        pytest.param(
            {"prompt_tokens": 9, "completion_tokens": 1, "prompt_tokens_details": None},
            {"input_tokens": 9, "output_tokens": 1, "total_tokens": 10},
            id="details-null",
        ),
    ],
)
def test_usage_metadata_carries_the_token_details_the_server_gives(
    usage: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert usage_metadata(Usage.model_validate(usage)) == expected


def call(arguments: Any, call_id: str | None = "Ab3De6Gh9") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "add", "arguments": arguments}}


def test_an_answer_maps_to_an_ai_message_with_usage_and_metadata() -> None:
    message = chat_result(completion(content="It rains in Barcelona.")).generations[0].message
    assert isinstance(message, AIMessage)
    assert message.content == "It rains in Barcelona."
    assert message.id == "cmpl-1"
    assert message.usage_metadata == {"input_tokens": 120, "output_tokens": 8, "total_tokens": 128}
    assert message.response_metadata == {
        "model_name": "voxtral-small-2507",
        "model_provider": "mistralai",
        "finish_reason": "stop",
        "prompt_audio_seconds": 11.5,
    }


@pytest.mark.parametrize(
    ("raw", "args"),
    [
        (call('{"a": 1, "b": 2}'), {"a": 1, "b": 2}),
        (call({"a": 1, "b": 2}), {"a": 1, "b": 2}),  # Mistral sometimes sends an object
        (call(""), {}),
    ],
)
def test_tool_calls_come_back_with_parsed_arguments(raw: dict[str, Any], args: Any) -> None:
    message = chat_result(completion(tool_calls=[raw])).generations[0].message
    assert isinstance(message, AIMessage)
    assert message.tool_calls == [
        {"name": "add", "args": args, "id": "Ab3De6Gh9", "type": "tool_call"}
    ]
    assert message.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    "arguments", ['{"a": 1', "[1, 2]", pytest.param("[" * 100_000, id="nested-too-deep")]
)
def test_unparsable_tool_arguments_become_invalid_tool_calls(arguments: str) -> None:
    message = chat_result(completion(tool_calls=[call(arguments, None)])).generations[0].message
    assert isinstance(message, AIMessage)
    assert message.tool_calls == []
    (bad,) = message.invalid_tool_calls
    assert bad["name"] == "add" and bad["args"] == arguments and bad["id"]


def test_an_answer_without_choices_is_an_api_response_error() -> None:
    empty = ChatCompletion.model_validate({"model": "m", "choices": []})
    with pytest.raises(APIResponseError, match="no choices"):
        chat_result(empty)


def chunk(delta: dict[str, Any] | None = None, **fields: Any) -> ChatCompletionChunk:
    choices = [] if delta is None else [{"index": 0, "delta": delta, **fields.pop("choice", {})}]
    return ChatCompletionChunk.model_validate(
        {"id": "cmpl-1", "model": "voxtral-small-2507", "choices": choices, **fields}
    )


USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7, "prompt_audio_seconds": 3.0}


def test_stream_chunks_carry_text_tool_calls_finish_and_usage() -> None:
    first = generation_chunk(chunk({"role": "assistant", "content": "Hel"}))
    calls = generation_chunk(chunk({"tool_calls": [{**call('{"a": 1}'), "index": 0}]}))
    last = generation_chunk(chunk({"content": "lo"}, choice={"finish_reason": "stop"}, usage=USAGE))
    assert first is not None and calls is not None and last is not None
    assert first.message.content == "Hel"
    assert first.message.response_metadata == {"model_provider": "mistralai"}
    assert isinstance(calls.message, AIMessageChunk)
    assert calls.message.tool_call_chunks == [
        {
            "name": "add",
            "args": '{"a": 1}',
            "id": "Ab3De6Gh9",
            "index": 0,
            "type": "tool_call_chunk",
        }
    ]
    merged = first.message + calls.message + last.message
    assert isinstance(merged, AIMessageChunk)
    assert merged.content == "Hello"
    assert merged.tool_calls == [
        {"name": "add", "args": {"a": 1}, "id": "Ab3De6Gh9", "type": "tool_call"}
    ]
    assert merged.usage_metadata == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    assert merged.response_metadata == {
        "model_provider": "mistralai",
        "model_name": "voxtral-small-2507",
        "finish_reason": "stop",
        "prompt_audio_seconds": 3.0,
    }


def test_streamed_tool_arguments_sent_as_an_object_read_as_the_model_wrote_them() -> None:
    # this adapter used to ASCII-escape them ("M\\u00e1laga"), VoxtralLLM not
    arguments = {"city": "Málaga"}
    streamed = generation_chunk(chunk({"tool_calls": [{**call(arguments), "index": 0}]}))
    assert streamed is not None and isinstance(streamed.message, AIMessageChunk)
    assert streamed.message.tool_call_chunks[0]["args"] == '{"city": "Málaga"}'


def test_a_usage_only_chunk_counts_and_an_empty_chunk_is_skipped() -> None:
    usage_only = generation_chunk(chunk(None, usage=USAGE))  # vLLM's last chunk
    assert usage_only is not None and isinstance(usage_only.message, AIMessageChunk)
    assert usage_only.message.content == ""
    assert usage_only.message.usage_metadata == {
        "input_tokens": 5,
        "output_tokens": 2,
        "total_tokens": 7,
    }
    assert generation_chunk(chunk(None)) is None
    assert generation_chunk(chunk(None, usage=USAGE), include_usage=False) is None
    without = generation_chunk(chunk({"content": "x"}, usage=USAGE), include_usage=False)
    assert without is not None and isinstance(without.message, AIMessageChunk)
    assert without.message.usage_metadata is None


# --------------------------------------------------------------------------- the model


@dataclass
class FakeChat:
    """Mistral's chat endpoint (and the signed-URL one) on a MockTransport."""

    answer: dict[str, Any] = field(default_factory=lambda: {"content": "It rains."})
    stream_deltas: list[dict[str, Any]] = field(
        default_factory=lambda: [{"role": "assistant", "content": "It "}, {"content": "rains."}]
    )
    status: int = 200
    requests: list[httpx.Request] = field(default_factory=list)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET" and request.url.path.endswith("/url"):
            return httpx.Response(200, json={"url": SIGNED})
        if self.status != 200:
            return httpx.Response(self.status, json={"object": "error", "message": "no"})
        body = json.loads(request.content)
        if not body.get("stream"):
            return httpx.Response(200, json=completion(**self.answer).model_dump())
        frames = [
            {"id": "c", "model": body["model"], "choices": [{"index": 0, "delta": delta}]}
            for delta in self.stream_deltas
        ]
        frames[-1]["choices"][0]["finish_reason"] = "stop"
        frames[-1]["usage"] = USAGE
        sse = "".join(f"data: {json.dumps(frame)}\n\n" for frame in frames) + "data: [DONE]\n\n"
        return httpx.Response(
            200, content=sse.encode(), headers={"content-type": "text/event-stream"}
        )


def chat_model(fake: Callable[[httpx.Request], httpx.Response], **settings: Any) -> ChatVoxtral:
    settings.setdefault("api_key", FAKE_API_KEY)
    return ChatVoxtral(
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
        **settings,
    )


SPOKEN_QUESTION = HumanMessage(
    [
        {"type": "text", "text": "What is the weather?"},
        {"type": "audio", "base64": MP3_B64, "mime_type": "audio/mpeg"},
    ]
)


def test_invoke_sends_settings_and_audio_and_maps_the_answer() -> None:
    fake = FakeChat()
    model = chat_model(fake, temperature=0.2, max_tokens=50, stop=["\n\n"])
    answer = model.invoke([SystemMessage("Be brief."), SPOKEN_QUESTION])
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
        "stop": ["\n\n"],
    }
    assert fake.requests[0].headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert answer.content == "It rains."
    assert answer.usage_metadata == {"input_tokens": 120, "output_tokens": 8, "total_tokens": 128}
    assert answer.response_metadata["prompt_audio_seconds"] == 11.5


def test_call_arguments_override_settings_and_extra_ones_reach_the_body() -> None:
    fake = FakeChat()
    model = chat_model(fake, temperature=0.2, stop=["x"])
    model.invoke("hi", model="voxtral-mini-latest", temperature=0.0, stop=["END"], random_seed=7)
    (body,) = fake.bodies
    assert body["model"] == "voxtral-mini-latest"
    assert body["temperature"] == 0.0
    assert body["stop"] == ["END"]
    assert body["random_seed"] == 7


async def test_ainvoke_uses_the_async_client() -> None:
    fake = FakeChat()
    answer = await chat_model(fake).ainvoke([SPOKEN_QUESTION])
    assert answer.content == "It rains."
    assert len(fake.bodies) == 1


def test_stream_yields_text_and_puts_usage_on_the_last_chunk() -> None:
    fake = FakeChat()
    chunks = list(chat_model(fake).stream([SPOKEN_QUESTION]))
    assert fake.bodies[0]["stream"] is True
    assert "".join(str(c.content) for c in chunks) == "It rains."
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1
    assert with_usage[0].usage_metadata == {
        "input_tokens": 5,
        "output_tokens": 2,
        "total_tokens": 7,
    }
    full = chunks[0]
    for piece in chunks[1:]:
        full += piece
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.response_metadata["model_name"] == "voxtral-small-latest"


def test_stream_usage_can_be_turned_off() -> None:
    chunks = list(chat_model(FakeChat(), stream_usage=False).stream("hi"))
    assert not any(c.usage_metadata for c in chunks)
    chunks = list(chat_model(FakeChat()).stream("hi", stream_usage=False))
    assert not any(c.usage_metadata for c in chunks)


async def test_astream_yields_the_same_chunks() -> None:
    fake = FakeChat()
    chunks = [c async for c in chat_model(fake).astream([SPOKEN_QUESTION])]
    assert "".join(str(c.content) for c in chunks) == "It rains."
    assert sum(1 for c in chunks if c.usage_metadata) == 1


def test_streaming_true_makes_invoke_stream() -> None:
    fake = FakeChat()
    answer = chat_model(fake, streaming=True).invoke("hi")
    assert fake.bodies[0]["stream"] is True
    assert answer.content == "It rains."
    assert answer.usage_metadata == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}


@pytest.mark.parametrize("v0", [False, True])
def test_a_file_id_block_is_sent_as_a_fresh_signed_url(v0: bool) -> None:
    fake = FakeChat()
    block = (
        {"type": "audio", "source_type": "id", "id": "file-abc"}
        if v0
        else {"type": "audio", "file_id": "file-abc", "mime_type": "audio/mpeg"}
    )
    chat_model(fake).invoke([HumanMessage(["Summarise:", block])])
    signed_url_request, _chat = fake.requests
    assert signed_url_request.url.path == "/v1/files/file-abc/url"
    assert signed_url_request.url.params["expiry"] == "1"
    assert fake.bodies[0]["messages"][0]["content"][1] == audio(SIGNED)


async def test_a_file_id_block_is_resolved_with_the_async_client_too() -> None:
    fake = FakeChat()
    await chat_model(fake).ainvoke([HumanMessage([{"type": "audio", "file_id": "file-abc"}])])
    assert fake.bodies[0]["messages"][0]["content"][0] == audio(SIGNED)


def test_the_vllm_backend_gets_openais_audio_object_and_never_the_mistral_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    fake = FakeChat()
    model = ChatVoxtral(
        backend="vllm",
        model="mistralai/Voxtral-Mini-3B-2507",
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
    )
    assert model.mistral_api_key is None
    model.bind_tools([add], tool_choice="any").invoke([SPOKEN_QUESTION])
    (request,) = fake.requests
    assert "authorization" not in request.headers
    assert str(request.url) == "http://localhost:8000/v1/chat/completions"
    body = fake.bodies[0]
    assert body["messages"][0]["content"][1] == obj(MP3_B64, "mp3")
    assert body["tool_choice"] == "required"


def test_the_vllm_backend_has_no_file_ids() -> None:
    model = chat_model(FakeChat(), backend="vllm")
    with pytest.raises(UnsupportedFeatureError, match="no Files API"):
        model.invoke([HumanMessage([{"type": "audio", "file_id": "file-abc"}])])


def test_bad_input_is_refused_before_anything_is_sent() -> None:
    fake = FakeChat()
    with pytest.raises(InvalidInputError, match=r"messages\[0\]\.content\[0\] is not valid base64"):
        chat_model(fake).invoke(
            [HumanMessage([{"type": "audio", "base64": "AA", "mime_type": "audio/aac"}])]
        )
    assert fake.requests == []


def test_server_errors_arrive_as_the_cores_typed_errors() -> None:
    with pytest.raises(AuthenticationError):
        chat_model(FakeChat(status=401)).invoke("hi")


# --------------------------------------------------------------------------- tools, structure


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    rain: bool


def test_bind_tools_sends_openai_style_tools_and_the_choice() -> None:
    fake = FakeChat(answer={"tool_calls": [call('{"a": 1, "b": 2}')]})
    answer = chat_model(fake).bind_tools([add], tool_choice="add").invoke("1 + 2?")
    body = fake.bodies[0]
    assert body["tools"][0]["type"] == "function"
    assert body["tools"][0]["function"]["name"] == "add"
    assert set(body["tools"][0]["function"]["parameters"]["properties"]) == {"a", "b"}
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert answer.tool_calls == [
        {"name": "add", "args": {"a": 1, "b": 2}, "id": "Ab3De6Gh9", "type": "tool_call"}
    ]


def test_streamed_tool_calls_merge_into_parsed_calls() -> None:
    delta = {"tool_calls": [{**call('{"a": 1, "b": 2}'), "index": 0}]}
    fake = FakeChat(stream_deltas=[{"role": "assistant", "content": ""}, delta])
    chunks = list(chat_model(fake).bind_tools([add]).stream("1 + 2?"))
    full = chunks[0]
    for piece in chunks[1:]:
        full += piece
    assert isinstance(full, AIMessageChunk)
    assert full.tool_calls == [
        {"name": "add", "args": {"a": 1, "b": 2}, "id": "Ab3De6Gh9", "type": "tool_call"}
    ]


def test_bind_tools_refuses_a_choice_that_is_not_bound() -> None:
    with pytest.raises(InvalidInputError, match="tool_choice='divide'"):
        chat_model(FakeChat()).bind_tools([add], tool_choice="divide")


def test_a_tool_call_round_trip_sends_matching_ids() -> None:
    fake = FakeChat()
    history = [
        HumanMessage("1 + 2?"),
        AIMessage("", tool_calls=[ADD_CALL]),
        ToolMessage("3", tool_call_id="abc123", name="add"),
    ]
    chat_model(fake).bind_tools([add]).invoke(history)
    _, assistant, tool = fake.bodies[0]["messages"]
    assert assistant["tool_calls"][0]["id"] == tool["tool_call_id"] == TOOL_ID


def test_structured_output_by_function_calling() -> None:
    fake = FakeChat(answer={"tool_calls": [{**call('{"city": "Barcelona", "rain": true}')}]})
    fake.answer["tool_calls"][0]["function"]["name"] = "Weather"
    result = chat_model(fake).with_structured_output(Weather).invoke("Weather?")
    assert result == Weather(city="Barcelona", rain=True)
    body = fake.bodies[0]
    assert body["tool_choice"] == "any"
    assert body["tools"][0]["function"]["name"] == "Weather"


def test_structured_output_by_json_schema() -> None:
    fake = FakeChat(answer={"content": '{"city": "Barcelona", "rain": false}'})
    result = chat_model(fake).with_structured_output(Weather, method="json_schema").invoke("?")
    assert result == Weather(city="Barcelona", rain=False)
    response_format = fake.bodies[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Weather"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["additionalProperties"] is False
    assert "tools" not in fake.bodies[0]


def test_structured_output_in_json_mode_with_raw() -> None:
    fake = FakeChat(answer={"content": "not json"})
    result = (
        chat_model(fake).with_structured_output(method="json_mode", include_raw=True).invoke("?")
    )
    assert isinstance(result, dict)
    assert fake.bodies[0]["response_format"] == {"type": "json_object"}
    assert isinstance(result["raw"], AIMessage) and result["raw"].content == "not json"
    assert result["parsed"] is None and result["parsing_error"] is not None


def test_structured_output_with_a_dict_schema_returns_a_dict() -> None:
    schema = {
        "title": "Weather",
        "description": "The weather.",
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    fake = FakeChat(answer={"tool_calls": [call('{"city": "Girona"}')]})
    fake.answer["tool_calls"][0]["function"]["name"] = "Weather"
    assert chat_model(fake).with_structured_output(schema).invoke("?") == {"city": "Girona"}


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_structured_output_needs_a_schema_except_in_json_mode(method: Any) -> None:
    with pytest.raises(ValueError, match="needs a `schema`"):
        chat_model(FakeChat()).with_structured_output(None, method=method)


# --------------------------------------------------------------------------- settings, secrets


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    model = ChatVoxtral(model_name="voxtral-mini-latest")
    assert model.mistral_api_key is not None
    assert model.mistral_api_key.get_secret_value() == FAKE_API_KEY
    assert model.model == "voxtral-mini-latest"


def test_without_a_key_construction_fails_saying_where_to_put_one() -> None:
    with pytest.raises(ValidationError, match="MISTRAL_API_KEY"):
        ChatVoxtral()


def test_the_key_never_shows_in_repr_str_or_serialisation() -> None:
    model = chat_model(FakeChat(), temperature=0.3)
    for rendered in (repr(model), str(model), dumps(model), json.dumps(dumpd(model))):
        assert FAKE_API_KEY not in rendered
    assert dumpd(model)["kwargs"]["mistral_api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["MISTRAL_API_KEY"],
    }
    assert "http_client" not in dumpd(model)["kwargs"]


@pytest.mark.filterwarnings("ignore:The function `loads` is in beta")
def test_serialised_model_loads_back_without_the_key() -> None:
    model = ChatVoxtral(api_key=FAKE_API_KEY, model="voxtral-mini-latest", temperature=0.1)
    loaded = loads(
        dumps(model),
        secrets_map={"MISTRAL_API_KEY": "sk-other"},
        valid_namespaces=["voxtral_integrations"],
        allowed_objects=[ChatVoxtral],
    )
    assert isinstance(loaded, ChatVoxtral)
    assert loaded.model_dump(exclude={"mistral_api_key"}) == model.model_dump(
        exclude={"mistral_api_key"}
    )
    assert loaded.mistral_api_key is not None
    assert loaded.mistral_api_key.get_secret_value() == "sk-other"


def test_tracing_parameters() -> None:
    model: BaseChatModel = ChatVoxtral(
        api_key=FAKE_API_KEY, temperature=0.5, max_tokens=9, stop=["x"]
    )
    assert model._get_ls_params() == {
        "ls_provider": "mistral",
        "ls_model_name": "voxtral-small-latest",
        "ls_model_type": "chat",
        "ls_temperature": 0.5,
        "ls_max_tokens": 9,
        "ls_stop": ["x"],
    }
    assert (
        model._get_ls_params(model="voxtral-mini-latest")["ls_model_name"] == "voxtral-mini-latest"
    )
    assert model._llm_type == "voxtral-chat"
    vllm = ChatVoxtral(backend="vllm", base_url="http://gpu:8000/v1")
    assert vllm._get_ls_params()["ls_provider"] == "vllm"
    assert vllm._identifying_params["base_url"] == "http://gpu:8000/v1"
