"""No timestamp bias: every container, sent whole or in chunks, gives the true times.

Each recording is generated (``audio_factory``) with speech at known times, then
"transcribed" by ``FakeVoxtral``, which decodes what it is sent, as a server would,
and reports its speech regions to the sample. Encoders put samples before the
recording (MP3's encoder and decoder delay, AAC's priming) and tell decoders in a
header to drop them; a chunk without that header (an MP3 byte range) or a file
without it (an MP4 with no edit list) is late by them unless the client takes the
delay from the file. The delays are 25 ms (MP3, 44.1 kHz), 69 ms (MP3, 16 kHz) and
64 ms (AAC at 16 kHz, in an MP4 without an edit list or raw ADTS), above the
20 ms every boundary must meet.
"""

from __future__ import annotations

import statistics
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.audio_factory import FORMATS, encode, speech_pcm
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_voxtral import FakeVoxtral
from voxtral_integrations import IncompleteTranscriptionError, SegmentEvent, VoxtralClient

MAX_ERROR = 0.02
"""Seconds any segment boundary may be from the truth."""
MAX_MEAN_BIAS = 0.01
"""Seconds the mean start (and end) error may be: a bias, not jitter."""
CHUNK_SECONDS = 10.0
"""The shortest chunk the client takes: 40 s go in four requests or more."""
DURATION = 40.0


def speech_between(pause: float) -> list[tuple[float, float]]:
    """Speech of 2.5 to 4.2 s (off any 10 ms grid) separated by ``pause`` seconds."""
    lengths = (2.5, 3.47, 3.033, 2.611, 4.19)
    regions, start = [], 0.4
    while start + max(lengths) < DURATION - 0.4:
        end = start + lengths[len(regions) % len(lengths)]
        regions.append((round(start, 3), round(end, 3)))
        start = end + pause
    return regions


LAYOUTS = {
    "pauses": speech_between(1.0),  # every cut is planned inside a pause
    "near speech": speech_between(0.3),  # every cut is forced close to speech on both sides
}
CONTAINERS: dict[str, tuple[str, dict[str, Any]]] = {
    "wav": ("wav", {}),
    "flac": ("flac", {}),
    "ogg-opus": ("ogg-opus", {}),
    "mp3 44.1 kHz": ("mp3", {}),
    "mp3 16 kHz": ("mp3", {"codec_rate": 16000}),
    "m4a": ("m4a", {}),
    "m4a without edit list": ("m4a", {"codec_rate": 16000, "muxer_options": {"use_editlist": "0"}}),
    "aac (ADTS)": ("aac", {}),
}


def fake_client(fake: FakeVoxtral, **settings: Any) -> VoxtralClient:
    http = httpx.Client(transport=httpx.MockTransport(fake))
    return VoxtralClient(api_key=FAKE_API_KEY, http_client=http, **settings)


@pytest.fixture(scope="module", params=list(LAYOUTS))
def layout(request: pytest.FixtureRequest) -> tuple[list[tuple[float, float]], bytes]:
    regions = LAYOUTS[request.param]
    return regions, speech_pcm(regions, DURATION)


@pytest.mark.parametrize(
    "path",
    [
        "direct",
        "chunked",
        "chunked and streamed",
        "overlapping (diarized)",
        "overlapping, streamed",
    ],
)
@pytest.mark.parametrize("container", list(CONTAINERS))
def test_every_segment_is_at_its_true_time(
    container: str,
    path: str,
    layout: tuple[list[tuple[float, float]], bytes],
    tmp_path: Path,
) -> None:
    truth, pcm = layout
    name, options = CONTAINERS[container]
    recording = tmp_path / f"recording{FORMATS[name][3]}"
    recording.write_bytes(encode(pcm, name, **options))
    fake = FakeVoxtral()
    client = fake_client(fake)
    chunking: dict[str, Any] = {"max_chunk_seconds": CHUNK_SECONDS} if path != "direct" else {}
    if path.startswith("overlapping"):  # diarized chunks share audio around each cut
        chunking["diarize"] = True
    if path.endswith("streamed"):
        events = client.stream_transcription(
            recording, timestamp_granularities=["segment"], **chunking
        )
        segments = [event for event in events if isinstance(event, SegmentEvent)]
    else:
        result = client.transcribe(recording, timestamp_granularities=["segment"], **chunking)
        segments = list(result.segments)
        overlaps = [before.end - after.start for before, after in pairwise(result.chunks)]
        assert (
            all(o > 1.0 for o in overlaps)
            if "diarize" in chunking
            else max(overlaps, default=0) <= 0
        )

    requests = len(fake.uploads)
    assert requests >= 4 if chunking else requests == 1, requests
    got = [(segment.start, segment.end) for segment in segments]
    assert len(got) == len(truth), got
    start_errors = [start - true for (start, _), (true, _) in zip(got, truth, strict=True)]
    end_errors = [end - true for (_, end), (_, true) in zip(got, truth, strict=True)]
    worst = max(map(abs, start_errors + end_errors))
    assert worst <= MAX_ERROR, (worst, got)
    assert abs(statistics.mean(start_errors)) < MAX_MEAN_BIAS, start_errors
    assert abs(statistics.mean(end_errors)) < MAX_MEAN_BIAS, end_errors


def test_a_chunked_mp3_starts_before_zero_by_its_encoder_delay(tmp_path: Path) -> None:
    """The first byte range decodes its delay too: its chunk starts that much before 0.

    A failure message still shows the chunk from 00:00:00, not a negative clock.
    """
    recording = tmp_path / "talk.mp3"
    recording.write_bytes(encode(speech_pcm(LAYOUTS["pauses"], DURATION), "mp3"))
    broken = FakeVoxtral(fail=lambda digest, order: order == 0)
    with pytest.raises(IncompleteTranscriptionError) as caught:
        fake_client(broken, max_retries=1).transcribe(
            recording,
            timestamp_granularities=["segment"],
            max_chunk_seconds=CHUNK_SECONDS,
            concurrency=1,  # the first upload the fake sees is chunk 0
        )
    ((first, _),) = caught.value.failed.items()
    assert first.index == 0
    assert first.start == pytest.approx(-1105 / 44100)  # LAME's 576 + the decoder's 529 samples
    assert "chunk 0 (00:00:00.000-" in str(caught.value)
