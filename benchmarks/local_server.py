"""A local HTTP server speaking the Voxtral transcription API, for benchmarks and tests.

It lets the client be measured and exercised over a real socket without network
access or an API key: HTTP/1.1 with keep-alive (so httpx's connection pool is used
as against api.mistral.ai), a response latency (fixed, plus optionally so much per
second of uploaded audio, as a real transcription takes), a requests-per-second limit
answered with 429 and ``Retry-After``, and a hook that may answer any request
itself (fault injection: any status, a stall, a connection closed or reset before
or during the answer, a body shorter than its head announced). It records every
request's arrival time and status, so a benchmark or test can check how the client
behaved, e.g. that no retry came sooner than a ``Retry-After`` allowed::

    from benchmarks.local_server import LocalVoxtralServer, Reply

    with LocalVoxtralServer(latency=0.05, rate_limit=10) as server:
        with VoxtralClient(api_key="test", base_url=server.base_url) as client:
            client.transcribe(wav_bytes, timestamp_granularities=["segment"])
    assert server.request_count == 1 and not server.early_retries()

``POST /v1/audio/transcriptions`` (multipart/form-data or urlencoded; ``file``,
``file_url`` or ``file_id``) is answered with a deterministic transcript in Mistral's
documented JSON shape, or as ``text/event-stream`` when ``stream=true``. Other paths
answer 404 unless the hook answers them.

Standard library only. All state lives in one :class:`LocalVoxtralServer`, and
nothing it starts outlives :meth:`~LocalVoxtralServer.stop` (the end of the ``with``
block): the accept loop ends, the listening socket and every open connection are
closed, and every handler thread is joined. Run it on its own with
``python -m benchmarks.local_server``; it serves until stdin closes.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import re
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
DEFAULT_TRANSCRIPT = "This is a local test transcription. It has two sentences and no meaning."
REMOTE_AUDIO_SECONDS = 30.0
"""The duration reported for ``file_url`` and ``file_id`` audio, which is never fetched."""
GRANULARITIES = ("segment", "word")

_Fields = Mapping[str, tuple[str, ...]]
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class UploadedPart:
    """A file part of a multipart form."""

    filename: str | None
    content_type: str | None
    content: bytes


@dataclass(frozen=True)
class ReceivedRequest:
    """One request, as the hook sees it."""

    index: int
    """0 for the first request this server received, then 1, 2..."""
    arrived: float
    """``time.monotonic()`` when its head had been read."""
    method: str
    path: str
    query: _Fields
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: bytes
    fields: _Fields
    """Form fields; a repeated field (a list) has several values."""
    files: Mapping[str, UploadedPart]
    form_error: str | None = None
    """Why the body could not be read as the form its content type announced."""

    def value(self, name: str) -> str | None:
        """The first value of form field ``name``, or ``None``."""
        values = self.fields.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Reply:
    """A response, as the hook returns it (or ``None`` to let the server answer).

    ``body`` is sent as JSON unless it is ``bytes`` or ``str``. With ``chunks`` the
    body is sent chunk by chunk (``Transfer-Encoding: chunked``), ``chunk_delay``
    seconds apart; ``complete=False`` then drops the connection instead of sending
    the final chunk. ``disconnect=True`` drops the connection without answering.
    ``delay`` is waited before anything is sent.

    Faults of the network in between: ``cut_at`` sends only that many bytes of the
    body (of the chunks' contents when chunked; ``0`` sends the head alone) under a
    head announcing all of it, then drops the connection, as a proxy or a server
    that dies mid-answer does. ``reset=True`` drops it with a TCP reset (RST,
    ``SO_LINGER`` 0) instead of an orderly close (FIN), wherever it is dropped:
    before answering, mid-body, or in place of the final chunk. ``framed=False``
    sends the body with neither ``Content-Length`` nor chunks, ended by closing the
    connection (HTTP/1.0 style, as some proxies answer): a cut is then invisible.
    """

    status: int = 200
    body: bytes | str | Mapping[str, Any] | Sequence[Any] = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunks: Sequence[bytes] | None = None
    chunk_delay: float = 0.0
    complete: bool = True
    disconnect: bool = False
    cut_at: int | None = None
    reset: bool = False
    framed: bool = True

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        retry_after: float | None = None,
        error_type: str = "invalid_request_error",
        code: str | None = None,
    ) -> Reply:
        """An error in Mistral's documented shape; ``retry_after`` adds the header."""
        headers = {} if retry_after is None else {"Retry-After": _seconds(retry_after)}
        body = {"object": "error", "message": message, "type": error_type, "param": None}
        return cls(status, {**body, "code": code}, headers)

    @classmethod
    def events(
        cls, events: Sequence[Mapping[str, Any]], *, complete: bool = True, delay: float = 0.0
    ) -> Reply:
        """A ``text/event-stream`` of ``events`` (each carries its ``"type"``)."""
        return cls(
            200,
            headers=_SSE_HEADERS,
            chunks=[sse_frame(event) for event in events],
            chunk_delay=delay,
            complete=complete,
        )

    @classmethod
    def dropped(cls, *, delay: float = 0.0, reset: bool = False) -> Reply:
        """Close the connection without a response (after ``delay`` seconds).

        ``reset=True`` resets it (RST) instead of closing it.
        """
        return cls(0, delay=delay, disconnect=True, reset=reset)

    def truncated(self, at: int, *, reset: bool = False) -> Reply:
        """This reply with its body cut after ``at`` bytes (see ``cut_at``)."""
        if at < 0:
            raise ValueError("`at` must be >= 0 bytes.")
        return replace(self, cut_at=at, reset=reset)

    def encoded(self) -> tuple[bytes, str]:
        """The body's bytes and its default content type."""
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


@dataclass(frozen=True)
class RecordedRequest:
    """What the server kept of one request (the upload's bytes are not kept)."""

    index: int
    method: str
    path: str
    arrived: float
    """``time.monotonic()`` when its head had been read."""
    responded: float
    """``time.monotonic()`` when the answer started (or the connection was dropped)."""
    status: int | None
    """``None`` when the connection was dropped without a status line."""
    retry_after: float | None
    """Seconds the answer asked the client to wait (``Retry-After``/``retry-after-ms``)."""
    fields: _Fields
    filename: str | None
    file_size: int | None


Hook = Callable[[ReceivedRequest], Reply | None]
"""Called for every request before anything else; a :class:`Reply` answers it."""


# --------------------------------------------------------------------------- server


class LocalVoxtralServer:
    """The server; use it as a context manager (or call :meth:`start` and :meth:`stop`).

    Args:
        latency: Seconds every transcription waits before it is answered.
        latency_per_audio_second: Seconds added to ``latency`` per second of
            uploaded audio (``file``; ``file_url``/``file_id`` count as
            :data:`REMOTE_AUDIO_SECONDS`), e.g. ``0.001`` answers a 14-minute
            chunk after 0.84 s.
        audio_duration: How the seconds of an uploaded ``file`` are measured, for
            the latency above and the transcript's timestamps. Default
            :func:`audio_seconds` (WAV header, else 16 kHz 16-bit PCM);
            :func:`mp3_seconds` reads a constant-bitrate MP3's frame header.
        rate_limit: Requests per second (a token bucket holding ``burst`` tokens,
            ``max(1, rate_limit)`` by default). A request beyond it is answered 429
            at once, with ``Retry-After`` in whole seconds, rounded up.
        burst: The bucket's size: how many requests may come at once.
        precise_retry_after: Also send ``retry-after-ms`` with the exact wait.
        hook: Called with every :class:`ReceivedRequest` first; returning a
            :class:`Reply` answers the request with it, ``None`` lets the server
            answer. A hook that raises is answered 500 and kept in :attr:`errors`.
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>``.
        transcript: The text every transcription returns.
        stream_delay: Seconds between the events of a streamed transcription.
        max_body_bytes: Larger bodies are answered 413.
        idle_timeout: Seconds an idle keep-alive connection is kept open.
        stop_timeout: Seconds :meth:`stop` waits for handler threads (a hook still
            running) before it raises.
        max_records: How many :class:`RecordedRequest` are kept (the newest).
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        latency_per_audio_second: float = 0.0,
        audio_duration: Callable[[bytes], float] | None = None,
        rate_limit: float | None = None,
        burst: float | None = None,
        precise_retry_after: bool = False,
        hook: Hook | None = None,
        api_key: str | None = None,
        transcript: str = DEFAULT_TRANSCRIPT,
        stream_delay: float = 0.0,
        max_body_bytes: int = 64 * 1024 * 1024,
        idle_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        max_records: int = 100_000,
    ) -> None:
        if latency < 0 or stream_delay < 0 or latency_per_audio_second < 0:
            raise ValueError(
                "`latency`, `latency_per_audio_second` and `stream_delay` must be >= 0."
            )
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("`rate_limit` must be > 0 requests per second, or None.")
        self.latency = latency
        self.latency_per_audio_second = latency_per_audio_second
        self.audio_duration = audio_duration or audio_seconds
        self.precise_retry_after = precise_retry_after
        self.hook = hook
        self.api_key = api_key
        self.transcript = transcript
        self.stream_delay = stream_delay
        self.max_body_bytes = max_body_bytes
        self.idle_timeout = idle_timeout
        self.stop_timeout = stop_timeout
        self._bucket = (
            _TokenBucket(rate_limit, burst if burst is not None else max(1.0, rate_limit))
            if rate_limit is not None
            else None
        )
        self._lock = threading.Lock()
        self._count = 0
        self._records: deque[RecordedRequest] = deque(maxlen=max_records)
        self._errors: list[BaseException] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._handlers: set[threading.Thread] = set()

    # ---- lifecycle

    def __enter__(self) -> LocalVoxtralServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.stop()
        except RuntimeError:
            if exc is None:
                raise

    def start(self) -> None:
        """Listen on 127.0.0.1 on a free port and serve in a background thread."""
        if self._httpd is not None:
            raise RuntimeError("The server is already running.")
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        self._serve_thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"local-voxtral-{self.port}",
            daemon=True,
        )
        self._serve_thread.start()

    def stop(self) -> None:
        """Stop serving, close every connection and join every thread; idempotent.

        Raises ``RuntimeError`` if a handler thread (a hook that does not return)
        is still running ``stop_timeout`` seconds later.
        """
        httpd, serve_thread = self._httpd, self._serve_thread
        if httpd is None or serve_thread is None:
            return
        self._stopping.set()  # ends latency and stream waits at once
        httpd.shutdown()
        serve_thread.join()
        httpd.server_close()
        with self._lock:
            connections, handlers = list(self._connections), list(self._handlers)
        for connection in connections:
            with contextlib.suppress(OSError):  # OSError: already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + self.stop_timeout
        for thread in handlers:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._httpd = self._serve_thread = None
        stuck = [thread.name for thread in handlers if thread.is_alive()]
        if stuck:
            raise RuntimeError(
                f"{len(stuck)} handler thread(s) still running {self.stop_timeout} s after "
                f"stop ({', '.join(stuck)}): a hook that does not return?"
            )

    # ---- what benchmarks and tests read

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("The server is not running: use it in a `with` block.")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: pass it as the client's ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def request_count(self) -> int:
        """Requests received so far (answered or not)."""
        with self._lock:
            return self._count

    @property
    def requests(self) -> list[RecordedRequest]:
        """The recorded requests, in order of arrival."""
        with self._lock:
            records = list(self._records)
        return sorted(records, key=lambda record: record.index)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by the hook or the handlers (connection resets excluded)."""
        with self._lock:
            return list(self._errors)

    def early_retries(self) -> list[tuple[RecordedRequest, RecordedRequest]]:
        """``(told, next)`` pairs where ``next`` came sooner than ``told``'s Retry-After.

        Meaningful for one client sending one request at a time: every answer
        that asked for a wait is paired with the request that followed it.
        """
        records = self.requests
        return [
            (told, following)
            for told, following in itertools.pairwise(records)
            if told.retry_after is not None
            and following.arrived < told.responded + told.retry_after
        ]

    def reset(self) -> None:
        """Forget the recorded requests, the count and the errors."""
        with self._lock:
            self._count = 0
            self._records.clear()
            self._errors.clear()

    # ---- called by the handlers

    def _admit(self, connection: socket.socket, thread: threading.Thread) -> bool:
        with self._lock:
            if self._stopping.is_set():
                return False
            self._connections.add(connection)
            self._handlers.add(thread)
            return True

    def _forget(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)
            self._handlers.discard(threading.current_thread())

    def _next_index(self) -> int:
        with self._lock:
            index = self._count
            self._count += 1
            return index

    def _failed(self, error: BaseException) -> None:
        with self._lock:
            self._errors.append(error)

    def _record(self, request: ReceivedRequest, reply: Reply, status: int | None) -> None:
        upload = request.files.get("file")
        record = RecordedRequest(
            index=request.index,
            method=request.method,
            path=request.path,
            arrived=request.arrived,
            responded=time.monotonic(),
            status=status,
            retry_after=_retry_after(reply.headers),
            fields=request.fields,
            filename=upload.filename if upload else None,
            file_size=len(upload.content) if upload else None,
        )
        with self._lock:
            self._records.append(record)

    def _reply(self, request: ReceivedRequest) -> Reply:
        """Decide the answer: hook, authentication, route, rate limit, validation."""
        if self.hook is not None:
            try:
                reply = self.hook(request)
            except Exception as exc:
                self._failed(exc)
                return Reply.error(500, f"The hook raised {type(exc).__name__}: {exc}")
            if reply is not None:
                return reply
        return self.answer(request)

    def answer(self, request: ReceivedRequest) -> Reply:
        """The server's own answer to ``request``, as if no hook were set.

        Authentication, route, rate limit, validation, then the transcription. A
        hook calls it to damage the real answer (``Reply.truncated``) rather than
        make one up.
        """
        if self.api_key is not None and (
            request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return Reply(401, {"detail": "Unauthorized"})
        if request.path != TRANSCRIPTIONS_PATH:
            return Reply(404, {"detail": "Not Found"})
        if request.method != "POST":
            return Reply(405, {"detail": "Method Not Allowed"}, {"Allow": "POST"})
        if self._bucket is not None:
            wait = self._bucket.take(time.monotonic())
            if wait is not None:
                return self._rate_limited(wait)
        if request.form_error is not None:
            return Reply.error(400, request.form_error)
        return self._transcription(request)

    def _rate_limited(self, wait: float) -> Reply:
        reply = Reply.error(
            429, "Requests rate limit exceeded", retry_after=wait, error_type="rate_limited"
        )
        if self.precise_retry_after:
            headers = {**reply.headers, "retry-after-ms": str(math.ceil(wait * 1000))}
            return Reply(reply.status, reply.body, headers)
        return reply

    def _transcription(self, request: ReceivedRequest) -> Reply:
        problem = _check_transcription(request)
        if problem is not None:
            return problem
        upload = request.files.get("file")
        seconds = self.audio_duration(upload.content) if upload else REMOTE_AUDIO_SECONDS
        delay = self.latency + self.latency_per_audio_second * seconds
        granularities = request.fields.get("timestamp_granularities", ())
        granularity = next((g for g in GRANULARITIES if g in granularities), None)
        result = transcription_body(
            self.transcript,
            model=request.value("model") or "",
            language=request.value("language"),
            seconds=seconds,
            granularity=granularity,
            diarize=request.value("diarize") == "true",
        )
        if (request.value("stream") or "").lower() != "true":
            return Reply(200, result, delay=delay)
        return Reply(
            200,
            headers=_SSE_HEADERS,
            chunks=[sse_frame(e) for e in transcription_events(result, granularity is not None)],
            chunk_delay=self.stream_delay,
            delay=delay,
        )


class _TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self._rate = rate
        self._capacity = burst
        self._tokens = burst
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self, now: float) -> float | None:
        """Take a token; ``None`` if there was one, else seconds until there is."""
        with self._lock:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return (1.0 - self._tokens) / self._rate


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # LocalVoxtralServer.stop joins its threads, with a deadline
    request_queue_size = 128

    def __init__(self, app: LocalVoxtralServer) -> None:
        self.app = app
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"local-voxtral-connection-{client_address[1]}",
            daemon=True,
        )
        if not self.app._admit(request, thread):
            self.shutdown_request(request)
            return
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        self.app._forget(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):  # OSError: a reset or stop
            self.app._failed(error)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "local-voxtral"
    disable_nagle_algorithm = True  # each answer is one write; never wait for an ACK

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.app.idle_timeout)
        self._reset = False

    def finish(self) -> None:
        super().finish()
        if self._reset:  # closed here, before socketserver's shutdown(SHUT_WR) could send a FIN
            self.connection.close()

    def handle(self) -> None:
        stopping = self.server.app._stopping
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection and not stopping.is_set():
            self.handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the records say what happened."""

    def do_POST(self) -> None:
        app = self.server.app
        arrived = time.monotonic()
        index = app._next_index()
        try:
            body = self._read_body(app.max_body_bytes)
        except _BodyError as exc:
            request = self._received(index, arrived, b"")
            reply = exc.reply
            self.close_connection = True
        else:
            request = self._received(index, arrived, body)
            reply = app._reply(request)
        self._answer(request, reply)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise _BodyError(Reply.error(400, f"Bad Content-Length {length!r}")) from None
        if size > limit:
            raise _BodyError(Reply.error(413, f"The body is larger than {limit} bytes"))
        return self.rfile.read(size)

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                chunk_size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BodyError(Reply.error(400, "Bad chunked encoding")) from None
            if chunk_size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            size += chunk_size
            if size > limit:
                raise _BodyError(Reply.error(413, f"The body is larger than {limit} bytes"))
            parts.append(self.rfile.read(chunk_size))
            self.rfile.readline(1024)

    def _received(self, index: int, arrived: float, body: bytes) -> ReceivedRequest:
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        fields: _Fields = {}
        files: Mapping[str, UploadedPart] = {}
        form_error = None
        content_type = headers.get("content-type", "").lower()
        try:
            if content_type.startswith("multipart/form-data"):
                boundary = _params(content_type).get("boundary")
                if not boundary:
                    raise ValueError("no boundary in the multipart Content-Type")
                fields, files = parse_multipart(body, boundary.encode("latin-1"))
            elif content_type.startswith("application/x-www-form-urlencoded"):
                fields = _query(body.decode())
        except (ValueError, UnicodeDecodeError) as exc:
            form_error = f"The form cannot be read: {exc}"
        return ReceivedRequest(
            index=index,
            arrived=arrived,
            method=self.command,
            path=url.path,
            query=_query(url.query),
            headers=headers,
            body=body,
            fields=fields,
            files=files,
            form_error=form_error,
        )

    def _answer(self, request: ReceivedRequest, reply: Reply) -> None:
        """Wait ``reply.delay``, record the request, then send ``reply`` (or drop it).

        The record is made before the first byte goes out, so a client that has
        read its answer always finds the request in ``LocalVoxtralServer.requests``.
        """
        app = self.server.app
        stopping = app._stopping
        dropped = reply.disconnect or (reply.delay > 0 and stopping.wait(reply.delay))
        app._record(request, reply, None if dropped else reply.status)
        if dropped:
            self._drop(reply.reset)
            return
        body, content_type = reply.encoded()
        headers = {"content-type": content_type, "x-request-id": f"local-{request.index}"}
        headers.update((name.lower(), value) for name, value in reply.headers.items())
        if reply.chunks is not None:
            headers["transfer-encoding"] = "chunked"
        elif reply.framed:
            headers["content-length"] = str(len(body))
        else:
            self.close_connection = True  # the close is what ends the body
        if self.close_connection:
            headers["connection"] = "close"
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        head = f"HTTP/1.1 {reply.status} {phrase}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        cut = reply.cut_at
        if reply.chunks is None:
            self.wfile.write(head.encode("latin-1") + b"\r\n" + body[:cut])
            if (cut is not None and cut < len(body)) or not reply.framed:
                self._drop(reply.reset)
            return
        self.wfile.write(head.encode("latin-1") + b"\r\n")
        sent = 0
        for number, chunk in enumerate(chunk for chunk in reply.chunks if chunk):
            if number and reply.chunk_delay > 0 and stopping.wait(reply.chunk_delay):
                self.close_connection = True
                return
            if cut is not None and sent + len(chunk) > cut:  # announced whole, sent in part
                self.wfile.write(b"%X\r\n%s" % (len(chunk), chunk[: cut - sent]))
                self._drop(reply.reset)
                return
            self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        if reply.complete:
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._drop(reply.reset)

    def _drop(self, reset: bool) -> None:
        """End the connection after this request: a FIN, or with ``reset`` an RST."""
        self.close_connection = True
        if reset:
            # linger 0: close() discards anything unsent and answers with an RST
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._reset = True


class _BodyError(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


# --------------------------------------------------------------------------- the API


def _check_transcription(request: ReceivedRequest) -> Reply | None:
    """Mistral's 422 (FastAPI) or 400 for a request it would refuse; ``None`` if fine."""
    if not request.value("model"):
        return _unprocessable("model", "Field required", "missing")
    for granularity in request.fields.get("timestamp_granularities", ()):
        if granularity not in GRANULARITIES:
            return _unprocessable(
                "timestamp_granularities", "Input should be 'segment' or 'word'", "enum"
            )
    sources = [name for name in ("file_url", "file_id") if request.value(name)]
    if "file" in request.files:
        sources.append("file")
    if len(sources) != 1:
        given = ", ".join(sources) or "none"
        return Reply.error(400, f"Exactly one of file, file_url, file_id is required ({given})")
    return None


