"""A real local server for the CLI tests that answers from the audio it receives.

``LocalVoxtralServer`` (a real socket, keep-alive, the API's authentication and
error shapes) with a hook that decodes every upload like ``FakeVoxtral`` does:
one segment per stretch of sound, with times relative to the audio received.
Each segment's text names the upload (``talk 0``, ``long.part001 2``), so a test
can tell which file, and which chunk of it, every piece of an output came from.
Every answer is recorded, so outputs are checked against what the server said.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from benchmarks.local_server import (
    TRANSCRIPTIONS_PATH,
    LocalVoxtralServer,
    ReceivedRequest,
    Reply,
    audio_seconds,
)
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_voxtral import speech_regions


@dataclass(frozen=True)
class Answer:
    """One transcription request: the uploaded file's name and what the server said."""

    filename: str
    status: int
    body: dict[str, Any]


def never(filename: str, attempt: int) -> bool:
    return False


@dataclass
class SpeechServer:
    """Use as a context manager; ``fail(filename, attempt)`` answers 400 instead.

    ``attempt`` counts the requests for that filename, from 1. A 400 is not
    retried, so a failing file fails at once.
    """

    fail: Callable[[str, int], bool] = never
    delay: Callable[[str], float] = lambda filename: 0.0
    """Seconds to wait before answering a request for ``filename``."""
    answers: list[Answer] = field(default_factory=list)
    _attempts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: LocalVoxtralServer | None = None

    def __enter__(self) -> SpeechServer:
        self._server = LocalVoxtralServer(hook=self._answer, api_key=FAKE_API_KEY)
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.stop()

    @property
    def server(self) -> LocalVoxtralServer:
        assert self._server is not None, "use SpeechServer in a with block"
        return self._server

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def request_count(self) -> int:
        return self.server.request_count

    def filenames(self) -> list[str]:
        """Uploaded filenames, in the order the requests arrived."""
        with self._lock:
            return [answer.filename for answer in self.answers]

    def answered(self, filename: str) -> dict[str, Any]:
        """The (last) successful answer for ``filename``."""
        with self._lock:
            bodies = [a.body for a in self.answers if a.filename == filename and a.status == 200]
        assert bodies, f"no successful answer for {filename}: {self.filenames()}"
        return bodies[-1]

    def reset(self) -> None:
        self.server.reset()
        with self._lock:
            self.answers.clear()

    def _answer(self, request: ReceivedRequest) -> Reply | None:
        upload = request.files.get("file")
        authorised = request.headers.get("authorization") == f"Bearer {FAKE_API_KEY}"
        if request.path != TRANSCRIPTIONS_PATH or upload is None or not authorised:
            return None  # the server's own answer (URLs, 401, 404)
        filename = upload.filename or ""
        with self._lock:
            self._attempts[filename] += 1
            attempt = self._attempts[filename]
        if self.fail(filename, attempt):
            reply = Reply.error(400, f"Audio input could not be decoded ({filename})")
            self._record(filename, reply.status, {})
            return reply
        body = self._transcription(request, filename, upload.content)
        self._record(filename, 200, body)
        return Reply(200, body, delay=self.delay(filename))

    def _transcription(
        self, request: ReceivedRequest, filename: str, audio: bytes
    ) -> dict[str, Any]:
        tag = filename.rsplit(".", 1)[0]
        diarize = request.value("diarize") == "true"
        segments: list[dict[str, Any]] = []
        for index, (start, end) in enumerate(speech_regions(audio)):
            segment: dict[str, Any] = {"text": f" {tag} {index}", "start": start, "end": end}
            if diarize:
                segment["speaker_id"] = f"speaker_{index % 2 + 1}"
            segments.append(segment)
        timed = bool(request.fields.get("timestamp_granularities")) or diarize
        words = sum(len(segment["text"].split()) for segment in segments)
        return {
            "model": request.value("model"),
            "text": "".join(segment["text"] for segment in segments),
            "language": None,
            "segments": segments if timed else [],
            "usage": {
                "prompt_audio_seconds": round(audio_seconds(audio), 3),
                "prompt_tokens": 10 + len(audio) // 4000,
                "completion_tokens": words,
                "total_tokens": 10 + len(audio) // 4000 + words,
            },
        }

    def _record(self, filename: str, status: int, body: dict[str, Any]) -> None:
        with self._lock:
            self.answers.append(Answer(filename, status, body))
