"""Any audio, any length: formats, cuts at pauses, exact stitched times, resume, bad input.

All audio is generated here (``audio_factory``) and "transcribed" by ``FakeVoxtral``,
which decodes what it receives and returns one segment per non-silent region. A
stitched result is right when its segments are the generated speech regions,
each once, in order, within 50 ms.
"""

from __future__ import annotations

import asyncio
import io
import threading
import wave
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.support.audio_factory import FORMATS, encode, speech_pcm, video_without_audio
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_voxtral import FakeVoxtral
from voxtral_integrations import (
    AsyncVoxtralClient,
    AudioError,
    DoneEvent,
    IncompleteTranscriptionError,
    LanguageEvent,
    SegmentEvent,
    Transcription,
    VoxtralClient,
    _audio,
)
from voxtral_integrations._audio import prepare
from voxtral_integrations._catalogue import ModelLimits
from voxtral_integrations._sources import resolve_audio
from voxtral_integrations._transcribe import atranscribe_chunks

TOLERANCE = 0.05
REGIONS = [(0.5, 3.0), (4.0, 7.5), (9.0, 12.0), (13.0, 15.5), (16.3, 19.0), (20.0, 23.9)]
PAUSES = [(3.0, 4.0), (7.5, 9.0), (12.0, 13.0), (15.5, 16.3), (19.0, 20.0)]
DURATION = 25.0
SHORT = [(0.5, 3.0), (4.0, 7.5)]


def client(fake: FakeVoxtral, **settings: Any) -> VoxtralClient:
    http = httpx.Client(transport=httpx.MockTransport(fake))
    return VoxtralClient(api_key=FAKE_API_KEY, http_client=http, **settings)


def assert_matches_truth(result: Transcription, truth: list[tuple[float, float]]) -> None:
    got = [(segment.start, segment.end) for segment in result.segments]
    assert len(got) == len(truth), f"{len(got)} segments for {len(truth)} regions: {got}"
    for (start, end), (true_start, true_end) in zip(got, truth, strict=True):
        assert start is not None and end is not None
        assert abs(start - true_start) <= TOLERANCE, (start, true_start)
        assert abs(end - true_end) <= TOLERANCE, (end, true_end)


@pytest.fixture(scope="module")
def long_audio() -> dict[str, bytes]:
    pcm = speech_pcm(REGIONS, DURATION)
    return {name: encode(pcm, name) for name in ("wav", "mp3", "flac", "ogg-opus", "m4a")}


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_arrives_in_an_accepted_container_with_true_times(
    name: str, tmp_path: Path
) -> None:
    path = tmp_path / f"recording{FORMATS[name][3]}"
    path.write_bytes(encode(speech_pcm(SHORT, 8.0), name))
    fake = FakeVoxtral()
    result = client(fake).transcribe(path, timestamp_granularities=["segment"])
    ((filename, _, audio),) = fake.uploads
    accepted = (".wav", ".mp3", ".flac", ".ogg", ".webm")
    assert filename.endswith(accepted), filename
    if path.suffix in accepted:
        assert audio == path.read_bytes()  # accepted containers go as they are
    else:  # lossless sources stay lossless; lossy ones go as Opus (decoded at 48 kHz)
        lossless = name == "aiff"
        with av.open(io.BytesIO(audio)) as converted:
            stream = converted.streams.audio[0]
            sent = (converted.format.name, stream.codec_context.name)
            assert sent == (("flac", "flac") if lossless else ("ogg", "opus"))
            rate = 16000 if lossless else 48000
            assert (stream.codec_context.sample_rate, stream.codec_context.channels) == (rate, 1)
    assert_matches_truth(result, SHORT)
    assert result.chunks[0].start == 0 and result.chunks[0].end == pytest.approx(8.0, abs=0.1)


def test_a_video_sends_only_its_audio_track() -> None:
    fake = FakeVoxtral()
    client(fake).transcribe(encode(speech_pcm(SHORT, 8.0), "mp4", video=True))
    ((filename, _, audio),) = fake.uploads
    with av.open(io.BytesIO(audio)) as sent:
        assert len(sent.streams.video) == 0 and len(sent.streams.audio) == 1
    assert filename.endswith(".ogg")


# --------------------------------------------------------------------------- long audio


@pytest.mark.parametrize("name", ["wav", "mp3", "flac", "ogg-opus", "m4a"])
def test_long_audio_is_cut_in_pauses_and_stitched_to_the_truth(
    name: str, long_audio: dict[str, bytes]
) -> None:
    fake = FakeVoxtral()
    result = client(fake).transcribe(
        long_audio[name], timestamp_granularities=["segment"], max_chunk_seconds=10, concurrency=3
    )
    assert len(result.chunks) >= 3
    assert len(fake.uploads) == len(result.chunks)
    for chunk in result.chunks[1:]:
        assert any(start < chunk.start < end for start, end in PAUSES), chunk
    assert all(chunk.duration <= 10 + 0.05 for chunk in result.chunks)
    assert_matches_truth(result, REGIONS)
    assert result.text == " ".join(segment.text for segment in result.segments)
    assert result.usage.completion_tokens == len(REGIONS)


