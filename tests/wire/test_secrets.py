"""The API key and signed URLs never show: one scanner, run over every surface.

Four sentinels: the API key (``FAKE_API_KEY``), the token of a signed URL (its query
string), the password of a URL with user info, and a realtime browser token.
:func:`leaks` walks whatever it is given (strings, bytes, containers, pydantic models,
dataclasses, exceptions with their ``__cause__``/``__context__`` chains and attributes,
log records) and says where a sentinel shows; its self-test plants each sentinel in each
kind of place.

It is run over: every error of every failing flow (each status, retries exhausted,
connection error, timeout, malformed 200, stream cut short, upload and signed-URL
failures, chat, bulk, batch) with every log record at DEBUG (ours, httpx's, httpcore's
and the root's); the clients, ``SignedURL`` and ``UploadedFile``; every adapter in the
``__all__`` of ``voxtral_integrations.langchain`` and ``.llama_index`` in every form it
renders or serialises to; Documents and nodes loaded from a signed URL and from a URL
with user info; the ``voxtral`` command's stdout, stderr, outputs, output index and batch
manifest; the batch manifest the client writes, the chunk cache, and the cassettes; a
realtime session against the fake realtime server (its repr and settings, every event,
every record of ours and of ``websockets`` at DEBUG, frames and the upgrade's headers
included, across a reconnection), the errors of a refused upgrade and of a refused
session, and a realtime token, minted, malformed or refused.

Decisions:

- The *server's data* is given back as the server sent it: if an answer (a stream
  event, a ``BatchJob``'s ``errors``) echoes a signed URL, the events and models carry
  it, as any other field. What the library renders itself (messages, reprs, logs,
  metadata, files) carries none: there it redacts what the server said.
- Of an exception that is not the library's (an httpx or pydantic error in a chain),
  the message, repr and args are scanned, not its private attributes: an httpx error
  holds the ``httpx.Request`` it failed on (with its headers), as it must.
- httpx logs each request's method and URL at INFO. Our requests' URLs are the base
  URL and a path: an audio URL travels in the form body, which httpx does not log, so
  those records are scanned like ours and found clean.
- A pickle of an adapter holds no key, like its ``dumps``/``to_dict``: unpickled, it
  reads ``MISTRAL_API_KEY`` again. What an object needs and cannot read again stays in
  its pickle: a loader's sources as given, a ``SignedURL``'s URL (``.url`` is the point
  of it; its ``model_dump`` and JSON leave out the token).
"""

from __future__ import annotations

import asyncio
import collections
import copy
import dataclasses
import json
import logging
import pickle
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

import voxtral_integrations.langchain as langchain_adapters
import voxtral_integrations.llama_index as llama_index_adapters
from benchmarks.local_server import LocalVoxtralServer, ReceivedRequest, Reply
from tests.support.audio_factory import encode, speech_pcm, tone_speech, utterance
from tests.support.constants import CASSETTES, FAKE_API_KEY
from tests.support.fake_batch import FakeBatchServer, FakeJob
from tests.support.fake_realtime import FakeRealtimeServer, Faults
from tests.support.fake_voxtral import ChunkedBody, multipart
from voxtral_integrations import (
    APIError,
    AsyncVoxtralClient,
    BatchJobError,
    ConfigurationError,
    LoadError,
    SignedURL,
    UploadedFile,
    VoxtralClient,
    VoxtralError,
    cli,
)
from voxtral_integrations.cli import _commands, _outputs

TOKEN = "SIGNED-URL-TOKEN-SENTINEL"
PASSWORD = "PASSWORD-SENTINEL"
REALTIME_TOKEN = "rt_0f1e2d3c4b5a69788796a5b4"
SECRETS = (FAKE_API_KEY, TOKEN, PASSWORD, REALTIME_TOKEN)
SIGNED = f"https://files.example/audio/talk.mp3?se=2026-12-01&sig={TOKEN}"
USERINFO = f"https://user:{PASSWORD}@files.example/audio/talk.mp3"
URLS = [pytest.param(SIGNED, id="signed-url"), pytest.param(USERINFO, id="url-with-userinfo")]
NAMES = {"https://files.example/audio/talk.mp3", "https://<redacted>@files.example/audio/talk.mp3"}
"""What the two URLs are called in metadata and messages."""
SEGMENTS = {"timestamp_granularities": ["segment"]}


# =============================================================================== the scanner


FRAGMENT = 12
"""A secret shows when any 12 characters of it do: a message cut short (pydantic keeps
the end of a long input) gives part of a token away."""
_PIECES = {
    secret: [secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)]
    for secret in SECRETS
}


def leaks(*values: object) -> list[str]:
    """Where a secret, or a piece of one, shows in ``values``: an empty list when nowhere."""
    found: list[str] = []
    seen: set[int] = set()

    def text(value: str, where: str) -> None:
        for secret, pieces in _PIECES.items():
            if any(piece in value for piece in pieces):
                found.append(f"{where}: {secret}")

    def walk(value: object, where: str) -> None:
        if isinstance(value, str):
            return text(value, where)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return text(bytes(value).decode("latin-1"), where)
        if value is None or isinstance(value, (bool, int, float, complex)) or id(value) in seen:
            return None
        seen.add(id(value))
        if isinstance(value, logging.LogRecord):
            text(logging.Formatter("%(name)s %(levelname)s %(message)s").format(value), where)
            walk(value.args, f"{where}.args")
            return walk(value.exc_info[1] if value.exc_info else None, f"{where}.exc_info")
        if isinstance(value, BaseException):
            return exception(value, where)
        if isinstance(value, BaseModel):
            text(repr(value), f"repr({where})")
            text(str(value), f"str({where})")
            return walk(value.model_dump(), f"{where}.model_dump()")
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(key, f"{where} key")
                walk(item, f"{where}[{key!r}]")
            return None
        if isinstance(value, (list, tuple, set, frozenset, collections.deque)):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")
            return None
        text(repr(value), f"repr({where})")
        text(str(value), f"str({where})")
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            walk(vars(value), f"vars({where})")
        return None

    def exception(error: BaseException, where: str) -> None:
        text(str(error), where)
        text(repr(error), f"repr({where})")
        text("".join(traceback.format_exception(error)), f"traceback of {where}")
        walk(error.args, f"{where}.args")
        if type(error).__module__.startswith("voxtral_integrations"):
            walk(vars(error), f"vars({where})")
        walk(error.__cause__, f"{where}.__cause__")
        walk(error.__context__, f"{where}.__context__")
        walk(getattr(error, "__notes__", None), f"{where}.__notes__")

    for index, value in enumerate(values):
        walk(value, f"[{index}]")
    return found


