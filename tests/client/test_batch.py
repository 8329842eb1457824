"""The Batch API workflow against a stand-in that checks every request and really transcribes.

``FakeBatchServer`` (``fake_batch.py``) validates each request and each JSONL line
against Mistral's OpenAPI contract, runs jobs through scripted statuses and
answers each request from the audio it was given, so stitched batch results can
be compared with the online path's for the same audio.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

import voxtral_integrations._batch_flow as batch_flow
from tests.support.audio_factory import encode, speech_pcm
from tests.support.cassette_scenarios import BCN_WEATHER, SCENARIOS
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_batch import FakeBatchServer
from tests.support.fake_voxtral import FakeVoxtral
from voxtral_integrations import (
    APIResponseError,
    AsyncVoxtralClient,
    AudioError,
    BadRequestError,
    BatchJob,
    BatchJobError,
    IncompleteTranscriptionError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    RateLimitError,
    Transcription,
    TranscriptionResult,
    UnsupportedFeatureError,
    UploadedFile,
    VoxtralClient,
    VoxtralError,
)
from voxtral_integrations._audio import Payload
from voxtral_integrations._batch import BatchRequest, Manifest, poll_delays
from voxtral_integrations._batch_flow import manifest_path, read_manifest
from voxtral_integrations._batch_results import line_outcome, result_lines
from voxtral_integrations._dialects import DIALECTS
from voxtral_integrations._flow import AsyncHost, Host, arun, run
from voxtral_integrations._models import Chunk
from voxtral_integrations._options import transcription_options
from voxtral_integrations._requests import RequestSpec
from voxtral_integrations._responses import status_error

REGIONS = [(0.5, 3.0), (4.0, 7.5), (9.0, 12.0), (13.0, 15.5), (16.3, 19.0), (20.0, 23.9)]
DURATION = 25.0
SHORT = [(0.4, 2.0), (2.8, 4.5)]
SIGNED_URL = "https://files.example.com/talk.mp3?sig=SECRET-TOKEN-123&se=2026-12-01"
URL_NAME = "https://files.example.com/talk.mp3"
UUID = "b6a4a1c2-0d0e-4f6a-9c57-3f2d2e1c9a10"
SEGMENTS: dict[str, Any] = {"timestamp_granularities": ["segment"]}


Handler = Callable[[httpx.Request], httpx.Response]
ClientFactory = Callable[..., VoxtralClient]


class Synced:
    """An :class:`AsyncVoxtralClient` called as a :class:`VoxtralClient` is: each method
    awaited on one event loop (a blocking portal), so every test runs on both clients."""

    def __init__(self, client: AsyncVoxtralClient, portal: BlockingPortal) -> None:
        self._client, self._portal = client, portal

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        return lambda *args, **kwargs: self._portal.call(functools.partial(method, *args, **kwargs))


@pytest.fixture(params=["sync", "async"])
def batch_client(request: pytest.FixtureRequest) -> Iterator[ClientFactory]:
    """``batch_client(handler, **settings)``: a client of the kind under test, on ``handler``."""
    if request.param == "sync":

        def sync_client(handler: Handler, **settings: Any) -> VoxtralClient:
            http = httpx.Client(transport=httpx.MockTransport(handler))
            return VoxtralClient(api_key=FAKE_API_KEY, http_client=http, max_retries=0, **settings)

        yield sync_client
        return
    with start_blocking_portal() as portal:

        def async_client(handler: Handler, **settings: Any) -> Any:
            http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
            client = AsyncVoxtralClient(
                api_key=FAKE_API_KEY, http_client=http, max_retries=0, **settings
            )
            return Synced(client, portal)

        yield async_client


def online_client(fake: FakeVoxtral) -> VoxtralClient:
    http = httpx.Client(transport=httpx.MockTransport(fake))
    return VoxtralClient(api_key=FAKE_API_KEY, http_client=http, max_retries=0)


@pytest.fixture(scope="module")
def long_wav() -> bytes:
    return encode(speech_pcm(REGIONS, DURATION), "wav")


@pytest.fixture(scope="module")
def short_mp3() -> bytes:
    return encode(speech_pcm(SHORT, 5.0), "mp3")


@pytest.fixture
def corpus(tmp_path: Path, long_wav: bytes, short_mp3: bytes) -> list[str]:
    """A long recording (3 chunks at 10 s), a short one, and a signed URL."""
    (tmp_path / "long.wav").write_bytes(long_wav)
    (tmp_path / "short.mp3").write_bytes(short_mp3)
    return [str(tmp_path / "long.wav"), str(tmp_path / "short.mp3"), SIGNED_URL]


@pytest.fixture
def server(short_mp3: bytes) -> FakeBatchServer:
    return FakeBatchServer(url_audio={SIGNED_URL: short_mp3})


def run_batch(
    client: VoxtralClient, audio: Any, manifest_dir: Path, **options: Any
) -> tuple[BatchJob, list[TranscriptionResult]]:
    job = client.submit_batch(audio, manifest_dir=manifest_dir, max_chunk_seconds=10, **options)
    client.wait_for_batch(job.id, poll_interval=0)
    return job, client.batch_results(job.id, manifest_dir=manifest_dir)


def timings(transcription: Transcription) -> list[tuple[str, float | None, float | None]]:
    return [(s.text, s.start, s.end) for s in transcription.segments]


# --------------------------------------------------------------------------- end to end


def test_corpus_end_to_end_equals_the_online_path(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    job, results = run_batch(batch_client(server), corpus, tmp_path / "jobs", **SEGMENTS)

    assert [r.index for r in results] == [0, 1, 2]
    assert [r.source for r in results] == [corpus[0], corpus[1], URL_NAME]
    assert all(r.ok for r in results), [r.error for r in results]
    online = online_client(FakeVoxtral())
    for result, path in zip(results[:2], corpus[:2], strict=True):
        expected = online.transcribe(path, max_chunk_seconds=10, **SEGMENTS)
        got = result.unwrap()
        assert timings(got) == timings(expected)  # absolute times, each segment once
        assert got.text == expected.text
        assert got.chunks == expected.chunks
        assert got.usage == expected.usage
    long_result = results[0].unwrap()
    assert len(long_result.chunks) == 3  # 25 s in chunks of at most 10 s
    assert [s.start for s in long_result.segments] == pytest.approx(
        [start for start, _ in REGIONS], abs=0.05
    )
    assert results[2].unwrap().chunks == []  # a URL is the server's to fetch, not split

    # one upload per chunk, then the JSONL, the job, polls, the output, and cleanup
    ops = server.operations
    assert ops[:5] == ["files_api_routes_upload_file"] * 5
    assert ops[5] == "jobs_api_routes_batch_create_batch_job"
    manifest = read_manifest(tmp_path / "jobs", job.id)
    assert [(r.index, r.chunk_count) for r in manifest.requests] == [
        (0, 3),
        (0, 3),
        (0, 3),
        (1, 1),
        (2, 1),
    ]
    assert manifest.requests[1].chunk == long_result.chunks[1]
    assert sorted(server.deleted) == sorted(manifest.uploaded_files)
    assert manifest.files_deleted


def test_jsonl_lines_carry_the_online_options_and_urls_as_file_url(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    client = batch_client(server)
    job = client.submit_batch(
        corpus[1:],
        manifest_dir=tmp_path,
        model="voxtral-mini-2602",
        temperature=0.2,
        diarize=True,
        context_bias=["Voxtral", "Mistral_AI"],
        metadata={"corpus": "interviews"},
        timeout_hours=48,
    )
    fake_job = server.jobs[job.id]
    assert fake_job.model == "voxtral-mini-2602"
    assert fake_job.metadata == {"corpus": "interviews"}
    assert fake_job.timeout_hours == 48
    options = {
        "temperature": 0.2,
        "timestamp_granularities": ["segment"],  # diarization implies segments, as online
        "diarize": True,
        "context_bias": ["Voxtral", "Mistral_AI"],
    }
    audio_id = next(i for i, f in server.files.items() if f.filename == "short.mp3")
    assert fake_job.lines == [
        {"custom_id": "0", "body": {"file_id": audio_id, **options}},
        {"custom_id": "1", "body": {"file_url": SIGNED_URL, **options}},  # the server fetches it
    ]
    assert [f.purpose for f in server.files.values()] == ["audio", "batch"]


def test_resume_in_a_new_process_needs_only_the_job_id_and_manifest_dir(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    job = batch_client(server).submit_batch(
        corpus, manifest_dir=tmp_path, max_chunk_seconds=10, **SEGMENTS
    )

    fresh = batch_client(server)  # nothing shared but the server, the id and the directory
    finished = fresh.wait_for_batch(job.id, poll_interval=0)
    assert finished.status == "SUCCESS" and finished.done
    results = fresh.batch_results(job.id, manifest_dir=tmp_path)
    assert [len(r.unwrap().segments) for r in results] == [6, 2, 2]

    # asked again (files already deleted): the same results, no second deletion
    deleted = list(server.deleted)
    again = batch_client(server).batch_results(job.id, manifest_dir=str(tmp_path))
    assert [r.unwrap() for r in again] == [r.unwrap() for r in results]
    assert server.deleted == deleted


def test_delete_files_false_keeps_the_uploads(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    client = batch_client(server)
    job = client.submit_batch(corpus[:2], manifest_dir=tmp_path)
    client.wait_for_batch(job.id, poll_interval=0)
    client.batch_results(job.id, manifest_dir=tmp_path, delete_files=False)
    assert server.deleted == []
    manifest = read_manifest(tmp_path, job.id)
    assert not manifest.files_deleted
    assert set(manifest.uploaded_files) <= set(server.files)
    client.batch_results(job.id, manifest_dir=tmp_path)
    assert sorted(server.deleted) == sorted(manifest.uploaded_files)
    assert read_manifest(tmp_path, job.id).files_deleted


def test_results_survive_a_manifest_that_cannot_be_rewritten(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    batch_client: ClientFactory,
) -> None:
    client = batch_client(server)
    job = client.submit_batch(corpus[:2], manifest_dir=tmp_path, **SEGMENTS)
    client.wait_for_batch(job.id, poll_interval=0)
    kept = client.batch_results(job.id, manifest_dir=tmp_path, delete_files=False)
    uploaded = read_manifest(tmp_path, job.id).uploaded_files

    def read_only(directory: Path, manifest: Manifest) -> Path:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(batch_flow, "write_manifest", read_only)
    for _ in range(2):  # and again: the files are gone, the manifest still says otherwise
        results = client.batch_results(job.id, manifest_dir=tmp_path)
        assert [r.unwrap() for r in results] == [r.unwrap() for r in kept]
    assert sorted(server.deleted) == sorted(uploaded)
    assert not read_manifest(tmp_path, job.id).files_deleted
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2 and "Read-only file system" in warnings[0]


def test_an_upper_case_job_id_is_the_same_job(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_client: ClientFactory,
) -> None:
    ids = iter(range(1, 100))  # ids with letters, for upper case to change them
    monkeypatch.setattr(server, "new_id", lambda: f"abcdef00-0000-4000-8000-{next(ids):012x}")
    client = batch_client(server)
    job = client.submit_batch(corpus[1:2], manifest_dir=tmp_path)
    assert job.id != job.id.upper()
    assert client.wait_for_batch(job.id.upper(), poll_interval=0).id == job.id
    [result] = client.batch_results(job.id.upper(), manifest_dir=tmp_path)
    assert result.unwrap().text
    assert client.get_batch(job.id.upper()).status == "SUCCESS"


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("style", ["response", "error"])
def test_failed_requests_are_reported_per_source(
    corpus: list[str],
    short_mp3: bytes,
    tmp_path: Path,
    style: Any,
    batch_client: ClientFactory,
) -> None:
    failing = {"1": 400, "3": 429}  # chunk 2 of the long file; the short file
    server = FakeBatchServer(
        url_audio={SIGNED_URL: short_mp3},
        fail=lambda custom_id, body: failing.get(custom_id),
        error_style=style,
    )
    _, results = run_batch(batch_client(server), corpus, tmp_path, **SEGMENTS)

    long_error = results[0].error
    assert isinstance(long_error, IncompleteTranscriptionError)
    assert long_error.source == corpus[0]
    ((chunk, chunk_error),) = long_error.failed.items()
    assert chunk.index == 1
    assert isinstance(chunk_error, BadRequestError) and chunk_error.status_code == 400
    assert "failed on purpose" in str(chunk_error)
    assert corpus[0] in str(chunk_error) and "chunk 2 of 3" in str(chunk_error)
    partial = long_error.partial
    assert isinstance(partial, Transcription)
    assert [c.index for c in partial.chunks] == [0, 2]
    assert all(not (chunk.start <= s.start < chunk.end) for s in partial.segments if s.start)
    assert len(partial.segments) == 4  # the regions of chunks 1 and 3, at their true times

    short_error = results[1].error
    assert isinstance(short_error, RateLimitError)
    assert corpus[1] in str(short_error)
    assert results[2].ok  # the URL's request succeeded


def test_a_failed_job_gives_what_it_finished_and_names_its_status(
    corpus: list[str],
    short_mp3: bytes,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    server = FakeBatchServer(
        script=("QUEUED", "RUNNING", "TIMEOUT_EXCEEDED"),
        processed=4,  # the long file's chunks and the short file ran; the URL did not
        url_audio={SIGNED_URL: short_mp3},
    )
    _, results = run_batch(batch_client(server), corpus, tmp_path, **SEGMENTS)
    assert results[0].ok and len(results[0].unwrap().segments) == 6
    assert results[1].ok
    error = results[2].error
    assert isinstance(error, BatchJobError)
    assert error.status == "TIMEOUT_EXCEEDED"
    assert "TIMEOUT_EXCEEDED" in str(error) and "Job timed out" in str(error)
    assert URL_NAME in str(error) and "SECRET" not in str(error)


def test_a_failed_job_midway_through_a_long_file_keeps_its_chunks(
    corpus: list[str],
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    server = FakeBatchServer(script=("QUEUED", "FAILED"), processed=2)
    _, results = run_batch(batch_client(server), corpus[:2], tmp_path, **SEGMENTS)
    error = results[0].error
    assert isinstance(error, IncompleteTranscriptionError)
    assert [c.index for c in error.failed] == [2]
    assert isinstance(error.failed[next(iter(error.failed))], BatchJobError)
    assert [c.index for c in error.partial.chunks] == [0, 1]
    assert isinstance(results[1].error, BatchJobError)
    assert "FAILED" in str(results[1].error)


def test_expired_results_say_they_are_kept_24_hours(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    client = batch_client(server)
    job = client.submit_batch(corpus[1], manifest_dir=tmp_path)
    client.wait_for_batch(job.id, poll_interval=0)
    server.expire()
    with pytest.raises(BatchJobError) as caught:
        client.batch_results(job.id, manifest_dir=tmp_path)
    assert caught.value.job_id == job.id
    assert "expired" in str(caught.value) and "24 hours" in str(caught.value)
    assert server.deleted == []  # nothing was cleaned up: nothing was collected


def test_results_before_the_end_say_to_wait(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    client = batch_client(server)
    job = client.submit_batch(corpus[1], manifest_dir=tmp_path)
    with pytest.raises(BatchJobError, match="wait_for_batch") as caught:
        client.batch_results(job.id, manifest_dir=tmp_path)
    assert caught.value.status == "RUNNING"


def test_cancel(
    corpus: list[str], server: FakeBatchServer, tmp_path: Path, batch_client: ClientFactory
) -> None:
    client = batch_client(server)
    job = client.submit_batch(corpus[:2], manifest_dir=tmp_path)
    assert client.cancel_batch(job.id).status == "CANCELLATION_REQUESTED"
    assert client.get_batch(job.id).status == "CANCELLED"
    results = client.batch_results(job.id, manifest_dir=tmp_path)
    assert [type(r.error) for r in results] == [BatchJobError, BatchJobError]
    assert all("CANCELLED" in str(r.error) for r in results)


def test_wait_times_out_with_the_job_id(
    server: FakeBatchServer, corpus: list[str], batch_client: ClientFactory
) -> None:
    server.script = ("QUEUED", *["RUNNING"] * 50, "SUCCESS")
    client = batch_client(server)
    job = client.submit_batch(corpus[1], manifest_dir=Path(corpus[1]).parent)
    with pytest.raises(BatchJobError) as caught:
        client.wait_for_batch(job.id, poll_interval=0.001, timeout=0.02)
    assert caught.value.job_id == job.id
    assert caught.value.status == "RUNNING"
    assert "wait_for_batch" in str(caught.value)


def test_wait_backs_off_from_two_seconds_to_a_minute(
    server: FakeBatchServer,
    corpus: list[str],
    monkeypatch: pytest.MonkeyPatch,
    batch_client: ClientFactory,
    sleeps: list[float],
) -> None:
    server.script = ("QUEUED", *["RUNNING"] * 11, "SUCCESS")
    client = batch_client(server)
    job = client.submit_batch(corpus[1], manifest_dir=Path(corpus[1]).parent)
    slept = sleeps  # the polls wait through the transport's one sleep seam
    blocked: list[float] = []  # ...never by time.sleep (the async client's event loop)
    monkeypatch.setattr("time.sleep", blocked.append)
    assert client.wait_for_batch(job.id, show_progress=True).status == "SUCCESS"
    assert blocked == []
    assert slept[:4] == [2.0, 3.0, 4.5, 6.75]
    assert max(slept) == 60.0 and len(slept) == 11  # one sleep after each unfinished poll
    fixed = poll_delays(5.0)
    assert [next(fixed) for _ in range(3)] == [5.0, 5.0, 5.0]


# --------------------------------------------------------------------------- refused early


@pytest.mark.parametrize(
    "call",
    [
        lambda c, d: c.get_batch("not-a-uuid"),
        lambda c, d: c.cancel_batch("../../etc/passwd"),
        lambda c, d: c.wait_for_batch(UUID + "x", poll_interval=0),
        lambda c, d: c.batch_results("12345", manifest_dir=d),
    ],
)
def test_malformed_job_id_is_refused_before_any_request(
    call: Any,
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        call(batch_client(server), tmp_path)
    assert caught.value.argument == "job_id"
    assert server.operations == []


def test_results_without_a_manifest_name_the_directory(
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    client = batch_client(server)
    with pytest.raises(InvalidInputError, match="manifest_dir") as caught:
        client.batch_results(UUID, manifest_dir=tmp_path)
    assert caught.value.argument == "manifest_dir"
    manifest_path(tmp_path, UUID).write_text("{not json")
    with pytest.raises(InvalidInputError, match="damaged"):
        client.batch_results(UUID, manifest_dir=tmp_path)
    assert server.operations == []


def test_a_missing_local_file_stops_the_batch_before_anything_is_uploaded(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    missing = tmp_path / "missing.wav"
    with pytest.raises(AudioError) as caught:
        batch_client(server).submit_batch([*corpus, missing], manifest_dir=tmp_path / "jobs")
    assert caught.value.source == str(missing)
    assert str(missing) in str(caught.value)
    assert server.operations == []


def test_undecodable_audio_stops_the_batch_before_anything_is_uploaded(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    fake_mp3 = tmp_path / "notes.mp3"
    fake_mp3.write_text("these are meeting notes, not audio")
    with pytest.raises(AudioError, match=r"notes\.mp3"):
        batch_client(server).submit_batch([*corpus, fake_mp3], manifest_dir=tmp_path)
    assert server.operations == []


@pytest.mark.parametrize(
    ("settings", "argument"),
    [
        ({"timeout_hours": 0}, "timeout_hours"),
        ({"timeout_hours": 169}, "timeout_hours"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"metadata": {"x" * 33: "v"}}, "metadata"),
        ({"language": "en", "timestamp_granularities": ["segment"]}, "language"),
        ({"max_chunk_seconds": 1}, "max_chunk_seconds"),
        ({"context_bias": "one string"}, "context_bias"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_uploaded(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    settings: Any,
    argument: str,
    batch_client: ClientFactory,
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        batch_client(server).submit_batch(corpus, manifest_dir=tmp_path, **settings)
    assert caught.value.argument == argument
    assert server.operations == []


def test_a_failed_submission_deletes_what_it_uploaded(
    corpus: list[str], server: FakeBatchServer, tmp_path: Path, batch_client: ClientFactory
) -> None:
    def refuse_the_job(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/batch/jobs"):
            return httpx.Response(500, json={"object": "error", "message": "boom"})
        return server(request)

    client = batch_client(refuse_the_job)
    with pytest.raises(InternalServerError):
        client.submit_batch(corpus, manifest_dir=tmp_path / "jobs", max_chunk_seconds=10)
    assert len(server.deleted) == 5  # three chunks, the short file, the JSONL
    assert server.files == {}
    assert list((tmp_path / "jobs").iterdir()) == []  # no manifest for a job that never was


def test_vllm_refuses_every_batch_call_before_sending(
    tmp_path: Path, corpus: list[str], batch_client: ClientFactory
) -> None:
    server = FakeBatchServer()
    client = batch_client(server, backend="vllm")
    calls: list[Callable[[], object]] = [
        lambda: client.submit_batch(corpus[:2], manifest_dir=tmp_path),
        lambda: client.get_batch(UUID),
        lambda: client.wait_for_batch(UUID),
        lambda: client.batch_results(UUID, manifest_dir=tmp_path),
        lambda: client.cancel_batch(UUID),
        lambda: client.download_file(UUID),
    ]
    for call in calls:
        with pytest.raises(UnsupportedFeatureError, match="vLLM"):
            call()
    assert server.operations == []


# --------------------------------------------------------------------------- secrets


def test_the_manifest_holds_no_signed_url_or_key(
    corpus: list[str],
    server: FakeBatchServer,
    tmp_path: Path,
    batch_client: ClientFactory,
) -> None:
    client = batch_client(server)
    job, results = run_batch(client, corpus, tmp_path, **SEGMENTS)
    text = manifest_path(tmp_path, job.id).read_text()
    assert "SECRET" not in text and "sig=" not in text
    assert FAKE_API_KEY not in text
    manifest = json.loads(text)
    assert manifest["job_id"] == job.id
    assert manifest["options"]["model"] == "voxtral-mini-latest"
    assert [r["source"] for r in manifest["requests"]][-1] == URL_NAME
    assert all("SECRET" not in repr(result) for result in results)


# --------------------------------------------------------------------------- pure parts


def _request(**fields: Any) -> BatchRequest:
    return BatchRequest(custom_id="7", index=0, source="talk.mp3", **fields)


def _parse(content: bytes) -> Transcription:
    return Transcription.model_validate_json(content)


URL = "https://api.mistral.ai/v1/audio/transcriptions"


def test_line_outcome_reads_every_documented_line_shape() -> None:
    ok = {
        "id": "batch-1",
        "custom_id": "7",
        "response": {
            "status_code": 200,
            "body": {"model": "m", "text": "hello", "usage": {}, "finish_reason": None},
        },
        "error": None,
    }
    transcription = line_outcome(ok, _request(), parse=_parse, url=URL)
    assert isinstance(transcription, Transcription) and transcription.text == "hello"

    refused = {
        "custom_id": "7",
        "response": {"status_code": 400, "body": {"message": "bad audio", "code": "3310"}},
        "error": None,
    }
    error = line_outcome(refused, _request(), parse=_parse, url=URL)
    assert isinstance(error, BadRequestError)
    assert error.server_message == "bad audio" and error.code == "3310"
    assert str(error).startswith("Batch request 7 ('talk.mp3'): POST /v1/audio/transcriptions")

    errored = {"custom_id": "7", "response": None, "error": {"message": "worker lost"}}
    error = line_outcome(errored, _request(), parse=_parse, url=URL)
    assert isinstance(error, InternalServerError) and error.server_message == "worker lost"

    not_a_transcription = {"custom_id": "7", "response": {"status_code": 200, "body": [1]}}
    error = line_outcome(not_a_transcription, _request(), parse=_parse, url=URL)
    assert isinstance(error, APIResponseError) and "talk.mp3" in str(error)

    chunked = _request(chunk=Chunk(index=1, start=600.0, end=1200.0), chunk_count=3)
    error = line_outcome(refused, chunked, parse=_parse, url=URL)
    assert "'talk.mp3' chunk 2 of 3, 00:10:00-00:20:00" in str(error)


def test_result_lines_skip_what_is_not_a_result_line(caplog: pytest.LogCaptureFixture) -> None:
    content = b'{"custom_id": "0", "response": null}\nnot json\n\n[1, 2]\n{"custom_id": "1"}\n'
    assert sorted(result_lines(content)) == ["0", "1"]
    assert len([r for r in caplog.records if "not a result line" in r.getMessage()]) == 2


def test_the_manifest_round_trips(tmp_path: Path) -> None:
    options = transcription_options(model="m", diarize=True, context_bias=["a_b"])
    manifest = Manifest(
        job_id=UUID,
        options=options,
        created_at=1.5,
        input_file="f-jsonl",
        requests=[_request(chunk=Chunk(index=0, start=0.0, end=9.5), file_id="f-1")],
    )
    manifest_path(tmp_path, UUID).write_text(manifest.model_dump_json())
    again = read_manifest(tmp_path, UUID)
    assert again == manifest
    assert again.options == options  # a TranscriptionOptions again, tuples and all
    assert again.uploaded_files == ["f-1", "f-jsonl"]


def test_download_file_returns_the_bytes(
    server: FakeBatchServer, tmp_path: Path, batch_client: ClientFactory
) -> None:
    client = batch_client(server)
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFF....WAVEfmt " + b"\x00" * 40)
    uploaded = client.upload_file(path)
    assert client.download_file(uploaded) == path.read_bytes()
    assert client.download_file(uploaded.id) == path.read_bytes()
    assert isinstance(uploaded, UploadedFile)


BATCH_METHODS = [
    "submit_batch",
    "get_batch",
    "wait_for_batch",
    "batch_results",
    "cancel_batch",
    "download_file",
]


@pytest.mark.parametrize("name", BATCH_METHODS)
def test_the_async_client_has_every_batch_method_with_the_same_parameters(name: str) -> None:
    sync, asynchronous = getattr(VoxtralClient, name), getattr(AsyncVoxtralClient, name)
    assert inspect.iscoroutinefunction(asynchronous)
    assert inspect.signature(asynchronous) == inspect.signature(sync)
    assert asynchronous.__doc__ and f"VoxtralClient.{name}" in asynchronous.__doc__


# --------------------------------------------------------------------------- flows, no client


def scripted_host(
    answers: list[dict[str, Any] | VoxtralError], slept: list[float], *, asynchronous: bool
) -> tuple[Host | AsyncHost, list[str]]:
    """A host answering each request with the next of ``answers`` (a body, or the error
    the client's ``send`` would raise), recording sleeps: no client, no transport."""
    sent: list[str] = []

    def send(spec: RequestSpec) -> httpx.Response:
        sent.append(f"{spec.method} {spec.path}")
        answer = answers.pop(0)
        if isinstance(answer, VoxtralError):
            raise answer
        return httpx.Response(200, json=answer)

    def refuse(*args: object) -> list[Payload]:
        raise AssertionError("no audio to prepare")

    dialect, base_url = DIALECTS["mistral"], "https://api.example.com/v1"
    if not asynchronous:
        return Host(dialect, base_url, send, refuse, sleep=slept.append), sent

    async def asend(spec: RequestSpec) -> httpx.Response:
        return send(spec)

    async def arefuse(*args: object) -> list[Payload]:
        return refuse()

    async def asleep(seconds: float) -> None:
        slept.append(seconds)

    return AsyncHost(dialect, base_url, asend, arefuse, sleep=asleep), sent


def run_flow(host: Host | AsyncHost, flow: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, AsyncHost):
        return asyncio.run(arun(host, flow, *args, **kwargs))
    return run(host, flow, *args, **kwargs)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_flow_runs_over_any_host_and_sleeps_through_it(asynchronous: bool) -> None:
    slept: list[float] = []
    statuses = [{"id": UUID, "status": status} for status in ("QUEUED", "RUNNING", "SUCCESS")]
    host, sent = scripted_host([*statuses], slept, asynchronous=asynchronous)
    job = run_flow(
        host, batch_flow.wait, UUID, poll_interval=None, timeout=None, show_progress=False
    )
    assert job.status == "SUCCESS"
    assert slept == [2.0, 3.0]  # through the host: the process's sleep is not patched
    assert sent == [f"GET /batch/jobs/{UUID}"] * 3


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_host_failure_is_thrown_back_into_the_flow(asynchronous: bool, tmp_path: Path) -> None:
    """The flow's own ``except`` sees what the host raised: a 404 for a job's output file
    becomes the flow's "expired" error, as it would around a direct call."""
    manifest = Manifest(
        job_id=UUID,
        options=transcription_options(model="m"),
        created_at=1.5,
        input_file="f-jsonl",
        requests=[_request()],
    )
    batch_flow.write_manifest(tmp_path, manifest)
    gone = status_error(
        method="GET",
        url="https://api.example.com/v1/files/f-out/content",
        status_code=404,
        headers={},
        content=b'{"message": "not found"}',
    )
    job = {"id": UUID, "status": "SUCCESS", "output_file": "f-out"}
    host, sent = scripted_host([job, gone], [], asynchronous=asynchronous)
    with pytest.raises(BatchJobError, match="expired") as caught:
        run_flow(host, batch_flow.results, UUID, manifest_dir=tmp_path, delete_files=True)
    assert isinstance(caught.value.__cause__, NotFoundError)
    assert sent == [f"GET /batch/jobs/{UUID}", "GET /files/f-out/content"]


# --------------------------------------------------------------------------- cassette


@pytest.mark.vcr
def test_batch_documented_flow(api_key: str) -> None:
    client = VoxtralClient(api_key=api_key, max_retries=0)
    outcome = SCENARIOS["test_batch/test_batch_documented_flow"].run(client)
    job, results = outcome
    assert isinstance(job, BatchJob) and not job.done  # as created
    assert job.endpoint == "/v1/audio/transcriptions"
    (result,) = results
    assert result.source == str(BCN_WEATHER)
    assert "Barcelona" in result.unwrap().text
    assert result.unwrap().usage.prompt_audio_seconds == pytest.approx(11, abs=1)
