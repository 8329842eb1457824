"""A real local server answering chat completions, keeping every request body it got.

Chat tests use it where a real socket matters (connections left open) or where
the JSON actually sent is what is checked (audio converted before sending).
Transcriptions get ``LocalVoxtralServer``'s own answer.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.local_server import LocalVoxtralServer, ReceivedRequest, Reply
from tests.support.constants import FAKE_API_KEY

COMPLETION = {
    "id": "cmpl-local-0001",
    "object": "chat.completion",
    "created": 1763700000,
    "model": "voxtral-small-2507",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}


class ChatServer(LocalVoxtralServer):
    """``LocalVoxtralServer`` that also answers ``/v1/chat/completions`` with ``ok``."""

    def __init__(self, **options: Any) -> None:
        super().__init__(hook=self._chat, api_key=FAKE_API_KEY, **options)
        self.chat_bodies: list[dict[str, Any]] = []

    def _chat(self, request: ReceivedRequest) -> Reply | None:
        if not request.path.endswith("/chat/completions"):
            return None
        self.chat_bodies.append(json.loads(request.body))
        return Reply(200, COMPLETION)

    def audio_parts(self) -> list[Any]:
        """The ``input_audio`` value of every audio part sent, in order."""
        return [
            part["input_audio"]
            for body in self.chat_bodies
            for message in body["messages"]
            if isinstance(message.get("content"), list)
            for part in message["content"]
            if part.get("type") == "input_audio"
        ]