def _unprocessable(name: str, message: str, kind: str) -> Reply:
    return Reply(422, {"detail": [{"loc": ["body", name], "msg": message, "type": kind}]})


def transcription_body(
    transcript: str,
    *,
    model: str,
    language: str | None,
    seconds: float,
    granularity: str | None,
    diarize: bool,
) -> dict[str, Any]:
    """Mistral's transcription response for ``transcript`` spread over ``seconds``."""
    words = transcript.split()
    pieces = words if granularity == "word" else _SENTENCE_END.split(transcript.strip())
    segments: list[dict[str, Any]] = []
    if granularity is not None:
        total = sum(len(piece) for piece in pieces) or 1
        start = 0.0
        for number, piece in enumerate(pieces):
            end = start + seconds * len(piece) / total
            segment: dict[str, Any] = {
                "text": piece,
                "start": round(start, 2),
                "end": round(end, 2),
                "type": "transcription_segment",
            }
            if diarize:
                segment["speaker_id"] = f"speaker_{number % 2 + 1}"
            segments.append(segment)
            start = end
    prompt_tokens = max(1, round(seconds * 12.5))
    completion_tokens = len(words) + 1
    return {
        "model": model,
        "text": transcript,
        "language": language,
        "segments": segments,
        "usage": {
            "prompt_audio_seconds": max(1, round(seconds)),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def transcription_events(result: Mapping[str, Any], with_segments: bool) -> list[dict[str, Any]]:
    """The streamed form of ``result``: language, text deltas, segments, done."""
    events: list[dict[str, Any]] = [
        {"type": "transcription.language", "audio_language": result["language"] or "en"}
    ]
    words = str(result["text"]).split(" ")
    events.extend(
        {"type": "transcription.text.delta", "text": word if not number else " " + word}
        for number, word in enumerate(words)
    )
    if with_segments:
        events.extend(
            {**segment, "type": "transcription.segment"} for segment in result["segments"]
        )
    events.append({**result, "type": "transcription.done"})
    return events


def sse_frame(event: Mapping[str, Any]) -> bytes:
    """``event: <type>\\ndata: <json>\\n\\n``."""
    return f"event: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n".encode()


def audio_seconds(content: bytes) -> float:
    """A WAV's duration from its header; otherwise as if 16 kHz 16-bit mono PCM."""
    if content[:4] == b"RIFF" and content[8:12] == b"WAVE":
        position, byte_rate = 12, 0
        while position + 8 <= len(content):
            chunk_id = content[position : position + 4]
            size = int.from_bytes(content[position + 4 : position + 8], "little")
            start = position + 8
            if chunk_id == b"fmt " and size >= 12:
                byte_rate = int.from_bytes(content[start + 8 : start + 12], "little")
            elif chunk_id == b"data" and byte_rate:
                return min(size, len(content) - start) / byte_rate
            position = start + size + (size & 1)
    return len(content) / 32_000


_MP3_KBPS = {  # bitrate index -> kbit/s, Layer III: MPEG-1, then MPEG-2/2.5
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


def mp3_seconds(content: bytes) -> float:
    """A constant-bitrate MP3's duration: its size over the first frame's bitrate.

    Skips an ID3v2 tag; anything that is not MPEG Layer III falls back to
    :func:`audio_seconds`. Only the first frame is read, so it is cheap on hours.
    """
    start = 0
    if content[:3] == b"ID3" and len(content) >= 10:
        size = content[6:10]
        start = 10 + (size[0] << 21 | size[1] << 14 | size[2] << 7 | size[3])
    head = content[start : start + 4]
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0 or (head[1] >> 1) & 3 != 1:
        return audio_seconds(content)
    version, bitrate_index = (head[1] >> 3) & 3, head[2] >> 4
    if version == 1 or bitrate_index in (0, 15):
        return audio_seconds(content)  # reserved version, free or bad bitrate
    kbps = _MP3_KBPS[3 if version == 3 else 2][bitrate_index]
    return (len(content) - start) * 8 / (kbps * 1000)


def parse_multipart(
    body: bytes, boundary: bytes
) -> tuple[dict[str, tuple[str, ...]], dict[str, UploadedPart]]:
    """Fields and file parts of a ``multipart/form-data`` body; ``ValueError`` if broken."""
    delimiter = b"--" + boundary
    if body.startswith(delimiter):
        rest = body[len(delimiter) :]
    else:
        _, found, rest = body.partition(b"\r\n" + delimiter)
        if not found:
            raise ValueError("the boundary does not occur in the body")
    fields: dict[str, list[str]] = {}
    files: dict[str, UploadedPart] = {}
    closed = False
    for section in rest.split(b"\r\n" + delimiter):
        if section.startswith(b"--"):
            closed = True
            break
        _, newline, section = section.partition(b"\r\n")
        if not newline:
            raise ValueError("a part has no headers")
        raw_head, separator, content = section.partition(b"\r\n\r\n")
        if not separator:
            if not section.startswith(b"\r\n"):
                raise ValueError("a part's headers are not terminated")
            raw_head, content = b"", section[2:]
        head = {}
        for line in raw_head.decode("utf-8").split("\r\n"):
            header, _, value = line.partition(":")
            head[header.strip().lower()] = value.strip()
        disposition = _params(head.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            raise ValueError("a part has no name")
        if "filename" in disposition or "content-type" in head:
            files[name] = UploadedPart(
                disposition.get("filename"), head.get("content-type"), content
            )
        else:
            fields.setdefault(name.removesuffix("[]"), []).append(content.decode("utf-8"))
    if not closed:
        raise ValueError("the closing boundary is missing")
    return {name: tuple(values) for name, values in fields.items()}, files


def _params(header: str) -> dict[str, str]:
    """``a; name="x"; filename=y`` -> ``{"name": "x", "filename": "y"}``."""
    return {
        match.group(1).lower(): (
            re.sub(r"\\(.)", r"\1", match.group(2))
            if match.group(2) is not None
            else match.group(3)
        ).replace("%22", '"')
        for match in _PARAM.finditer(header)
    }


def _query(text: str) -> dict[str, tuple[str, ...]]:
    parsed = parse_qs(text, keep_blank_values=True)
    return {name.removesuffix("[]"): tuple(values) for name, values in parsed.items()}


def _seconds(wait: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, never 0 for a real wait."""
    return str(max(1, math.ceil(wait))) if wait > 0 else "0"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait an answer asks for: ``retry-after-ms``, else ``Retry-After`` in seconds
    or as an HTTP date (measured from now, when the answer is recorded)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        if name in lowered:
            try:
                return float(lowered[name]) / scale
            except ValueError:
                if name == "retry-after-ms":
                    return None
                return _until(lowered[name])
    return None


def _until(http_date: str) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - time.time())


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Serve the Voxtral transcription API on 127.0.0.1 until stdin closes."
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per transcription")
    parser.add_argument(
        "--latency-per-audio-second",
        type=float,
        default=0.0,
        help="seconds added per second of uploaded audio (MP3 measured by its bitrate)",
    )
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    args = parser.parse_args(argv)
    server = LocalVoxtralServer(
        latency=args.latency,
        latency_per_audio_second=args.latency_per_audio_second,
        audio_duration=mp3_seconds,
        rate_limit=args.rate_limit,
        api_key=args.api_key,
    )
    with server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            sys.stdin.read()  # EOF (Ctrl-D, or the parent process gone) stops the server


if __name__ == "__main__":
    main()
