"""Hostile and broken input through the public API, each case with its documented outcome.

The corpus (``hostile_corpus``) is generated: files cut short mid-stream and inside
their header, renamed, zipped, without an audio track, with headers that lie
about the sample rate, the channels or the length, with megabytes of tags, under
non-ASCII names; plus a directory, a missing path and URLs of every scheme.

Every case either fails with a typed error that names the input and says how to
fix it, sending nothing, or works: the fake server's transcript, the true
duration and times. Either way no temporary file is left behind (the temporary
directory is a fresh one of this test's), nothing appears next to the input,
the API key shows in no error and no log line, and the call ends in bounded time
(a header claiming hours is not believed). ``CASES`` is the table of outcomes
(``RELIABILITY.md`` quotes it).

The library does not sniff by name: content decides. A WAV named ``.mp3`` is sent
as ``.wav``; an MP3 named ``.txt`` is sent as ``.mp3``. It never fetches a URL
either: an ``http(s)`` URL goes to the API as ``file_url``, and any other scheme is
refused before sending (``test_an_http_url_is_passed_through_as_file_url_without_a_get``).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from langchain_core.messages import HumanMessage
from llama_index.core.base.llms.types import AudioBlock, ChatMessage, MessageRole, TextBlock

from tests.support.audio_factory import encode
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_batch import FakeBatchServer
from tests.support.fake_voxtral import FakeVoxtral, multipart
from tests.support.hostile_corpus import (
    DURATION,
    HTML,
    REGIONS,
    TEXT,
    TITLE_MARK,
    TRANSCRIPT,
    cut_in_header,
    cut_mid_stream,
    empty_wav,
    encoded,
    hours_of_mp3_frames,
    mp3_with_frame_count,
    mp3_with_id3_tag,
    mp3_without_frames,
    multichannel_wav,
    ogg_without_audio_pages,
    video_without_audio,
    wav_with,
    with_title,
    zipped_wav,
)
from voxtral_integrations import (
    AsyncVoxtralClient,
    AudioError,
    BadRequestError,
    InvalidInputError,
    LoadError,
    Transcription,
    VoxtralClient,
    cli,
)
from voxtral_integrations.cli import _commands, _exits
from voxtral_integrations.langchain import ChatVoxtral, VoxtralLoader
from voxtral_integrations.llama_index import VoxtralLLM

TOLERANCE = 0.06
"""Seconds: the fake server's 10 ms frames, and an MP3's last frame past the speech."""
BOUND = 5.0
"""Seconds any case may take; every one takes well under half a second."""
PASSWORD = "hunter2-PASSWORD"
SIGNATURE = "sig-SIGNATURE"


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Fails:
    """A typed error, raised before anything is sent: what happened, and what to do."""

    error: type[Exception]
    says: str
    fix: str


@dataclass(frozen=True)
class Works:
    """The transcript of ``REGIONS``, sent as one file of this suffix."""

    sent_as: str
    sent_name: str | None = None
    """The whole file name sent, where it matters."""
    duration: float = DURATION
    check: Callable[[bytes], None] | None = None
    """More to assert about the bytes sent."""


@dataclass(frozen=True)
class Case:
    id: str
    name: str
    """The input's file name (for a directory case: the directory's)."""
    make: Callable[[], bytes] | str
    """The file's bytes, or ``"directory"`` / ``"missing"``."""
    outcome: Fails | Works

    def create(self, folder: Path) -> Path:
        path = folder / self.name
        if self.make == "directory":
            path.mkdir()
            (path / "inside.wav").write_bytes(encoded("wav"))
        elif callable(self.make):
            path.write_bytes(self.make())
        return path


def undecodable(fix: str = "complete and really audio") -> Fails:
    return Fails(AudioError, "is not audio that can be decoded", fix)


TRUNCATED = Fails(AudioError, "is truncated", "Download or export it again")
ZERO_LENGTH = Fails(AudioError, "holds no audio (zero length)", "finished recording")
NO_AUDIO_TRACK = Fails(AudioError, "video with no audio track", "exported with its sound")


def impossible(problem: str) -> Fails:
    return Fails(AudioError, f"has an impossible header: {problem}", "export it again")


def sent_unchanged(original: Callable[[], bytes]) -> Callable[[bytes], None]:
    def check(sent: bytes) -> None:
        assert sent == original()

    return check


