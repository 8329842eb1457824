"""A strict loopback realtime server (Mistral and vLLM dialects) that really listens.

It runs a ``websockets`` server on 127.0.0.1 in a background thread. It checks the upgrade
and every frame the way the reference's §5 asks (``realtime_rules``), and it "hears" the audio
it receives: speech made by ``audio_factory.tone_speech`` is decoded word by word, so the
text it returns depends on the audio content and times count from the session's first
sample, as a new real session restarts at 0.

What the Mistral dialect says about what it hears is ``realtime_transcript``'s; the vLLM
dialect sends each word's delta as soon as the word has ended (vLLM holds nothing back).
Faults (``Faults``) reproduce the server failures of the reference's §1.5 and §2.10.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.support import realtime_rules as rules
from tests.support.audio_factory import Heard, WordListener, samples_of
from tests.support.constants import FAKE_API_KEY
from tests.support.realtime_transcript import Transcript

DEFAULT_FORMAT = {"encoding": "pcm_s16le", "sample_rate": 16000}


@dataclass(frozen=True)
class Faults:
    """Server faults (reference §2.10, §1.5) and switches; ``only_first`` limits them to the
    first K connections so that a reconnect can succeed. Times are seconds of session audio,
    except ``timeout_after`` (wall-clock seconds after the last append without a flush)."""

    only_first: int | None = None
    cumulative_done: bool = False  # done.text repeats the earlier turns' text (pipecat#4485)
    no_done: bool = False  # flush and end never produce a done
    stall_after: float | None = None  # then nothing at all is sent, the socket stays open
    drop_after: float | None = None  # abrupt TCP close: the client sees 1006
    close_1011_after: float | None = None
    handshake_status: int | None = None  # 400 invalid_model, 401, 429 or 503 at the upgrade
    capacity_error: bool = False  # an error event (3505) instead of session.created, close 1013
    refusal: int | None = None  # an error event with this code instead of session.created, 1008
    timeout_after: float | None = None  # error 3804, then close 1000
    auto_done_at_turn_end: bool = False  # v3: a done follows each turn.end without a flush


@dataclass
class Connection:
    """What one connection did.

    ``frames``: every frame in and out, in order, each a dict with ``dir`` "in" or "out";
    an append's base64 is replaced by ``audio_chars`` and ``audio_bytes`` (decoded, once
    accepted); a binary frame is ``{"binary": n}``, bad JSON ``{"raw": text}``. ``times``
    holds each frame's ``time.monotonic()`` (for latency measurements). ``audio`` is every
    accepted byte, ``close_code`` the socket's once the handler ended (``closed`` is set then).
    """

    path: str
    model: str | None
    auth: str | None  # "key", "token" or None; never the secret itself
    subprotocol: str | None
    faulty: bool
    frames: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list, repr=False)
    audio: bytearray = field(default_factory=bytearray, repr=False)
    close_code: int | None = None
    closed: threading.Event = field(default_factory=threading.Event, repr=False)

    def log(self, frame: dict[str, Any]) -> None:
        self.frames.append(frame)
        self.times.append(time.monotonic())


def _json_response(status: int, body: dict[str, Any]) -> Response:
    data = json.dumps(body).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return Response(status, HTTPStatus(status).phrase, headers, data)


def _error_body(status: int, message: str, kind: str, code: str) -> Response:
    body = {"object": "error", "message": message, "type": kind, "param": None, "code": code}
    return _json_response(status, body)


class FakeRealtimeServer:
    """``with FakeRealtimeServer(...) as server``: a listening server until the block ends.

    ``models`` maps the Mistral model names it serves to their capabilities (default
    ``realtime_rules.MISTRAL_MODELS``); ``vllm_models`` are the names vLLM's ``session.update``
    accepts. ``Faults.only_first`` counts upgrade attempts, refused ones included.
    """

    def __init__(
        self,
        dialect: Literal["mistral", "vllm"] = "mistral",
        *,
        faults: Faults | None = None,
        api_key: str = FAKE_API_KEY,
        models: dict[str, rules.ModelSpec] | None = None,
        vllm_models: tuple[str, ...] = rules.VLLM_MODELS,
    ) -> None:
        self.dialect = dialect
        self.faults = faults or Faults()
        self._api_key = api_key
        self.models = dict(models or rules.MISTRAL_MODELS)
        self.vllm_models = vllm_models
        self.records: list[Connection] = []
        self.rejected: list[tuple[int, str]] = []  # (status, path) of refused upgrades
        self._tokens: dict[str, str] = {}
        self._attempts = 0
        self.port = 0

    def __repr__(self) -> str:
        return f"FakeRealtimeServer(dialect={self.dialect!r}, port={self.port})"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def ws_url(self, model: str | None = None) -> str:
        """The dialect's WebSocket URL (Mistral: with ``?model=``)."""
        if self.dialect == "vllm":
            return f"ws://127.0.0.1:{self.port}{rules.VLLM_PATH}"
        query = "" if model is None else f"?model={model}"
        return f"ws://127.0.0.1:{self.port}{rules.MISTRAL_PATH}{query}"

    @property
    def connections(self) -> int:
        return len(self.records)

    @property
    def frames(self) -> list[list[dict[str, Any]]]:
        return [record.frames for record in self.records]

    def mint_token(self, model: str) -> str:
        """An ``rt_…`` browser token for ``model`` (what POST /v1/client/sessions returns)."""
        token = f"rt_{uuid.uuid4().hex}"
        self._tokens[token] = model
        return token

    # --- lifetime -------------------------------------------------------------------------

    def __enter__(self) -> FakeRealtimeServer:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake realtime server did not start")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        async with serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._upgrade,
            select_subprotocol=lambda _, offered: "realtime" if "realtime" in offered else None,
            max_size=4 * 2**20,
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            ready.set()
            await self._stop.wait()

    # --- upgrade --------------------------------------------------------------------------

    def _upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        self._attempts += 1
        faulty = self.faults.only_first is None or self._attempts <= self.faults.only_first
        url = urlsplit(request.path)
        model = (parse_qs(url.query).get("model") or [None])[0]
        refusal = self._refusal(url.path, model, request.headers, faulty)
        if refusal is not None:
            self.rejected.append((refusal.status_code, url.path))
            return refusal
        auth = "key" if "Authorization" in request.headers else None
        if self.dialect == "mistral":
            keyed = request.headers.get("Authorization") == f"Bearer {self._api_key}"
            auth = "key" if keyed else "token"
        connection.record = Connection(url.path, model, auth, None, faulty)  # type: ignore[attr-defined]
        return None

    def _refusal(
        self, path: str, model: str | None, headers: Headers, faulty: bool
    ) -> Response | None:
        status = self.faults.handshake_status if faulty else None
        if status is not None and status != 400:
            kind = "unauthorized" if status == 401 else "service_tier_capacity_exceeded"
            return _error_body(status, "Service temporarily unavailable, retry later", kind, "3505")
        if self.dialect == "vllm":
            return None if path == rules.VLLM_PATH else _json_response(404, {"detail": "Not Found"})
        if path != rules.MISTRAL_PATH:
            return _json_response(404, {"detail": "Not Found"})
        if not model:
            return _error_body(
                400, "The model query parameter is required", "invalid_request_error", "1000"
            )
        if model not in self.models or status == 400:
            return _error_body(400, f"Invalid model: {model}", "invalid_model", "1500")
        if headers.get("Authorization") == f"Bearer {self._api_key}":
            return None
        offered = [
            p.strip()
            for value in headers.get_all("Sec-WebSocket-Protocol")
            for p in value.split(",")
        ]
        if "realtime" in offered and any(self._tokens.get(p) == model for p in offered):
            return None
        return _error_body(401, "Unauthorized", "unauthorized", "1001")

    # --- connections ----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        record: Connection = ws.record  # type: ignore[attr-defined]
        record.subprotocol = ws.subprotocol
        self.records.append(record)
        session: _Session = (_MistralSession if self.dialect == "mistral" else _VllmSession)(
            self, ws, record
        )
        try:
            await session.run()
        except ConnectionClosed:
            pass
        finally:
            session.stop()
            record.close_code = record.close_code or ws.close_code
            record.closed.set()