def _chained(secret: str) -> VoxtralError:
    try:
        try:
            raise ValueError(f"inner {secret}")
        except ValueError as inner:
            raise VoxtralError("outer") from inner
    except VoxtralError as outer:
        return outer


def _in_context(secret: str) -> VoxtralError:
    try:
        try:
            raise KeyError(secret)
        except KeyError:
            raise VoxtralError("while handling") from None
    except VoxtralError as error:
        error.__suppress_context__ = False
        return error


@dataclasses.dataclass
class _Holder:
    value: object


class _Opaque:
    def __init__(self, secret: str) -> None:
        self.secret = secret

    def __repr__(self) -> str:
        return f"<_Opaque {self.secret}>"


def _attribute_error(secret: str) -> VoxtralError:
    error = VoxtralError("clean message")
    error.where = {"deep": [secret]}  # type: ignore[attr-defined]
    return error


def _noted(secret: str) -> VoxtralError:
    error = VoxtralError("clean")
    error.__notes__ = [secret]  # what add_note (Python 3.11+) stores
    return error


def _logged_error(secret: str) -> logging.LogRecord:
    try:
        raise RuntimeError(secret)
    except RuntimeError:
        return logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())


_PLANTED: dict[str, Callable[[str], object]] = {
    "string": lambda s: f"a {s} b",
    "the-end-of-a-cut-string": lambda s: f"input_value='https://files.exa...{s[-FRAGMENT:]}'",
    "the-start-of-a-cut-string": lambda s: f"{s[:FRAGMENT]}...",
    "bytes": lambda s: b"x" + s.encode(),
    "dict-key": lambda s: {"a": {s: 1}},
    "dict-value-in-tuple": lambda s: ({"a": [1, (2, s)]},),
    "set": lambda s: {1, s},
    "pydantic-field": lambda s: UploadedFile(id="f", filename=s),
    "pydantic-extra": lambda s: UploadedFile(id="f", note={"x": s}),
    "dataclass-field": lambda s: _Holder(value=[s]),
    "repr-of-an-object": _Opaque,
    "exception-message": lambda s: VoxtralError(f"failed for {s}"),
    "exception-attribute": _attribute_error,
    "exception-cause": _chained,
    "exception-context": _in_context,
    "exception-note": _noted,
    "log-message": lambda s: logging.LogRecord("x", 10, __file__, 1, f"GET {s}", (), None),
    "log-args": lambda s: logging.LogRecord("x", 10, __file__, 1, "GET %s", (s,), None),
    "log-exc-info": _logged_error,
}


@pytest.mark.parametrize("plant", _PLANTED.values(), ids=list(_PLANTED))
@pytest.mark.parametrize("secret", SECRETS)
def test_the_scanner_finds_a_planted_secret(plant: Callable[[str], object], secret: str) -> None:
    assert leaks(plant(secret)), "the scanner missed it"
    assert leaks(plant("nothing to see")) == []


# =============================================================================== fixtures


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record at DEBUG: ours, httpx's and httpcore's, and the root's."""
    for name in ("voxtral_integrations", "httpx", "httpcore", None):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def no_waiting(sleeps: list[float]) -> None:
    """Retries do not wait (the transports' sleep seam records instead)."""


@pytest.fixture(scope="module")
def speech_wav() -> bytes:
    return encode(speech_pcm([(0.3, 1.2), (1.6, 2.4)], 3.0), "wav")


def echo(url: str) -> dict[str, Any]:
    """An error body in the documented shape that repeats the URL wherever it can."""
    return {
        "object": "error",
        "message": f"File could not be fetched from url '{url}'",
        "type": "invalid_request_file",
        "param": f"file_url ({url})",
        "code": "3310",
        "failures": {url: "403"},
    }


def fastapi_echo(url: str) -> dict[str, Any]:
    """A validation error in FastAPI's shape (vLLM, 422s) that repeats the URL."""
    return {"detail": [{"loc": ["body", url], "msg": f"unreachable: {url}", "input": url}]}


def transcription() -> dict[str, Any]:
    return {
        "model": "voxtral-mini-2602",
        "text": "hello world",
        "language": "en",
        "segments": [{"text": f"part {n}", "start": float(n), "end": n + 0.5} for n in range(2)],
        "usage": {"prompt_tokens": 3, "prompt_audio_seconds": 2.0},
    }


Handler = Callable[[httpx.Request], httpx.Response]


def answer(status: int, url: str) -> Handler:
    body = fastapi_echo(url) if status == 422 else echo(url)
    return lambda request: httpx.Response(status, json=body, headers={"retry-after": "0"})


def raising(error: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


def stream(error: Exception | None = None) -> Handler:
    events = [
        {"type": "transcription.language", "audio_language": "en"},
        {"type": "transcription.text.delta", "text": "hello"},
    ]
    body = [f"data: {json.dumps(event)}\n\n".encode() for event in events]
    headers = {"content-type": "text/event-stream"}
    return lambda request: httpx.Response(200, headers=headers, stream=ChunkedBody(body, error))


def sync_client(handler: Handler, **settings: Any) -> VoxtralClient:
    settings.setdefault("max_retries", 1)
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return VoxtralClient(api_key=FAKE_API_KEY, http_client=http, **settings)


def async_client(handler: Handler, **settings: Any) -> AsyncVoxtralClient:
    settings.setdefault("max_retries", 1)
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncVoxtralClient(api_key=FAKE_API_KEY, http_client=http, **settings)


# =============================================================================== failing flows

_TRANSCRIBE = ("transcribe", lambda url: ((url,), SEGMENTS))
_STREAM = ("stream_transcription", lambda url: ((url,), {}))
_CHAT = (
    "chat",
    lambda url: (
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": url},
                        {"type": "text", "text": "What is said?"},
                    ],
                }
            ],
        ),
        {},
    ),
)
_UPLOAD = ("upload_file", lambda url: ((b"RIFF" + bytes(100),), {}))
_SIGN = ("get_signed_url", lambda url: (("file-0123",), {}))