def mono_flac_without_tags(sent: bytes) -> None:
    """Converted: FLAC, 16 kHz, mono, and none of the source's tags."""
    with av.open(io.BytesIO(sent)) as container:
        stream = container.streams.audio[0]
        assert (container.format.name, stream.codec_context.sample_rate) == ("flac", 16000)
        assert stream.codec_context.channels == 1
    assert TITLE_MARK not in sent and len(sent) < 100_000


def mono_opus_without_tags(sent: bytes) -> None:
    """Converted from a lossy source: Opus in Ogg, mono, and none of the source's tags."""
    with av.open(io.BytesIO(sent)) as container:
        stream = container.streams.audio[0]
        assert (container.format.name, stream.codec_context.name) == ("ogg", "opus")
        assert stream.codec_context.channels == 1
    assert TITLE_MARK not in sent and len(sent) < 100_000


NON_ASCII = "réunion du 3 mai \u2013 会議 (v2).wav"  # an en dash, CJK, spaces, brackets

CASES = [
    Case("empty-file", "empty.wav", lambda: b"", Fails(AudioError, "is empty", "Check the path")),
    Case("one-byte", "one.mp3", lambda: b"\xff", undecodable()),
    Case("truncated-mp3-mid-stream", "talk.mp3", lambda: cut_mid_stream("mp3"), TRUNCATED),
    Case("truncated-wav-mid-stream", "talk.wav", lambda: cut_mid_stream("wav"), TRUNCATED),
    Case("truncated-flac-mid-stream", "talk.flac", lambda: cut_mid_stream("flac"), TRUNCATED),
    Case("truncated-ogg-mid-stream", "talk.ogg", lambda: cut_mid_stream("ogg-opus"), TRUNCATED),
    Case("truncated-mp3-in-header", "talk.mp3", lambda: cut_in_header("mp3"), undecodable()),
    Case("truncated-wav-in-header", "talk.wav", lambda: cut_in_header("wav"), undecodable()),
    Case("truncated-flac-in-header", "talk.flac", lambda: cut_in_header("flac"), undecodable()),
    Case("truncated-ogg-in-header", "talk.ogg", lambda: cut_in_header("ogg-opus"), undecodable()),
    Case("wav-named-mp3", "talk.mp3", lambda: encoded("wav"), Works(".wav")),
    Case("mp3-named-wav", "talk.wav", lambda: encoded("mp3"), Works(".mp3")),
    Case("mp3-named-txt", "talk.txt", lambda: encoded("mp3"), Works(".mp3")),
    Case("text-named-mp3", "notes.mp3", lambda: TEXT, undecodable()),
    Case("html-named-wav", "download.wav", lambda: HTML, undecodable()),
    Case("zip-of-wav-named-mp3", "meeting.mp3", zipped_wav, undecodable()),
    Case("zip-of-wav", "meeting.zip", zipped_wav, undecodable()),
    Case("mp4-video-without-audio", "clip.mp4", lambda: video_without_audio("mp4"), NO_AUDIO_TRACK),
    Case(
        "mkv-video-without-audio",
        "clip.mkv",
        lambda: video_without_audio("matroska"),
        NO_AUDIO_TRACK,
    ),
    Case(
        "wav-sample-rate-1-hz",
        "talk.wav",
        lambda: wav_with(sample_rate=1),
        impossible("a sample rate of 1 Hz"),
    ),
    Case(
        "wav-sample-rate-4-mhz",
        "talk.wav",
        lambda: wav_with(sample_rate=4_000_000),
        impossible("a sample rate of 4000000 Hz"),
    ),
    Case("wav-0-channels", "talk.wav", lambda: wav_with(channels=0), impossible("0 channels")),
    Case(
        "wav-65535-channels",
        "talk.wav",
        lambda: wav_with(channels=65535),
        impossible("65535 channels"),
    ),
    Case(
        "wav-8-channels-downmixed",
        "surround.wav",
        lambda: multichannel_wav(8),
        Works(".flac", check=mono_flac_without_tags),
    ),
    Case("zero-length-wav", "silence.wav", empty_wav, ZERO_LENGTH),
    Case("zero-length-flac", "silence.flac", lambda: encode(b"", "flac"), ZERO_LENGTH),
    Case("zero-length-mp3", "silence.mp3", mp3_without_frames, undecodable()),
    Case("zero-length-ogg", "silence.ogg", ogg_without_audio_pages, undecodable()),
    Case(
        "wav-header-claims-3-hours",
        "talk.wav",
        lambda: wav_with(data_size=16000 * 2 * 3 * 3600),
        Fails(AudioError, "declares 10800.0 s of audio but the file holds 2.8 s", "export it"),
    ),
    Case(
        "wav-size-unknown-piped",
        "piped.wav",
        lambda: wav_with(data_size=0xFFFFFFFF),
        Works(".wav", check=sent_unchanged(lambda: wav_with(data_size=0xFFFFFFFF))),
    ),
    Case(
        "mp3-xing-claims-3-hours",
        "talk.mp3",
        lambda: mp3_with_frame_count(hours_of_mp3_frames(3)),
        Fails(AudioError, "declares 10800.0 s of audio but the file holds 2.8 s", "export it"),
    ),
    Case(
        "mp3-with-4mb-id3-tag",
        "podcast.mp3",
        lambda: mp3_with_id3_tag(4 << 20),
        Works(".mp3", check=sent_unchanged(lambda: mp3_with_id3_tag(4 << 20))),
    ),
    Case(
        "m4a-with-1mb-title",
        "memo.m4a",
        lambda: with_title("m4a", 1 << 20),
        Works(".ogg", check=mono_opus_without_tags),
    ),
    Case(
        "flac-with-1mb-title",
        "memo.flac",
        lambda: with_title("flac", 1 << 20),
        Works(".flac", check=sent_unchanged(lambda: with_title("flac", 1 << 20))),
    ),
    Case("non-ascii-path", NON_ASCII, lambda: encoded("wav"), Works(".wav", sent_name=NON_ASCII)),
    Case("non-ascii-path-broken", "brisé \u2013 会議.mp3", lambda: TEXT, undecodable()),
    Case(
        "directory",
        "recordings.wav",
        "directory",
        Fails(AudioError, "is a directory", "Pass one file at a time"),
    ),
    Case("missing-file", "gone.wav", "missing", Fails(AudioError, "not found", "Check the path")),
]
BY_ID = {case.id: case for case in CASES}
SUBSET = [
    "truncated-mp3-mid-stream",
    "text-named-mp3",
    "wav-sample-rate-1-hz",
    "mkv-video-without-audio",
    "mp3-xing-claims-3-hours",
    "wav-named-mp3",
    "wav-8-channels-downmixed",
    "non-ascii-path",
    "non-ascii-path-broken",
]
"""The cases also run through the async client, the LangChain loader and the CLI."""