class _Session:
    def __init__(
        self, server: FakeRealtimeServer, ws: ServerConnection, record: Connection
    ) -> None:
        self.server, self.ws, self.record = server, ws, record
        self.faults = server.faults if record.faulty else Faults()
        self.listener: WordListener | None = None
        self.samples = 0  # heard by this connection (vLLM's listener restarts at each turn)
        self.dead = False  # stalled or timed out: nothing more is sent
        self.closing = False  # closing: nothing more is read
        self._tasks: list[asyncio.Task[None]] = []

    async def send(self, event: dict[str, Any]) -> None:
        if not self.dead:
            self.record.log({"dir": "out", **event})
            await self.ws.send(json.dumps(event))

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def run(self) -> None:
        await self.start()
        async for raw in self.ws:
            if self.closing:
                continue
            if isinstance(raw, bytes):
                self.record.log({"dir": "in", "binary": len(raw)})
                await self.binary()
                continue
            try:
                message = json.loads(raw)
            except ValueError:
                self.record.log({"dir": "in", "raw": raw[:200]})
                await self.bad_json()
                continue
            if isinstance(message, dict) and isinstance(message.get("audio"), str):
                logged = {k: v for k, v in message.items() if k != "audio"}
                self.record.log({"dir": "in", **logged, "audio_chars": len(message["audio"])})
            else:
                self.record.log(
                    {"dir": "in", "message": message}
                    if not isinstance(message, dict)
                    else {"dir": "in", **message}
                )
            await self.receive(message)

    async def hear(self, data: bytes, encoding: str) -> list[Heard]:
        """Feed ``data`` to the listener; apply the audio-time faults."""
        assert self.listener is not None
        self.record.audio += data
        if self.record.frames and self.record.frames[-1].get("dir") == "in":
            self.record.frames[-1]["audio_bytes"] = len(data)
        samples = samples_of(data, encoding)
        words = self.listener.feed(samples)
        self.samples += len(samples)
        seconds = self.samples / self.listener.rate
        if self.faults.drop_after is not None and seconds >= self.faults.drop_after:
            self.ws.transport.abort()
            self.record.close_code = 1006  # no close frame either way
            raise ConnectionClosed(None, None)
        if self.faults.close_1011_after is not None and seconds >= self.faults.close_1011_after:
            # closed from a task: the handler must keep reading for the close handshake
            self._tasks.append(asyncio.create_task(self.ws.close(1011, "internal error")))
            self.dead = self.closing = True
        if self.faults.stall_after is not None and seconds >= self.faults.stall_after:
            self.dead = True
        return words

    async def start(self) -> None: ...
    async def binary(self) -> None: ...
    async def bad_json(self) -> None: ...
    async def receive(self, message: Any) -> None: ...


