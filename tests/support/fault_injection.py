"""Faults for ``LocalVoxtralServer``, by name: scripted per request or drawn at rates, recorded.

A fault is what a real network or server does to one answer: a status (429 with
a wait, 5xx, a 404 from a routing glitch), a connection reset (RST) before the
answer, after its head or mid-body, an orderly close before the answer, a body
shorter than its ``Content-Length``, a chunked body without its last chunk, a 200
whose JSON stops halfway (framed as whole, or ended by the connection's close), or
a stall past the client's read timeout. Faults that damage an answer damage the
real one (``answer``), so what does arrive is what the server would have said.

:class:`Script` injects a fixed sequence (the matrix tests: "503 once, then OK");
:class:`FaultPlan` draws each request's fault from a seeded RNG at given rates
("20% of chunk requests fail transiently"). Both are the server's hook and keep
an :class:`Injection` per fault, so a test checks the outcome against the record.

A plan's draw for a request depends only on the seed, the request's key (the
uploaded file's name, a ``file_url``, a ``file_id``) and how many times that key
was sent before, never on the order in which concurrent requests arrive: the same
seed injects the same faults into the same chunks on every run.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from benchmarks.local_server import (
    LocalVoxtralServer,
    ReceivedRequest,
    Reply,
    sse_frame,
    transcription_events,
)
from tests.support.fake_voxtral import speech_regions

TRANSIENT_STATUSES = ("429", "500", "502", "503", "504")
CONNECTION_FAULTS = (
    "reset-before",  # RST instead of an answer
    "close-before",  # FIN instead of an answer ("Server disconnected")
    "reset-after-headers",  # the head, then RST
    "reset-mid-body",  # half the body, then RST
    "short-body",  # Content-Length announces more than is sent, then FIN
    "chunked-cut",  # chunked (half of a JSON body), the final empty chunk never sent, then FIN
)
CUT_JSON_FAULTS = (
    "json-cut",  # a 200 whose framing is whole but whose JSON stops halfway (a re-framing proxy)
    "unframed-cut",  # no Content-Length, no chunks: half the JSON, then FIN (HTTP/1.0 style)
)
FAULTS = (*TRANSIENT_STATUSES, "404", *CONNECTION_FAULTS, *CUT_JSON_FAULTS, "stall")

JSON = "application/json"

Answer = Callable[[ReceivedRequest], Reply]


@dataclass(frozen=True)
class Injection:
    """One fault injected: into which request (the server's index), which key, which try."""

    index: int
    key: str
    attempt: int
    """0 for the key's first request, 1 for the one after it, ..."""
    fault: str


def request_key(request: ReceivedRequest) -> str:
    """What identifies a request across its retries: the upload's name, else its source."""
    upload = request.files.get("file")
    if upload is not None:
        return upload.filename or hashlib.sha256(upload.content).hexdigest()
    return request.value("file_url") or request.value("file_id") or request.path


def fault_reply(
    fault: str, answer: Reply, *, retry_after_ms: int = 50, stall: float = 1.0
) -> Reply:
    """``fault`` done to ``answer`` (the reply the request would otherwise get)."""
    if fault == "429":
        reply = Reply.error(429, "Requests rate limit exceeded", error_type="rate_limited")
        return Reply(429, reply.body, {"retry-after-ms": str(retry_after_ms)})
    if fault in TRANSIENT_STATUSES:
        return Reply.error(int(fault), "Service unavailable, try again", error_type="server_error")
    if fault == "404":
        return Reply(404, {"detail": "Not Found"})
    if fault in ("reset-before", "close-before"):
        return Reply.dropped(reset=fault == "reset-before")
    payload = b"".join(answer.chunks) if answer.chunks is not None else answer.encoded()[0]
    if fault == "reset-after-headers":
        return answer.truncated(0, reset=True)
    if fault == "reset-mid-body":
        return answer.truncated(len(payload) // 2, reset=True)
    if fault == "short-body":
        return answer.truncated(len(payload) // 2)
    if fault == "chunked-cut":
        if answer.chunks is not None:
            return replace(answer, complete=False)
        half = len(payload) // 2
        content_type = answer.encoded()[1]
        headers = {"Content-Type": content_type, **answer.headers}
        return Reply(answer.status, headers=headers, chunks=[payload[:half]], complete=False)
    if fault == "json-cut":
        return Reply(answer.status, payload[: len(payload) // 2], {"Content-Type": JSON})
    if fault == "unframed-cut":
        return replace(answer, framed=False, cut_at=len(payload) // 2)
    if fault == "stall":
        return replace(answer, delay=stall)
    raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")


class _Injector:
    """The hook's bookkeeping, shared by :class:`Script` and :class:`FaultPlan`."""

    def __init__(
        self,
        answer: Answer | None,
        *,
        retry_after_ms: int,
        stall: float,
        key: Callable[[ReceivedRequest], str],
    ) -> None:
        self.answer = answer
        self.retry_after_ms = retry_after_ms
        self.stall = stall
        self.key = key
        self.injected: list[Injection] = []
        self.sent: Counter[str] = Counter()
        """Requests seen per key (faulted or not)."""
        self.indices: dict[str, list[int]] = {}
        """The server's indices of each key's requests, in order."""
        self._lock = threading.Lock()

    def install(self, server: LocalVoxtralServer) -> LocalVoxtralServer:
        """Make this the server's hook; without an ``answer`` the server's own is damaged."""
        if self.answer is None:
            self.answer = server.answer
        server.hook = self
        return server

    def __call__(self, request: ReceivedRequest) -> Reply | None:
        key = self.key(request)
        with self._lock:
            attempt = self.sent[key]
            self.sent[key] += 1
            self.indices.setdefault(key, []).append(request.index)
            fault = self._choose(request, key, attempt)
            if fault is not None:
                self.injected.append(Injection(request.index, key, attempt, fault))
        if self.answer is None:
            raise RuntimeError("no answer to damage: call install(server) or pass answer=")
        answer = self.answer(request)
        if fault is None or answer.status != 200:  # the server refused it: nothing to damage
            return answer
        return fault_reply(fault, answer, retry_after_ms=self.retry_after_ms, stall=self.stall)

    def _choose(self, request: ReceivedRequest, key: str, attempt: int) -> str | None:
        raise NotImplementedError

    def faults(self) -> list[str]:
        return [injection.fault for injection in self.injected]

    def next_attempt(self, injection: Injection) -> int | None:
        """The server's index of the request that retried ``injection``'s, if any."""
        later = self.indices[injection.key][injection.attempt + 1 :]
        return later[0] if later else None


class Script(_Injector):
    """The n-th request (in arrival order) gets ``faults[n]``; later ones get ``then``.

    ``None`` in the script (or as ``then``) lets the request through untouched.
    """

    def __init__(
        self,
        faults: Sequence[str | None],
        *,
        then: str | None = None,
        answer: Answer | None = None,
        retry_after_ms: int = 50,
        stall: float = 1.0,
        key: Callable[[ReceivedRequest], str] = request_key,
    ) -> None:
        super().__init__(answer, retry_after_ms=retry_after_ms, stall=stall, key=key)
        unknown = [fault for fault in (*faults, then) if fault is not None and fault not in FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")
        self._faults = list(faults)
        self._then = then
        self._count = itertools.count()

    def _choose(self, request: ReceivedRequest, key: str, attempt: int) -> str | None:
        number = next(self._count)
        return self._faults[number] if number < len(self._faults) else self._then


class FaultPlan(_Injector):
    """Each request gets fault ``f`` with probability ``rates[f]`` (at most one fault).

    Args:
        rates: Fault name -> probability per request; they add up to at most 1.
        seed: With the key and the attempt, decides every draw (module docstring).
        max_faults_per_key: Requests of one key that may be faulted; later ones go
            through, so a test can promise every request succeeds within its retries.
        limits: Fault name -> how many of it in all (e.g. ``{"404": 1}``).
        answer: The undamaged reply (e.g. :func:`regions_answer`); else the server's.
    """

    def __init__(
        self,
        rates: Mapping[str, float],
        *,
        seed: int,
        max_faults_per_key: int | None = None,
        limits: Mapping[str, int] | None = None,
        answer: Answer | None = None,
        retry_after_ms: int = 50,
        stall: float = 1.0,
        key: Callable[[ReceivedRequest], str] = request_key,
    ) -> None:
        super().__init__(answer, retry_after_ms=retry_after_ms, stall=stall, key=key)
        unknown = sorted(set(rates) - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")
        if any(rate < 0 for rate in rates.values()) or sum(rates.values()) > 1 + 1e-9:
            raise ValueError(f"rates must be >= 0 and add up to at most 1: {dict(rates)}")
        self.rates = dict(rates)
        self.seed = seed
        self.max_faults_per_key = max_faults_per_key
        self.limits = dict(limits or {})

    def _choose(self, request: ReceivedRequest, key: str, attempt: int) -> str | None:
        faulted = sum(injection.key == key for injection in self.injected)
        if self.max_faults_per_key is not None and faulted >= self.max_faults_per_key:
            return None
        draw = random.Random(f"{self.seed}/{key}/{attempt}").random()
        for fault, rate in self.rates.items():
            if draw < rate:
                used = self.faults().count(fault)
                return None if used >= self.limits.get(fault, used + 1) else fault
            draw -= rate
        return None


# --------------------------------------------------------------------------- answers


def regions_answer(request: ReceivedRequest) -> Reply:
    """What ``FakeVoxtral`` answers, over the socket: a segment per non-silent region.

    Times are relative to the uploaded audio, as the real API's are; regions of one
    upload are computed once (retries and reruns send the same bytes).
    """
    upload = request.files.get("file")
    if upload is None:
        return Reply.error(400, "this server only transcribes uploads")
    segments = [
        {"text": f"words {index}", "start": round(start, 3), "end": round(end, 3)}
        for index, (start, end) in enumerate(_regions(upload.content))
    ]
    body: dict[str, Any] = {
        "model": request.value("model") or "",
        "text": " ".join(segment["text"] for segment in segments),
        "language": "en",
        "segments": segments if request.fields.get("timestamp_granularities") else [],
        "usage": {
            "prompt_tokens": 1,
            "completion_tokens": len(segments),
            "total_tokens": 1 + len(segments),
        },
    }
    if request.value("stream") != "true":
        return Reply(200, body)
    events = transcription_events(body, with_segments=True)
    return Reply(
        200,
        headers={"Content-Type": "text/event-stream"},
        chunks=[sse_frame(event) for event in events],
    )


_REGIONS: dict[str, list[tuple[float, float]]] = {}
_REGIONS_LOCK = threading.Lock()


def _regions(audio: bytes) -> list[tuple[float, float]]:
    digest = hashlib.sha256(audio).hexdigest()
    with _REGIONS_LOCK:
        known = _REGIONS.get(digest)
    if known is None:
        known = speech_regions(audio)
        with _REGIONS_LOCK:
            _REGIONS[digest] = known
    return known