# --------------------------------------------------------------------------- harness


@dataclass
class Server:
    """``FakeVoxtral`` behind a record of every request, whatever it is."""

    requests: list[httpx.Request] = field(default_factory=list)
    fake: Any = field(default_factory=FakeVoxtral)
    """What answers: ``FakeVoxtral``, or a test's own handler."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.fake(request)

    def client(self) -> VoxtralClient:
        http = httpx.Client(transport=httpx.MockTransport(self))
        return VoxtralClient(api_key=FAKE_API_KEY, http_client=http, max_retries=0)

    def async_client(self) -> AsyncVoxtralClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return AsyncVoxtralClient(api_key=FAKE_API_KEY, http_client=http, max_retries=0)


@dataclass
class Sandbox:
    """A folder for the inputs, and a temporary directory nothing else uses."""

    inputs: Path
    temporary: Path

    def create(self, case: Case) -> Path:
        folder = self.inputs / case.id
        folder.mkdir()
        return case.create(folder)

    def assert_clean(self, *paths: Path) -> None:
        assert list(self.temporary.iterdir()) == [], "temporary files left behind"
        for path in paths:
            expected = {path.name} if path.exists() else set()
            assert {entry.name for entry in path.parent.iterdir()} == expected, "stray files"


@pytest.fixture
def sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[Sandbox]:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setenv("TMPDIR", str(temporary))
    caplog.set_level(logging.DEBUG, logger="voxtral_integrations")
    (tmp_path / "in").mkdir()
    yield Sandbox(tmp_path / "in", temporary)
    assert FAKE_API_KEY not in caplog.text


def assert_failed(error: BaseException, case: Case, path: Path) -> None:
    outcome = case.outcome
    assert isinstance(outcome, Fails)
    assert isinstance(error, outcome.error), f"{type(error).__name__}: {error}"
    message = str(error)
    assert str(path) in message, f"the input is not named: {message}"
    assert outcome.says in message and outcome.fix in message, message
    assert isinstance(error, AudioError) and error.source == str(path)
    assert FAKE_API_KEY not in message + repr(error)


def assert_worked(result: Transcription, case: Case, server: Server) -> None:
    outcome = case.outcome
    assert isinstance(outcome, Works)
    assert result.text == TRANSCRIPT
    times = [(segment.start, segment.end) for segment in result.segments]
    assert len(times) == len(REGIONS), times
    for (start, end), (true_start, true_end) in zip(times, REGIONS, strict=True):
        assert start is not None and end is not None
        assert abs(start - true_start) <= TOLERANCE and abs(end - true_end) <= TOLERANCE, times
    assert abs(result.chunks[-1].end - outcome.duration) <= TOLERANCE, result.chunks
    ((filename, _, sent),) = server.fake.uploads
    assert filename.endswith(outcome.sent_as), filename
    assert outcome.sent_name in (None, filename), filename
    if outcome.check:
        outcome.check(sent)


def transcribe(server: Server, path: Path) -> Transcription:
    with server.client() as client:
        return client.transcribe(path, timestamp_granularities=["segment"])


# --------------------------------------------------------------------------- every case


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_case_through_transcribe(case: Case, sandbox: Sandbox) -> None:
    path = sandbox.create(case)
    server = Server()
    started = time.monotonic()
    if isinstance(case.outcome, Fails):
        with pytest.raises(case.outcome.error) as caught:
            transcribe(server, path)
        assert_failed(caught.value, case, path)
        assert server.requests == [], "a request was sent for unusable input"
    else:
        assert_worked(transcribe(server, path), case, server)
    assert time.monotonic() - started < BOUND
    sandbox.assert_clean(path)


def test_every_case_at_once_through_transcribe_many(sandbox: Sandbox) -> None:
    """One result per input, each the outcome ``transcribe`` gives; only the good are sent."""
    paths = [sandbox.create(case) for case in CASES]
    server = Server()
    started = time.monotonic()
    with server.client() as client:
        results = list(client.transcribe_many(paths, timestamp_granularities=["segment"]))
    assert time.monotonic() - started < BOUND * 2
    assert sorted(result.index for result in results) == list(range(len(CASES)))
    for result in results:
        case, path = CASES[result.index], paths[result.index]
        assert result.source == str(path)
        if isinstance(case.outcome, Fails):
            assert result.error is not None, case.id
            assert_failed(result.error, case, path)
        else:
            assert result.transcription is not None, f"{case.id}: {result.error}"
            assert result.transcription.text == TRANSCRIPT
    works = [case for case in CASES if isinstance(case.outcome, Works)]
    assert len(server.requests) == len(works)
    sent = sorted(Path(filename).stem.split(".part")[0] for filename, _, _ in server.fake.uploads)
    assert sent == sorted(Path(case.name).stem for case in works)
    sandbox.assert_clean(*paths)


@pytest.mark.parametrize("case_id", SUBSET)
async def test_the_async_client_agrees(case_id: str, sandbox: Sandbox) -> None:
    case = BY_ID[case_id]
    path = sandbox.create(case)
    server = Server()
    async with server.async_client() as client:
        if isinstance(case.outcome, Fails):
            with pytest.raises(case.outcome.error) as caught:
                await client.transcribe(path, timestamp_granularities=["segment"])
            assert_failed(caught.value, case, path)
            assert server.requests == []
        else:
            result = await client.transcribe(path, timestamp_granularities=["segment"])
            assert_worked(result, case, server)
    sandbox.assert_clean(path)


@pytest.mark.parametrize("case_id", SUBSET)
def test_the_langchain_loader_agrees(case_id: str, sandbox: Sandbox) -> None:
    case = BY_ID[case_id]
    path = sandbox.create(case)
    server = Server()
    loader = VoxtralLoader(
        path,
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(server)),
        granularity="segment",  # each segment's span is checked against the truth
    )
    if isinstance(case.outcome, Fails):
        with pytest.raises(LoadError) as caught:
            loader.load()
        assert caught.value.source == str(path) and str(path) in str(caught.value)
        assert caught.value.__cause__ is not None
        assert_failed(caught.value.__cause__, case, path)
        assert server.requests == []
    else:
        documents = loader.load()
        assert [doc.metadata["source"] for doc in documents] == [str(path)] * len(REGIONS)
        spans = [(doc.metadata["start"], doc.metadata["end"]) for doc in documents]
        for (start, end), (true_start, true_end) in zip(spans, REGIONS, strict=True):
            assert abs(start - true_start) <= TOLERANCE and abs(end - true_end) <= TOLERANCE
        assert len(server.requests) == 1
    sandbox.assert_clean(path)


@pytest.fixture
def command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Server:
    """The ``voxtral`` command's one client factory, on a recording fake server."""
    server = Server()
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(_commands, "make_client", lambda backend, base_url: server.client())
    return server


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["transcribe", "--no-progress", *argv])
    out, err = capsys.readouterr()
    assert FAKE_API_KEY not in out + err
    return code, out, err


