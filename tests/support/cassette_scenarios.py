"""The API conversations the cassette tests replay, and where each answer came from.

Each scenario, keyed by its cassette's path under ``cassettes/``, is the client
calls of one test (``run``), the server answers that
the offline cassette holds (``answers``, in order), and a note of their origin.
``tests/build_documented_cassettes.py`` turns them into cassettes by running the
real client against those answers; the tests replay the same calls. Re-recording
against the real API (``--record-mode=rewrite``) replaces the answers with real
ones, so the tests assert what holds for both.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.constants import BCN_WEATHER
from voxtral_integrations import VoxtralClient

HERE = Path(__file__).resolve().parent
OBAMA_URL = "https://docs.mistral.ai/audio/obama.mp3"
BCN_TEXT = (
    "Yesterday it was 35 degrees in Barcelona, but today the temperature will go down to "
    "minus 20 degrees."
)


def documented(name: str) -> dict[str, Any]:
    return json.loads((HERE / "documented_responses" / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    content_type: str = "application/json"


@dataclass(frozen=True)
class Scenario:
    run: Callable[[VoxtralClient], Any]
    answers: list[Answer]
    origin: str


def _json(body: Any, status: int = 200) -> Answer:
    return Answer(status, body)


def _sse(events: list[dict[str, Any]]) -> Answer:
    frames = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return Answer(200, frames, "text/event-stream")


def _chat_sse(chunks: list[dict[str, Any]]) -> Answer:
    frames = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return Answer(200, frames, "text/event-stream")


def bcn_base64() -> str:
    return base64.b64encode(BCN_WEATHER.read_bytes()).decode()


def _bcn_transcription(**extra: Any) -> dict[str, Any]:
    return {
        "model": "voxtral-mini-2602",
        "text": BCN_TEXT,
        "language": "en",
        "segments": [],
        "usage": {
            "prompt_audio_seconds": 11,
            "prompt_tokens": 4,
            "total_tokens": 262,
            "completion_tokens": 27,
        },
        **extra,
    }


_UPLOADED = {
    "id": "d56aef4c-3a1e-4bd5-9ad2-2cc7e26f3c11",
    "object": "file",
    "bytes": 353280,
    "created_at": 1763700000,
    "filename": "bcn_weather.mp3",
    "purpose": "audio",
    "sample_type": "audio",
    "source": "upload",
    "num_lines": None,
    "mimetype": "audio/mpeg",
    "signature": None,
}
_SIGNED = {
    "url": "https://mistralaifilesapiprodswe.blob.core.windows.net/audio/"
    "d56aef4c-3a1e-4bd5-9ad2-2cc7e26f3c11.mp3?se=2026-11-22T10%3A00%3A00Z&sp=r&sig=REDACTED"
}
_CHAT_BASE = {"id": "cmpl-bcn-0001", "created": 1763700000, "model": "voxtral-small-2507"}
_CHAT_USAGE = {
    "prompt_tokens": 164,
    "completion_tokens": 31,
    "total_tokens": 195,
    "prompt_audio_seconds": 11,
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current temperature in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def _chat_completion(message: dict[str, Any], *, finish_reason: str) -> Answer:
    choice = {"index": 0, "message": message, "finish_reason": finish_reason}
    return _json(
        {**_CHAT_BASE, "object": "chat.completion", "choices": [choice], "usage": _CHAT_USAGE}
    )


def audio_message(prompt: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "input_audio", "input_audio": bcn_base64()},
                {"type": "text", "text": prompt},
            ],
        }
    ]


def _signed_url_flow(client: VoxtralClient) -> dict[str, Any]:
    uploaded = client.upload_file(BCN_WEATHER)
    signed = client.get_signed_url(uploaded, expiry=1)
    by_url = client.transcribe(signed.url)
    by_id = client.transcribe(file_id=uploaded.id)
    deleted = client.delete_file(uploaded)
    return {
        "uploaded": uploaded,
        "signed": signed,
        "by_url": by_url,
        "by_id": by_id,
        "deleted": deleted,
    }


def _transcript_then_answer(answer: str) -> Scenario:
    """A retrieval example's conversation: the recording transcribed, then one answer.

    Matched on method and path only: the chat request holds what retrieval found.
    """
    segments = [
        {"text": "Yesterday it was 35 degrees in Barcelona,", "start": 0.4, "end": 4.9},
        {
            "text": "but today the temperature will go down to minus 20 degrees.",
            "start": 5.2,
            "end": 10.6,
        },
    ]
    return Scenario(
        run=lambda client: (
            client.transcribe(BCN_WEATHER, timestamp_granularities=["segment"]),
            client.chat([{"role": "user", "content": "How cold will it get today?"}]),
        ),
        answers=[
            _json(_bcn_transcription(segments=segments)),
            _chat_completion({"role": "assistant", "content": answer}, finish_reason="stop"),
        ],
        origin=f"{SPEC}: bcn_weather.mp3's published transcript, then a ChatCompletionResponse; "
        "segment times illustrative, answer wording ours",
    )


_BATCH_JOB = {
    "id": "5b0c3f0e-8a57-4b8e-9f3a-6d2c1e7a4b90",
    "object": "batch",
    "input_files": ["0f6a3c1d-2b4e-4f8a-9c7d-1e5b3a9d8c21"],
    "metadata": None,
    "endpoint": "/v1/audio/transcriptions",
    "model": "voxtral-mini-latest",
    "agent_id": None,
    "output_file": None,
    "error_file": None,
    "errors": [],
    "outputs": None,
    "status": "QUEUED",
    "created_at": 1763700010,
    "total_requests": 1,
    "completed_requests": 0,
    "succeeded_requests": 0,
    "failed_requests": 0,
    "started_at": None,
    "completed_at": None,
}
_BATCH_OUTPUT = "7c9e2d4a-1f3b-4a6c-8e5d-2b7f9c1a3e64"


def _batch_flow(client: VoxtralClient) -> tuple[Any, Any]:
    """The documented batch example: audio and JSONL uploaded, job created, polled, read."""
    with tempfile.TemporaryDirectory() as manifest_dir:
        job = client.submit_batch(BCN_WEATHER, manifest_dir=manifest_dir)
        return job, client.batch_results(job.id, manifest_dir=manifest_dir, delete_files=False)


def _batch_answers() -> list[Answer]:
    result_line = {
        "id": "batch-5b0c3f0e-0",
        "custom_id": "0",
        "response": {"status_code": 200, "body": _bcn_transcription(finish_reason=None)},
        "error": None,
    }
    return [
        _json(_UPLOADED),
        _json(
            {
                **_UPLOADED,
                "id": _BATCH_JOB["input_files"][0],
                "bytes": 80,
                "filename": "voxtral-batch.jsonl",
                "purpose": "batch",
                "sample_type": "batch_request",
                "num_lines": 1,
                "mimetype": "application/jsonl",
            }
        ),
        _json(_BATCH_JOB),
        _json(
            {
                **_BATCH_JOB,
                "status": "SUCCESS",
                "output_file": _BATCH_OUTPUT,
                "completed_requests": 1,
                "succeeded_requests": 1,
                "started_at": 1763700015,
                "completed_at": 1763700042,
            }
        ),
        Answer(200, json.dumps(result_line) + "\n", "application/octet-stream"),
    ]


DOCS = "Mistral docs, audio transcription page (example output)"
SPEC = "constructed from the published API reference (OpenAPI schema), content from the docs"

SCENARIOS: dict[str, Scenario] = {
    "test_cassettes/test_transcribe_url": Scenario(
        run=lambda client: client.transcribe(OBAMA_URL),
        answers=[_json(documented("transcription_obama.json"))],
        origin=f"{DOCS}: the 'Transcription' JSON output for obama.mp3, verbatim",
    ),
    "test_cassettes/test_transcribe_url_with_segments": Scenario(
        run=lambda client: client.transcribe(OBAMA_URL, timestamp_granularities=["segment"]),
        answers=[_json(documented("transcription_obama_segments.json"))],
        origin=f"{DOCS}: the 'Transcription with Timestamps' JSON output, verbatim",
    ),
    "test_cassettes/test_transcribe_upload": Scenario(
        run=lambda client: client.transcribe(BCN_WEATHER),
        answers=[_json(_bcn_transcription(finish_reason=None))],
        origin=f"{SPEC}: bcn_weather.mp3's published transcript and 11 s of audio",
    ),
    "test_cassettes/test_transcribe_with_context_bias": Scenario(
        run=lambda client: client.transcribe(BCN_WEATHER, context_bias=["Barcelona"]),
        answers=[_json(_bcn_transcription())],
        origin=f"{SPEC}: as test_transcribe_upload, with context_bias sent",
    ),
    "test_cassettes/test_transcribe_diarized_with_null_bounds": Scenario(
        run=lambda client: client.transcribe(
            OBAMA_URL, diarize=True, timestamp_granularities=["segment"]
        ),
        answers=[
            _json(
                {
                    "model": "voxtral-mini-latest",
                    "text": "This week, I traveled to Chicago to deliver my final farewell "
                    "address to the nation, following in the tradition of presidents before me.",
                    "language": None,
                    "segments": [
                        {
                            "text": "This week, I traveled to Chicago to deliver my final "
                            "farewell address to the nation,",
                            "start": 0.3,
                            "end": 7.6,
                            "speaker_id": "speaker_1",
                            "type": "transcription_segment",
                        },
                        {
                            "text": "following in the tradition of presidents before me.",
                            "start": None,
                            "end": None,
                            "speaker_id": "speaker_1",
                            "type": "transcription_segment",
                        },
                    ],
                    "usage": {
                        "prompt_audio_seconds": 203,
                        "prompt_tokens": 4,
                        "total_tokens": 3945,
                        "completion_tokens": 1316,
                        "request_count": 1,
                        "num_cached_tokens": 0,
                    },
                }
            )
        ],
        origin="constructed in the shape of real diarized responses reported publicly "
        "(BerriAI/litellm#23890: speaker_1, language null; a TS SDK contract test: "
        "null start/end on a diarized segment); text from the docs",
    ),
    "test_cassettes/test_stream_transcription": Scenario(
        run=lambda client: list(
            client.stream_transcription(BCN_WEATHER, timestamp_granularities=["segment"])
        ),
        answers=[
            _sse(
                [
                    {"type": "transcription.language", "audio_language": "en"},
                    {"type": "transcription.text.delta", "text": "Yesterday it was 35 degrees "},
                    {"type": "transcription.text.delta", "text": "in Barcelona, "},
                    {
                        "type": "transcription.segment",
                        "text": "Yesterday it was 35 degrees in Barcelona,",
                        "start": 0.4,
                        "end": 4.9,
                        "speaker_id": None,
                    },
                    {
                        "type": "transcription.text.delta",
                        "text": "but today the temperature will go down to minus 20 degrees.",
                    },
                    {
                        "type": "transcription.segment",
                        "text": "but today the temperature will go down to minus 20 degrees.",
                        "start": 5.2,
                        "end": 10.6,
                        "speaker_id": None,
                    },
                    {
                        "type": "transcription.done",
                        **_bcn_transcription(
                            segments=[
                                {
                                    "text": "Yesterday it was 35 degrees in Barcelona,",
                                    "start": 0.4,
                                    "end": 4.9,
                                },
                                {
                                    "text": "but today the temperature will go down to minus "
                                    "20 degrees.",
                                    "start": 5.2,
                                    "end": 10.6,
                                },
                            ]
                        ),
                    },
                ]
            )
        ],
        origin=f"{SPEC}: the four TranscriptionStreamEvents types; segment times illustrative",
    ),
    "test_cassettes/test_files_signed_url_flow": Scenario(
        run=_signed_url_flow,
        answers=[
            _json(_UPLOADED),
            _json(_SIGNED),
            _json(_bcn_transcription()),
            _json(_bcn_transcription()),
            _json({"id": _UPLOADED["id"], "object": "file", "deleted": True}),
        ],
        origin=f"{SPEC}: UploadFileOut, FileSignedURL and DeleteFileOut schemas",
    ),
    "test_cassettes/test_chat_with_audio": Scenario(
        run=lambda client: client.chat(audio_message("What's in this file?")),
        answers=[
            _chat_completion(
                {
                    "role": "assistant",
                    "content": "The recording is a short weather report: it says it was 35 "
                    "degrees in Barcelona yesterday and that the temperature will drop to minus "
                    "20 degrees today.",
                    "tool_calls": None,
                },
                finish_reason="stop",
            )
        ],
        origin=f"{SPEC}: ChatCompletionResponse with usage.prompt_audio_seconds",
    ),
    "test_cassettes/test_chat_with_audio_stream": Scenario(
        run=lambda client: list(client.chat(audio_message("Transcribe this."), stream=True)),
        answers=[
            _chat_sse(
                [
                    {
                        **_CHAT_BASE,
                        "object": "chat.completion.chunk",
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"role": "assistant", "content": ""},
                                "finish_reason": None,
                            }
                        ],
                    },
                    {
                        **_CHAT_BASE,
                        "object": "chat.completion.chunk",
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"content": "Yesterday it was 35 degrees in Barcelona, "},
                                "finish_reason": None,
                            }
                        ],
                    },
                    {
                        **_CHAT_BASE,
                        "object": "chat.completion.chunk",
                        "choices": [
                            {
                                "index": 0,
                                "delta": {
                                    "content": "but today the temperature "
                                    "will go down to minus 20 degrees."
                                },
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": _CHAT_USAGE,
                    },
                ]
            )
        ],
        origin=f"{SPEC}: CompletionChunk stream ending in data: [DONE]",
    ),
    "test_cassettes/test_chat_tool_call_from_audio": Scenario(
        run=lambda client: client.chat(
            audio_message("Answer the question in the recording."),
            tools=[WEATHER_TOOL],
            tool_choice="any",
        ),
        answers=[
            _chat_completion(
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "D681PevKs",
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": '{"city": "Barcelona"}',
                            },
                        }
                    ],
                },
                finish_reason="tool_calls",
            )
        ],
        origin=f"{SPEC}: a ChatCompletionResponse with ToolCall",
    ),
    "test_cassettes/test_invalid_api_key": Scenario(
        run=lambda client: client.transcribe(OBAMA_URL),
        answers=[_json({"detail": "Invalid API Key"}, status=401)],
        origin="a response body measured on the real API by a third party "
        "(fsebbah/n8n-workflows, test_296_audio_transcription.js, 2026-09-17); not recorded here",
    ),
    "test_cassettes/test_transcription_with_chat_model_is_refused": Scenario(
        run=lambda client: client.transcribe(OBAMA_URL, model="voxtral-small-latest"),
        answers=[
            _json(
                {
                    "object": "error",
                    "message": "Invalid model: voxtral-small-latest",
                    "type": "invalid_model",
                    "param": None,
                    "code": "1500",
                    "raw_status_code": 400,
                },
                status=400,
            )
        ],
        origin="a response body measured on the real API by a third party "
        "(EpicenterHQ/epicenter#1787; fsebbah/n8n-workflows); not recorded here",
    ),
    "test_examples/test_transcribe_file_example": Scenario(
        run=lambda client: client.transcribe(BCN_WEATHER, timestamp_granularities=["segment"]),
        answers=[
            _json(
                _bcn_transcription(
                    segments=[
                        {
                            "text": "Yesterday it was 35 degrees in Barcelona,",
                            "start": 0.4,
                            "end": 4.9,
                            "type": "transcription_segment",
                        },
                        {
                            "text": "but today the temperature will go down to minus 20 degrees.",
                            "start": 5.2,
                            "end": 10.6,
                            "type": "transcription_segment",
                        },
                    ]
                )
            )
        ],
        origin=f"{SPEC}: bcn_weather.mp3's published transcript; segment times illustrative",
    ),
    "test_examples/test_langchain_rag_with_timestamps_example": _transcript_then_answer(
        "Today the temperature will go down to minus 20 degrees [00:00:00]."
    ),
    "test_examples/test_langchain_chat_with_audio_example": Scenario(
        # matched on method and path only, like the other example conversations
        run=lambda client: (
            client.chat(audio_message("What is this recording about?")),
            client.chat(
                audio_message("Check the weather now in the city the recording mentions."),
                tools=[WEATHER_TOOL],
                tool_choice="any",
            ),
        ),
        answers=[
            _chat_completion(
                {
                    "role": "assistant",
                    "content": "A short weather report: 35 degrees in Barcelona yesterday, "
                    "minus 20 degrees expected today.",
                },
                finish_reason="stop",
            ),
            _chat_completion(
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "k3Ud9qXzW",
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": '{"city": "Barcelona"}',
                            },
                        }
                    ],
                },
                finish_reason="tool_calls",
            ),
        ],
        origin=f"{SPEC}: two ChatCompletionResponses, the second a ToolCall; wording ours",
    ),
    "test_examples/test_llama_index_query_with_timestamps_example": _transcript_then_answer(
        "It will go down to minus 20 degrees today."
    ),
    "test_batch/test_batch_documented_flow": Scenario(
        run=_batch_flow,
        answers=_batch_answers(),
        origin="constructed from the documented batch example (Mistral docs, batch "
        "processing, transcriptions tab) and the published API reference (BatchJob, "
        "UploadFileOut): bcn_weather.mp3's published transcript, 11 s, finish_reason null",
    ),
}
