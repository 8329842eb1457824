"""An in-process stand-in for the transcription endpoint that really listens.

It decodes whatever audio it is sent (with PyAV, like the real server would) and
returns one segment per non-silent region, with times relative to the audio it
received. Tests can then check that the client's chunking and stitching put every
segment back at its true place in the original recording, exactly once.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import av
import httpx

RATE = 16000
HOP = 0.01
THRESHOLD = 400.0
"""RMS (s16) above which a 10 ms frame counts as speech; generated silence is 0."""
EDGE = 1000
"""Sample magnitude (s16) that marks a region's first and last sample: found 10 ms by
10 ms, each edge is then placed to the sample, so that the fake's own timing error
(well under a millisecond) cannot hide a client's bias of a few milliseconds."""


def speech_regions(audio: bytes) -> list[tuple[float, float]]:
    """Start and end (seconds) of every non-silent stretch of ``audio``."""
    with av.open(io.BytesIO(audio)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        pcm = bytearray()
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                pcm += bytes(out.planes[0])[: out.samples * 2]
        for out in resampler.resample(None):
            pcm += bytes(out.planes[0])[: out.samples * 2]
    samples = array("h", bytes(pcm))
    hop = int(RATE * HOP)
    loud = [
        math.sqrt(sum(x * x for x in samples[i : i + hop]) / max(1, len(samples[i : i + hop])))
        > THRESHOLD
        for i in range(0, len(samples), hop)
    ]
    regions: list[tuple[float, float]] = []
    start = None
    for index, is_loud in enumerate([*loud, False]):
        if is_loud and start is None:
            start = index
        elif not is_loud and start is not None:
            if regions and start * HOP - regions[-1][1] < 0.15:  # bridge codec dropouts
                regions[-1] = (regions[-1][0], index * HOP)
            else:
                regions.append((start * HOP, index * HOP))
            start = None
    return [_to_the_sample(samples, s, e) for s, e in regions if e - s >= 0.1]


def _to_the_sample(samples: array[int], start: float, end: float) -> tuple[float, float]:
    """``(start, end)``, found on the 10 ms grid, moved to the first and last loud sample."""
    hop = int(RATE * HOP)
    first, last = round(start * RATE), round(end * RATE)
    head = range(max(0, first - hop), min(len(samples), first + hop))
    tail = range(min(len(samples), last + hop) - 1, max(0, last - hop) - 1, -1)
    first = next((i for i in head if abs(samples[i]) > EDGE), first)
    last = next((i + 1 for i in tail if abs(samples[i]) > EDGE), last)
    return first / RATE, last / RATE


def multipart(request: httpx.Request) -> tuple[dict[str, list[str]], tuple[str, bytes] | None]:
    """The form fields and the uploaded file (name, bytes) of a multipart request."""
    content_type = request.headers["content-type"].encode()
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type + b"\r\n\r\n" + request.read()
    )
    fields: dict[str, list[str]] = {}
    upload = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            upload = (part.get_filename(), payload)
        else:
            fields.setdefault(str(name), []).append(payload.decode())
    return fields, upload


@dataclass
class FakeVoxtral:
    """Answers transcription requests from the audio's actual content.

    ``fail`` decides, per upload (its SHA-256 and the 0-based order in which that
    upload was first seen), whether to answer 503 instead. ``delay`` simulates
    server time; ``in_flight_peak`` records the most requests served at once.
    """

    fail: Callable[[str, int], bool] = lambda digest, order: False
    delay: float = 0.0
    uploads: list[tuple[str, str, bytes]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    in_flight_peak: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        fields, upload = multipart(request)
        assert upload is not None, "the fake only transcribes uploads"
        filename, audio = upload
        digest = hashlib.sha256(audio).hexdigest()
        with self._lock:
            self.uploads.append((filename, request.headers["content-type"], audio))
            if digest not in self.seen:
                self.seen.append(digest)
            order = self.seen.index(digest)
            self._in_flight += 1
            self.in_flight_peak = max(self.in_flight_peak, self._in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if self.fail(digest, order):
                return httpx.Response(503, json={"object": "error", "message": "overloaded"})
            regions = speech_regions(audio)
        finally:
            with self._lock:
                self._in_flight -= 1
        segments = [
            {"text": f"words {index}", "start": round(s, 3), "end": round(e, 3)}
            for index, (s, e) in enumerate(regions)
        ]
        body: dict[str, Any] = {
            "model": fields["model"][0],
            "text": " ".join(segment["text"] for segment in segments),
            "language": "en",
            "segments": segments if fields.get("timestamp_granularities") else [],
            "usage": {
                "prompt_tokens": 1,
                "completion_tokens": len(segments),
                "total_tokens": 1 + len(segments),
            },
        }
        if fields.get("stream") == ["true"]:
            return _sse(body)
        return httpx.Response(200, json=body)


def _sse(body: dict[str, Any]) -> httpx.Response:
    events: list[dict[str, Any]] = [{"type": "transcription.language", "audio_language": "en"}]
    for segment in body["segments"]:
        events.append({"type": "transcription.text.delta", "text": segment["text"] + " "})
        events.append({"type": "transcription.segment", **segment})
    events.append({"type": "transcription.done", **body})
    text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=text.encode())


class ChunkedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body delivered in pieces, optionally dying with ``error`` after the last one."""

    def __init__(self, chunks: list[bytes], error: Exception | None = None) -> None:
        self._chunks = chunks
        self._error = error

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks
        if self._error:
            raise self._error

    async def __aiter__(self) -> Any:
        for chunk in self._chunks:
            yield chunk
        if self._error:
            raise self._error
