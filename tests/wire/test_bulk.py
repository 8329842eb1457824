"""transcribe_many: one budget of requests across files and chunks; failures stay per file."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.local_server import LocalVoxtralServer, Reply
from tests.support.audio_factory import encode, speech_pcm
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_voxtral import FakeVoxtral
from voxtral_integrations import (
    AsyncVoxtralClient,
    AudioError,
    AuthenticationError,
    IncompleteTranscriptionError,
    InternalServerError,
    InvalidInputError,
    PermissionDeniedError,
    RateLimitError,
    VoxtralClient,
    VoxtralError,
)

LONG_REGIONS = [(1.0, 4.0), (9.0, 12.0), (18.0, 21.0), (27.0, 30.0)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Five short files and one 34 s file that splits into chunks at max_chunk_seconds=10."""
    folder = tmp_path_factory.mktemp("corpus")
    paths = []
    for number in range(5):
        path = folder / f"clip {number}.wav"
        path.write_bytes(encode(speech_pcm([(0.5, 1.5 + 0.1 * number)], 2.5), "wav"))
        paths.append(path)
    long = folder / "long.mp3"
    long.write_bytes(encode(speech_pcm(LONG_REGIONS, 34.0), "mp3"))
    return [*paths, long]


def sync_client(handler: Any, **options: Any) -> VoxtralClient:
    return VoxtralClient(
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        **options,
    )


def test_every_input_has_one_result_with_its_index_and_times(corpus: list[Path]) -> None:
    fake = FakeVoxtral(delay=0.02)
    with sync_client(fake) as client:
        results = list(
            client.transcribe_many(
                corpus, timestamp_granularities="segment", max_chunk_seconds=10, concurrency=3
            )
        )
        alone = client.transcribe(
            corpus[-1], timestamp_granularities="segment", max_chunk_seconds=10
        )
    assert sorted(result.index for result in results) == list(range(len(corpus)))
    by_index = {result.index: result for result in results}
    assert all(result.ok for result in results)
    assert [by_index[index].source for index in range(len(corpus))] == [str(p) for p in corpus]
    long = by_index[len(corpus) - 1].unwrap()
    assert len(long.chunks) >= 3
    assert [(s.start, s.end) for s in long.segments] == [(s.start, s.end) for s in alone.segments]
    for (start, end), segment in zip(LONG_REGIONS, long.segments, strict=True):
        assert segment.start == pytest.approx(start, abs=0.05)
        assert segment.end == pytest.approx(end, abs=0.05)


def test_concurrency_bounds_requests_across_files_and_chunks(corpus: list[Path]) -> None:
    fake = FakeVoxtral(delay=0.05)
    with sync_client(fake) as client:
        results = list(client.transcribe_many(corpus, max_chunk_seconds=10, concurrency=3))
    assert all(result.ok for result in results)
    assert len(fake.uploads) > len(corpus)  # the long file went in several chunks
    assert fake.in_flight_peak == 3


def test_a_failing_file_is_its_own_result_and_the_others_finish(corpus: list[Path]) -> None:
    failing = corpus[2].read_bytes()

    def fail_one(digest: str, order: int) -> bool:
        import hashlib

        return digest == hashlib.sha256(failing).hexdigest()

    fake = FakeVoxtral(fail=fail_one)
    with sync_client(fake, max_retries=0) as client:
        results = {r.index: r for r in client.transcribe_many(corpus, max_chunk_seconds=10)}
    assert [index for index, result in results.items() if not result.ok] == [2]
    error = results[2].error
    assert isinstance(error, InternalServerError)
    with pytest.raises(InternalServerError):
        results[2].unwrap()
    assert results[2].transcription is None
    assert all(results[index].transcription for index in (0, 1, 3, 4, 5))


def test_a_long_file_with_a_failed_chunk_keeps_its_partial(corpus: list[Path]) -> None:
    fake = FakeVoxtral(fail=lambda digest, order: order == 1)
    with sync_client(fake, max_retries=0) as client:
        (result,) = client.transcribe_many([corpus[-1]], max_chunk_seconds=10)
    assert isinstance(result.error, IncompleteTranscriptionError)
    assert result.error.partial is not None and result.error.partial.chunks


@pytest.mark.parametrize(
    ("audio", "error", "named"),
    [
        (None, InvalidInputError, "No audio given"),
        ([12345], InvalidInputError, "int"),
        (["ftp://example.com/a.mp3"], InvalidInputError, "ftp"),
    ],
)
def test_bad_inputs_are_refused_before_anything_is_sent(
    corpus: list[Path], audio: list[Any] | None, error: type[Exception], named: str
) -> None:
    fake = FakeVoxtral()
    with sync_client(fake) as client, pytest.raises(error, match=named):
        client.transcribe_many([] if audio is None else [*corpus[:2], *audio])  # not iterated
    assert fake.uploads == []


