"""VoxtralLoader and VoxtralParser: Documents with absolute times, from files, URLs and blobs."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents import Document
from langchain_core.documents.base import Blob

from tests.support.audio_factory import encode, speech_pcm
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_batch import FakeBatchServer
from tests.support.fake_voxtral import FakeVoxtral
from voxtral_integrations import (
    AudioError,
    ConfigurationError,
    InvalidInputError,
    LoadError,
    UnsupportedFeatureError,
    VoxtralClient,
)
from voxtral_integrations.langchain import VoxtralLoader, VoxtralParser

REGIONS = [(0.5, 3.0), (4.0, 7.5), (9.0, 12.0), (13.0, 15.5), (16.3, 19.0), (20.0, 23.9)]
SCALARS = (str, int, float, bool)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("calls")
    paths = {
        "long": folder / "standup.m4a",
        "short": folder / "short call.mp3",
        "wav": folder / "note.wav",
    }
    paths["long"].write_bytes(encode(speech_pcm(REGIONS, 25.0), "m4a"))
    paths["short"].write_bytes(encode(speech_pcm([(0.5, 2.5), (3.5, 5.0)], 6.0), "mp3"))
    paths["wav"].write_bytes(encode(speech_pcm([(1.0, 2.0)], 3.0), "wav"))
    return paths


PER_SEGMENT = {"granularity": "segment"}
"""Most tests here check how each timed segment maps to a Document, so they ask for one
Document per segment; the default (windows) has tests of its own."""


def loader(fake: Any, source: Any, **options: Any) -> VoxtralLoader:
    options = {**PER_SEGMENT, **options}
    return VoxtralLoader(
        source,
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
        **options,
    )


def spans(docs: list[Document]) -> list[tuple[float, float]]:
    return [(doc.metadata["start"], doc.metadata["end"]) for doc in docs]


def test_segment_documents_carry_absolute_times_across_chunks(recordings: dict[str, Path]) -> None:
    docs = loader(FakeVoxtral(), recordings["long"], max_chunk_seconds=10).load()
    assert len(docs) == len(REGIONS)
    for (start, end), (true_start, true_end) in zip(spans(docs), REGIONS, strict=True):
        assert start == pytest.approx(true_start, abs=0.05)
        assert end == pytest.approx(true_end, abs=0.05)
    first = docs[0].metadata
    assert first["source"] == str(recordings["long"])
    assert (
        first["start_timestamp"] == "00:00:00" and docs[4].metadata["start_timestamp"] == "00:00:16"
    )
    assert first["model"] and first["language"] == "en"
    assert first["duration"] == pytest.approx(25.0, abs=0.1)
    assert [doc.metadata["segment_index"] for doc in docs] == list(range(len(REGIONS)))
    assert all(isinstance(value, SCALARS) for doc in docs for value in doc.metadata.values())


def test_window_documents_group_segments_without_splitting_them(
    recordings: dict[str, Path],
) -> None:
    docs = loader(FakeVoxtral(), recordings["long"], granularity="window", window_seconds=8).load()
    assert [doc.metadata["segment_index"] for doc in docs] == [0, 2, 4]
    assert spans(docs)[0] == pytest.approx((0.5, 7.5), abs=0.05)
    assert docs[0].page_content == "words 0 words 1"


def test_file_documents_and_subtitles(recordings: dict[str, Path]) -> None:
    (text,) = loader(FakeVoxtral(), recordings["short"], granularity="file").load()
    assert text.page_content == "words 0 words 1"
    assert text.metadata["start"] == 0.0 and "segment_index" not in text.metadata
    (srt,) = loader(
        FakeVoxtral(), recordings["short"], granularity="file", transcript_format="srt"
    ).load()
    assert srt.page_content.startswith("1\n00:00:00,5")
    assert " --> " in srt.page_content and "\n2\n" in srt.page_content
    (vtt,) = loader(
        FakeVoxtral(), recordings["short"], granularity="file", transcript_format="vtt"
    ).load()
    assert vtt.page_content.startswith("WEBVTT\n\n00:00:00.5")


def test_many_files_side_by_side_yielded_in_input_order(recordings: dict[str, Path]) -> None:
    # the first file is the slowest: the second finishes first and waits for its turn
    fake = FakeVoxtral(delay=0.05)
    files = [recordings["short"], recordings["wav"]]
    sources = [doc.metadata["source"] for doc in loader(fake, files).lazy_load()]
    assert sources == sorted(sources, key=lambda name: files.index(Path(name)))
    assert set(sources) == {str(recordings["short"]), str(recordings["wav"])}
    assert fake.in_flight_peak == 2

    one_at_a_time = FakeVoxtral(delay=0.05)
    list(loader(one_at_a_time, files, concurrency=1).lazy_load())
    assert one_at_a_time.in_flight_peak == 1


def test_async_loads_the_same_documents_concurrently(recordings: dict[str, Path]) -> None:
    files = [recordings["short"], recordings["wav"], recordings["long"]]
    fake = FakeVoxtral()
    in_flight = [0, 0]  # now, peak

    async def slow_answer(request: httpx.Request) -> httpx.Response:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        await asyncio.sleep(0.3)  # longer than any file takes to prepare: all three overlap
        in_flight[0] -= 1
        return fake(request)

    async def collect() -> list[Document]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(slow_answer)) as http:
            files_loader = VoxtralLoader(
                files, api_key=FAKE_API_KEY, async_http_client=http, concurrency=3, **PER_SEGMENT
            )
            return [doc async for doc in files_loader.alazy_load()]

    async_docs = asyncio.run(collect())
    assert in_flight[1] == 3
    sync_docs = loader(FakeVoxtral(), files).load()
    key = lambda doc: (doc.metadata["source"], doc.metadata["segment_index"])  # noqa: E731
    assert sorted(async_docs, key=key) == sorted(sync_docs, key=key)


def test_a_failing_file_is_named_after_the_others_were_yielded(
    recordings: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio at all" * 64)
    files = [recordings["short"], broken, recordings["wav"]]
    yielded: list[Document] = []
    with pytest.raises(LoadError) as caught:
        for doc in loader(FakeVoxtral(), files).lazy_load():
            yielded.append(doc)
    assert caught.value.source == str(broken) and str(broken) in str(caught.value)
    assert {doc.metadata["source"] for doc in yielded} == {str(recordings["short"])}

    with caplog.at_level(logging.WARNING, logger="voxtral_integrations"):
        docs = loader(FakeVoxtral(), files, on_error="skip").load()
    assert {doc.metadata["source"] for doc in docs} == {
        str(recordings["short"]),
        str(recordings["wav"]),
    }
    assert any(str(broken) in record.getMessage() for record in caplog.records)


def test_a_url_is_sent_as_file_url_and_stored_without_its_query() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {
            "model": "m",
            "text": "hi",
            "language": None,
            "segments": [{"text": "hi", "start": 1.0, "end": 2.0}],
            "usage": {},
        }
        return httpx.Response(200, content=json.dumps(body).encode())

    (doc,) = loader(answer, "https://cdn.example/talk.mp3?sig=SECRET").load()
    assert b"https://cdn.example/talk.mp3?sig=SECRET" in seen[0].read()
    assert doc.metadata["source"] == "https://cdn.example/talk.mp3"
    assert "start" in doc.metadata and "SECRET" not in json.dumps(doc.metadata)


def test_the_parser_reads_path_and_memory_blobs(recordings: dict[str, Path]) -> None:
    fake = FakeVoxtral()
    parser = VoxtralParser(
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        **PER_SEGMENT,
    )
    from_path = parser.parse(Blob.from_path(recordings["short"]))
    in_memory = parser.parse(Blob.from_data(recordings["short"].read_bytes(), path="memo.mp3"))
    assert (
        [d.page_content for d in from_path]
        == [d.page_content for d in in_memory]
        == ["words 0", "words 1"]
    )
    assert from_path[0].metadata["source"] == str(recordings["short"])
    assert in_memory[0].metadata["source"] == "memo.mp3"


def test_the_parser_estimates_what_parsing_its_blobs_would_send(
    recordings: dict[str, Path],
) -> None:
    options: dict[str, Any] = {"diarize": True, "max_chunk_seconds": 10}
    fake = FakeVoxtral()
    parser = VoxtralParser(
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        granularity="file",
        **options,
    )
    from_path = Blob.from_path(recordings["long"])
    in_memory = Blob.from_data(recordings["short"].read_bytes())
    with VoxtralClient(FAKE_API_KEY, base_url="http://127.0.0.1:9/v1") as client:
        expected = client.estimate(
            [recordings["long"], recordings["short"].read_bytes()], **options
        )
        one = client.estimate(recordings["long"], **options)
        with pytest.raises(AudioError) as refused:
            client.estimate(b"definitely not audio" * 50, **options)

    assert parser.estimate([from_path, in_memory]) == expected
    assert parser.estimate(from_path) == one
    assert [row.source for row in expected.per_file] == [str(recordings["long"]), "<bytes>"]
    assert one.chunks > 2 and one.overlap_seconds > 0  # 25 s, diarized, at most 10 s a chunk
    assert fake.uploads == []  # nothing sent to estimate
    parser.parse(from_path)
    assert len(fake.uploads) == one.requests
    with pytest.raises(AudioError) as caught:
        parser.estimate(Blob.from_data(b"definitely not audio" * 50))
    assert type(caught.value) is type(refused.value) and str(caught.value) == str(refused.value)


@pytest.mark.parametrize("given", ["talk.mp3", Path("talk.mp3"), b"ID3", ["talk.mp3"]])
def test_the_parser_refuses_what_is_not_a_blob_naming_it(given: Any) -> None:
    parser = VoxtralParser(api_key=FAKE_API_KEY, base_url="http://127.0.0.1:9/v1")
    for call in (parser.estimate, lambda blob: list(parser.lazy_parse(blob))):
        with pytest.raises(InvalidInputError, match=r"Blob\.from_path\(path\)") as raised:
            call(given)
        assert raised.value.argument == "blob"
        assert "talk.mp3" in str(raised.value) or "ID3" in str(raised.value)


def test_diarized_windows_break_at_a_speaker_change() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        segments = [
            {"text": "hi", "start": 0.0, "end": 1.0, "speaker_id": "speaker_1"},
            {"text": "there", "start": 1.0, "end": 2.0, "speaker_id": "speaker_1"},
            {"text": "hello", "start": 2.5, "end": 3.0, "speaker_id": "speaker_2"},
        ]
        body = {"model": "m", "text": "", "language": None, "segments": segments, "usage": {}}
        return httpx.Response(200, content=json.dumps(body).encode())

    docs = loader(answer, "https://x.example/a.mp3", granularity="window", diarize=True).load()
    assert [(d.page_content, d.metadata["speaker"]) for d in docs] == [
        ("hi there", "speaker_1"),
        ("hello", "speaker_2"),
    ]


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        pytest.param({"granularity": "sentence"}, "granularity", id="unknown-granularity"),
        pytest.param(
            {"granularity": "window", "window_seconds": 0}, "window_seconds", id="window-zero"
        ),
        pytest.param({"window_seconds": -5}, "window_seconds", id="window-negative"),
        pytest.param({"transcript_format": "srt"}, "transcript_format", id="srt-per-segment"),
        pytest.param(
            {"granularity": "file", "transcript_format": "docx"},
            "transcript_format",
            id="bad-format",
        ),
        pytest.param({"language": "en"}, "language", id="language-with-timestamps"),
        pytest.param({"on_error": "ignore"}, "on_error", id="bad-on-error"),
        pytest.param({"context_bias": ["two words"]}, "context_bias", id="bad-context-bias"),
    ],
)
def test_bad_options_are_refused_before_anything_is_sent(
    options: dict[str, Any], argument: str
) -> None:
    fake = FakeVoxtral()
    with pytest.raises(InvalidInputError) as caught:
        loader(fake, "https://x.example/a.mp3", **options)
    assert caught.value.argument == argument
    assert fake.uploads == []


def test_vllm_needs_whole_file_documents() -> None:
    with pytest.raises(UnsupportedFeatureError):
        VoxtralLoader("a.mp3", backend="vllm")
    assert VoxtralLoader("a.mp3", backend="vllm", granularity="file")


def test_no_key_no_loader() -> None:
    with pytest.raises(ConfigurationError, match="MISTRAL_API_KEY"):
        VoxtralLoader("a.mp3")


def test_language_works_for_whole_files(recordings: dict[str, Path]) -> None:
    (doc,) = loader(FakeVoxtral(), recordings["wav"], granularity="file", language="en").load()
    assert doc.page_content == "words 0"
    assert doc.metadata["language"] == "en" and doc.metadata["end"] == pytest.approx(3.0)


# --------------------------------------------------------------------------- review regressions


def test_stopping_an_async_load_early_cancels_the_rest(recordings: dict[str, Path]) -> None:
    files = [recordings["short"], recordings["wav"], recordings["long"]]
    started: list[str] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        started.append("request")
        await asyncio.sleep(0.05)
        return FakeVoxtral()(request)

    async def first_then_more_work() -> str:
        async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as http:
            docs = VoxtralLoader(
                files, api_key=FAKE_API_KEY, async_http_client=http, concurrency=1
            ).alazy_load()
            first = await docs.__anext__()
            await docs.aclose()
            await asyncio.sleep(0.2)  # the caller's own task carries on normally
            return str(first.metadata["source"])

    assert asyncio.run(first_then_more_work()) == str(recordings["short"])
    assert len(started) < 4  # the remaining files were not all transcribed


def test_a_signed_url_never_reaches_an_error_or_a_log(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"object": "error", "message": "could not be fetched"})

    url = "https://user:pw@files.example/a.mp3?X-Amz-Signature=SECRET"
    with pytest.raises(LoadError) as caught:
        loader(refuse, url).load()
    assert "SECRET" not in str(caught.value) and "pw@" not in caught.value.source
    with caplog.at_level(logging.WARNING, logger="voxtral_integrations"):
        loader(refuse, url, on_error="skip").load()
    assert caplog.records and all("SECRET" not in r.getMessage() for r in caplog.records)


def test_load_keeps_the_documents_before_a_failure(
    recordings: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF" + b"\x00" * 40)
    with pytest.raises(LoadError) as caught:
        loader(FakeVoxtral(), [recordings["wav"], broken]).load()
    assert [doc.page_content for doc in caught.value.documents] == ["words 0"]


# --------------------------------------------------------------------------- batch mode


def batch_server(**settings: Any) -> FakeBatchServer:
    return FakeBatchServer(script=("QUEUED", "SUCCESS"), **settings)  # done at the first poll


def contents(docs: list[Document]) -> list[tuple[str, dict[str, Any]]]:
    return [(doc.page_content, doc.metadata) for doc in docs]


@pytest.mark.parametrize(
    "options",
    [
        {"granularity": "segment"},
        {"granularity": "window", "window_seconds": 8},
        {"granularity": "file", "transcript_format": "srt"},
        {"granularity": "file"},
    ],
)
def test_batch_mode_gives_the_documents_online_gives(
    recordings: dict[str, Path], tmp_path: Path, options: dict[str, Any]
) -> None:
    files = [recordings["long"], recordings["short"], recordings["wav"]]
    online = loader(FakeVoxtral(), files, max_chunk_seconds=10, **options).load()
    server = batch_server()
    batched = loader(
        server, files, mode="batch", batch_dir=tmp_path, max_chunk_seconds=10, **options
    ).load()
    assert contents(batched) == contents(online)
    assert len({doc.metadata["source"] for doc in batched}) == 3
    ((job_id, job),) = server.jobs.items()
    assert len(job.lines) == 5  # the long file in three chunks, then one line per file
    assert [path.name for path in tmp_path.iterdir()] == [f"{job_id}.voxtral-batch.json"]


def no_sync_client(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"an async load sent {request.url.path} on the sync client")


def async_only_loader(server: FakeBatchServer, files: list[Path], **options: Any) -> VoxtralLoader:
    """A loader whose sync client fails any request: an async load must not need it."""
    return VoxtralLoader(
        files,
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(no_sync_client)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        **{**PER_SEGMENT, **options},
    )


def test_batch_mode_async_runs_on_the_async_client_alone(
    recordings: dict[str, Path], tmp_path: Path
) -> None:
    files = [recordings["short"], recordings["wav"]]
    online = loader(FakeVoxtral(), files).load()
    server = batch_server()

    async def collect() -> list[Document]:
        batch_loader = async_only_loader(server, files, mode="batch", batch_dir=tmp_path)
        return [doc async for doc in batch_loader.alazy_load()]

    assert contents(asyncio.run(collect())) == contents(online)
    assert "jobs_api_routes_batch_create_batch_job" in server.operations


def test_batch_mode_async_failure_carries_the_documents_before_it(
    recordings: dict[str, Path], tmp_path: Path
) -> None:
    files = [recordings["short"], recordings["wav"]]

    def refused(custom_id: str, body: dict[str, Any]) -> int | None:
        return 400 if custom_id == "1" else None  # the wav file's only request

    batch_loader = async_only_loader(
        batch_server(fail=refused), files, mode="batch", batch_dir=tmp_path
    )
    with pytest.raises(LoadError) as caught:
        asyncio.run(batch_loader.aload())
    assert caught.value.source == str(recordings["wav"])
    assert {doc.metadata["source"] for doc in caught.value.documents} == {str(recordings["short"])}


def test_batch_mode_failures_follow_on_error(
    recordings: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = [recordings["short"], recordings["wav"], recordings["long"]]

    def refused(custom_id: str, body: dict[str, Any]) -> int | None:
        return 400 if custom_id == "1" else None  # the wav file's only request

    with pytest.raises(LoadError) as caught:
        loader(batch_server(fail=refused), files, mode="batch", batch_dir=tmp_path).load()
    assert caught.value.source == str(recordings["wav"])
    assert "failed on purpose" in str(caught.value)
    assert {doc.metadata["source"] for doc in caught.value.documents} == {str(recordings["short"])}

    with caplog.at_level(logging.WARNING, logger="voxtral_integrations"):
        docs = loader(
            batch_server(fail=refused), files, mode="batch", batch_dir=tmp_path, on_error="skip"
        ).load()
    assert [doc.metadata["source"] for doc in docs].count(str(recordings["long"])) == 6
    assert str(recordings["wav"]) not in {doc.metadata["source"] for doc in docs}
    assert any(str(recordings["wav"]) in record.getMessage() for record in caplog.records)


def test_batch_mode_skips_unusable_audio_before_uploading_it(
    recordings: dict[str, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.mp3"
    files = [recordings["short"], missing, recordings["wav"]]
    server = batch_server()
    with pytest.raises(LoadError) as caught:
        loader(server, files, mode="batch", batch_dir=tmp_path / "jobs").load()
    assert caught.value.source == str(missing)
    assert server.operations == []  # nothing was sent

    docs = loader(server, files, mode="batch", batch_dir=tmp_path / "jobs", on_error="skip").load()
    assert {doc.metadata["source"] for doc in docs} == {
        str(recordings["short"]),
        str(recordings["wav"]),
    }
    uploaded = [f.filename for f in server.files.values() if f.purpose == "audio"]
    assert "missing.mp3" not in uploaded


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"mode": "batch"}, "batch_dir"),
        ({"mode": "later", "batch_dir": "jobs"}, "mode"),
        ({"batch_dir": "jobs"}, "batch_dir"),
        ({"mode": "batch", "batch_dir": "jobs", "cache_dir": "cache"}, "cache_dir"),
    ],
)
def test_batch_mode_options_are_checked_up_front(options: dict[str, Any], argument: str) -> None:
    server = batch_server()
    with pytest.raises(InvalidInputError) as caught:
        loader(server, "a.mp3", **options)
    assert caught.value.argument == argument
    assert server.operations == []


def test_vllm_has_no_batch_mode() -> None:
    with pytest.raises(UnsupportedFeatureError, match="Batch API") as caught:
        VoxtralLoader("a.mp3", backend="vllm", granularity="file", mode="batch", batch_dir="jobs")
    assert caught.value.argument == "mode"


# --------------------------------------------------------------------------- citable pieces


def test_load_and_split_gives_each_piece_its_own_times(recordings: dict[str, Path]) -> None:
    from voxtral_integrations.langchain import VoxtralSplitter

    window = loader(FakeVoxtral(), recordings["long"], granularity="window", max_chunk_seconds=10)
    segments = loader(FakeVoxtral(), recordings["long"], max_chunk_seconds=10).load()
    default = window.load_and_split()
    small = window.load_and_split(VoxtralSplitter(max_characters=20))
    assert len(default) == 1 and len(small) == 3  # "words N" segments, two to a piece
    bounds = {(doc.metadata["start"], doc.metadata["end"]) for doc in segments}
    starts = {start for start, _ in bounds}
    ends = {end for _, end in bounds}
    for piece in default + small:
        meta = piece.metadata
        assert meta["start"] in starts and meta["end"] in ends
        cited = f"{recordings['long']}#t={meta['start']:g},{meta['end']:g}"
        assert meta["citation"] == cited
        assert all(isinstance(value, SCALARS) for value in meta.values())
    assert [doc.metadata["start"] for doc in small] == [
        doc.metadata["start"] for doc in segments[::2]
    ]


def test_load_and_split_with_another_splitter_gets_the_loaded_documents(
    recordings: dict[str, Path],
) -> None:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    window = loader(FakeVoxtral(), recordings["long"], granularity="window", max_chunk_seconds=10)
    pieces = window.load_and_split(RecursiveCharacterTextSplitter(chunk_size=10, chunk_overlap=0))
    (whole,) = window.load()
    assert len(pieces) > 1
    assert {doc.metadata["citation"] for doc in pieces} == {whole.metadata["citation"]}


def test_a_signed_urls_token_is_in_no_citation() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {
            "model": "m",
            "text": "hi there",
            "language": None,
            "segments": [
                {"text": "hi", "start": 1.0, "end": 2.0},
                {"text": "there", "start": 62.5, "end": 75.04},
            ],
            "usage": {},
        }
        return httpx.Response(200, content=json.dumps(body).encode())

    source = "https://cdn.example/talk.mp3?sig=SECRET"
    docs = loader(answer, source).load() + loader(answer, source).load_and_split()
    citations = [doc.metadata["citation"] for doc in docs]
    assert citations == [
        "https://cdn.example/talk.mp3#t=1,2",
        "https://cdn.example/talk.mp3#t=62.5,75.04",
        "https://cdn.example/talk.mp3#t=1,2",
        "https://cdn.example/talk.mp3#t=62.5,75.04",
    ]
    assert not any("SECRET" in json.dumps(doc.metadata) for doc in docs)
