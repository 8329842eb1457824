"""Any audio source to the realtime session's PCM (PyAV): formats, kinds, pacing, memory."""

from __future__ import annotations

import asyncio
import io
import random
import struct
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from tests.support.audio_factory import encode, speech_pcm, video_without_audio
from voxtral_integrations._exceptions import AudioError, InvalidInputError
from voxtral_integrations._realtime_audio import RawPCM, pcm_chunks
from voxtral_integrations._realtime_vad import LoudnessVAD, linear

REGIONS = [(0.4, 1.3), (2.1, 2.9)]
DURATION = 3.5
TRUE_ENDS = [1.3, 2.9]
FRAME = {  # format -> one codec frame in seconds (the tolerance on duration and times)
    "wav": 1 / 16000,
    "flac": 1 / 16000,
    "mp3": 1152 / 44100,
    "m4a": 1024 / 44100,
    "ogg-opus": 0.02,
    "webm": 0.02,
}
STREAMED_M4A = {"movflags": "frag_keyframe+empty_moov"}
"""A stream cannot seek to an index written at the end: streamed MP4 is fragmented."""


def _collect(source: Any, **options: Any) -> list[bytes]:
    async def run() -> list[bytes]:
        return [chunk async for chunk in pcm_chunks(source, **options)]

    return asyncio.run(run())