def test_mp3_chunks_are_byte_ranges_of_the_original(long_audio: dict[str, bytes]) -> None:
    fake = FakeVoxtral()
    client(fake).transcribe(long_audio["mp3"], max_chunk_seconds=10)
    original = long_audio["mp3"]
    pieces = [audio for _, _, audio in fake.uploads]
    assert all(piece in original for piece in pieces)  # stream copy: nothing re-encoded
    assert sum(map(len, pieces)) <= len(original)


def test_async_gives_the_same_stitched_result(long_audio: dict[str, bytes]) -> None:
    async def run() -> Transcription:
        http = httpx.AsyncClient(transport=httpx.MockTransport(FakeVoxtral()))
        async with AsyncVoxtralClient(api_key=FAKE_API_KEY, http_client=http) as async_client:
            return await async_client.transcribe(
                long_audio["mp3"], timestamp_granularities=["segment"], max_chunk_seconds=10
            )

    expected = client(FakeVoxtral()).transcribe(
        long_audio["mp3"], timestamp_granularities=["segment"], max_chunk_seconds=10
    )
    assert asyncio.run(run()).model_dump() == expected.model_dump()


def test_concurrency_is_bounded(long_audio: dict[str, bytes]) -> None:
    fake = FakeVoxtral(delay=0.05)
    client(fake).transcribe(long_audio["wav"], max_chunk_seconds=10, concurrency=2)
    assert fake.in_flight_peak == 2


def test_a_long_stream_yields_absolute_times_in_order(long_audio: dict[str, bytes]) -> None:
    events = list(
        client(FakeVoxtral()).stream_transcription(
            long_audio["flac"], timestamp_granularities=["segment"], max_chunk_seconds=10
        )
    )
    assert sum(isinstance(event, LanguageEvent) for event in events) == 1
    assert [type(event) for event in events].count(DoneEvent) == 1
    assert isinstance(events[-1], DoneEvent)
    segments = [event for event in events if isinstance(event, SegmentEvent)]
    assert_matches_truth(events[-1], REGIONS)
    assert [(s.start, s.end) for s in segments] == [(s.start, s.end) for s in events[-1].segments]


def test_chunks_stay_under_the_size_limit(long_audio: dict[str, bytes]) -> None:
    fake = FakeVoxtral()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    vllm = VoxtralClient(backend="vllm", base_url="http://127.0.0.1:9/v1", http_client=http)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("voxtral_integrations._dialects.VLLM_LIMITS", ModelLimits(600, 300_000))
        vllm.transcribe(long_audio["m4a"])
    assert len(fake.uploads) >= 2
    assert all(len(audio) <= 300_000 for _, _, audio in fake.uploads)