class _MistralSession(_Session):
    def __init__(
        self, server: FakeRealtimeServer, ws: ServerConnection, record: Connection
    ) -> None:
        super().__init__(server, ws, record)
        assert record.model is not None
        self.spec = server.models[record.model]
        self.session: dict[str, Any] = {
            "request_id": f"ws-{uuid.uuid4()}",
            "model": record.model,
            "audio_format": dict(DEFAULT_FORMAT),
        }
        self.transcript: Transcript | None = None  # from the first append: settings lock then
        self.ended = self.unflushed = False
        self.last_append = 0.0

    async def error(self, code: int, message: str) -> None:
        await self.send({"type": "error", "error": {"message": message, "code": code}})

    async def start(self) -> None:
        if self.faults.capacity_error:
            await self.error(rules.CAPACITY, "Too many concurrent sessions, retry later")
            await self.ws.close(1013, "try again later")
            return
        if self.faults.refusal is not None:
            await self.error(self.faults.refusal, "Invalid model or credentials")
            await self.ws.close(1008, "refused")
            return
        await self.send({"type": "session.created", "session": dict(self.session)})
        if self.faults.timeout_after is not None:
            self._tasks.append(asyncio.create_task(self._timeout(self.faults.timeout_after)))

    async def _timeout(self, after: float) -> None:
        while True:
            await asyncio.sleep(0.02)
            if self.unflushed and time.monotonic() - self.last_append >= after:
                await self.error(rules.TIMEOUT, rules.TIMEOUT_MESSAGE)
                self.dead = True
                await self.ws.close(1000, "timeout")
                return

    async def binary(self) -> None:
        await self.error(rules.INVALID_FRAME, "Binary frames are not supported: send JSON text")

    async def bad_json(self) -> None:
        await self.error(rules.INVALID_FRAME, "Invalid JSON")

    async def receive(self, message: Any) -> None:
        try:
            message = rules.check_message(message)
            kind = message["type"]
            if kind == "session.update":
                if self.transcript is not None:
                    raise rules.Violation(rules.SESSION_LOCKED, rules.LOCKED_MESSAGE)
                self.session = rules.merge_session(self.session, message["session"], self.spec)
                await self.send({"type": "session.updated", "session": dict(self.session)})
            elif self.ended:
                raise rules.Violation(rules.INPUT_ENDED, "Audio input has ended")
            elif kind == "input_audio.append":
                await self._append(rules.decode_base64(message["audio"]))
            else:
                await self._finalise(end=kind == "input_audio.end")
        except rules.Violation as violation:
            await self.error(violation.code, violation.message)

    async def _append(self, data: bytes) -> None:
        encoding, rate = self.session["audio_format"].values()
        rules.check_audio(data, encoding)
        if self.transcript is None:
            self.listener = WordListener(rate)
            self.transcript = Transcript(
                self.session,
                auto_done=self.faults.auto_done_at_turn_end,
                cumulative=self.faults.cumulative_done,
                no_done=self.faults.no_done,
            )
        self.last_append, self.unflushed = time.monotonic(), True
        words = await self.hear(data, encoding)
        assert self.listener is not None
        for event in self.transcript.heard(
            words, self.listener.seconds, self.listener.sounding_since
        ):
            await self.send(event)

    async def _finalise(self, *, end: bool) -> None:
        self.unflushed, self.ended = False, end
        if self.transcript is None:  # no audio yet: an empty turn
            self.transcript = Transcript(self.session, no_done=self.faults.no_done)
        words = self.listener.finish() if self.listener else []
        until = self.listener.seconds if self.listener else 0.0
        for event in self.transcript.finalise(words, until):
            await self.send(event)