def _splits(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    pieces, at = [], 0
    while at < len(data):
        size = rng.choice([1, 7, 100, 1000, 4096, 20000])
        pieces.append(data[at : at + size])
        at += size
    return pieces


async def _async_pieces(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        await asyncio.sleep(0)
        yield piece


def _source(kind: str, data: bytes, tmp_path: Path) -> Any:
    if kind == "path":
        path = tmp_path / "audio.bin"
        path.write_bytes(data)
        return path
    if kind == "str":
        path = tmp_path / "audio.bin"
        path.write_bytes(data)
        return str(path)
    if kind == "file":
        return io.BytesIO(data)
    if kind == "iterator":
        return iter(_splits(data, 1))
    if kind == "async":
        return _async_pieces(_splits(data, 2))
    return data


@pytest.mark.parametrize("kind", ["path", "str", "bytes", "file", "iterator", "async"])
@pytest.mark.parametrize("name", list(FRAME))
def test_every_format_and_kind_arrives_as_aligned_pcm_with_speech_in_place(
    name: str, kind: str, tmp_path: Path
) -> None:
    streamed = kind in ("iterator", "async")
    options = STREAMED_M4A if name == "m4a" and streamed else None
    data = encode(speech_pcm(REGIONS, DURATION), name, muxer_options=options)
    chunks = _collect(_source(kind, data, tmp_path), sample_rate=16000, realtime=False)
    assert all(len(chunk) == 3200 for chunk in chunks[:-1])
    assert 0 < len(chunks[-1]) <= 3200 and len(chunks[-1]) % 2 == 0
    pcm = b"".join(chunks)
    slack = 2 * FRAME[name] if options else FRAME[name]  # no edit list: priming stays
    assert abs(len(pcm) / 32000 - DURATION) <= slack + 1e-9
    ends = LoudnessVAD(16000).feed(pcm)
    assert len(ends) == len(TRUE_ENDS)
    for found, truth in zip(ends, TRUE_ENDS, strict=True):
        assert abs(found - truth) <= 0.02 + slack


ENCODINGS = ["pcm_s16le", "pcm_s32le", "pcm_f32le", "pcm_f16le", "pcm_mulaw", "pcm_alaw"]
WIDTH = {"pcm_s32le": 4, "pcm_f32le": 4, "pcm_mulaw": 1, "pcm_alaw": 1}


@pytest.mark.parametrize("rate", [8000, 24000, 48000])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_each_encoding_and_rate_holds_the_same_audio(encoding: str, rate: int) -> None:
    wav = encode(speech_pcm(REGIONS, DURATION), "wav")
    width = WIDTH.get(encoding, 2)
    chunks = _collect(wav, sample_rate=rate, encoding=encoding, realtime=False, chunk_seconds=0.05)
    assert all(len(chunk) % width == 0 for chunk in chunks)
    assert {len(chunk) for chunk in chunks[:-1]} == {round(0.05 * rate) * width}
    pcm = b"".join(chunks)
    assert abs(len(pcm) / width / rate - DURATION) <= 1 / rate + 1e-9
    ends = LoudnessVAD(rate, encoding).feed(pcm)
    assert [round(end, 1) for end in ends] == [round(end, 1) for end in TRUE_ENDS]
    reference = b"".join(_collect(wav, sample_rate=rate, encoding="pcm_f32le", realtime=False))
    ours, scale = linear(pcm, encoding)
    theirs, _ = linear(reference, "pcm_f32le")
    tolerance = {"pcm_mulaw": 0.02, "pcm_alaw": 0.02, "pcm_f16le": 0.001}.get(encoding, 1e-4)
    assert max(abs(a / scale - b) for a, b in zip(ours, theirs, strict=True)) <= tolerance


@pytest.mark.parametrize("encoding", ["pcm_mulaw", "pcm_alaw"])
def test_our_g711_tables_match_ffmpegs_decoder(encoding: str) -> None:
    codes = bytes(range(256))
    decoder = av.CodecContext.create(encoding, "r")
    decoder.sample_rate, decoder.layout = 8000, "mono"  # type: ignore[attr-defined]
    (frame,) = decoder.decode(av.Packet(codes))  # type: ignore[attr-defined]
    values = struct.unpack("<256h", bytes(frame.planes[0])[:512])
    ours, _ = linear(codes, encoding)
    assert list(ours) == list(values)


class FakeTime:
    """A clock that only moves when paced code sleeps, oversleeping by up to ``jitter``."""

    def __init__(self, jitter: float = 0.0, seed: int = 0) -> None:
        self.now = 1000.0
        self.jitter = jitter
        self.sleeps = 0
        self._rng = random.Random(seed)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds + self._rng.uniform(0, self.jitter)


def _yield_times(source: Any, fake: FakeTime, **options: Any) -> list[float]:
    async def run() -> list[float]:
        times = []
        async for _ in pcm_chunks(source, sleep=fake.sleep, clock=fake.clock, **options):
            times.append(fake.now)
        return times

    return asyncio.run(run())


def test_pacing_does_not_drift_over_an_hour_of_oversleeping() -> None:
    fake = FakeTime(jitter=0.03)
    hour = bytes(8000 * 3600)  # μ-law at 8 kHz: one byte a sample
    times = _yield_times(RawPCM(hour), fake, sample_rate=8000, encoding="pcm_mulaw")
    assert len(times) == 36000
    lateness = [at - (1000.0 + k * 0.1) for k, at in enumerate(times)]
    assert min(lateness) >= -1e-6  # never early
    assert max(lateness) <= 0.03 + 1e-6  # late by one sleep's oversleep at most, never more


def test_files_are_paced_by_default_and_live_iterators_are_not() -> None:
    wav = encode(speech_pcm(REGIONS, 2.0), "wav")
    fake = FakeTime()
    times = _yield_times(wav, fake, sample_rate=16000)
    assert times == pytest.approx([1000.0 + k * 0.1 for k in range(20)])
    live = FakeTime()
    assert len(_yield_times(iter(_splits(wav, 3)), live, sample_rate=16000)) == 20
    assert live.sleeps == 0
    forced = FakeTime()
    _yield_times(iter([wav]), forced, sample_rate=16000, realtime=True)
    assert forced.sleeps == 19


class Counting:
    """A long WAV made while it is read: 16 kHz s16 mono of repeated speech."""

    def __init__(self, seconds: int) -> None:
        size = seconds * 32000
        header = b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt "
        header += struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data"
        self.header = header + struct.pack("<I", size)
        self.seconds = seconds
        self.pulled = 0
        self.second = speech_pcm([(0.1, 0.7)], 1.0)

    def __iter__(self) -> Iterator[bytes]:
        self.pulled += len(self.header)
        yield self.header
        for _ in range(self.seconds):
            for at in range(0, 32000, 4000):
                self.pulled += 4000
                yield self.second[at : at + 4000]


def test_a_long_stream_is_converted_without_being_held() -> None:
    source = Counting(seconds=20 * 60)

    async def run() -> int:
        converted, ahead = 0, 0
        async for chunk in pcm_chunks(iter(source), sample_rate=16000):
            converted += len(chunk)
            ahead = max(ahead, source.pulled - converted)
        assert converted == source.seconds * 32000
        return ahead

    assert asyncio.run(run()) <= 1_000_000  # of 38 MB


def test_a_long_file_is_decoded_a_few_blocks_ahead(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    with path.open("wb") as file:
        for piece in Counting(seconds=10 * 60):
            file.write(piece)

    class Watched(io.FileIO):
        furthest = 0

        def read(self, size: int = -1) -> bytes:
            data = super().read(size)
            Watched.furthest = max(Watched.furthest, self.tell())
            return data

    async def run() -> int:
        converted, ahead = 0, 0
        with Watched(path) as file:
            async for chunk in pcm_chunks(file, sample_rate=16000, realtime=False):
                converted += len(chunk)
                ahead = max(ahead, Watched.furthest - converted)
        return ahead

    assert asyncio.run(run()) <= 4 * 32000 + 65536  # two blocks waiting, one decoding


def _threads(name: str) -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == name}


def test_files_share_one_decoding_thread_that_keeps_each_a_few_blocks_ahead(
    tmp_path: Path,
) -> None:
    paths = [tmp_path / f"long{number}.wav" for number in range(3)]
    for path in paths:
        with path.open("wb") as file:
            for piece in Counting(seconds=60):
                file.write(piece)

    class Watched(io.FileIO):
        def __init__(self, path: Path) -> None:
            super().__init__(path)
            self.furthest = 0

        def read(self, size: int = -1) -> bytes:
            data = super().read(size)
            self.furthest = max(self.furthest, self.tell())
            return data

    async def run() -> tuple[list[int], int, int, set[threading.Thread]]:
        files = [Watched(path) for path in paths]
        streams = [pcm_chunks(file, sample_rate=16000, realtime=False) for file in files]
        converted, ahead, seen = [0, 0, 0], 0, set()
        for _ in range(100):  # the consumers take turns: each is served as it asks
            for number, chunks in enumerate(streams):
                converted[number] += len(await anext(chunks))  # type: ignore[call-overload]
                ahead = max(ahead, files[number].furthest - converted[number])
            seen |= _threads("voxtral-audio-decoder")
        await streams[0].aclose()  # type: ignore[attr-defined]
        closed_at = files[0].furthest
        for number in (1, 2):
            async for chunk in streams[number]:
                converted[number] += len(chunk)
        for file in files:
            file.close()
        return converted, ahead, files[0].furthest - closed_at, seen

    converted, ahead, read_after_close, seen = asyncio.run(run())
    assert converted[1:] == [60 * 32000, 60 * 32000]
    assert ahead <= 4 * 32000 + 65536  # two blocks waiting, one decoding
    assert read_after_close <= 65536  # the piece being decoded, then no more
    assert len(seen) == 1
    for _ in range(300):  # no source left: the thread ends
        if not _threads("voxtral-audio-decoder"):
            break
        threading.Event().wait(0.01)
    assert not _threads("voxtral-audio-decoder")


def test_a_file_that_fails_fails_alone() -> None:
    wav = encode(speech_pcm(REGIONS, DURATION), "wav")

    async def run() -> bytes:
        good = pcm_chunks(wav, sample_rate=16000, realtime=False)
        bad = pcm_chunks(b"this is not audio at all" * 100, sample_rate=16000, realtime=False)
        first = await anext(good)  # type: ignore[call-overload]
        with pytest.raises(AudioError, match="<bytes>"):
            await anext(bad)  # type: ignore[call-overload]
        return first + b"".join([chunk async for chunk in good])

    assert asyncio.run(run()) == b"".join(_collect(wav, sample_rate=16000, realtime=False))


def test_raw_pcm_is_rechunked_on_sample_boundaries() -> None:
    pcm = bytes(range(256)) * 50  # 12800 bytes: 3200 s32 samples
    pieces = [pcm[at : at + 3] for at in range(0, len(pcm), 3)] + [b"\x01\x02"]
    chunks = _collect(
        RawPCM(iter(pieces)), sample_rate=16000, encoding="pcm_s32le", chunk_seconds=0.01
    )
    assert {len(chunk) for chunk in chunks} == {640}
    assert b"".join(chunks) == pcm  # the trailing part-sample is dropped
    assert b"".join(_collect(RawPCM(pcm), sample_rate=16000, realtime=False)) == pcm


def _streaming_wav_header(rate: int = 16000) -> bytes:
    """A WAV header of unknown length, as FFmpeg writes to a pipe: the PCM never ends."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    unknown = struct.pack("<I", 0xFFFFFFFF)
    return b"RIFF" + unknown + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + unknown


async def _endless_zeros(head: bytes) -> AsyncIterator[bytes]:
    yield head
    while True:
        await asyncio.sleep(0.001)
        yield bytes(3200)


async def _then_quiet(head: bytes) -> AsyncIterator[bytes]:
    yield head
    await asyncio.Event().wait()  # a microphone that goes quiet: nothing more, ever
    yield b""


def _decoders() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "voxtral-audio"}


@pytest.mark.parametrize(
    ("source", "first_chunk"),
    [
        pytest.param(lambda: _endless_zeros(_streaming_wav_header()), True, id="endless-audio"),
        pytest.param(
            lambda: _then_quiet(_streaming_wav_header() + bytes(320000)), True, id="then-quiet"
        ),
        # a finished WAV then zeros: FFmpeg looks for the next chunk in them for ever, and
        # no audio comes; the consumer gives up, and the reading of the source must stop
        pytest.param(
            lambda: _endless_zeros(encode(speech_pcm([(0.1, 0.5)], 1.0), "wav")),
            False,
            id="endless-without-audio",
        ),
    ],
)
def test_stopping_early_stops_the_decoding_thread(
    source: Callable[[], AsyncIterator[bytes]], first_chunk: bool
) -> None:
    before = _decoders()

    async def run() -> bool:
        chunks = pcm_chunks(source(), sample_rate=16000)
        if first_chunk:
            await asyncio.wait_for(anext(chunks), 10)  # type: ignore[call-overload]
        else:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(anext(chunks), 0.5)  # type: ignore[call-overload]
        await asyncio.wait_for(chunks.aclose(), 1)  # type: ignore[attr-defined]
        for _ in range(300):  # the thread ends soon after, while the loop still runs
            if not _decoders() - before:
                return True
            await asyncio.sleep(0.01)
        return False

    assert asyncio.run(asyncio.wait_for(run(), 20)), "the decoding thread still runs"


def _first_error(source: Any, **options: Any) -> AudioError:
    with pytest.raises(AudioError) as caught:
        _collect(source, sample_rate=16000, realtime=False, **options)
    return caught.value


def test_bad_sources_are_refused_before_any_chunk(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="does not exist"):
        pcm_chunks(tmp_path / "missing.wav", sample_rate=16000)
    with pytest.raises(AudioError, match="not a file"):
        pcm_chunks(tmp_path, sample_rate=16000)
    with pytest.raises(AudioError, match="empty"):
        pcm_chunks(b"", sample_rate=16000)
    with pytest.raises(AudioError, match="Cannot read audio from a int"):
        pcm_chunks(42, sample_rate=16000)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="encoding='pcm_s24le'"):
        pcm_chunks(b"x", sample_rate=16000, encoding="pcm_s24le")
    with pytest.raises(InvalidInputError, match="sample_rate"):
        pcm_chunks(b"x", sample_rate=0)
    with pytest.raises(InvalidInputError, match="chunk_seconds"):
        pcm_chunks(b"x", sample_rate=16000, chunk_seconds=0.00001)
    assert "<bytes>" in str(_first_error(b"this is not audio at all" * 100))
    assert "no audio track" in str(_first_error(video_without_audio()))


def test_a_stream_that_fails_names_the_source_and_the_fix() -> None:
    assert "must yield bytes" in str(_first_error(iter(["text"])))

    def broken() -> Iterator[bytes]:
        yield encode(speech_pcm(REGIONS, DURATION), "wav")[:20000]
        raise ConnectionResetError("peer went away")

    error = _first_error(broken())
    assert "peer went away" in str(error) and error.source == "<generator>"