def test_progress_bar_and_plan_logging(
    long_audio: dict[str, bytes],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("DEBUG", logger="voxtral_integrations"):
        client(FakeVoxtral()).transcribe(
            long_audio["wav"], max_chunk_seconds=10, show_progress=True
        )
    bar = capsys.readouterr().err
    assert "/3 [" in bar and "chunk/s" in bar
    assert any("3 chunk(s)" in record.getMessage() for record in caplog.records)


# ---------------------------------------------------------- planned as requests go out


class HeldSearch:
    """Cut searches that count themselves; the second one waits until the first request
    has reached the server (or raises ``fail``), so a plan made in full before anything
    is sent never gets there."""

    def __init__(self, search: Any, fail: Exception | None = None) -> None:
        self.search, self.fail = search, fail
        self.searches = 0
        self.first_request = threading.Event()

    def __call__(self, *args: Any) -> Any:
        self.searches += 1
        if self.searches == 2:
            assert self.first_request.wait(10), "the second cut was searched before any request"
            if self.fail is not None:
                raise self.fail
        return self.search(*args)

    def transport(self, fake: FakeVoxtral) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            self.first_request.set()
            return fake(request)

        return handle


def held(monkeypatch: pytest.MonkeyPatch, name: str, fail: Exception | None = None) -> HeldSearch:
    search = "_levels_by_slice" if name in ("wav", "mp3") else "_levels_by_decoding"
    hold = HeldSearch(getattr(_audio, search), fail)
    monkeypatch.setattr(_audio, search, hold)
    return hold


@pytest.mark.parametrize("name", ["mp3", "m4a"])
def test_the_first_request_goes_out_while_later_cuts_are_searched(
    name: str, long_audio: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = client(FakeVoxtral()).transcribe(
        long_audio[name], timestamp_granularities=["segment"], max_chunk_seconds=10
    )
    hold = held(monkeypatch, name)
    fake = FakeVoxtral()
    http = httpx.Client(transport=httpx.MockTransport(hold.transport(fake)))
    result = VoxtralClient(api_key=FAKE_API_KEY, http_client=http).transcribe(
        long_audio[name], timestamp_granularities=["segment"], max_chunk_seconds=10
    )
    assert hold.searches == 2 and len(result.chunks) == 3
    assert result.chunks == expected.chunks  # the same cuts, however the plan is read
    assert_matches_truth(result, REGIONS)


def test_async_sends_the_first_request_while_later_cuts_are_searched(
    long_audio: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = held(monkeypatch, "m4a")

    async def run() -> Transcription:
        http = httpx.AsyncClient(transport=httpx.MockTransport(hold.transport(FakeVoxtral())))
        async with AsyncVoxtralClient(api_key=FAKE_API_KEY, http_client=http) as async_client:
            return await async_client.transcribe(
                long_audio["m4a"], timestamp_granularities=["segment"], max_chunk_seconds=10
            )

    result = asyncio.run(run())
    assert hold.searches == 2 and len(result.chunks) == 3
    assert_matches_truth(result, REGIONS)


@pytest.mark.parametrize("cached", [True, False], ids=["cache_dir", "no cache"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_cut_that_cannot_be_found_keeps_the_chunks_already_sent(
    mode: str,
    cached: bool,
    long_audio: dict[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = AudioError("'lecture.m4a' could not be decoded (damaged)", source="lecture.m4a")
    hold = held(monkeypatch, "m4a", fail=broken)
    fake = FakeVoxtral()
    cache = tmp_path / "cache"
    arguments: dict[str, Any] = {"max_chunk_seconds": 10, "cache_dir": cache if cached else None}
    with pytest.raises(IncompleteTranscriptionError) as caught:
        if mode == "sync":
            http = httpx.Client(transport=httpx.MockTransport(hold.transport(fake)))
            VoxtralClient(api_key=FAKE_API_KEY, http_client=http).transcribe(
                long_audio["m4a"], **arguments
            )
        else:

            async def run() -> None:
                http = httpx.AsyncClient(transport=httpx.MockTransport(hold.transport(fake)))
                async with AsyncVoxtralClient(api_key=FAKE_API_KEY, http_client=http) as aclient:
                    await aclient.transcribe(long_audio["m4a"], **arguments)

            asyncio.run(run())
    error = caught.value
    assert error.__cause__ is broken and "could not be decoded" in str(error)
    (rest,) = error.failed  # the recording from the last cut found to its end
    assert error.failed[rest] is broken and rest.end == pytest.approx(DURATION, abs=0.1)
    assert len(fake.uploads) == 1  # the first chunk, answered before the second cut failed
    assert error.partial is not None and error.partial.chunks[0].end == rest.start
    assert error.partial.text == "words 0 words 1"  # what was paid for is in the error
    assert len(list(cache.glob("*.json"))) == (1 if cached else 0)


def test_a_first_cut_that_cannot_be_found_is_raised_before_anything_is_sent(
    long_audio: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = AudioError("'lecture.m4a' could not be decoded (damaged)", source="lecture.m4a")

    def search(*args: Any) -> Any:
        raise broken

    monkeypatch.setattr(_audio, "_levels_by_decoding", search)
    fake = FakeVoxtral()
    with pytest.raises(AudioError) as caught:
        client(fake).transcribe(long_audio["m4a"], max_chunk_seconds=10)
    assert caught.value is broken and fake.uploads == []


def test_chunks_answered_before_the_last_cut_are_counted_once(
    long_audio: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The async run sends while it plans: a chunk answered before the last cut is
    found is done once, after the total is known (``on_planned`` before ``on_chunk``)."""
    answered = threading.Event()
    real_search = _audio._levels_by_decoding
    searches: list[int] = []

    def search(*args: Any) -> Any:
        searches.append(len(searches))
        if len(searches) == 2:  # the last of the two cuts
            assert answered.wait(10), "no chunk was answered while the last cut waited"
        return real_search(*args)

    monkeypatch.setattr(_audio, "_levels_by_decoding", search)
    told: list[str] = []

    async def send_one(upload: Any) -> Transcription:
        answered.set()
        return Transcription(text="heard", model="voxtral-mini-latest")

    async def run() -> Transcription:
        _, plan = prepare(resolve_audio(long_audio["m4a"]), max_chunk_seconds=10, max_bytes=10**8)
        return await atranscribe_chunks(
            plan,
            send_one,
            concurrency=3,
            cache=None,
            show_progress=False,
            on_chunk=lambda: told.append("done"),
            on_planned=lambda chunks: told.append(f"planned {chunks}"),
        )

    result = asyncio.run(run())
    assert len(result.chunks) == 3 and len(searches) == 2
    assert told == ["planned 3", "done", "done", "done"]


def test_silence_is_an_empty_transcript_not_an_error() -> None:
    fake = FakeVoxtral()
    result = client(fake).transcribe(
        encode(speech_pcm([], 5.0), "mp3"), timestamp_granularities="segment"
    )
    assert result.text == "" and result.segments == []
    assert len(fake.uploads) == 1


# --------------------------------------------------------------------------- resume


def test_a_failed_chunk_is_named_and_a_rerun_sends_only_it(
    long_audio: dict[str, bytes], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    audio = tmp_path / "lecture.wav"
    audio.write_bytes(long_audio["wav"])
    broken = FakeVoxtral(fail=lambda digest, order: order == 1)
    with pytest.raises(IncompleteTranscriptionError) as caught:
        client(broken, max_retries=1).transcribe(
            audio, timestamp_granularities=["segment"], max_chunk_seconds=10, cache_dir=cache
        )
    error = caught.value
    (failed_chunk,) = error.failed
    assert "lecture.wav" in str(error) and "1 of 3 chunks failed" in str(error)
    assert f"{failed_chunk.start:06.3f}"[-6:] in str(error)
    assert error.partial is not None and error.partial.segments
    assert len(list(cache.glob("*.json"))) == 2
    sent_before = len(broken.uploads)

    healthy = FakeVoxtral()
    result = client(healthy).transcribe(
        audio, timestamp_granularities=["segment"], max_chunk_seconds=10, cache_dir=cache
    )
    assert len(healthy.uploads) == 1  # only the chunk that was missing
    assert sent_before == 2 + 2  # chunk 1 tried twice (one retry), the others once
    assert_matches_truth(result, REGIONS)
    assert error.partial.replayed_usage is None  # the first run sent all it has
    replayed = result.replayed_usage  # the two cached chunks: an earlier run paid for them
    assert replayed is not None and replayed.prompt_tokens == error.partial.usage.prompt_tokens
    assert 0 < replayed.prompt_tokens < result.usage.prompt_tokens
    assert "replayed_usage" not in result.model_dump_json()  # the same JSON however obtained


def test_the_cache_is_keyed_by_options(long_audio: dict[str, bytes], tmp_path: Path) -> None:
    fake = FakeVoxtral()
    for granularity in (None, ["segment"]):
        client(fake).transcribe(
            long_audio["wav"],
            timestamp_granularities=granularity,
            max_chunk_seconds=10,
            cache_dir=tmp_path,
        )
    assert len(fake.uploads) == 6  # no reuse across different options
    client(fake).transcribe(long_audio["wav"], max_chunk_seconds=10, cache_dir=tmp_path)
    assert len(fake.uploads) == 6  # full reuse with the same ones


# --------------------------------------------------------------------------- bad input


def _empty_wav() -> bytes:
    output = io.BytesIO()
    with wave.open(output, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
    return output.getvalue()


def _unknown_codec_wav() -> bytes:
    wav = encode(speech_pcm(SHORT, 2.0), "wav")
    return wav[:20] + (0x1234).to_bytes(2, "little") + wav[22:]


BAD: list[Any] = [
    pytest.param(lambda: b"", "empty", id="empty"),
    pytest.param(
        lambda: encode(speech_pcm(SHORT, 8.0), "mp3")[:7000], "truncated", id="truncated-mp3"
    ),
    pytest.param(
        lambda: encode(speech_pcm(SHORT, 8.0), "wav")[:9000], "truncated", id="truncated-wav"
    ),
    pytest.param(
        lambda: (lambda a: a[:20000] + b"\xab" * 3000 + a[23000:])(
            encode(speech_pcm(REGIONS, 25.0), "mp3")
        ),
        "damaged",
        id="corrupt-middle-mp3",
    ),
    pytest.param(
        lambda: b"Dear diary, today I recorded nothing.\n" * 40, "not audio", id="text-as-mp3"
    ),
    pytest.param(video_without_audio, "no audio track", id="video-without-audio"),
    pytest.param(_empty_wav, "zero length", id="zero-length-wav"),
    pytest.param(lambda: encode(b"", "flac"), "zero length", id="zero-length-flac"),
    pytest.param(_unknown_codec_wav, "cannot decode", id="unsupported-codec"),
]


@pytest.mark.parametrize(("make", "says"), BAD)
def test_bad_audio_is_an_audio_error_before_any_upload(
    make: Any, says: str, tmp_path: Path
) -> None:
    path = tmp_path / "input.mp3"
    path.write_bytes(make())
    fake = FakeVoxtral()
    with pytest.raises(AudioError) as caught:
        client(fake).transcribe(path, timestamp_granularities=["segment"])
    assert str(path) in str(caught.value)
    assert says in str(caught.value)
    assert fake.uploads == []
