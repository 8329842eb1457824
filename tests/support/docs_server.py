"""One local server for every snippet of the README and the guides.

A :class:`~benchmarks.local_server.LocalVoxtralServer` on a real socket whose hook
checks every request against Mistral's OpenAPI contract first (a snippet passes only
if the real service would take its requests), then answers: transcriptions as the
server itself does; the Files and Batch APIs with :class:`FakeBatchServer`; signed
URLs; and chat completions (JSON, or a stream when asked) with one fixed answer.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from benchmarks.local_server import (
    TRANSCRIPTIONS_PATH,
    LocalVoxtralServer,
    ReceivedRequest,
    Reply,
)
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_batch import FakeBatchServer
from tests.support.openapi_contract import validate_request

CHAT_ANSWER = "The speaker asks whether it will rain in Barcelona tomorrow."


class DocsServer(LocalVoxtralServer):
    """Use as a context manager; ``base_url`` is what ``MISTRAL_BASE_URL`` should be."""

    def __init__(self) -> None:
        super().__init__(hook=self._route, api_key=FAKE_API_KEY)
        self.batch = FakeBatchServer(script=("SUCCESS",))
        self.operations: list[str] = []

    def _route(self, request: ReceivedRequest) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {FAKE_API_KEY}":
            return None  # the server's own 401
        as_httpx = httpx.Request(
            request.method,
            f"https://api.mistral.ai{request.path}",
            params={key: list(values) for key, values in request.query.items()},
            headers=dict(request.headers),
            content=request.body,
        )
        operation = validate_request(as_httpx)
        self.operations.append(operation)
        if request.path == TRANSCRIPTIONS_PATH:
            return None
        if request.path.endswith("/url") and request.method == "GET":
            file_id = request.path.split("/files/")[1].split("/")[0]
            return Reply(200, {"url": f"https://files.example/{file_id}?sig=SIGNED"})
        if request.path == "/v1/chat/completions":
            return _chat(json.loads(request.body))
        answer = self.batch(as_httpx)
        answer.read()
        content_type = answer.headers.get("content-type", "application/json")
        return Reply(answer.status_code, answer.content, {"Content-Type": content_type})


def _chat(body: dict[str, Any]) -> Reply:
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 12,
        "total_tokens": 132,
        "prompt_audio_seconds": 4,
    }
    if not body.get("stream"):
        return Reply(
            200,
            {
                "id": "cmpl-docs",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": CHAT_ANSWER},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )
    frames = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": word + " "}}]}
        for word in CHAT_ANSWER.split()
    ]
    frames[-1]["choices"][0]["finish_reason"] = "stop"
    frames[-1]["usage"] = usage
    events = [
        f"data: {json.dumps({'id': 'cmpl-docs', 'model': body['model'], **frame})}\n\n"
        for frame in frames
    ]
    return Reply(
        200,
        ("".join(events) + "data: [DONE]\n\n").encode(),
        {"Content-Type": "text/event-stream"},
    )