@pytest.mark.parametrize("case_id", SUBSET)
def test_the_command_line_agrees(
    case_id: str, sandbox: Sandbox, command: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    case = BY_ID[case_id]
    path = sandbox.create(case)
    code, out, err = run_cli(capsys, str(path), "--no-cache")
    if isinstance(case.outcome, Fails):
        assert code == _exits.EXIT_FAILED, err
        assert f"failed: {path}: " in err and case.outcome.says in err and out == ""
        assert command.requests == []
    else:
        assert code == _exits.EXIT_OK, err
        assert out.strip() == TRANSCRIPT
        assert len(command.requests) == 1
    sandbox.assert_clean(path)


def test_the_command_line_refuses_a_missing_path_and_a_directory_of_no_audio(
    sandbox: Sandbox, command: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """A named path that does not exist is a usage error (exit 2); a directory is searched."""
    missing = sandbox.inputs / "gone.wav"
    code, _, err = run_cli(capsys, str(missing))
    assert code == _exits.EXIT_USAGE and "No such file or directory" in err and str(missing) in err
    folder = sandbox.inputs / "notes.wav"
    folder.mkdir()
    (folder / "readme.txt").write_text("no audio here")
    code, _, err = run_cli(capsys, str(folder))
    assert code == _exits.EXIT_USAGE and "contains no audio or video file" in err
    assert command.requests == []
    sandbox.assert_clean(folder / "readme.txt")


# --------------------------------------------------------------------------- URLs


def tiny_wav_data_uri() -> str:
    return "data:audio/wav;base64," + base64.b64encode(encoded("wav")).decode()


BAD_URLS = [
    pytest.param("file:///etc/passwd", "Unsupported URL scheme 'file'", id="file"),
    pytest.param(
        f"ftp://user:{PASSWORD}@media.example/talk.mp3",
        "Unsupported URL scheme 'ftp' in 'ftp://<redacted>@media.example/talk.mp3'",
        id="ftp-with-credentials",
    ),
    pytest.param(tiny_wav_data_uri, "Unsupported URL scheme 'data'", id="data"),
    pytest.param("javascript:alert(document.cookie)", "scheme 'javascript'", id="javascript"),
    pytest.param("http://", "names no host", id="http-without-host"),
    pytest.param("https:/media.example/talk.mp3", "names no host", id="https-one-slash"),
]


@pytest.mark.parametrize(("url", "says"), BAD_URLS)
def test_a_url_the_api_cannot_fetch_is_refused_before_sending(
    url: str | Callable[[], str], says: str, sandbox: Sandbox
) -> None:
    url = url() if callable(url) else url
    server = Server()
    with server.client() as client:
        with pytest.raises(InvalidInputError) as caught:
            client.transcribe(url)
        assert says in str(caught.value) and "http(s)" in str(caught.value)
        assert caught.value.argument == "audio"
        with pytest.raises(InvalidInputError):  # checked when called, before any file is read
            client.transcribe_many([url])
    message = str(caught.value) + repr(caught.value)
    assert PASSWORD not in message and FAKE_API_KEY not in message
    assert len(message) < 600, "a data: URI is not copied into the message whole"
    assert server.requests == []
    sandbox.assert_clean()


def test_a_url_the_api_cannot_fetch_is_a_usage_error_on_the_command_line(
    command: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    for url in (f"ftp://user:{PASSWORD}@media.example/talk.mp3", "http://", "file:///etc/passwd"):
        code, _, err = run_cli(capsys, url)
        assert code == _exits.EXIT_USAGE and "http(s)" in err, err
        assert PASSWORD not in err
    assert command.requests == []


@dataclass
class URLServer:
    """Answers a ``file_url`` transcription with one segment, or the API's 400 for a URL
    it could not download (echoing the URL, as Mistral's message does)."""

    status: int = 200
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        fields, upload = multipart(request)
        assert upload is None, "a URL is not downloaded and uploaded"
        if self.status != 200:
            return httpx.Response(
                self.status,
                json={
                    "object": "error",
                    "message": f"Could not download file from {fields['file_url'][0]}",
                    "type": "invalid_request_error",
                    "code": "3310",
                },
            )
        segment = {"text": "hello", "start": 0.5, "end": 1.5}
        return httpx.Response(
            200,
            json={"model": "m", "text": "hello", "segments": [segment], "usage": {}},
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def assert_only_file_url_posts(self, url: str) -> None:
        assert self.requests, "nothing was sent"
        for request in self.requests:
            assert (request.method, request.url.host) == ("POST", "api.mistral.ai")
            assert request.url.path == "/v1/audio/transcriptions"
            fields, upload = multipart(request)
            assert fields["file_url"] == [url] and upload is None


MEDIA_URL = "http://media.example/episodes/talk.mp3"


async def test_an_http_url_is_passed_through_as_file_url_without_a_get(
    sandbox: Sandbox, command: Server, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The library never downloads a URL: every entry point posts it as ``file_url``.

    Read for this claim: ``_sources.resolve_audio`` (an http(s) URL becomes an
    ``AudioURL``, never opened), ``_dialects`` (sent as the ``file_url`` form field),
    ``_transport`` (every request goes to ``base_url`` + an API path), ``_batch``
    (a URL is a JSONL line's ``file_url``), ``cli`` (URLs go to ``transcribe_many`` as
    they are) and the chat adapters (a URL block is an ``input_audio`` string). So no
    redirect to a private address can be followed here: the server does the fetching.
    """
    server = URLServer()
    http = httpx.Client(transport=server.transport())
    with VoxtralClient(api_key=FAKE_API_KEY, http_client=http) as client:
        assert client.transcribe(MEDIA_URL).text == "hello"
        (result,) = client.transcribe_many([MEDIA_URL])
        assert result.ok and result.source == MEDIA_URL
    async_http = httpx.AsyncClient(transport=server.transport())
    async with AsyncVoxtralClient(api_key=FAKE_API_KEY, http_client=async_http) as async_client:
        assert (await async_client.transcribe(MEDIA_URL)).text == "hello"
    (document,) = VoxtralLoader(
        MEDIA_URL, api_key=FAKE_API_KEY, http_client=httpx.Client(transport=server.transport())
    ).load()
    assert document.metadata["source"] == MEDIA_URL
    assert len(server.requests) == 4
    server.assert_only_file_url_posts(MEDIA_URL)

    command.fake = URLServer()
    code, out, err = run_cli(capsys, MEDIA_URL, "--no-cache")
    assert (code, out.strip()) == (_exits.EXIT_OK, "hello"), err
    command.fake.assert_only_file_url_posts(MEDIA_URL)

    batch = FakeBatchServer()
    http = httpx.Client(transport=httpx.MockTransport(batch))
    with VoxtralClient(api_key=FAKE_API_KEY, http_client=http) as client:
        client.submit_batch([MEDIA_URL], manifest_dir=tmp_path / "batches")
    assert batch.operations == [
        "files_api_routes_upload_file",
        "jobs_api_routes_batch_create_batch_job",
    ]
    (jsonl,) = [stored for stored in batch.files.values() if stored.purpose == "batch"]
    assert json.loads(jsonl.content)["body"]["file_url"] == MEDIA_URL
    sandbox.assert_clean()


def test_credentials_in_an_http_url_reach_no_error_or_log(
    sandbox: Sandbox,
    command: Server,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The API needs the URL whole to fetch it; every message shows it redacted."""
    url = f"https://user:{PASSWORD}@media.example/talk.mp3?{SIGNATURE}"
    server = URLServer(status=400)
    http = httpx.Client(transport=server.transport())
    with VoxtralClient(api_key=FAKE_API_KEY, http_client=http, max_retries=0) as client:
        with pytest.raises(BadRequestError) as caught:
            client.transcribe(url)
        (result,) = client.transcribe_many([url])
    assert "https://<redacted>@media.example/talk.mp3" in str(caught.value)
    assert result.source == "https://<redacted>@media.example/talk.mp3"
    assert isinstance(result.error, BadRequestError)
    loader = VoxtralLoader(
        url,
        api_key=FAKE_API_KEY,
        max_retries=0,
        http_client=httpx.Client(transport=server.transport()),
    )
    with pytest.raises(LoadError) as load_error:
        loader.load()
    server.assert_only_file_url_posts(url)  # sent whole, to the API only

    command.fake = URLServer(status=400)
    code, out, err = run_cli(capsys, url, "--no-cache")
    assert code == _exits.EXIT_FAILED and "https://<redacted>@media.example/talk.mp3" in err
    shown = [str(caught.value), repr(caught.value), str(result.error), str(load_error.value)]
    shown += [out, err, caplog.text]
    for text in shown:
        assert PASSWORD not in text and SIGNATURE not in text and FAKE_API_KEY not in text
    sandbox.assert_clean()


# --------------------------------------------------------------------------- chat audio URLs


@dataclass
class ChatServer:
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(
            200,
            json={
                "id": "c",
                "object": "chat.completion",
                "model": "voxtral-small-latest",
                "created": 0,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "It rains."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            },
        )

    def sent_audio(self) -> list[Any]:
        (request,) = self.requests
        assert (request.method, request.url.path) == ("POST", "/v1/chat/completions")
        content = json.loads(request.content)["messages"][0]["content"]
        return [part["input_audio"] for part in content if part["type"] == "input_audio"]


CHAT_BAD_URLS = [
    pytest.param("file:///etc/passwd", id="file"),
    pytest.param(f"ftp://user:{PASSWORD}@media.example/talk.mp3", id="ftp-with-credentials"),
]


@pytest.mark.parametrize("url", CHAT_BAD_URLS)
@pytest.mark.parametrize(
    "block",
    [
        pytest.param(lambda url: {"type": "audio", "url": url}, id="v1-url-block"),
        pytest.param(
            lambda url: {"type": "audio", "source_type": "url", "url": url}, id="v0-url-block"
        ),
        pytest.param(lambda url: {"type": "input_audio", "input_audio": url}, id="mistral-part"),
    ],
)
def test_chat_voxtral_refuses_an_audio_url_the_server_cannot_fetch(
    url: str, block: Callable[[str], dict[str, Any]]
) -> None:
    server = ChatServer()
    model = ChatVoxtral(
        api_key=FAKE_API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(server))
    )
    message = HumanMessage([{"type": "text", "text": "What is said?"}, block(url)])
    with pytest.raises(InvalidInputError) as caught:
        model.invoke([message])
    assert "http(s)" in str(caught.value) and PASSWORD not in str(caught.value)
    assert server.requests == []


@pytest.mark.parametrize("url", CHAT_BAD_URLS)
def test_the_llama_index_llm_refuses_an_audio_url_the_server_cannot_fetch(url: str) -> None:
    server = ChatServer()
    llm = VoxtralLLM(
        api_key=FAKE_API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(server))
    )
    message = ChatMessage(
        role=MessageRole.USER, blocks=[TextBlock(text="What is said?"), AudioBlock(url=url)]
    )
    with pytest.raises(InvalidInputError) as caught:
        llm.chat([message])
    assert "http(s)" in str(caught.value) and PASSWORD not in str(caught.value)
    assert server.requests == []


def test_chat_audio_http_urls_are_passed_to_the_server_not_fetched() -> None:
    server = ChatServer()
    model = ChatVoxtral(
        api_key=FAKE_API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(server))
    )
    model.invoke([HumanMessage([{"type": "audio", "url": MEDIA_URL}])])
    assert server.sent_audio() == [MEDIA_URL]

    server = ChatServer()
    llm = VoxtralLLM(
        api_key=FAKE_API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(server))
    )
    llm.chat([ChatMessage(role=MessageRole.USER, blocks=[AudioBlock(url=MEDIA_URL)])])
    assert server.sent_audio() == [MEDIA_URL]
