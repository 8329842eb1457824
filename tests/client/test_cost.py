"""Models as data at the client: refused options never reach the server; estimates match
what a run (online or a batch job) then sends; a run's results carry billed seconds and
cost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from benchmarks.local_server import audio_seconds
from tests.support.audio_factory import encode, speech_pcm
from tests.support.cli_server import SpeechServer
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_batch import FakeBatchServer, transcription_body
from tests.support.fake_voxtral import FakeVoxtral
from voxtral_integrations import (
    AsyncVoxtralClient,
    AudioError,
    InvalidInputError,
    VoxtralClient,
    model_info,
)
from voxtral_integrations.langchain import VoxtralLoader
from voxtral_integrations.llama_index import VoxtralReader

V3 = "voxtral-mini-transcribe-latest"
REGIONS = [(0.5, 3.0), (4.0, 7.5), (9.0, 12.0), (13.0, 15.5), (16.3, 19.0), (20.0, 23.9)]


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        yield running


@pytest.fixture
def corpus(tmp_path: Path) -> list[Path]:
    """A 25 s WAV, a 25 s MP3 and a 12 s M4A (converted before upload)."""
    paths = []
    for name, fmt, duration in (
        ("long", "wav", 25.0),
        ("song", "mp3", 25.0),
        ("memo", "m4a", 12.0),
    ):
        path = tmp_path / f"{name}.{fmt}"
        path.write_bytes(encode(speech_pcm([r for r in REGIONS if r[1] < duration], duration), fmt))
        paths.append(path)
    return paths


def _client(server: SpeechServer) -> VoxtralClient:
    return VoxtralClient(FAKE_API_KEY, base_url=server.base_url, max_retries=0)


def _calls(wav: Path, manifest: Path) -> list[tuple[str, Callable[[VoxtralClient], Any]]]:
    word = {"model": V3, "timestamp_granularities": ["word"]}
    return [
        ("transcribe", lambda c: c.transcribe(wav, **word)),
        ("transcribe_many", lambda c: list(c.transcribe_many([wav, wav], **word))),
        ("stream_transcription", lambda c: list(c.stream_transcription(wav, **word))),
        ("submit_batch", lambda c: c.submit_batch([wav], manifest_dir=manifest, **word)),
        ("estimate", lambda c: c.estimate(wav, **word)),
    ]


@pytest.mark.parametrize("call", range(5), ids=["one", "many", "stream", "batch", "estimate"])
def test_word_timestamps_on_voxtral_3_are_refused_before_any_request(
    call: int, server: SpeechServer, corpus: list[Path], tmp_path: Path
) -> None:
    name, function = _calls(corpus[0], tmp_path / "manifest")[call]
    with _client(server) as client, pytest.raises(InvalidInputError) as raised:
        function(client)
    assert raised.value.argument == "timestamp_granularities", name
    assert V3 in str(raised.value) and "'segment'" in str(raised.value)
    assert server.request_count == 0


def test_the_async_client_and_the_loader_refuse_it_too(
    server: SpeechServer, corpus: list[Path]
) -> None:
    async def main() -> None:
        async with AsyncVoxtralClient(FAKE_API_KEY, base_url=server.base_url) as client:
            with pytest.raises(InvalidInputError, match="timestamp_granularities"):
                await client.transcribe(corpus[0], model=V3, timestamp_granularities="word")

    anyio.run(main)
    with pytest.raises(InvalidInputError, match="is a realtime model"):
        VoxtralLoader(
            [str(corpus[0])],
            model="voxtral-mini-transcribe-realtime-2602",
            diarize=True,
            api_key=FAKE_API_KEY,
            base_url=server.base_url,
        ).load()
    assert server.request_count == 0


@pytest.mark.parametrize("diarize", [False, True])
def test_the_estimate_is_what_the_run_then_sends_and_bills(
    diarize: bool, server: SpeechServer, corpus: list[Path]
) -> None:
    options: dict[str, Any] = {"max_chunk_seconds": 10, "diarize": diarize}
    with _client(server) as client:
        estimate = client.estimate(corpus, **options)
        assert server.request_count == 0  # nothing sent to estimate
        results = sorted(client.transcribe_many(corpus, **options), key=lambda r: r.index)

    assert all(result.ok for result in results)
    assert estimate.files == 3
    assert estimate.requests == server.request_count == estimate.chunks > 3
    for row, result in zip(estimate.per_file, results, strict=True):
        transcription = result.unwrap()
        assert row.chunks == len(transcription.chunks)
        assert row.overlap_seconds == pytest.approx(transcription.overlap_seconds)
    assert (estimate.overlap_seconds > 0) is diarize
    assert [row.converted for row in estimate.per_file] == [False, False, True]
    billed = sum(result.billed_seconds or 0.0 for result in results)
    reported = sum(answer.body["usage"]["prompt_audio_seconds"] for answer in server.answers)
    assert billed == pytest.approx(reported)
    # the fake server measures WAV exactly (other formats as if PCM): compare the WAV
    wav_row, wav_result = estimate.per_file[0], results[0]
    assert wav_row.audio_seconds + wav_row.overlap_seconds == pytest.approx(
        wav_result.billed_seconds, abs=0.01
    )
    price = model_info("voxtral-mini-latest").price.online
    assert price is not None
    assert estimate.cost == pytest.approx(price * estimate.billed_seconds / 60)
    assert sum(r.cost or 0.0 for r in results) == pytest.approx(price * billed / 60)


def test_the_estimate_is_what_a_batch_job_then_sends_and_bills(
    corpus: list[Path], tmp_path: Path
) -> None:
    def billed(audio: bytes, model: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = transcription_body(audio, model, bool(body.get("timestamp_granularities")))
        answer["usage"]["prompt_audio_seconds"] = round(audio_seconds(audio), 3)
        return answer

    options: dict[str, Any] = {"max_chunk_seconds": 10, "diarize": True}
    server = FakeBatchServer(script=("QUEUED", "SUCCESS"), answer=billed)
    http = httpx.Client(transport=httpx.MockTransport(server))
    with VoxtralClient(FAKE_API_KEY, http_client=http, max_retries=0) as client:
        estimate = client.estimate(corpus, **options)
        assert server.operations == []  # nothing sent to estimate
        job = client.submit_batch(corpus, manifest_dir=tmp_path, **options)
        client.wait_for_batch(job.id, poll_interval=0)
        results = client.batch_results(job.id, manifest_dir=tmp_path)

    assert all(result.ok for result in results)
    assert len(server.jobs[job.id].lines) == estimate.requests > 3
    for row, result in zip(estimate.per_file, results, strict=True):
        assert row.chunks == len(result.unwrap().chunks)
    # the fake measures WAV exactly (other formats as if PCM): compare the WAV
    wav_row, wav_result = estimate.per_file[0], results[0]
    assert wav_row.audio_seconds + wav_row.overlap_seconds == pytest.approx(
        wav_result.billed_seconds, abs=0.01
    )
    price = model_info("voxtral-mini-latest").price
    assert price.batch is not None and estimate.cost is not None
    assert estimate.batch_cost == pytest.approx(price.batch * estimate.billed_seconds / 60)
    assert estimate.batch_cost < estimate.cost
    seconds = sum(result.billed_seconds or 0.0 for result in results)
    assert sum(r.cost or 0.0 for r in results) == pytest.approx(price.batch * seconds / 60)


def test_upload_bytes_are_the_bytes_a_run_sends_for_audio_sent_as_it_is_or_sliced(
    corpus: list[Path],
) -> None:
    fake = FakeVoxtral()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    wav, mp3, _ = corpus
    with VoxtralClient(FAKE_API_KEY, base_url="http://127.0.0.1:9/v1", http_client=http) as c:
        whole = c.estimate([wav, mp3])
        sliced = c.estimate([wav, mp3], max_chunk_seconds=10)
        sent_whole = [len(audio) for _, _, audio in fake.uploads]
        assert sent_whole == []
        list(c.transcribe_many([wav, mp3]))
        sent_whole = [len(audio) for _, _, audio in fake.uploads]
        fake.uploads.clear()
        list(c.transcribe_many([wav, mp3], max_chunk_seconds=10))
    assert whole.upload_bytes == sum(sent_whole) == wav.stat().st_size + mp3.stat().st_size
    sent = sum(len(audio) for _, _, audio in fake.uploads)
    assert sliced.upload_bytes == pytest.approx(sent, rel=0.01)  # WAV headers per slice


def test_a_converted_upload_is_estimated_in_the_codec_it_goes_in(corpus: list[Path]) -> None:
    fake = FakeVoxtral()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    memo = corpus[2]  # AAC in M4A: sent converted, as Opus or (asked) as FLAC
    estimated, sent = {}, {}
    with VoxtralClient(FAKE_API_KEY, base_url="http://127.0.0.1:9/v1", http_client=http) as c:
        for codec in ("auto", "flac"):
            estimated[codec] = c.estimate(memo, upload_codec=codec).upload_bytes
            fake.uploads.clear()
            c.transcribe(memo, upload_codec=codec)
            sent[codec] = sum(len(audio) for _, _, audio in fake.uploads)
    loader = VoxtralLoader([str(memo)], upload_codec="flac", api_key=FAKE_API_KEY)
    assert loader.estimate().upload_bytes == estimated["flac"]
    assert sent["flac"] <= estimated["flac"]  # FLAC: at most its PCM
    assert sent["auto"] <= estimated["auto"] < sent["flac"]  # Opus: at most its bit rate


def test_an_unknown_model_is_estimated_without_a_price(corpus: list[Path]) -> None:
    with VoxtralClient(FAKE_API_KEY, base_url="http://127.0.0.1:9/v1") as client:
        estimate = client.estimate(corpus[0], model="mistralai/Voxtral-Mini-3B-2507")
        assert estimate.resolved_model == "mistralai/Voxtral-Mini-3B-2507"
        assert estimate.chunks == 1 and estimate.audio_seconds == pytest.approx(25.0)
        assert estimate.cost is None and estimate.batch_cost is None
        with pytest.raises(InvalidInputError, match="fetches a URL") as raised:
            client.estimate(["https://example.com/a.mp3"])
        assert raised.value.argument == "audio"


def test_the_async_twin_and_the_loader_estimate_alike(corpus: list[Path]) -> None:
    options: dict[str, Any] = {"model": V3, "diarize": True, "max_chunk_seconds": 10}
    with VoxtralClient(FAKE_API_KEY, base_url="http://127.0.0.1:9/v1") as client:
        expected = client.estimate(corpus, **options)

    async def main() -> Any:
        async with AsyncVoxtralClient(FAKE_API_KEY, base_url="http://127.0.0.1:9/v1") as client:
            return await client.estimate(corpus, **options)

    assert anyio.run(main) == expected
    loader = VoxtralLoader(
        [str(path) for path in corpus],
        granularity="file",
        api_key=FAKE_API_KEY,
        base_url="http://127.0.0.1:9/v1",
        **options,
    )
    assert loader.estimate() == expected
    assert anyio.run(loader.aestimate) == expected
    assert expected.resolved_model == "voxtral-mini-transcribe-3-0"
    assert expected.cost is not None and not expected.price_verified


def test_a_skipping_load_estimates_only_what_it_would_send(
    corpus: list[Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken, empty = tmp_path / "broken.mp3", tmp_path / "empty.wav"
    broken.write_bytes(b"definitely not audio" * 50)
    empty.write_bytes(b"")
    paths = [str(corpus[0]), str(broken), str(corpus[2]), str(empty)]
    settings: dict[str, Any] = {"api_key": FAKE_API_KEY, "base_url": "http://127.0.0.1:9/v1"}
    with VoxtralClient(FAKE_API_KEY, base_url="http://127.0.0.1:9/v1") as client:
        expected = client.estimate([corpus[0], corpus[2]])
    skipping = VoxtralLoader(paths, granularity="file", on_error="skip", **settings)
    with caplog.at_level("WARNING", logger="voxtral_integrations"):
        assert skipping.estimate() == expected
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"skipped {broken}",
        f"skipped {empty}",
    ]
    assert anyio.run(skipping.aestimate) == expected
    raising = VoxtralLoader(paths, granularity="file", **settings)
    with pytest.raises(AudioError, match=r"broken\.mp3"):
        raising.estimate()
    reader = VoxtralReader(granularity="file", on_error="skip", **settings)
    assert reader.estimate(paths) == expected