def test_a_missing_or_empty_file_is_its_own_result_and_the_others_go_on(
    corpus: list[Path], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    fake = FakeVoxtral()
    with sync_client(fake) as client:
        inputs = [corpus[0], tmp_path / "missing.mp3", empty, corpus[1]]
        results = {r.index: r for r in client.transcribe_many(inputs)}
    assert [results[i].ok for i in range(4)] == [True, False, False, True]
    assert isinstance(results[1].error, AudioError) and "missing.mp3" in str(results[1].error)
    assert isinstance(results[2].error, AudioError) and "empty" in str(results[2].error)
    assert len(fake.uploads) == 2


def test_an_unexpected_error_in_one_file_is_that_files_result(
    corpus: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxtral_integrations import _operations

    real_prepare = _operations.prepare

    def broken_for_one(upload: Any, **limits: Any) -> Any:
        if upload.name.endswith("clip 1.wav"):
            raise RuntimeError("codec crashed at https://files.example/a.wav?token=SECRET")
        return real_prepare(upload, **limits)

    monkeypatch.setattr(_operations, "prepare", broken_for_one)
    with sync_client(FakeVoxtral()) as client:
        results = {r.index: r for r in client.transcribe_many(corpus[:3])}
    assert results[0].ok and results[2].ok
    error = results[1].error
    assert isinstance(error, VoxtralError) and isinstance(error.__cause__, RuntimeError)
    assert "codec crashed" in str(error) and "SECRET" not in str(error)


def test_a_pipe_is_read_once(corpus: list[Path]) -> None:
    import io

    class Pipe(io.RawIOBase):
        def __init__(self, content: bytes) -> None:
            self._stream = io.BytesIO(content)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            data = self._stream.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)

    with sync_client(FakeVoxtral()) as client:
        (result,) = client.transcribe_many([Pipe(corpus[0].read_bytes())])
    assert result.ok, result.error


def test_bad_options_are_refused_before_anything_is_sent(corpus: list[Path]) -> None:
    fake = FakeVoxtral()
    with sync_client(fake) as client:
        with pytest.raises(InvalidInputError, match="concurrency"):
            client.transcribe_many(corpus, concurrency=0)
        with pytest.raises(InvalidInputError, match="timestamp"):
            client.transcribe_many(corpus, timestamp_granularities="sentence")
    assert fake.uploads == []


def test_stopping_early_sends_no_more(corpus: list[Path]) -> None:
    many = corpus[:5] * 8  # 40 inputs
    fake = FakeVoxtral(delay=0.02)
    with sync_client(fake) as client:
        results = client.transcribe_many(many, concurrency=2)
        first = next(results)
        results.close()  # type: ignore[attr-defined]
        sent = len(fake.uploads)
        time.sleep(0.1)
    assert first.ok
    assert sent <= 4 and len(fake.uploads) == sent


def test_async_gives_the_same_results(corpus: list[Path]) -> None:
    fake = FakeVoxtral(delay=0.02)
    with sync_client(fake) as client:
        expected = {
            r.index: r.unwrap() for r in client.transcribe_many(corpus, max_chunk_seconds=10)
        }

    async def run() -> dict[int, Any]:
        async_fake = FakeVoxtral(delay=0.02)

        async def answer(request: httpx.Request) -> httpx.Response:
            await request.aread()
            return await asyncio.to_thread(async_fake, request)

        http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        async with AsyncVoxtralClient(api_key=FAKE_API_KEY, http_client=http) as client:
            found = {
                r.index: r.unwrap()
                async for r in client.transcribe_many(corpus, max_chunk_seconds=10, concurrency=3)
            }
        assert async_fake.in_flight_peak == 3
        return found

    assert asyncio.run(run()) == expected


# ---- a refused key stops the run


class Refusing:
    """Answers ``status`` (401, 403) to every request but those for ``allowed`` files, which
    are answered only once a refusal was sent; a refusal waits until an allowed file's
    request has arrived, so the two are in flight side by side whichever is sent first."""

    def __init__(self, status: int = 401, allowed: tuple[str, ...] = ()) -> None:
        self.status = status
        self.allowed = allowed
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._refused = threading.Event()
        self._allowed_arrived = threading.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        found = re.search(rb'filename="([^"]*)"', request.read())
        name = found.group(1).decode() if found else ""
        with self._lock:
            self.requests.append(name)
        if name in self.allowed:
            self._allowed_arrived.set()
            self._refused.wait(10)
            return httpx.Response(200, json={"model": "m", "text": name})
        if self.allowed:
            self._allowed_arrived.wait(10)
        self._refused.set()
        return httpx.Response(self.status, json={"message": "Unauthorized", "request_id": "r"})


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthenticationError), (403, PermissionDeniedError)]
)
def test_a_refused_key_stops_the_run_after_one_request(
    corpus: list[Path], status: int, error: type[Exception]
) -> None:
    server = Refusing(status)
    got = []
    with sync_client(server) as client, pytest.raises(error):
        for result in client.transcribe_many(corpus, max_chunk_seconds=10, concurrency=1):
            got.append(result)
    assert got == []  # no input is reported failed one by one: the run is
    assert server.requests == ["clip 0.wav"]


def test_a_refused_key_sends_at_most_the_requests_already_in_flight(corpus: list[Path]) -> None:
    server = Refusing()
    with sync_client(server) as client, pytest.raises(AuthenticationError):
        list(client.transcribe_many(corpus * 3, max_chunk_seconds=10, concurrency=3))
    assert 1 <= len(server.requests) <= 3  # every slot is given back only once refused