class _VllmSession(_Session):
    """vLLM's ``RealtimeConnection`` (reference §4): 16 kHz s16 only, errors as strings."""

    def __init__(
        self, server: FakeRealtimeServer, ws: ServerConnection, record: Connection
    ) -> None:
        super().__init__(server, ws, record)
        self.validated = self.generating = False
        self.text = ""
        self.words: list[Heard] = []  # heard, not yet sent (no generation running)

    async def error(self, code: str, message: str) -> None:
        await self.send({"type": "error", "error": message, "code": code})

    async def start(self) -> None:
        await self.send(
            {
                "type": "session.created",
                "id": f"sess-{uuid.uuid4().hex}",
                "created": int(time.time()),
            }
        )

    async def binary(self) -> None:
        await self.ws.close(1003, "text frames only")

    async def bad_json(self) -> None:
        await self.error("invalid_json", "Invalid JSON")

    async def receive(self, message: Any) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "session.update":
            model = message.get("model")
            if model is None:
                await self.error("invalid_event", "Missing required field: model")
            elif model not in self.server.vllm_models:
                await self.error("model_not_found", f"The model `{model}` does not exist.")
            else:
                self.validated = True
        elif kind == "input_audio_buffer.append":
            await self._append(message.get("audio"))
        elif kind == "input_audio_buffer.commit":
            if not self.validated:
                await self.error(
                    "model_not_validated",
                    "Model not validated. Make sure to validate the model by sending a"
                    " session.update event.",
                )
            elif message.get("final") is True:
                await self._finish()
            elif not self.generating:
                self.generating = True
                await self._emit()
        else:
            await self.error("unknown_event", f"Unknown event type: {kind}")

    async def _append(self, audio: Any) -> None:
        if not isinstance(audio, str):
            await self.error("processing_error", "audio: Field required")
            return
        try:
            data = base64.b64decode(audio, validate=True)
        except ValueError:
            data = b""
        if not data or len(data) % 2:
            await self.error("invalid_audio", "Invalid audio data")
            return
        if self.listener is None:
            self.listener = WordListener(16000)
        self.words += await self.hear(data, "pcm_s16le")
        await self._emit()

    async def _emit(self) -> None:
        while self.generating and self.words:
            delta = f" {self.words.pop(0).word}"
            self.text += delta
            await self.send({"type": "transcription.delta", "delta": delta})

    async def _finish(self) -> None:
        if not self.generating:
            return
        if self.listener is not None:
            self.words += self.listener.finish()
        await self._emit()
        seconds = self.listener.seconds if self.listener else 0.0
        prompt, completion = math.ceil(seconds * 12.5), len(self.text.split())
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if not self.faults.no_done:
            await self.send({"type": "transcription.done", "text": self.text, "usage": usage})
        self.generating, self.text, self.listener = False, "", None