FLOWS: dict[str, tuple[Callable[[str], Handler], tuple[str, Callable[[str], Any]]]] = {
    **{
        f"{status}": ((lambda url, status=status: answer(status, url)), _TRANSCRIBE)
        for status in (400, 401, 403, 404, 413, 422)
    },
    "429-retries-exhausted": (lambda url: answer(429, url), _TRANSCRIBE),
    "500-retries-exhausted": (lambda url: answer(500, url), _TRANSCRIBE),
    "503-retries-exhausted": (lambda url: answer(503, url), _TRANSCRIBE),
    "connect-error": (
        lambda url: raising(httpx.ConnectError("[Errno 111] Connection refused")),
        _TRANSCRIBE,
    ),
    "timeout": (lambda url: raising(httpx.ReadTimeout("timed out")), _TRANSCRIBE),
    "malformed-200-html": (
        lambda url: lambda r: httpx.Response(200, text=f"<html><a href='{url}'>retry</a></html>"),
        _TRANSCRIBE,
    ),
    "malformed-200-json": (
        lambda url: lambda r: httpx.Response(200, json={"model": "m", "text": [url], "u": url}),
        _TRANSCRIBE,
    ),
    "malformed-200-segment": (
        lambda url: (
            lambda r: httpx.Response(
                200, json={"model": "m", "text": "t", "segments": [{"text": "a", "start": url}]}
            )
        ),
        _TRANSCRIBE,
    ),
    "stream-cut-short": (lambda url: stream(), _STREAM),
    "stream-connection-reset": (lambda url: stream(httpx.ReadError("reset by peer")), _STREAM),
    "stream-refused": (lambda url: answer(400, url), _STREAM),
    "chat-with-audio-url": (lambda url: answer(400, url), _CHAT),
    "chat-malformed-200": (
        lambda url: lambda r: httpx.Response(200, json={"model": "m", "choices": url}),
        _CHAT,
    ),
    "upload-failure": (lambda url: answer(500, url), _UPLOAD),
    "upload-malformed-200": (
        lambda url: lambda r: httpx.Response(200, json={"id": 5, "filename": url}),
        _UPLOAD,
    ),
    "signed-url-failure": (lambda url: answer(404, url), _SIGN),
    "signed-url-malformed-200": (
        lambda url: lambda r: httpx.Response(200, json={"url": 5, "hint": url}),
        _SIGN,
    ),
}