def test_what_finishes_in_flight_beside_a_refusal_is_still_delivered(corpus: list[Path]) -> None:
    server = Refusing(allowed=("clip 0.wav",))
    got = []
    with sync_client(server) as client, pytest.raises(AuthenticationError):
        for result in client.transcribe_many(corpus, max_chunk_seconds=10, concurrency=2):
            got.append(result)
    assert [(result.index, result.unwrap().text) for result in got] == [(0, "clip 0.wav")]
    assert "clip 1.wav" in server.requests and len(server.requests) <= 3


@pytest.mark.parametrize("concurrency", [1, 3])
def test_async_a_refused_key_stops_the_run(corpus: list[Path], concurrency: int) -> None:
    server = Refusing()

    async def run() -> list[Any]:
        async def answer(request: httpx.Request) -> httpx.Response:
            await request.aread()
            return server(request)

        http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        got = []
        async with AsyncVoxtralClient(api_key=FAKE_API_KEY, http_client=http) as client:
            with pytest.raises(AuthenticationError):
                async for result in client.transcribe_many(
                    corpus * 2, max_chunk_seconds=10, concurrency=concurrency
                ):
                    got.append(result)
        return got

    assert asyncio.run(run()) == []
    assert 1 <= len(server.requests) <= concurrency
    if concurrency == 1:
        assert server.requests == ["clip 0.wav"]


# ---- rate limits, over a real socket


class SendLog:
    """httpx event hooks: when each request went out and each 429 came back (client side)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[float] = []
        self.throttled: list[tuple[float, float]] = []  # (received, retry-after seconds)

    def request(self, request: httpx.Request) -> None:
        with self.lock:
            self.sent.append(time.monotonic())

    def response(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            wait = float(response.headers.get("retry-after-ms", "nan")) / 1000
            with self.lock:
                self.throttled.append((time.monotonic(), wait))

    def early(self) -> list[float]:
        """Requests sent while a 429's wait was still running (a few ms for the race of
        a request already on its way when the 429 came back)."""
        return [
            sent
            for received, wait in self.throttled
            for sent in self.sent
            if received + 0.005 < sent < received + wait
        ]


def test_a_429_slows_the_whole_pool_and_every_file_arrives(corpus: list[Path]) -> None:
    log = SendLog()
    http = httpx.Client(event_hooks={"request": [log.request], "response": [log.response]})
    clips = corpus[:5] * 6  # 30 inputs
    with LocalVoxtralServer(
        latency=0.02, rate_limit=60, burst=4, precise_retry_after=True
    ) as server:
        client = VoxtralClient(api_key=FAKE_API_KEY, base_url=server.base_url, http_client=http)
        results = list(client.transcribe_many(clips, concurrency=8))
        statuses = [record.status for record in server.requests]
    http.close()
    assert sorted(r.index for r in results if r.ok) == list(range(len(clips)))
    assert statuses.count(429) >= 1 and statuses.count(200) == len(clips)
    assert log.throttled and log.early() == []


def test_a_hold_longer_than_max_retry_after_fails_its_request_and_the_others(
    tiny_wav: Path, sleeps: list[float]
) -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "120"}, json={"message": "slow down"}),
        httpx.Response(200, json={"text": "fine", "model": "m", "segments": []}),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    with sync_client(answer) as client:
        first, second = sorted(
            client.transcribe_many([tiny_wav] * 2, concurrency=1), key=lambda r: r.index
        )
    assert isinstance(first.error, RateLimitError) and first.error.retry_after == 120
    # The other request is not sent, and does not sleep out the hold: it says what remains.
    assert isinstance(second.error, RateLimitError) and 119 < second.error.retry_after <= 120
    assert sleeps == [] and len(answers) == 1


def test_a_request_the_server_never_lets_through_still_ends(corpus: list[Path]) -> None:
    from voxtral_integrations._constants import MAX_FREE_RATE_LIMIT_RETRIES

    def refuse_clip_0(request: Any) -> Reply | None:
        upload = request.files.get("file")
        if upload is not None and upload.filename == "clip 0.wav":
            return Reply(429, {"message": "no"}, {"retry-after-ms": "1"})
        return None

    clips = [corpus[0], *corpus[1:5] * 10]  # the refused one, then 40 that succeed
    assert MAX_FREE_RATE_LIMIT_RETRIES < 40  # else the successes alone could not bound it
    with LocalVoxtralServer(latency=0.01, hook=refuse_clip_0) as server:
        with VoxtralClient(api_key=FAKE_API_KEY, base_url=server.base_url) as client:
            results = {r.index: r for r in client.transcribe_many(clips, concurrency=4)}
        attempts = sum(1 for record in server.requests if record.status == 429)
    assert isinstance(results[0].error, RateLimitError)
    assert all(results[index].ok for index in range(1, len(clips)))
    assert 3 <= attempts <= 3 + MAX_FREE_RATE_LIMIT_RETRIES  # max_retries=2, plus free ones
