"""Every request shape the client produces conforms to Mistral's published OpenAPI document.

Each row drives the real client (sync and async) against an in-process transport
that records the request; the recorded request is then validated against the
request schemas copied from the OpenAPI document (see ``README.md`` here).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.openapi_contract import validate_request
from voxtral_integrations import AsyncVoxtralClient, UploadedFile, VoxtralClient

WAV_HEADER = b"RIFF\x24\x00\x00\x00WAVEfmt "
AUDIO_B64 = base64.b64encode(WAV_HEADER + b"\x00" * 64).decode()
FILE_ID = "d56aef4c-3a1e-4bd5-9ad2-2cc7e26f3c11"

_TRANSCRIPTION = {"model": "m", "text": "t", "language": None, "segments": [], "usage": {}}
_CHAT = {
    "id": "c",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}],
}
_STREAM = (
    "event: transcription.done\ndata: "
    + json.dumps({"type": "transcription.done", **_TRANSCRIPTION})
    + "\n\n"
)
_CHAT_STREAM = "data: " + json.dumps({**_CHAT, "choices": []}) + "\n\ndata: [DONE]\n\n"


def _answer(request: httpx.Request) -> httpx.Response:
    body = request.read()
    path = request.url.path
    is_json = request.headers.get("content-type") == "application/json"
    streaming = (
        json.loads(body).get("stream") is True if is_json else b'name="stream"\r\n\r\ntrue' in body
    )
    if path.endswith("/audio/transcriptions"):
        if streaming:
            return httpx.Response(
                200, content=_STREAM.encode(), headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, json=_TRANSCRIPTION)
    if path.endswith("/chat/completions"):
        if streaming:
            return httpx.Response(
                200, content=_CHAT_STREAM.encode(), headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, json=_CHAT)
    if path.endswith("/url"):
        return httpx.Response(200, json={"url": "https://files.example/a?sig=x"})
    if request.method == "DELETE":
        return httpx.Response(200, json={"id": FILE_ID, "object": "file", "deleted": True})
    return httpx.Response(200, json={"id": FILE_ID, "object": "file", "purpose": "audio"})


def _user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(parts)}]


AUDIO_PART = {"type": "input_audio", "input_audio": AUDIO_B64}
TEXT_PART = {"type": "text", "text": "What is said?"}
TOOL = {
    "type": "function",
    "function": {
        "name": "f",
        "description": "d",
        "parameters": {"type": "object", "properties": {}},
    },
}

Call = Callable[[Any, Path], Any]

CALLS: list[Any] = [
    pytest.param(lambda c, wav: c.transcribe(wav), id="transcribe-path"),
    pytest.param(lambda c, wav: c.transcribe(wav.read_bytes()), id="transcribe-bytes"),
    pytest.param(
        lambda c, wav: c.transcribe(io.BytesIO(wav.read_bytes())), id="transcribe-file-object"
    ),
    pytest.param(
        lambda c, wav: c.transcribe("https://docs.mistral.ai/audio/obama.mp3"), id="transcribe-url"
    ),
    pytest.param(lambda c, wav: c.transcribe(file_id=FILE_ID), id="transcribe-file-id"),
    pytest.param(
        lambda c, wav: c.transcribe(UploadedFile(id=FILE_ID)), id="transcribe-uploaded-file"
    ),
    pytest.param(
        lambda c, wav: c.transcribe(wav, language="en", temperature=0.2), id="language-temperature"
    ),
    pytest.param(
        lambda c, wav: c.transcribe(wav, timestamp_granularities=["segment"]), id="segments"
    ),
    pytest.param(lambda c, wav: c.transcribe(wav, timestamp_granularities=["word"]), id="words"),
    pytest.param(
        lambda c, wav: c.transcribe(wav, timestamp_granularities=["segment", "word"]), id="both"
    ),
    pytest.param(
        lambda c, wav: c.transcribe(wav, diarize=True, timestamp_granularities="segment"),
        id="diarize",
    ),
    pytest.param(
        lambda c, wav: c.transcribe(wav, context_bias=["Voxtral", "farewell_address", "Mistral"]),
        id="context-bias",
    ),
    pytest.param(lambda c, wav: c.transcribe(wav, temperature=0), id="temperature-zero"),
    pytest.param(lambda c, wav: c.stream_transcription(wav), id="stream"),
    pytest.param(
        lambda c, wav: c.stream_transcription(
            "https://x.example/a.mp3",
            diarize=True,
            timestamp_granularities=["segment"],
            context_bias=["A"],
        ),
        id="stream-all-options",
    ),
    pytest.param(lambda c, wav: c.upload_file(wav), id="upload-path"),
    pytest.param(lambda c, wav: c.upload_file(wav.read_bytes()), id="upload-bytes"),
    pytest.param(lambda c, wav: c.get_signed_url(FILE_ID), id="signed-url-default"),
    pytest.param(
        lambda c, wav: c.get_signed_url(UploadedFile(id=FILE_ID), expiry=1), id="signed-url-1h"
    ),
    pytest.param(lambda c, wav: c.delete_file(FILE_ID), id="delete"),
    pytest.param(lambda c, wav: c.chat([{"role": "user", "content": "hi"}]), id="chat-text"),
    pytest.param(lambda c, wav: c.chat(_user(AUDIO_PART, TEXT_PART)), id="chat-audio-base64"),
    pytest.param(
        lambda c, wav: c.chat(
            _user({"type": "input_audio", "input_audio": "https://x.example/a.mp3"})
        ),
        id="chat-audio-url",
    ),
    pytest.param(
        lambda c, wav: c.chat(
            _user(
                {"type": "input_audio", "input_audio": {"data": AUDIO_B64, "format": "wav"}},
                TEXT_PART,
            )
        ),
        id="chat-audio-openai-object",
    ),
    pytest.param(
        lambda c, wav: c.chat(
            [{"role": "system", "content": "Be brief."}, *_user(AUDIO_PART)],
            tools=[TOOL],
            tool_choice="any",
            temperature=0.3,
            max_tokens=64,
        ),
        id="chat-tools",
    ),
    pytest.param(
        lambda c, wav: c.chat(
            _user(AUDIO_PART),
            tools=[TOOL],
            tool_choice={"type": "function", "function": {"name": "f"}},
        ),
        id="chat-tool-choice-object",
    ),
    pytest.param(
        lambda c, wav: c.chat(_user(TEXT_PART), response_format={"type": "json_object"}),
        id="chat-json",
    ),
    pytest.param(
        lambda c, wav: c.chat(
            _user(TEXT_PART),
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
            },
        ),
        id="chat-json-schema",
    ),
    pytest.param(
        lambda c, wav: c.chat(_user(AUDIO_PART), extra_body={"stop": ["\n"], "random_seed": 1}),
        id="chat-extra-body",
    ),
    pytest.param(
        lambda c, wav: c.chat(
            [
                *_user(AUDIO_PART),
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "abcdefghi",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "abcdefghi", "name": "f", "content": "42"},
            ],
            tools=[TOOL],
        ),
        id="chat-tool-result",
    ),
    pytest.param(lambda c, wav: c.chat(_user(AUDIO_PART), stream=True), id="chat-stream"),
]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_every_request_shape_conforms_to_the_openapi_document(
    kind: str, call: Call, tiny_wav: Path
) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return _answer(request)

    if kind == "sync":
        result = call(
            VoxtralClient(
                api_key="k", http_client=httpx.Client(transport=httpx.MockTransport(record))
            ),
            tiny_wav,
        )
        if hasattr(result, "__next__"):
            list(result)
    else:

        async def run() -> None:
            client = AsyncVoxtralClient(
                api_key="k", http_client=httpx.AsyncClient(transport=httpx.MockTransport(record))
            )
            result = await call(client, tiny_wav)
            if hasattr(result, "__anext__"):
                [item async for item in result]

        asyncio.run(run())

    assert len(sent) == 1
    assert validate_request(sent[0])
