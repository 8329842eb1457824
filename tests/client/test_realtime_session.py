"""``RealtimeSession`` end to end against the strict fake, both dialects, every fault switch.

The fake hears the tones ``tone_speech`` makes, so the text depends on the audio it was
sent (a replay after a reconnect is heard again), and each server session's times start
at its first sample. Every test checks the one promise: each utterance's final text
arrives exactly once, in order, at its absolute time in the stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.audio_factory import tone_speech, utterance
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_realtime import FakeRealtimeServer, Faults
from voxtral_integrations import (
    APIConnectionError,
    APIResponseError,
    AsyncVoxtralClient,
    AudioError,
    AuthenticationError,
    BadRequestError,
    DoneEvent,
    InvalidInputError,
    LoudnessVAD,
    ReconnectedEvent,
    SessionCreatedEvent,
    SessionUpdatedEvent,
    TextDeltaEvent,
    TurnEvent,
    UnsupportedFeatureError,
    UtteranceEvent,
    VoxtralClient,
)

V2 = "voxtral-mini-transcribe-realtime-2602"
V3 = "voxtral-mini-transcribe-realtime-3"
VLLM_MODEL = "mistralai/Voxtral-Mini-4B-Realtime-2602"
RATE = 16000
TURNS = [
    utterance(["alpha", "bravo", "charlie"], 0.5),
    utterance(["delta", "echo"], 3.0),
    utterance(["golf", "hotel", "india"], 6.0),
]
SCRIPT = [word for turn in TURNS for word in turn]
SCRIPT_WORDS = [word[2] for word in SCRIPT]
DURATION = 8.5
PCM = tone_speech(SCRIPT, DURATION)
FLUSH_AT = (2.5, 5.5)
EXPECTED = [(" ".join(word[2] for word in turn), turn[0][0], turn[-1][1]) for turn in TURNS]
CHUNK = RATE * 2 // 10  # 100 ms
PATIENCE = 30.0
"""Seconds any one session may take here: a session that hangs fails, it does not hang the
suite (a clean one takes about one; the margin is for a loaded machine)."""


def client(server: FakeRealtimeServer, **settings: Any) -> AsyncVoxtralClient:
    backend = "vllm" if server.dialect == "vllm" else "mistral"
    return AsyncVoxtralClient(
        FAKE_API_KEY if backend == "mistral" else None,
        base_url=server.base_url,
        backend=backend,
        **settings,
    )


async def speak(session: Any, pcm: bytes = PCM, flush_at: tuple[float, ...] = FLUSH_AT) -> None:
    """Send ``pcm`` in 100 ms chunks, a little faster than real time, flushing at
    ``flush_at`` seconds, then end."""
    cuts = [round(at * RATE) * 2 for at in flush_at]
    for start in range(0, len(pcm), CHUNK):
        await session.send(pcm[start : start + CHUNK])
        if cuts and start + CHUNK >= cuts[0]:
            cuts.pop(0)
            await session.flush()
        await asyncio.sleep(0.002)
    await session.end()


async def collect(session: Any) -> list[Any]:
    """Every event of ``session``, within :data:`PATIENCE`."""

    async def events() -> list[Any]:
        return [event async for event in session]

    return await asyncio.wait_for(events(), PATIENCE)


async def transcribe(
    server: FakeRealtimeServer,
    *,
    pcm: bytes = PCM,
    flush_at: tuple[float, ...] = FLUSH_AT,
    **options: Any,
) -> list[Any]:
    model = VLLM_MODEL if server.dialect == "vllm" else options.pop("model", V2)
    options = {"end_of_speech": None, "done_timeout": 0.6, "stall_timeout": 1.0, **options}
    async with client(server) as voxtral, voxtral.realtime(model, **options) as session:
        sender = asyncio.create_task(speak(session, pcm, flush_at))
        events = await collect(session)
        await asyncio.wait_for(sender, PATIENCE)
    return events


def assert_delivered(
    events: list[Any], expected: list[tuple[str, float, float]] = EXPECTED
) -> None:
    said = [event for event in events if isinstance(event, UtteranceEvent)]
    assert [u.text for u in said] == [text for text, _, _ in expected]
    assert [u.index for u in said] == list(range(len(expected)))
    for heard, (_, start, end) in zip(said, expected, strict=True):
        assert heard.start == pytest.approx(start, abs=0.03), heard
        assert heard.end == pytest.approx(end, abs=0.03), heard


@pytest.mark.parametrize("dialect", ["mistral", "vllm"])
async def test_a_clean_session_gives_every_turn_once(dialect: str) -> None:
    with FakeRealtimeServer(dialect) as server:  # type: ignore[arg-type]
        events = await transcribe(server)
    assert_delivered(events)
    assert isinstance(events[0], SessionCreatedEvent)
    assert all(u.final == "done" for u in events if isinstance(u, UtteranceEvent))
    assert not [e for e in events if isinstance(e, ReconnectedEvent)]
    deltas = "".join(e.text for e in events if isinstance(e, TextDeltaEvent))
    assert deltas.split() == " ".join(text for text, _, _ in EXPECTED).split()
    assert server.connections == 1


async def test_mistral_session_is_configured_once_before_audio() -> None:
    with FakeRealtimeServer() as server:
        events = await transcribe(server, target_streaming_delay_ms=480)
        frames = server.frames[0]
    assert any(isinstance(e, SessionUpdatedEvent) for e in events)
    sent = [frame for frame in frames if frame.get("direction", "in") == "in" or "type" in frame]
    kinds = [frame.get("type") for frame in sent]
    assert kinds.count("session.update") == 1
    assert kinds.index("session.update") < kinds.index("input_audio.append")


@pytest.mark.parametrize(
    ("faults", "dialect"),
    [
        pytest.param(Faults(cumulative_done=True), "mistral", id="cumulative-done"),
        pytest.param(Faults(no_done=True, only_first=1), "mistral", id="no-done"),
        pytest.param(Faults(no_done=True, only_first=1), "vllm", id="no-done-vllm"),
        pytest.param(Faults(stall_after=4.0, only_first=1), "mistral", id="stall"),
        pytest.param(Faults(stall_after=4.0, only_first=1), "vllm", id="stall-vllm"),
        pytest.param(Faults(stall_after=7.0, only_first=1), "mistral", id="stall-in-the-last-turn"),
        pytest.param(Faults(stall_after=7.0, only_first=1), "vllm", id="stall-last-turn-vllm"),
        pytest.param(Faults(drop_after=4.0, only_first=1), "mistral", id="drop"),
        pytest.param(Faults(drop_after=4.0, only_first=1), "vllm", id="drop-vllm"),
        pytest.param(Faults(close_1011_after=6.2, only_first=1), "mistral", id="close-1011"),
        pytest.param(Faults(close_1011_after=6.2, only_first=1), "vllm", id="close-1011-vllm"),
        pytest.param(Faults(handshake_status=503, only_first=1), "mistral", id="handshake-503"),
        pytest.param(Faults(handshake_status=503, only_first=1), "vllm", id="handshake-503-vllm"),
        pytest.param(Faults(handshake_status=429, only_first=1), "mistral", id="handshake-429"),
        pytest.param(Faults(capacity_error=True, only_first=1), "mistral", id="capacity"),
    ],
)
async def test_faults_lose_nothing_and_repeat_nothing(faults: Faults, dialect: str) -> None:
    with FakeRealtimeServer(dialect, faults=faults) as server:  # type: ignore[arg-type]
        events = await transcribe(server)
    assert_delivered(events)
    assert_fired(faults, server, events)


def assert_fired(faults: Faults, server: FakeRealtimeServer, events: list[Any]) -> None:
    """The fault happened: a test whose fault never fires proves nothing."""
    finals = [u.final for u in events if isinstance(u, UtteranceEvent)]
    reconnected = any(isinstance(e, ReconnectedEvent) for e in events)
    if faults.no_done:  # a lost done: the deltas, or the turn heard again on a new connection
        assert "deltas" in finals or (reconnected and server.connections == 2)
    elif faults.capacity_error:  # refused before the session existed: the first connect again
        assert server.connections == 2 and not server.records[0].audio
    elif faults.cumulative_done:
        dones = [f["text"] for f in server.frames[0] if f.get("type") == "transcription.done"]
        assert len(dones) == len(EXPECTED) and dones[-1].split() == SCRIPT_WORDS
    elif faults.handshake_status is not None:
        assert [status for status, _ in server.rejected] == [faults.handshake_status]
        assert server.connections == 1
    else:  # the connection broke or stalled, and was replaced
        assert server.connections == 2 and reconnected


async def test_a_reconnect_replays_the_open_turn_at_its_offset() -> None:
    with FakeRealtimeServer(faults=Faults(drop_after=4.0, only_first=1)) as server:
        events = await transcribe(server)
    (reconnected,) = [e for e in events if isinstance(e, ReconnectedEvent)]
    assert reconnected.attempt == 1
    assert reconnected.offset == pytest.approx(FLUSH_AT[0], abs=0.11)
    assert reconnected.replayed_seconds > 0
    assert server.connections == 2
    assert_delivered(events)


async def test_a_3804_timeout_is_survived() -> None:
    with FakeRealtimeServer(faults=Faults(timeout_after=0.3, only_first=1)) as server:
        events = await transcribe(server, flush_at=())
    assert_delivered(events, [(" ".join(w[2] for w in SCRIPT), SCRIPT[0][0], SCRIPT[-1][1])])


@pytest.mark.parametrize("auto_done", [False, True])
async def test_server_turn_detection_flushes_each_turn(auto_done: bool) -> None:
    faults = Faults(auto_done_at_turn_end=auto_done)
    with FakeRealtimeServer(faults=faults) as server:
        events = await transcribe(
            server, model=V3, turn_detection=True, end_of_speech="auto", flush_at=()
        )
    turns = [e for e in events if isinstance(e, TurnEvent) and e.type == "turn.end"]
    assert len(turns) >= 2
    assert_delivered(events)


@pytest.mark.parametrize(
    ("end_of_speech", "expected"),
    [
        ("auto", EXPECTED),  # the pauses between the turns are silences
        (LoudnessVAD(RATE), EXPECTED),
        (  # too short a pause for this detector: one turn, flushed by end()
            LoudnessVAD(RATE, min_silence_seconds=5.0),
            [(" ".join(SCRIPT_WORDS), SCRIPT[0][0], SCRIPT[-1][1])],
        ),
    ],
)
async def test_the_local_detector_decides_where_turns_end(
    end_of_speech: Any, expected: list[tuple[str, float, float]]
) -> None:
    with FakeRealtimeServer() as server:
        events = await transcribe(server, end_of_speech=end_of_speech, flush_at=())
    assert_delivered(events, expected)


async def test_diarized_turns_carry_their_speaker() -> None:
    turns = [utterance(["alpha", "bravo"], 0.5, speaker=1), utterance(["delta"], 3.0, speaker=2)]
    pcm = tone_speech([w for t in turns for w in t], 4.0)
    with FakeRealtimeServer() as server:
        events = await transcribe(server, model=V3, diarize=True, pcm=pcm, flush_at=(2.5,))
    said = [e for e in events if isinstance(e, UtteranceEvent)]
    assert [(u.text, u.speaker_id) for u in said] == [
        ("alpha bravo", "speaker_1"),
        ("delta", "speaker_2"),
    ]


@pytest.mark.parametrize(("status", "error"), [(400, BadRequestError), (401, AuthenticationError)])
async def test_a_refused_upgrade_is_its_typed_error(status: int, error: type[Exception]) -> None:
    with FakeRealtimeServer(faults=Faults(handshake_status=status)) as server:
        async with client(server) as voxtral:
            with pytest.raises(error) as caught:
                async with voxtral.realtime(V2):
                    pass
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert FAKE_API_KEY not in str(caught.value)


async def open_and_close(session: Any) -> None:
    async def enter() -> None:
        async with session:
            pass

    await asyncio.wait_for(enter(), PATIENCE)


@pytest.mark.parametrize("code", [1500, 1001])
async def test_a_refusal_instead_of_the_session_is_raised_at_once(code: int) -> None:
    with FakeRealtimeServer(faults=Faults(refusal=code)) as server:
        async with client(server) as voxtral:
            with pytest.raises(APIResponseError, match=f"refused the session.*{code}") as caught:
                await open_and_close(voxtral.realtime(V2))
        assert server.connections == 1
    assert caught.value.code == code  # type: ignore[attr-defined]


async def test_no_capacity_is_retried_as_often_as_a_503_then_raised() -> None:
    with FakeRealtimeServer(faults=Faults(capacity_error=True)) as server:
        async with client(server, max_retries=1) as voxtral:
            with pytest.raises(APIResponseError, match="busy") as caught:
                await open_and_close(voxtral.realtime(V2))
        assert server.connections == 2
    assert caught.value.code == 3505  # type: ignore[attr-defined]


async def test_when_reconnecting_fails_what_was_heard_is_kept_then_raised() -> None:
    with FakeRealtimeServer(faults=Faults(drop_after=4.0)) as server:
        async with client(server, max_retries=0) as voxtral:
            session = voxtral.realtime(V2, end_of_speech=None, max_reconnects=1, done_timeout=0.5)
            async with session:
                sender = asyncio.create_task(speak(session))
                seen: list[Any] = []

                async def read() -> None:
                    async for event in session:
                        seen.append(event)

                with pytest.raises(APIConnectionError, match="could not be kept up"):
                    await asyncio.wait_for(read(), PATIENCE)
                sender.cancel()
    said = [e for e in seen if isinstance(e, UtteranceEvent)]
    assert said and said[0].text == EXPECTED[0][0]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"sample_rate": 24000}, UnsupportedFeatureError),
        ({"target_streaming_delay_ms": 480}, UnsupportedFeatureError),
    ],
)
async def test_what_vllm_cannot_do_is_refused_before_connecting(
    options: dict[str, Any], error: type[Exception]
) -> None:
    with FakeRealtimeServer("vllm") as server:
        async with client(server) as voxtral:
            with pytest.raises(error):
                voxtral.realtime(VLLM_MODEL, **options)
        assert server.connections == 0


async def test_bad_options_are_refused_before_connecting() -> None:
    with FakeRealtimeServer() as server:
        async with client(server) as voxtral:
            with pytest.raises(InvalidInputError, match="Realtime 3"):
                voxtral.realtime(V2, turn_detection=True)
            with pytest.raises(InvalidInputError, match="done_timeout"):
                voxtral.realtime(V2, done_timeout=0)
            with pytest.raises(InvalidInputError, match="end_of_speech"):
                voxtral.realtime(V2, end_of_speech="sometimes")  # type: ignore[arg-type]
        assert server.connections == 0


async def test_no_audio_after_end() -> None:
    with FakeRealtimeServer() as server:
        async with client(server) as voxtral, voxtral.realtime(V2, end_of_speech=None) as session:
            await session.end()
            with pytest.raises(InvalidInputError, match="ended"):
                await session.send(b"\x00\x00")
            events = await collect(session)
    assert not [e for e in events if isinstance(e, UtteranceEvent)]
    assert any(isinstance(e, DoneEvent) for e in events)


async def test_odd_sends_are_aligned_for_the_server() -> None:
    with FakeRealtimeServer() as server:
        async with client(server) as voxtral, voxtral.realtime(V2, end_of_speech=None) as session:
            sender_pcm = PCM[: round(2.4 * RATE) * 2]
            for start in range(0, len(sender_pcm), 999):  # odd-sized pieces
                await session.send(sender_pcm[start : start + 999])
            await session.end()
            events = await collect(session)
    assert not [e for e in events if type(e).__name__ == "RealtimeErrorEvent"]
    assert [e.text for e in events if isinstance(e, UtteranceEvent)] == [EXPECTED[0][0]]


def test_the_sync_client_streams_a_source_through_a_thread() -> None:
    pytest.importorskip("voxtral_integrations._realtime_audio")
    from voxtral_integrations._realtime_audio import RawPCM  # type: ignore[attr-defined]

    with FakeRealtimeServer() as server:
        voxtral = VoxtralClient(FAKE_API_KEY, base_url=server.base_url)
        events = list(
            voxtral.stream_realtime(RawPCM(PCM), model=V2, realtime=False, done_timeout=0.6)
        )
    said = [e.text for e in events if isinstance(e, UtteranceEvent)]
    assert " ".join(said).split() == " ".join(text for text, _, _ in EXPECTED).split()


@pytest.mark.parametrize(
    ("audio", "says"),
    [
        pytest.param("no-such-recording.wav", "does not exist", id="missing-path"),
        pytest.param(b"", "empty", id="empty-bytes"),
        pytest.param(42, "Cannot read audio from a int", id="not-audio"),
    ],
)
@pytest.mark.parametrize("shell", ["sync", "async"])
async def test_a_bad_source_is_refused_before_connecting(audio: Any, says: str, shell: str) -> None:
    with FakeRealtimeServer() as server:
        with pytest.raises(AudioError, match=says):
            if shell == "sync":
                with VoxtralClient(FAKE_API_KEY, base_url=server.base_url) as voxtral:
                    voxtral.stream_realtime(audio)
            else:
                async with client(server) as voxtral:
                    voxtral.stream_realtime(audio)
        assert server.connections == 0 and not server.rejected