def fail(
    kind: str, handler: Handler, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[VoxtralError, Any]:
    """Run ``method`` on a sync or async client; the error it raised, and the client."""
    if kind == "sync":
        client: Any = sync_client(handler)
        with pytest.raises(VoxtralError) as caught:
            result = getattr(client, method)(*args, **kwargs)
            if method == "stream_transcription":
                list(result)
        return caught.value, client

    async def run() -> tuple[VoxtralError, Any]:
        client = async_client(handler)
        with pytest.raises(VoxtralError) as caught:
            result = await getattr(client, method)(*args, **kwargs)
            if method == "stream_transcription":
                _ = [event async for event in result]
        await client.close()
        return caught.value, client

    return asyncio.run(run())


@pytest.mark.usefixtures("no_waiting")
@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("flow", list(FLOWS))
def test_no_secret_in_any_failing_flow_or_its_logs(
    flow: str, url: str, kind: str, logs: pytest.LogCaptureFixture
) -> None:
    make_handler, (method, arguments) = FLOWS[flow]
    args, kwargs = arguments(url)
    error, client = fail(kind, make_handler(url), method, args, kwargs)
    assert isinstance(error, APIError), "the flow must fail at the server, not before"
    assert leaks(error, client, logs.records) == []
    assert logs.records, "a failing flow logs its request at DEBUG"


@pytest.mark.usefixtures("no_waiting")
def test_the_server_echo_of_a_signed_url_is_redacted_not_dropped() -> None:
    client = sync_client(answer(400, SIGNED))
    with pytest.raises(VoxtralError) as caught:
        client.transcribe(SIGNED)
    assert "https://files.example/audio/talk.mp3?<redacted>" in str(caught.value)
    assert caught.value.body["failures"] == {  # type: ignore[attr-defined]
        "https://files.example/audio/talk.mp3?<redacted>": "403"
    }


@pytest.mark.usefixtures("no_waiting")
@pytest.mark.parametrize("url", URLS)
def test_a_failed_input_of_transcribe_many_is_named_without_its_credential(
    url: str, speech_wav: bytes, logs: pytest.LogCaptureFixture
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        fields, _ = multipart(request)
        if "file_url" in fields:
            return httpx.Response(400, json=echo(fields["file_url"][0]))
        return httpx.Response(200, json=transcription())

    with sync_client(handler) as client:
        done = client.transcribe_many([url, speech_wav], **SEGMENTS)
        results = sorted(done, key=lambda result: result.index)  # they come as they finish
    assert [result.ok for result in results] == [False, True]
    assert results[0].source.endswith("files.example/audio/talk.mp3")  # named, all the same
    assert leaks(results, logs.records) == []


@pytest.mark.parametrize("client_class", [VoxtralClient, AsyncVoxtralClient])
@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        (f"https://proxy-user:{PASSWORD}@proxy.example/v1", "user name or password"),
        (f"https://gateway.example/v1?key={PASSWORD}", "query string or fragment"),
        (f"https://gateway.example/v1#{PASSWORD}", "query string or fragment"),
    ],
)
def test_a_base_url_with_credentials_is_refused_unshown(
    client_class: Any, base_url: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx would send user info as Basic auth in place of the key; the paths would go
    after a query; and httpx logs every request's URL."""
    with pytest.raises(ConfigurationError, match=says) as caught:
        client_class(FAKE_API_KEY, base_url=base_url)
    monkeypatch.setenv("MISTRAL_BASE_URL", base_url)
    with pytest.raises(ConfigurationError, match=says) as from_environment:
        client_class(FAKE_API_KEY)
    assert leaks([caught.value, from_environment.value]) == []


@pytest.mark.usefixtures("no_waiting")
def test_an_echoed_authorization_header_is_not_repeated() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        echoed = f"<html>Unauthorized: {request.headers['authorization']}</html>"
        return httpx.Response(401, text=echoed)

    with pytest.raises(VoxtralError) as caught:
        sync_client(handler).transcribe("https://example.com/a.mp3")
    assert leaks(caught.value) == []


@pytest.mark.parametrize(
    ("key", "kept", "gone"),
    [
        pytest.param("o", "The model voxtral does not exist", None, id="short-key-no-secret"),
        pytest.param(
            'sk-"quoted\\-SENTINEL', "The model voxtral", 'sk-"quoted', id="json-escaped-echo"
        ),
    ],
)
def test_only_a_real_key_is_blanked_from_an_error_body(
    key: str, kept: str, gone: str | None
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        message = f"The model voxtral does not exist (key {key})"
        return httpx.Response(400, json={"object": "error", "message": message})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(VoxtralError) as caught:
        VoxtralClient(api_key=key, http_client=http).transcribe("https://example.com/a.mp3")
    assert kept in str(caught.value)
    assert gone is None or gone not in str(caught.value)


# =============================================================================== objects


def test_the_clients_never_render_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    clients: list[Any] = [VoxtralClient(), AsyncVoxtralClient(), VoxtralClient(FAKE_API_KEY)]
    assert leaks(clients, [str(client) for client in clients]) == []
    for client in clients:
        with pytest.raises(TypeError):  # a client holds a connection pool: no pickle
            pickle.dumps(client)
    asyncio.run(clients[1].close())


@pytest.mark.parametrize("url", URLS)
def test_a_signed_url_is_hidden_from_every_rendering_but_dot_url(url: str) -> None:
    signed = SignedURL.model_validate({"url": url, "expires_at": 1_800_000_000})
    rendered = [signed, repr(signed), str(signed), signed.model_dump(), signed.model_dump_json()]
    rendered += [signed.model_dump(mode="json"), f"{signed}", [signed], {"s": signed}]
    assert leaks(rendered) == []
    assert signed.url == url
    assert "files.example/audio/talk.mp3" in signed.model_dump()["url"]  # redacted, not dropped
    assert pickle.loads(pickle.dumps(signed)).url == url  # a copy keeps what it copies


def test_an_uploaded_file_renders_nothing_secret() -> None:
    uploaded = UploadedFile(id="f-1", filename="talk.mp3", bytes=10, purpose="audio")
    assert leaks(uploaded, uploaded.model_dump_json()) == []


# =============================================================================== adapters


ADAPTERS: dict[str, Callable[..., Any]] = {
    "ChatVoxtral": langchain_adapters.ChatVoxtral,
    "VoxtralLoader": lambda **key: langchain_adapters.VoxtralLoader([SIGNED, USERINFO], **key),
    "VoxtralParser": langchain_adapters.VoxtralParser,
    "VoxtralTranscriptionTool": langchain_adapters.VoxtralTranscriptionTool,
    "VoxtralRealtimeLoader": lambda **key: langchain_adapters.VoxtralRealtimeLoader(
        b"\0" * 32, **key
    ),
    "VoxtralRealtimeTool": langchain_adapters.VoxtralRealtimeTool,
    "VoxtralLLM": llama_index_adapters.VoxtralLLM,
    "VoxtralReader": llama_index_adapters.VoxtralReader,
    "VoxtralRealtimeReader": llama_index_adapters.VoxtralRealtimeReader,
    "VoxtralToolSpec": llama_index_adapters.VoxtralToolSpec,
    "VoxtralSplitter": lambda **key: langchain_adapters.VoxtralSplitter(),
    "VoxtralNodeParser": lambda **key: llama_index_adapters.VoxtralNodeParser(),
}
"""Each public adapter, built with ``api_key=`` or, without it, from ``MISTRAL_API_KEY``."""
KEYLESS = ("VoxtralSplitter", "VoxtralNodeParser")
"""Adapters that send nothing and take no key: scanned all the same."""
REALTIME = ("VoxtralRealtimeLoader", "VoxtralRealtimeTool", "VoxtralRealtimeReader")
"""Adapters that speak WebSocket, not httpx: their pickles and copies are used against
the realtime fake (``tests/langchain/test_realtime.py``,
``tests/llama_index/test_realtime_reader.py``)."""
SURFACES = {
    "ChatVoxtral": {"langchain dumps", "to_json", "model_dump_json", "_identifying_params"},
    "VoxtralLoader": {"langchain dumps"},
    "VoxtralParser": {"langchain dumps"},
    "VoxtralTranscriptionTool": {"langchain dumps", "to_json", "description", "args_schema"},
    "VoxtralRealtimeLoader": {"langchain dumps"},
    "VoxtralRealtimeTool": {"langchain dumps", "to_json", "description", "args_schema"},
    "VoxtralRealtimeReader": {"to_dict", "to_json", "model_dump_json", "class_name"},
    "VoxtralLLM": {"to_dict", "to_json", "model_dump_json", "metadata", "class_name"},
    "VoxtralReader": {"to_dict", "to_json", "model_dump_json", "class_name"},
    "VoxtralToolSpec": {"to_tool_list"},
    "VoxtralSplitter": set(),
    "VoxtralNodeParser": {"to_dict", "to_json", "model_dump_json", "class_name"},
}
"""What each adapter must render, besides ``repr`` and ``str`` (a surface that failed
would otherwise go unscanned)."""


def test_every_public_adapter_is_scanned() -> None:
    public = {*langchain_adapters.__all__, *llama_index_adapters.__all__}
    assert set(ADAPTERS) == set(SURFACES) == public, "add the new adapter to ADAPTERS"


def renderings(adapter: Any) -> dict[str, object]:
    """Everything ``adapter`` renders or serialises to, by the name of the surface.

    A surface the adapter does not have (or that refuses, like pickling a live pool)
    is left out: it cannot show anything.
    """
    from langchain_core.load import dumpd, dumps

    surfaces: dict[str, Callable[[], object]] = {
        "repr": lambda: repr(adapter),
        "str": lambda: str(adapter),
        "format": lambda: f"{adapter!s} {adapter!r}",
        "langchain dumps": lambda: dumps(adapter),
        "langchain dumpd": lambda: dumpd(adapter),
        "model_dump": lambda: adapter.model_dump(),
        "model_dump(json)": lambda: adapter.model_dump(mode="json"),
        "model_dump_json": lambda: adapter.model_dump_json(),
        "to_json": lambda: adapter.to_json(),
        "to_dict": lambda: adapter.to_dict(),
        "dict": lambda: adapter.dict(),
        "json": lambda: adapter.json(),
        "_identifying_params": lambda: adapter._identifying_params,
        "_get_ls_params": lambda: adapter._get_ls_params(),
        "metadata": lambda: adapter.metadata,
        "class_name": lambda: adapter.class_name(),
        "description": lambda: str(adapter.description),
        "args_schema": lambda: adapter.args_schema.model_json_schema(),
        "tool_call_schema": lambda: adapter.tool_call_schema.model_json_schema(),
        "to_tool_list": lambda: [
            (tool.metadata.description, tool.metadata.to_openai_tool())
            for tool in adapter.to_tool_list()
        ],
    }
    rendered: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated spellings (dict, json) are surfaces too
        for name, surface in surfaces.items():
            try:
                rendered[name] = surface()
            except (AttributeError, NotImplementedError, TypeError, ValueError):
                continue
    return rendered


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_no_adapter_renders_or_serialises_the_key(
    name: str, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    for from_environment in (False, True):
        if from_environment:
            monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
        adapter = ADAPTERS[name]() if from_environment else ADAPTERS[name](api_key=FAKE_API_KEY)
        rendered = renderings(adapter)
        assert {"repr", "str"} <= set(rendered)
        assert SURFACES[name] <= set(rendered), SURFACES[name] - set(rendered)
        assert leaks(rendered, logs.records) == [], sorted(rendered)


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_pickled_adapter_holds_no_key_and_reads_it_again(
    name: str, speech_wav: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every adapter pickles without its key (and without its clients, built again at
    the first call) and, unpickled, reads ``MISTRAL_API_KEY``; also after a call."""
    if name in REALTIME:
        pytest.skip("speaks WebSocket: pickled against the realtime fake in its own tests")
    seen = _authorizations_sent(monkeypatch)
    adapter = ADAPTERS[name](api_key=FAKE_API_KEY)
    if name not in KEYLESS:
        _use(adapter, speech_wav)  # its clients are live now
    pickled = pickle.dumps(adapter)
    assert FAKE_API_KEY.encode() not in pickled  # a loader's sources are kept as given
    if name in KEYLESS:
        return
    seen.clear()
    _use(pickle.loads(pickled), speech_wav)
    assert seen and set(seen) == {"Bearer sk-from-the-environment"}


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy], ids=["copy", "deepcopy"])
@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_copied_adapter_keeps_its_key(
    name: str, copier: Callable[[Any], Any], speech_wav: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy stays in this process: it must not fall back to another key (or none).

    A copy of an adapter whose clients are live builds clients of its own: closing
    the copy leaves the original working.
    """
    if name in KEYLESS:
        pytest.skip("holds no key and sends nothing")
    if name in REALTIME:
        pytest.skip("speaks WebSocket: copied against the realtime fake in its own tests")
    seen = _authorizations_sent(monkeypatch)
    adapter = ADAPTERS[name](api_key=FAKE_API_KEY)
    _use(adapter, speech_wav)
    clone = copier(adapter)
    _use(clone, speech_wav)
    if hasattr(clone, "close"):
        clone.close()
        _use(adapter, speech_wav)
    assert len(seen) == 3 if hasattr(clone, "close") else 2
    assert set(seen) == {f"Bearer {FAKE_API_KEY}"}


def _authorizations_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ``Authorization`` headers of every request from now on (answered with success);
    ``MISTRAL_API_KEY`` is set to another key, which a keyless adapter would read."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        if request.url.path.endswith("/chat/completions"):
            return httpx.Response(200, json={"model": "m", "choices": [{"message": {}}]})
        return httpx.Response(200, json=transcription())

    monkeypatch.setattr(httpx, "Client", _patched_client(handler))
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-from-the-environment")
    return seen


def _patched_client(handler: Handler) -> type[httpx.Client]:
    class Client(httpx.Client):
        def __init__(self, **kwargs: Any) -> None:
            kwargs["transport"] = httpx.MockTransport(handler)
            super().__init__(**kwargs)

    return Client


def _use(adapter: Any, wav: bytes) -> None:
    """Requests through ``adapter``'s own clients."""
    if isinstance(adapter, langchain_adapters.ChatVoxtral):
        adapter.invoke("hi")
    elif isinstance(adapter, langchain_adapters.VoxtralTranscriptionTool):
        adapter.invoke({"path_or_url": "https://example.com/a.mp3"})
    elif hasattr(adapter, "transcribe_audio"):
        adapter.transcribe_audio("https://example.com/a.mp3")
    elif hasattr(adapter, "lazy_parse"):
        from langchain_core.documents.base import Blob

        list(adapter.lazy_parse(Blob.from_data(wav, path="a.wav")))
    elif hasattr(adapter, "load_data"):
        adapter.load_data("https://example.com/a.mp3")
    elif hasattr(adapter, "lazy_load"):
        list(adapter.lazy_load())
    else:
        from llama_index.core.llms import ChatMessage

        adapter.chat([ChatMessage(role="user", content="hi")])


# =============================================================================== documents


def loading_server(url_status: int = 200) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        fields, _ = multipart(request)
        if url_status != 200 and "file_url" in fields:
            return httpx.Response(url_status, json=echo(fields["file_url"][0]))
        return httpx.Response(200, json=transcription())

    return handler


def _lc_loader(sources: list[str], **options: Any) -> Any:
    handler = options.pop("handler", loading_server())
    return langchain_adapters.VoxtralLoader(
        sources,
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        max_retries=0,
        **options,
    )


def _li_reader(**options: Any) -> Any:
    handler = options.pop("handler", loading_server())
    return llama_index_adapters.VoxtralReader(
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        max_retries=0,
        **options,
    )


def langchain_renderings(documents: list[Any]) -> list[object]:
    from langchain_core.load import dumps

    pieces = langchain_adapters.VoxtralSplitter().split_documents(documents)
    return [
        [
            (doc.metadata, doc.to_json(), doc.model_dump_json(), dumps(doc), repr(doc))
            for doc in [*documents, *pieces]
        ]
    ]


def llama_index_renderings(documents: list[Any]) -> list[object]:
    from llama_index.core.node_parser import SentenceSplitter

    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    nodes += llama_index_adapters.VoxtralNodeParser().get_nodes_from_documents(documents)
    rendered: list[object] = []
    for item in [*documents, *nodes]:
        rendered += [item.metadata, item.to_json(), item.model_dump_json(), repr(item)]
        rendered += [item.get_content(metadata_mode="all"), item.get_metadata_str()]
    return rendered


@pytest.mark.parametrize("granularity", ["segment", "window", "file"])
def test_langchain_documents_from_credential_urls_carry_none(
    granularity: str, logs: pytest.LogCaptureFixture
) -> None:
    documents = _lc_loader([SIGNED, USERINFO], granularity=granularity).load()
    assert {doc.metadata["source"] for doc in documents} == NAMES
    assert leaks(langchain_renderings(documents), logs.records) == []

    async def aload() -> list[Any]:
        return [doc async for doc in _lc_loader([SIGNED, USERINFO]).alazy_load()]

    assert leaks(langchain_renderings(asyncio.run(aload()))) == []


def test_a_blob_named_by_a_signed_url_gives_documents_without_it(speech_wav: bytes) -> None:
    from langchain_core.documents.base import Blob

    parser = langchain_adapters.VoxtralParser(
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(loading_server())),
    )
    blob = Blob.from_data(speech_wav, path="talk.wav", metadata={"source": SIGNED})
    documents = list(parser.lazy_parse(blob))
    assert documents and leaks(langchain_renderings(documents)) == []


@pytest.mark.parametrize("granularity", ["segment", "file"])
def test_llama_index_documents_and_nodes_from_credential_urls_carry_none(
    granularity: str, logs: pytest.LogCaptureFixture
) -> None:
    reader = _li_reader(granularity=granularity)
    documents = reader.load_data([SIGNED, USERINFO])
    assert {doc.metadata["source"] for doc in documents} == NAMES
    assert leaks(llama_index_renderings(documents), logs.records) == []
    assert leaks(llama_index_renderings(asyncio.run(reader.aload_data([SIGNED])))) == []


@pytest.mark.parametrize("url", URLS)
def test_a_failed_load_names_the_url_without_its_credential(
    url: str, logs: pytest.LogCaptureFixture
) -> None:
    handler = loading_server(url_status=400)
    with pytest.raises(LoadError) as langchain_error:
        _lc_loader([url], handler=handler).load()
    with pytest.raises(LoadError) as llama_error:
        _li_reader(handler=handler).load_data(url)
    skipped = _lc_loader([url], handler=handler, on_error="skip").load()
    assert skipped == []
    assert any(record.levelno == logging.WARNING for record in logs.records)  # the skip
    assert langchain_error.value.source in NAMES
    assert leaks(langchain_error.value, llama_error.value, logs.records) == []


# =============================================================================== tools and chat


@pytest.mark.usefixtures("no_waiting")
@pytest.mark.parametrize("url", URLS)
def test_the_langchain_tool_and_chat_model_keep_credentials_out(
    url: str, logs: pytest.LogCaptureFixture
) -> None:
    from langchain_core.messages import HumanMessage

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/url"):  # the signed URL of a file_id audio block
            return httpx.Response(200, json={"url": url})
        return httpx.Response(400, json=echo(url))

    http = httpx.Client(transport=httpx.MockTransport(handler))
    tool = langchain_adapters.VoxtralTranscriptionTool(api_key=FAKE_API_KEY, http_client=http)
    with pytest.raises(VoxtralError) as tool_error:
        tool.invoke({"path_or_url": url})
    chat = langchain_adapters.ChatVoxtral(api_key=FAKE_API_KEY, http_client=http, max_retries=0)
    errors = [tool_error.value]
    for block in (
        {"type": "audio", "url": url},
        {"type": "audio", "file_id": "file-0123"},
        {"type": "input_audio", "input_audio": url},
    ):
        with pytest.raises(VoxtralError) as chat_error:
            chat.invoke([HumanMessage([{"type": "text", "text": "what?"}, block])])
        errors.append(chat_error.value)
    assert leaks(errors, logs.records, renderings(tool), renderings(chat)) == []


@pytest.mark.usefixtures("no_waiting")
@pytest.mark.parametrize("url", URLS)
def test_the_llama_index_llm_keeps_credentials_out(
    url: str, logs: pytest.LogCaptureFixture
) -> None:
    from llama_index.core.llms import AudioBlock, ChatMessage, TextBlock

    http = httpx.Client(transport=httpx.MockTransport(answer(400, url)))
    llm = llama_index_adapters.VoxtralLLM(api_key=FAKE_API_KEY, http_client=http, max_retries=0)
    message = ChatMessage(role="user", blocks=[TextBlock(text="what?"), AudioBlock(url=url)])
    with pytest.raises(VoxtralError) as caught:
        llm.chat([message])
    assert leaks(caught.value, logs.records, renderings(llm)) == []


@pytest.fixture
def local_server() -> Iterator[LocalVoxtralServer]:
    """A real socket on 127.0.0.1: URLs answered 400 with the URL echoed, others served."""

    def hook(request: ReceivedRequest) -> Reply | None:
        file_url = request.value("file_url")
        if file_url and "fail" in file_url:
            return Reply.error(400, f"File could not be fetched from url '{file_url}'")
        return None

    with LocalVoxtralServer(hook=hook, api_key=FAKE_API_KEY) as server:
        yield server


@pytest.mark.parametrize("url", URLS)
def test_the_llama_index_tool_spec_keeps_credentials_out(
    url: str, local_server: LocalVoxtralServer, logs: pytest.LogCaptureFixture
) -> None:
    spec = llama_index_adapters.VoxtralToolSpec(
        api_key=FAKE_API_KEY, base_url=local_server.base_url
    )
    transcript = spec.transcribe_audio(url)
    with pytest.raises(VoxtralError) as caught:
        spec.transcribe_audio(url.replace("talk.mp3", "fail.mp3"))
    with pytest.raises(VoxtralError) as acaught:
        asyncio.run(spec.atranscribe_audio(url.replace("talk.mp3", "fail.mp3")))
    assert transcript
    assert leaks(transcript, caught.value, acaught.value, logs.records, renderings(spec)) == []


# =============================================================================== batch


class EchoingBatchServer(FakeBatchServer):
    """A Batch API whose failures repeat the URL they could not fetch."""

    def _answer(self, job: FakeJob, line: dict[str, Any]) -> dict[str, Any]:
        result = super()._answer(job, line)
        url = line["body"].get("file_url")
        if url and result.get("response") and result["response"]["status_code"] != 200:
            result["response"]["body"] = echo(url)
        return result


@pytest.mark.parametrize("url", URLS)
def test_batch_jobs_manifests_and_results_carry_no_credential(
    url: str, speech_wav: bytes, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    server = EchoingBatchServer(url_audio={})  # no URL can be fetched: each one fails
    client = sync_client(server, max_retries=0)
    job = client.submit_batch([url, speech_wav], manifest_dir=tmp_path, **SEGMENTS)
    client.wait_for_batch(job.id, poll_interval=0)
    results = list(client.batch_results(job.id, manifest_dir=tmp_path))
    assert [result.ok for result in results] == [False, True]

    failed = EchoingBatchServer(url_audio={}, script=("QUEUED", "RUNNING", "FAILED"), processed=0)
    failing = sync_client(failed, max_retries=0)
    other = failing.submit_batch([url], manifest_dir=tmp_path, **SEGMENTS)
    failed.jobs[other.id].errors = [{"message": f"Could not download {url} (403)", "count": 1}]
    with pytest.raises(BatchJobError) as timed_out:
        failing.wait_for_batch(other.id, poll_interval=0, timeout=0)
    failing.wait_for_batch(other.id, poll_interval=0)
    lost = list(failing.batch_results(other.id, manifest_dir=tmp_path))
    assert isinstance(lost[0].error, BatchJobError)

    written = {path.name: path.read_text() for path in tmp_path.iterdir()}
    assert len(written) == 2 and all(name.endswith(".voxtral-batch.json") for name in written)
    assert leaks(results, lost, timed_out.value, written, logs.records) == []


# =============================================================================== the command


@pytest.fixture
def command_env(
    local_server: LocalVoxtralServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> LocalVoxtralServer:
    monkeypatch.setenv("MISTRAL_BASE_URL", local_server.base_url)
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return local_server


def run_command(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    code = cli.main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def files_under(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): path.read_text(errors="replace")
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.mark.usefixtures("command_env")
@pytest.mark.parametrize("url", URLS)
def test_the_command_never_shows_a_credential(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], logs: pytest.LogCaptureFixture
) -> None:
    bad = url.replace("talk.mp3", "fail.mp3")
    out = tmp_path / "out"
    shown: list[object] = []
    for output_format in ("json", "jsonl", "srt", "txt"):
        code, text = run_command(capsys, "transcribe", url, bad, "-o", out, "-f", output_format)
        assert code == 1, text  # the second URL fails, and is named
        assert "files.example/audio/fail.mp3" in text
        shown.append(text)
    code, text = run_command(capsys, "transcribe", url, bad, "-f", "json")  # to stdout
    assert code == 1 and "hello" not in text and "files.example/audio/talk.mp3" in text
    shown.append(text)
    code, text = run_command(capsys, "transcribe", url, "-o", out)  # skipped: already there
    assert code == 0
    shown.append(text)
    written = files_under(out)
    assert _outputs.OUTPUT_INDEX in written and "talk.json" in written
    assert "files.example/audio/talk.mp3" in written["talk.json"]
    assert leaks(shown, written, logs.records) == []


@pytest.mark.parametrize("url", URLS)
def test_the_batch_command_never_shows_a_credential(
    url: str,
    speech_wav: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    logs: pytest.LogCaptureFixture,
) -> None:
    server = EchoingBatchServer(url_audio={})
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    monkeypatch.setattr(
        _commands, "make_client", lambda backend, base_url: sync_client(server, max_retries=0)
    )
    local = tmp_path / "local.wav"
    local.write_bytes(speech_wav)
    out = tmp_path / "out"
    code, submitted = run_command(capsys, "batch", "submit", url, local, "-o", out)
    assert code == 0, submitted
    job_id = submitted.strip().splitlines()[0]
    server.jobs[job_id].errors = [{"message": f"Could not download {url} (403)", "count": 1}]
    shown = [submitted]
    for argv in (
        ("status", job_id),
        ("status", job_id, "--json"),
        ("results", job_id, "-o", out, "--wait", "--poll-interval", "0"),
        ("results", job_id, "-o", out, "-f", "json", "--overwrite"),
        ("cancel", job_id),
    ):
        code, text = run_command(capsys, "batch", *argv)
        shown.append(text)
    written = files_under(out)
    assert any(name.endswith(".voxtral-batch.json") for name in written)
    assert "local.txt" in written and "local.json" in written
    assert leaks(shown, written, logs.records) == []


# =============================================================================== files


def test_the_chunk_cache_holds_no_key(tmp_path: Path) -> None:
    long_wav = encode(speech_pcm([(1.0, 4.0), (12.0, 15.0), (21.0, 24.0)], 25.0), "wav")
    with sync_client(loading_server()) as client:
        client.transcribe(long_wav, cache_dir=tmp_path, max_chunk_seconds=10, **SEGMENTS)
    cached = files_under(tmp_path)
    assert cached, "nothing was cached"
    assert leaks(cached) == []


def test_cassettes_hold_no_credentials() -> None:
    files = {
        str(path.relative_to(CASSETTES)): path.read_bytes().decode("latin-1")
        for path in sorted(Path(CASSETTES).rglob("*"))
        if path.is_file()
    }
    assert files
    assert leaks(files) == []
    for name, text in files.items():
        assert "Bearer " not in text, name
        assert "sig=" not in text or "sig=REDACTED" in text, name


# =============================================================================== realtime

REALTIME_MODEL = "voxtral-mini-transcribe-realtime-2602"


def ours(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """The client's records: those of the fake server's own ``websockets.server`` are the
    test server's (it logs the headers it received, the key among them)."""
    return [record for record in records if not record.name.startswith("websockets.server")]


async def _session_events(server: FakeRealtimeServer) -> tuple[Any, list[Any]]:
    words = [*utterance(["alpha", "bravo"], 0.5), *utterance(["delta", "echo"], 3.0)]
    pcm = tone_speech(words, 5.0)  # the fake hears these words; flushed at 2.5 s
    async with AsyncVoxtralClient(FAKE_API_KEY, base_url=server.base_url) as client:
        session = client.realtime(REALTIME_MODEL, end_of_speech=None, done_timeout=0.6)
        async with session:

            async def speak() -> None:
                for start in range(0, len(pcm), 3200):
                    await session.send(pcm[start : start + 3200])
                    if start == 80000:
                        await session.flush()
                await session.end()

            sender = asyncio.create_task(speak())
            events = [event async for event in session]
            await sender
    return session, events


def test_a_realtime_session_shows_no_secret(logs: pytest.LogCaptureFixture) -> None:
    logs.set_level(logging.DEBUG, logger="websockets")
    with FakeRealtimeServer(faults=Faults(drop_after=3.5, only_first=1)) as server:
        session, events = asyncio.run(asyncio.wait_for(_session_events(server), 30))
    assert any(event.type == "reconnected" for event in events), "the drop was not survived"
    assert any(event.type == "utterance" for event in events)
    records = ours(logs.records)
    messages = [record.getMessage() for record in records]
    assert any(message.startswith("realtime >> ") for message in messages), "no frame logged"
    assert any(message.startswith("realtime connection open: ws://") for message in messages)
    assert "> Authorization: <redacted>" in messages, "the upgrade's headers were not logged"
    assert leaks(session, repr(session._settings), events, records) == []


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(Faults(handshake_status=401), id="401-upgrade"),
        pytest.param(Faults(refusal=1001), id="refused-session"),
        pytest.param(Faults(capacity_error=True), id="no-capacity-retries-exhausted"),
    ],
)
def test_a_refused_realtime_session_shows_no_secret(
    faults: Faults, logs: pytest.LogCaptureFixture
) -> None:
    logs.set_level(logging.DEBUG, logger="websockets")

    async def run(server: FakeRealtimeServer) -> APIError:
        async with AsyncVoxtralClient(FAKE_API_KEY, base_url=server.base_url) as client:
            session = client.realtime(REALTIME_MODEL)
            with pytest.raises(APIError) as caught:
                async with session:
                    pass
            assert leaks(session) == []
        return caught.value

    with FakeRealtimeServer(faults=faults) as server:
        error = asyncio.run(asyncio.wait_for(run(server), 30))
    assert leaks(error, ours(logs.records)) == []


def _client_session(token: Any = REALTIME_TOKEN, expires_at: Any = 1767225600) -> Handler:
    body = {
        "object": "client.session",
        "purpose": "realtime",
        "expires_at": expires_at,
        "client_secret": {"value": token, "expires_at": expires_at},
    }
    return lambda request: httpx.Response(201, json=body)


def test_a_realtime_token_shows_its_value_only_when_asked(logs: pytest.LogCaptureFixture) -> None:
    with sync_client(_client_session()) as client:
        token = client.create_realtime_token(REALTIME_MODEL)
    assert token.value.get_secret_value() == REALTIME_TOKEN
    shown = [token, token.model_dump_json(), token.model_dump(mode="json"), copy.copy(token)]
    assert leaks(*shown, logs.records) == []


@pytest.mark.usefixtures("no_waiting")
@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(_client_session(expires_at="soon"), id="malformed-expiry"),
        pytest.param(_client_session(token=[REALTIME_TOKEN]), id="malformed-value"),
        pytest.param(
            lambda request: httpx.Response(
                201, text='{"client_secret": {"value": "' + REALTIME_TOKEN
            ),
            id="cut-short",
        ),
        pytest.param(
            lambda request: httpx.Response(
                403,
                json={
                    "object": "error",
                    "message": "The key may not create client sessions",
                    "type": "permission_denied",
                    "code": "1002",
                },
            ),
            id="refused",
        ),
    ],
)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failed_realtime_token_shows_no_secret(
    handler: Handler, kind: str, logs: pytest.LogCaptureFixture
) -> None:
    error, client = fail(kind, handler, "create_realtime_token", (REALTIME_MODEL,), {})
    assert isinstance(error, APIError)
    assert leaks(error, client, logs.records) == []
