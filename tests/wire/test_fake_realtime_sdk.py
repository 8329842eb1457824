"""The official SDK's realtime client (mistralai 3.7.0) completes sessions against the fake.

A fake that only our own client can talk to proves nothing: these sessions use the SDK's
``RealtimeTranscription.connect`` and its typed events, so the fake's frames parse as the
SDK's message models, and its text and times are the audio's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("mistralai.extra.realtime", reason="mistralai[realtime] is a test extra")

from mistralai.client import Mistral
from mistralai.client.models import (
    AudioFormat,
    RealtimeTranscriptionSessionCreated,
    RealtimeTranscriptionSessionUpdated,
    TranscriptionStreamDone,
    TranscriptionStreamLanguage,
    TranscriptionStreamSegmentDelta,
    TranscriptionStreamTextDelta,
    TurnDetectionEagerEndEvent,
    TurnDetectionEndEvent,
    TurnDetectionStartEvent,
)
from mistralai.extra.exceptions import RealtimeTranscriptionException, RealtimeTranscriptionWSError
from mistralai.extra.realtime import RealtimeConnection, UnknownRealtimeEvent

from tests.support.audio_factory import pcm_as, tone_speech, utterance
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_realtime import FakeRealtimeServer, Faults

V2 = "voxtral-mini-transcribe-realtime-2602"
V3 = "voxtral-mini-transcribe-realtime-3"
SCRIPT = utterance(["alpha", "bravo", "charlie"], 0.5) + utterance(["delta", "echo"], 3.0)
PCM = tone_speech(SCRIPT, 4.5)


@pytest.fixture
def server() -> Iterator[FakeRealtimeServer]:
    with FakeRealtimeServer() as fake:
        yield fake


def _realtime(server: FakeRealtimeServer) -> Any:
    return Mistral(api_key=FAKE_API_KEY).audio.realtime


def _server_url(server: FakeRealtimeServer) -> str:
    return server.base_url.removesuffix("/v1")  # the SDK appends /v1/audio/...


async def _stream(
    connection: RealtimeConnection, pcm: bytes, chunk: int = 3200, *, flushes: int = 1
) -> list[Any]:
    """Send ``pcm`` in chunks, then flush and end; the events until the ``flushes``-th done."""

    async def send() -> None:
        for at in range(0, len(pcm), chunk):
            await connection.send_audio(pcm[at : at + chunk])
        await connection.flush_audio()
        await connection.end_audio()

    sender = asyncio.create_task(send())
    events, dones = [], 0
    async for event in connection:
        events.append(event)
        dones += isinstance(event, TranscriptionStreamDone)
        if dones == flushes:
            break
    await sender
    await connection.close()
    return events


async def test_the_sdk_transcribes_a_session(server: FakeRealtimeServer) -> None:
    pcm_format = AudioFormat(encoding="pcm_s16le", sample_rate=16000)
    connection = await _realtime(server).connect(
        V2, audio_format=pcm_format, target_streaming_delay_ms=480, server_url=_server_url(server)
    )
    assert connection.request_id.startswith("ws-") and connection.session.model == V2
    events = await _stream(connection, PCM)
    assert not [e for e in events if isinstance(e, UnknownRealtimeEvent)]
    assert isinstance(events[0], RealtimeTranscriptionSessionCreated)
    assert isinstance(events[1], RealtimeTranscriptionSessionUpdated)
    assert events[1].session.target_streaming_delay_ms == 480
    deltas = [e.text for e in events if isinstance(e, TranscriptionStreamTextDelta)]
    assert deltas == [" alpha", " bravo", " charlie", " delta", " echo"]
    assert [e.audio_language for e in events if isinstance(e, TranscriptionStreamLanguage)] == [
        "en"
    ]
    done = events[-1]
    assert isinstance(done, TranscriptionStreamDone)
    assert done.text == "alpha bravo charlie delta echo" and done.model == V2
    assert done.usage.prompt_audio_seconds == 5
    assert [(s.text, s.start, s.end) for s in done.segments or []] == [
        ("alpha bravo charlie", 0.5, 1.6),
        ("delta echo", 3.0, 3.7),
    ]
    await asyncio.sleep(0.05)
    assert server.records[0].close_code == 1000
    assert server.records[0].auth == "key"


async def test_the_sdk_gets_turns_on_the_v3_model(server: FakeRealtimeServer) -> None:
    connection = await _realtime(server).connect(
        V3, server_url=_server_url(server), turn_detection={"min_silence_ms": 400}
    )
    events = await _stream(connection, PCM)
    updated = next(e for e in events if isinstance(e, RealtimeTranscriptionSessionUpdated))
    assert updated.session.turn_detection is not None
    assert updated.session.turn_detection.min_silence_ms == 400
    turns = [
        (type(e).__name__, e.time_s)
        for e in events
        if isinstance(
            e, (TurnDetectionStartEvent, TurnDetectionEagerEndEvent, TurnDetectionEndEvent)
        )
    ]
    assert turns == [
        ("TurnDetectionStartEvent", 0.5),
        ("TurnDetectionEagerEndEvent", 1.6),
        ("TurnDetectionEndEvent", 1.6),
        ("TurnDetectionStartEvent", 3.0),
        ("TurnDetectionEagerEndEvent", 3.7),
        ("TurnDetectionEndEvent", 3.7),
    ]
    assert {e.end_reason for e in events if isinstance(e, TurnDetectionEndEvent)} == {"threshold"}
    assert events[-1].text == "alpha bravo charlie delta echo"


async def test_the_sdk_diarizes_at_24_khz_in_mulaw(server: FakeRealtimeServer) -> None:
    script = utterance(["one", "two"], 0.2, speaker=1) + utterance(["tower"], 1.2, speaker=3)
    audio = pcm_as(tone_speech(script, 2.0, 24000), "pcm_mulaw")
    connection = await _realtime(server).connect(
        V3,
        audio_format=AudioFormat(encoding="pcm_mulaw", sample_rate=24000),
        server_url=_server_url(server),
        diarize=True,
        language="en",
        context_bias=["Voxtral"],
    )
    events = await _stream(connection, audio, chunk=2400)
    segments = [e for e in events if isinstance(e, TranscriptionStreamSegmentDelta)]
    assert [(s.text, s.speaker_id) for s in segments] == [
        ("one two", "speaker_1"),
        ("tower", "speaker_3"),
    ]
    done = events[-1]
    assert [(s.start, s.end, s.speaker_id) for s in done.segments] == [
        (0.2, 0.9, "speaker_1"),
        (1.2, 1.5, "speaker_3"),
    ]


async def test_the_sdk_sees_two_turns_of_one_session(server: FakeRealtimeServer) -> None:
    connection = await _realtime(server).connect(V3, server_url=_server_url(server))
    first_turn, second_turn = PCM[: 2 * 32000], PCM[2 * 32000 :]

    async def send() -> None:
        await connection.send_audio(first_turn)
        await connection.flush_audio()
        await connection.send_audio(second_turn)
        await connection.end_audio()

    sender = asyncio.create_task(send())
    dones = []
    async for event in connection:
        if isinstance(event, TranscriptionStreamDone):
            dones.append(event)
            if len(dones) == 2:
                break
    await sender
    await connection.close()
    assert [d.text for d in dones] == ["alpha bravo charlie", "delta echo"]
    assert dones[1].segments is not None and dones[1].segments[0].start == 3.0


async def test_transcribe_stream_stops_at_the_first_done(server: FakeRealtimeServer) -> None:
    async def audio() -> Any:
        for at in range(0, len(PCM), 4096):
            yield PCM[at : at + 4096]

    events = [
        event
        async for event in _realtime(server).transcribe_stream(
            audio(), V2, server_url=_server_url(server)
        )
    ]
    assert isinstance(events[-1], TranscriptionStreamDone)
    assert events[-1].text == "alpha bravo charlie delta echo"


async def test_the_sdk_raises_the_fakes_handshake_errors() -> None:
    with FakeRealtimeServer(faults=Faults(capacity_error=True)) as server:
        with pytest.raises(RealtimeTranscriptionWSError) as raised:
            await _realtime(server).connect(V3, server_url=_server_url(server))
        assert raised.value.code == 3505  # type: ignore[attr-defined]
    with (
        FakeRealtimeServer(faults=Faults(handshake_status=503)) as server,
        pytest.raises(RealtimeTranscriptionException, match="503"),
    ):
        await _realtime(server).connect(V3, server_url=_server_url(server))


async def test_the_sdk_gets_the_fakes_errors_as_events(server: FakeRealtimeServer) -> None:
    connection = await _realtime(server).connect(V2, server_url=_server_url(server))
    await connection.send_audio(b"\x00" * 3)  # not a whole number of s16 samples
    await connection.update_session(language="en")  # a v3 field on the 2602 model
    errors = []
    async for event in connection:
        if type(event).__name__ == "RealtimeTranscriptionError":
            errors.append(event.error)
            if len(errors) == 2:
                break
    await connection.close()
    assert [e.code for e in errors] == [3005, 3004]
    assert "2-byte" in errors[0].message
