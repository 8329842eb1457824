"""VoxtralReader and VoxtralToolSpec: LlamaIndex Documents and tools with absolute times."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pytest
from llama_index.core import SimpleDirectoryReader
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import Document, MetadataMode

from tests.support.audio_factory import encode, speech_pcm
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_batch import FakeBatchServer
from tests.support.fake_voxtral import FakeVoxtral
from voxtral_integrations import (
    ConfigurationError,
    InvalidInputError,
    LoadError,
    UnsupportedFeatureError,
    VoxtralClient,
)
from voxtral_integrations.llama_index import VoxtralReader, VoxtralToolSpec

REGIONS = [(0.5, 3.0), (4.0, 7.5), (9.0, 12.0), (13.0, 15.5), (16.3, 19.0), (20.0, 23.9)]
SHORT = [(0.5, 2.5), (3.5, 5.0)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    calls = tmp_path_factory.mktemp("calls")
    (calls / "standup.m4a").write_bytes(encode(speech_pcm(REGIONS, 25.0), "m4a"))
    (calls / "short.mp3").write_bytes(encode(speech_pcm(SHORT, 6.0), "mp3"))
    (calls / "memo.flac").write_bytes(encode(speech_pcm([(1.0, 2.0)], 3.0), "flac"))
    (calls / "note.wav").write_bytes(encode(speech_pcm([(0.2, 1.2)], 2.0), "wav"))
    return calls


PER_SEGMENT = {"granularity": "segment"}
"""Most tests here check how each timed segment maps to a Document, so they ask for one
Document per segment; the default (windows) has tests of its own."""


def reader(fake: Any, **options: Any) -> VoxtralReader:
    options = {**PER_SEGMENT, **options}
    return VoxtralReader(
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
        **options,
    )


def test_simple_directory_reader_uses_it_for_every_audio_format(folder: Path) -> None:
    voxtral = reader(FakeVoxtral(), max_chunk_seconds=10)
    extractor = {suffix: voxtral for suffix in (".mp3", ".m4a", ".wav", ".flac")}
    docs = SimpleDirectoryReader(str(folder), file_extractor=extractor).load_data()
    by_file: dict[str, list[Document]] = {}
    for doc in docs:
        by_file.setdefault(doc.metadata["file_name"], []).append(doc)
    assert sorted(by_file) == ["memo.flac", "note.wav", "short.mp3", "standup.m4a"]
    standup = by_file["standup.m4a"]
    assert len(standup) == len(REGIONS)
    for doc, (start, end) in zip(standup, REGIONS, strict=True):
        assert doc.metadata["start"] == pytest.approx(start, abs=0.05)
        assert doc.metadata["end"] == pytest.approx(end, abs=0.05)
        assert doc.metadata["source"] == str(folder / "standup.m4a")
    assert standup[4].metadata["start_timestamp"] == "00:00:16"
    assert all(isinstance(v, (str, int, float, bool)) for d in docs for v in d.metadata.values())


def test_timing_keys_are_kept_from_embeddings_but_shown_to_the_llm(folder: Path) -> None:
    doc = reader(FakeVoxtral()).load_data(folder / "short.mp3")[1]
    embedded = doc.get_content(metadata_mode=MetadataMode.EMBED)
    for_llm = doc.get_content(metadata_mode=MetadataMode.LLM)
    assert "start_timestamp" not in embedded and "start:" not in embedded
    assert "start_timestamp: 00:00:03" in for_llm and "words 1" in embedded


def test_window_and_file_granularities(folder: Path) -> None:
    windows = reader(FakeVoxtral(), granularity="window", window_seconds=8).load_data(
        folder / "standup.m4a"
    )
    assert [d.metadata["segment_index"] for d in windows] == [0, 2, 4]
    (whole,) = reader(FakeVoxtral(), granularity="file", transcript_format="vtt").load_data(
        folder / "short.mp3"
    )
    assert whole.text.startswith("WEBVTT")


def test_extra_info_is_merged(folder: Path) -> None:
    (doc, _) = reader(FakeVoxtral()).load_data(folder / "short.mp3", extra_info={"team": "core"})
    assert doc.metadata["team"] == "core" and doc.metadata["start"] == pytest.approx(0.5, abs=0.05)


def test_async_equals_sync_and_runs_files_concurrently(folder: Path) -> None:
    files = [folder / "short.mp3", folder / "memo.flac", folder / "note.wav"]
    fake = FakeVoxtral()
    in_flight = [0, 0]

    async def slow(request: httpx.Request) -> httpx.Response:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        await asyncio.sleep(0.05)
        in_flight[0] -= 1
        return fake(request)

    async def run() -> list[Document]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as http:
            voxtral = VoxtralReader(api_key=FAKE_API_KEY, async_http_client=http, **PER_SEGMENT)
            return await voxtral.aload_data(files)

    async_docs = asyncio.run(run())
    sync_docs = reader(FakeVoxtral()).load_data(files)
    assert in_flight[1] == 3

    def key(doc: Document) -> tuple[str, int, str]:
        return doc.metadata["source"], doc.metadata["segment_index"], doc.text

    assert sorted(map(key, async_docs)) == sorted(map(key, sync_docs))


def test_an_ingestion_pipeline_keeps_the_times_on_nodes(folder: Path) -> None:
    docs = reader(FakeVoxtral(), granularity="window", window_seconds=8).load_data(
        folder / "standup.m4a"
    )
    splitter = SentenceSplitter(chunk_size=256, chunk_overlap=0)
    nodes = IngestionPipeline(transformations=[splitter]).run(documents=docs)
    by_id = {doc.doc_id: doc for doc in docs}
    assert len(nodes) >= len(docs)
    for node in nodes:
        parent = by_id[node.ref_doc_id]
        assert (node.metadata["start"], node.metadata["end"]) == (
            parent.metadata["start"],
            parent.metadata["end"],
        )
        assert "start_timestamp" in node.excluded_embed_metadata_keys


def test_bytes_urls_and_fsspec(folder: Path) -> None:
    audio = (folder / "short.mp3").read_bytes()
    from_bytes = reader(FakeVoxtral()).load_data(audio)
    assert [d.text for d in from_bytes] == ["words 0", "words 1"]
    assert from_bytes[0].metadata["source"] == "<bytes>"

    memory = fsspec.filesystem("memory")
    memory.pipe("/calls/remote.mp3", audio)
    fake = FakeVoxtral()
    from_fs = reader(fake).load_data("/calls/remote.mp3", fs=memory)
    assert [d.text for d in from_fs] == ["words 0", "words 1"]
    assert fake.uploads[0][0] == "remote.mp3"

    seen: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.read())
        body = {"model": "m", "text": "hi", "segments": [{"text": "hi", "start": 1, "end": 2}]}
        return httpx.Response(200, content=json.dumps(body).encode())

    (doc,) = reader(answer).load_data("https://cdn.example/a.mp3?token=SECRET")
    assert b'name="file_url"' in seen[0]
    assert doc.metadata["source"] == "https://cdn.example/a.mp3"


def test_a_failing_file_is_named_and_earlier_ones_kept(folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"definitely not audio" * 50)
    voxtral = reader(FakeVoxtral())
    loaded = []
    with pytest.raises(LoadError) as caught:
        for doc in voxtral.lazy_load_data([folder / "short.mp3", broken]):
            loaded.append(doc)
    assert str(broken) in str(caught.value) and len(loaded) == 2
    skipping = reader(FakeVoxtral(), on_error="skip")
    assert len(skipping.load_data([broken, folder / "short.mp3"])) == 2


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        pytest.param({"granularity": "words"}, "granularity", id="granularity"),
        pytest.param(
            {"granularity": "window", "window_seconds": -1}, "window_seconds", id="window"
        ),
        pytest.param({"transcript_format": "srt"}, "transcript_format", id="srt-per-segment"),
        pytest.param({"language": "fr"}, "language", id="language-with-timestamps"),
    ],
)
def test_bad_options_fail_before_anything_is_sent(options: dict[str, Any], argument: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        reader(FakeVoxtral(), **options)
    assert caught.value.argument == argument


def test_serialises_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    voxtral = VoxtralReader(granularity="window")
    assert voxtral.is_remote and VoxtralReader.class_name() == "VoxtralReader"
    for rendered in (repr(voxtral), str(voxtral), voxtral.to_json(), json.dumps(voxtral.to_dict())):
        assert FAKE_API_KEY not in rendered
    assert voxtral.to_dict()["granularity"] == "window"


def test_no_key_no_reader() -> None:
    with pytest.raises(ConfigurationError):
        VoxtralReader()


def test_tool_spec_returns_timestamped_text(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVoxtral()
    real_client = httpx.Client
    monkeypatch.setattr(
        "voxtral_integrations._client.httpx.Client",
        lambda **kw: real_client(transport=httpx.MockTransport(fake), **kw),
    )
    (tool,) = VoxtralToolSpec(api_key=FAKE_API_KEY).to_tool_list()
    assert tool.metadata.name == "transcribe_audio"
    output = tool.call(path_or_url=str(folder / "short.mp3"))
    assert str(output) == "[00:00:00] words 0\n[00:00:03] words 1"
    assert FAKE_API_KEY not in repr(VoxtralToolSpec(api_key=FAKE_API_KEY))


def test_tool_spec_async(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVoxtral()
    real_client = httpx.AsyncClient
    monkeypatch.setattr(
        "voxtral_integrations._async_client.httpx.AsyncClient",
        lambda **kw: real_client(transport=httpx.MockTransport(fake), **kw),
    )
    (tool,) = VoxtralToolSpec(api_key=FAKE_API_KEY).to_tool_list()
    output = asyncio.run(tool.acall(path_or_url=str(folder / "short.mp3")))
    assert "[00:00:03] words 1" in str(output)


# --------------------------------------------------------------------------- review regressions


def test_a_failed_list_load_keeps_the_documents_before_it(folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"definitely not audio" * 50)
    with pytest.raises(LoadError) as caught:
        reader(FakeVoxtral()).load_data([folder / "short.mp3", broken])
    assert [doc.text for doc in caught.value.documents] == ["words 0", "words 1"]


def test_async_failures_are_load_errors_not_exception_groups(folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"definitely not audio" * 50)
    with pytest.raises(LoadError) as caught:
        asyncio.run(reader(FakeVoxtral()).aload_data([broken, folder / "short.mp3"]))
    assert str(broken) in str(caught.value)


def test_file_objects_and_fsspec_urls_and_unreadable_fs_paths(folder: Path) -> None:
    with (folder / "short.mp3").open("rb") as audio:
        docs = reader(FakeVoxtral()).load_data(audio)
    assert [d.text for d in docs] == ["words 0", "words 1"]
    memory = fsspec.filesystem("memory")
    memory.pipe("/x/a.mp3", (folder / "short.mp3").read_bytes())
    assert len(reader(FakeVoxtral()).load_data("memory://x/a.mp3", fs=memory)) == 2
    skipping = reader(FakeVoxtral(), on_error="skip")
    assert len(skipping.load_data(["/x/missing.mp3", "/x/a.mp3"], fs=memory)) == 2


def test_options_changed_after_construction_are_used(folder: Path) -> None:
    voxtral = reader(FakeVoxtral())
    voxtral.granularity = "file"
    assert len(voxtral.load_data(folder / "short.mp3")) == 1
    voxtral.granularity = "sentence"
    with pytest.raises(InvalidInputError):
        voxtral.load_data(folder / "short.mp3")


def test_estimate_is_the_clients_for_what_load_data_would_send(folder: Path) -> None:
    options: dict[str, Any] = {"diarize": True, "max_chunk_seconds": 10}
    files = [folder / "standup.m4a", folder / "short.mp3"]
    audio = (folder / "short.mp3").read_bytes()
    with VoxtralClient(FAKE_API_KEY, base_url="http://127.0.0.1:9/v1") as client:
        expected = client.estimate(files, **options)
        everything = client.estimate(sorted(folder.iterdir()), **options)
        from_memory = client.estimate(audio, **options)
        with pytest.raises(InvalidInputError) as refused:
            client.estimate("https://cdn.example/a.mp3", **options)

    fake = FakeVoxtral()
    voxtral = reader(fake, granularity="file", **options)
    assert voxtral.estimate(files) == expected
    assert asyncio.run(voxtral.aestimate(files)) == expected
    assert voxtral.estimate(folder) == everything  # a directory: every recording under it
    memory = fsspec.filesystem("memory")
    memory.pipe("/calls/remote.mp3", audio)
    (remote,) = voxtral.estimate("/calls/remote.mp3", fs=memory).per_file
    assert remote == dataclasses.replace(from_memory.per_file[0], source="/calls/remote.mp3")
    assert expected.chunks > 2 and fake.uploads == []  # nothing sent to estimate
    voxtral.load_data(files)
    assert len(fake.uploads) == expected.requests
    with pytest.raises(InvalidInputError) as caught:
        voxtral.estimate("https://cdn.example/a.mp3")
    assert caught.value.argument == refused.value.argument == "audio"
    assert str(caught.value) == str(refused.value)
    voxtral.granularity = "sentence"  # options changed since construction are checked
    with pytest.raises(InvalidInputError) as bad:
        voxtral.estimate(files)
    assert bad.value.argument == "granularity"


# --------------------------------------------------------------------------- batch mode


def batch_server(**settings: Any) -> FakeBatchServer:
    return FakeBatchServer(script=("QUEUED", "SUCCESS"), **settings)  # done at the first poll


def contents(docs: list[Document]) -> list[tuple[str, dict[str, Any], list[str]]]:
    return [(doc.text, doc.metadata, doc.excluded_embed_metadata_keys) for doc in docs]


@pytest.mark.parametrize("granularity", ["segment", "window", "file"])
def test_batch_mode_gives_the_documents_online_gives(
    folder: Path, tmp_path: Path, granularity: str
) -> None:
    files = [folder / "standup.m4a", folder / "short.mp3", folder / "memo.flac"]
    options = {"granularity": granularity, "max_chunk_seconds": 10}
    online = reader(FakeVoxtral(), **options).load_data(files, extra_info={"corpus": "x"})
    server = batch_server()
    batch_reader = reader(server, mode="batch", batch_dir=str(tmp_path), **options)
    batched = batch_reader.load_data(files, extra_info={"corpus": "x"})
    assert contents(batched) == contents(online)
    assert "jobs_api_routes_batch_create_batch_job" in server.operations

    async_batched = asyncio.run(batch_reader.aload_data(files, extra_info={"corpus": "x"}))
    assert contents(async_batched) == contents(online)


def test_batch_mode_async_runs_on_the_async_client_alone(folder: Path, tmp_path: Path) -> None:
    files = [folder / "short.mp3", folder / "memo.flac"]
    online = reader(FakeVoxtral()).load_data(files)

    def no_sync_client(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"an async load sent {request.url.path} on the sync client")

    server = batch_server()
    async_only = VoxtralReader(
        api_key=FAKE_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(no_sync_client)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        mode="batch",
        batch_dir=str(tmp_path),
        **PER_SEGMENT,
    )
    assert contents(asyncio.run(async_only.aload_data(files))) == contents(online)
    assert "jobs_api_routes_batch_create_batch_job" in server.operations


def test_batch_mode_failures_are_load_errors_naming_the_file(folder: Path, tmp_path: Path) -> None:
    server = batch_server(fail=lambda custom_id, body: 429)
    voxtral = reader(server, mode="batch", batch_dir=str(tmp_path), on_error="raise")
    with pytest.raises(LoadError, match="failed on purpose") as caught:
        voxtral.load_data(folder / "short.mp3")
    assert caught.value.source == str(folder / "short.mp3")


def test_batch_mode_is_checked_up_front() -> None:
    server = batch_server()
    with pytest.raises(InvalidInputError) as caught:
        reader(server, mode="batch")
    assert caught.value.argument == "batch_dir"
    with pytest.raises(InvalidInputError) as caught:
        reader(server, mode="offline", batch_dir="jobs")
    assert caught.value.argument == "mode"
    with pytest.raises(UnsupportedFeatureError, match="Batch API"):
        VoxtralReader(backend="vllm", granularity="file", mode="batch", batch_dir="jobs")
    assert server.operations == []
    assert reader(server, mode="batch", batch_dir="jobs").to_dict()["batch_dir"] == "jobs"


# --------------------------------------------------------------------------- citable nodes


def test_the_node_parser_gives_each_node_its_own_times(folder: Path) -> None:
    from voxtral_integrations.llama_index import VoxtralNodeParser

    segments = reader(FakeVoxtral(), max_chunk_seconds=10).load_data(
        folder / "standup.m4a", extra_info={"meeting": "standup"}
    )
    parser = VoxtralNodeParser(max_characters=20)
    nodes = IngestionPipeline(transformations=[parser]).run(documents=segments)
    assert len(nodes) == 3  # "words N" segments, two to a node
    pairs = zip(segments[::2], segments[1::2], strict=True)
    for node, (first, last) in zip(nodes, pairs, strict=True):
        meta = node.metadata
        assert (meta["start"], meta["end"]) == (first.metadata["start"], last.metadata["end"])
        assert meta["citation"] == f"{folder / 'standup.m4a'}#t={meta['start']:g},{meta['end']:g}"
        assert meta["meeting"] == "standup" and node.ref_doc_id == first.doc_id
        assert meta["citation"] in node.get_content(metadata_mode=MetadataMode.LLM)
        assert meta["citation"] not in node.get_content(metadata_mode=MetadataMode.EMBED)
        assert "model" not in node.get_content(metadata_mode=MetadataMode.LLM)


def test_the_node_parser_refuses_a_bad_size() -> None:
    from voxtral_integrations.llama_index import VoxtralNodeParser

    with pytest.raises(InvalidInputError) as raised:
        VoxtralNodeParser(max_characters=0)
    assert raised.value.argument == "max_characters"
