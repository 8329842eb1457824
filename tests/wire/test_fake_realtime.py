"""The fake realtime server is strict and hears the truth (raw ``websockets`` client).

Each kind of bad frame gets its error and leaves the session usable; good sessions get the
words of the audio at their times; every fault switch does what it says, for the first
connections only when asked.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support import realtime_rules as rules
from tests.support.audio_factory import pcm_as, tone_speech, utterance
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_realtime import FakeRealtimeServer, Faults

V2 = "voxtral-mini-transcribe-realtime-2602"
V3 = "voxtral-mini-transcribe-realtime-3"
AUTH = {"Authorization": f"Bearer {FAKE_API_KEY}"}
TWO_TURNS = utterance(["alpha", "bravo", "charlie"], 0.5) + utterance(["delta", "echo"], 3.0)
PCM = tone_speech(TWO_TURNS, 4.5)
CHUNK = 3200  # 100 ms of 16 kHz s16le


def _url(server: FakeRealtimeServer, model: str | None = V3, path: str = rules.MISTRAL_PATH) -> str:
    query = "" if model is None else f"?model={model}"
    return f"ws://127.0.0.1:{server.port}{path}{query}"


@asynccontextmanager
async def _session(
    server: FakeRealtimeServer, model: str = V3, **options: Any
) -> AsyncIterator[ClientConnection]:
    options.setdefault("additional_headers", AUTH)
    async with connect(_url(server, model), **options) as ws:
        yield ws


async def _send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def _append(ws: ClientConnection, pcm: bytes, chunk: int = CHUNK) -> None:
    for at in range(0, len(pcm), chunk):
        audio = base64.b64encode(pcm[at : at + chunk]).decode()
        await _send(ws, {"type": "input_audio.append", "audio": audio})


async def _until(ws: ClientConnection, kind: str, timeout: float = 5) -> list[dict[str, Any]]:
    """Events up to and including the first of type ``kind``."""
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != kind:
        events.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    return events


async def _quiet(ws: ClientConnection, seconds: float = 0.3) -> list[dict[str, Any]]:
    """Whatever arrives within ``seconds``."""
    events: list[dict[str, Any]] = []
    with pytest.raises(TimeoutError):
        while True:
            events.append(json.loads(await asyncio.wait_for(ws.recv(), seconds)))
    return events


def _texts(events: Sequence[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in events if e["type"] == "transcription.text.delta"]


@pytest.fixture
def server() -> Any:
    with FakeRealtimeServer() as fake:
        yield fake


# --- the upgrade ------------------------------------------------------------------------


async def _refused(url: str, **options: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, **options):
            pass
    response = refused.value.response
    return response.status_code, json.loads(response.body)


async def test_the_upgrade_is_checked(server: FakeRealtimeServer) -> None:
    status, body = await _refused(_url(server, "whisper-1"), additional_headers=AUTH)
    assert status == 400
    assert body == {
        "object": "error",
        "message": "Invalid model: whisper-1",
        "type": "invalid_model",
        "param": None,
        "code": "1500",
    }
    assert (await _refused(_url(server, None), additional_headers=AUTH))[0] == 400
    assert (await _refused(_url(server, path="/v1/realtime"), additional_headers=AUTH))[0] == 404
    assert (await _refused(_url(server)))[0] == 401
    wrong = {"Authorization": "Bearer sk-wrong"}
    assert (await _refused(_url(server), additional_headers=wrong))[0] == 401
    assert server.connections == 0 and len(server.rejected) == 5


async def test_a_browser_token_works_for_its_model_only(server: FakeRealtimeServer) -> None:
    token = server.mint_token(V3)
    async with connect(_url(server, V3), subprotocols=["realtime", token]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "realtime"
        assert (await _until(ws, "session.created"))[0]["session"]["model"] == V3
    assert (await _refused(_url(server, V2), subprotocols=["realtime", token]))[0] == 401
    assert server.records[0].auth == "token"
    assert token not in json.dumps(server.frames)


async def test_session_created_comes_first(server: FakeRealtimeServer) -> None:
    async with _session(server) as ws:
        created = json.loads(await ws.recv())
    assert created["type"] == "session.created"
    session = created["session"]
    assert session["request_id"].startswith("ws-") and len(session["request_id"]) == 39
    assert session["model"] == V3
    assert session["audio_format"] == {"encoding": "pcm_s16le", "sample_rate": 16000}
    assert FAKE_API_KEY not in json.dumps(server.frames) + repr(server.records)


# --- every frame is validated -------------------------------------------------------------

TURN = {"turn_detection": {}}
BAD_FRAMES: list[tuple[str, str | bytes | dict[str, Any], int, str]] = [
    ("binary", b"\x00\x01", rules.INVALID_FRAME, "Binary"),
    ("bad json", "{not json", rules.INVALID_FRAME, "Invalid JSON"),
    ("not an object", "[1, 2]", rules.INVALID_FRAME, "object"),
    ("unknown type", {"type": "input_audio.commit"}, rules.INVALID_MESSAGE, "Unknown message"),
    ("no type", {"audio": "AAAA"}, rules.INVALID_MESSAGE, "Unknown message"),
    ("extra field", {"type": "input_audio.flush", "x": 1}, rules.INVALID_MESSAGE, "Unknown fields"),
    ("no session", {"type": "session.update"}, rules.INVALID_MESSAGE, "Missing"),
    ("no audio", {"type": "input_audio.append"}, rules.INVALID_MESSAGE, "Missing"),
    ("audio not str", {"type": "input_audio.append", "audio": 3}, rules.INVALID_MESSAGE, "base64"),
]
BAD_SESSIONS: list[tuple[str, dict[str, Any], int, str]] = [
    ("empty update", {}, rules.INVALID_SESSION, "At least one"),
    ("all null", {"language": None}, rules.INVALID_SESSION, "At least one"),
    ("unknown field", {"voice": "x"}, rules.INVALID_MESSAGE, "Unknown session"),
    ("bad encoding", {"audio_format": {"encoding": "mp3", "sample_rate": 16000}}, 3003, "mp3"),
    ("rate low", {"audio_format": {"encoding": "pcm_s16le", "sample_rate": 7999}}, 3003, "7999"),
    ("rate high", {"audio_format": {"encoding": "pcm_s16le", "sample_rate": 96001}}, 3003, "96001"),
    ("format field", {"audio_format": {"encoding": "pcm_s16le"}}, rules.INVALID_MESSAGE, "sample"),
    ("delay type", {"target_streaming_delay_ms": "480"}, rules.INVALID_MESSAGE, "int"),
    ("delay range", {"target_streaming_delay_ms": 2500}, rules.INVALID_SESSION, "2500"),
    ("language", {"language": "english"}, rules.INVALID_SESSION, "ISO-639-1"),
    ("bias", {"context_bias": "Voxtral"}, rules.INVALID_MESSAGE, "context_bias"),
    ("thresholds", {"turn_detection": {"end_threshold": 0.6}}, rules.INVALID_SESSION, ">="),
    ("eager", {"turn_detection": {"eager_end_threshold": 0.7}}, rules.INVALID_SESSION, ">="),
    (
        "timeout",
        {"turn_detection": {"min_silence_ms": 500, "end_timeout_ms": 400}},
        rules.INVALID_SESSION,
        "end_timeout_ms",
    ),
    ("turn field", {"turn_detection": {"vad": 1}}, rules.INVALID_MESSAGE, "Unknown turn"),
    ("diarize+turns", {"diarize": True, **TURN}, rules.INVALID_SESSION, "not compatible"),
    ("references", {"speaker_references": {"a": "UklGRg=="}}, rules.INVALID_SESSION, "diarize"),
    ("reference b64", {"speaker_references": {"a": "!!"}}, rules.INVALID_AUDIO, "base64"),
]
BAD_AUDIO: list[tuple[str, str, int, str]] = [
    ("bad base64", "AAA*", rules.INVALID_AUDIO, "base64"),
    ("bad padding", "AAA", rules.INVALID_AUDIO, "base64"),
    ("empty", "", rules.INVALID_AUDIO, "Empty"),
    ("too big", base64.b64encode(bytes(262146)).decode(), rules.INVALID_AUDIO, "262144"),
    ("odd bytes", base64.b64encode(bytes(3)).decode(), rules.INVALID_AUDIO, "2-byte"),
]


async def _rejects(ws: ClientConnection, frame: Any, code: int, text: str) -> None:
    await ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))
    error = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert error["type"] == "error"
    assert error["error"]["code"] == code and isinstance(error["error"]["code"], int)
    assert text in error["error"]["message"]


async def _still_usable(ws: ClientConnection) -> None:
    await _append(ws, tone_speech([(0.1, 0.4, "golf")], 0.6))
    await _send(ws, {"type": "input_audio.flush"})
    assert (await _until(ws, "transcription.done"))[-1]["text"] == "golf"


EVERY_BAD_FRAME = [
    *BAD_FRAMES,
    *[(n, {"type": "session.update", "session": x}, c, t) for n, x, c, t in BAD_SESSIONS],
    *[(n, {"type": "input_audio.append", "audio": x}, c, t) for n, x, c, t in BAD_AUDIO],
]


@pytest.mark.parametrize(
    ("name", "frame", "code", "text"), EVERY_BAD_FRAME, ids=[b[0] for b in EVERY_BAD_FRAME]
)
async def test_a_bad_frame_gets_an_error_and_the_session_goes_on(
    server: FakeRealtimeServer, name: str, frame: Any, code: int, text: str
) -> None:
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _rejects(ws, frame, code, text)
        await _still_usable(ws)


async def test_appends_align_to_the_sessions_sample_width(server: FakeRealtimeServer) -> None:
    f32 = {"audio_format": {"encoding": "pcm_f32le", "sample_rate": 16000}}
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _send(ws, {"type": "session.update", "session": f32})
        await _until(ws, "session.updated")
        audio = base64.b64encode(bytes(6)).decode()
        await _rejects(ws, {"type": "input_audio.append", "audio": audio}, 3005, "4-byte pcm_f32le")


@pytest.mark.parametrize("field", rules.V3_FIELDS)
async def test_the_2602_model_refuses_the_v3_fields(server: FakeRealtimeServer, field: str) -> None:
    values = {
        "language": "en",
        "context_bias": ["Voxtral"],
        "diarize": True,
        "speaker_references": {"alice": "UklGRg=="},
        "turn_detection": {},
    }
    async with _session(server, V2) as ws:
        await _until(ws, "session.created")
        update = {"type": "session.update", "session": {field: values[field]}}
        await _rejects(ws, update, rules.UNSUPPORTED, field)


async def test_delays_are_checked_per_model(server: FakeRealtimeServer) -> None:
    async with _session(server, V2) as ws:
        await _until(ws, "session.created")
        for good in (80, 480, 1200, 2400):
            await _send(
                ws, {"type": "session.update", "session": {"target_streaming_delay_ms": good}}
            )
            assert (await _until(ws, "session.updated"))[-1]["session"][
                "target_streaming_delay_ms"
            ] == good
        for bad in (100, 1280, 40):
            update = {"type": "session.update", "session": {"target_streaming_delay_ms": bad}}
            await _rejects(ws, update, rules.INVALID_SESSION, str(bad))
    async with _session(server, V3) as ws:
        await _until(ws, "session.created")
        await _send(ws, {"type": "session.update", "session": {"target_streaming_delay_ms": 100}})
        await _until(ws, "session.updated")


async def test_an_update_merges_and_settings_lock_at_the_first_audio(
    server: FakeRealtimeServer,
) -> None:
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _send(ws, {"type": "session.update", "session": {"language": "fr"}})
        await _send(ws, {"type": "session.update", "session": {"target_streaming_delay_ms": 480}})
        updated = (await _until(ws, "session.updated"))[-1]
        updated = (await _until(ws, "session.updated"))[-1]["session"]
        assert updated["language"] == "fr" and updated["target_streaming_delay_ms"] == 480
        await _append(ws, bytes(CHUNK))
        update = {"type": "session.update", "session": {"language": "en"}}
        await _rejects(ws, update, rules.SESSION_LOCKED, rules.LOCKED_MESSAGE)


# --- good sessions hear the truth ---------------------------------------------------------


async def test_a_session_hears_the_words_at_their_times(server: FakeRealtimeServer) -> None:
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _append(ws, PCM)
        before = await _quiet(ws)
        # the last word is held back until the flush (client-python#357)
        assert _texts(before) == [" alpha", " bravo", " charlie", " delta"]
        language = [e for e in before if e["type"] == "transcription.language"]
        assert language == [{"type": "transcription.language", "audio_language": "en"}]
        assert before.index(language[0]) == 1  # right after the first delta
        await _send(ws, {"type": "input_audio.flush"})
        after = await _until(ws, "transcription.done")
    assert _texts(after) == [" echo"]
    done = after[-1]
    assert (
        done["text"] == "alpha bravo charlie delta echo" == "".join(_texts(before + after)).strip()
    )
    assert done["model"] == V3 and done["language"] == "en"
    assert done["usage"]["prompt_audio_seconds"] == 5  # 4.5 s, rounded up
    assert [(s["text"], s["start"], s["end"]) for s in done["segments"]] == [
        ("alpha bravo charlie", 0.5, 1.6),
        ("delta echo", 3.0, 3.7),
    ]
    assert all("speaker_id" not in s for s in done["segments"])
    appends = [f for f in server.frames[0] if f.get("type") == "input_audio.append"]
    assert sum(f["audio_bytes"] for f in appends) == len(PCM) == len(server.records[0].audio)
    assert all("audio" not in f for f in appends)


async def test_flush_keeps_the_session_open_and_end_finishes_it(server: FakeRealtimeServer) -> None:
    first, second = tone_speech(TWO_TURNS[:3], 2.0), tone_speech(utterance(["kilo"], 0.2), 1.0)
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _append(ws, first)
        await _send(ws, {"type": "input_audio.flush"})
        assert (await _until(ws, "transcription.done"))[-1]["text"] == "alpha bravo charlie"
        await _append(ws, second)
        await _send(ws, {"type": "input_audio.end"})
        done = (await _until(ws, "transcription.done"))[-1]
        assert done["text"] == "kilo"
        assert [(s["start"], s["end"]) for s in done["segments"]] == [(2.2, 2.5)]  # session time
        assert done["usage"]["prompt_audio_seconds"] == 1
        await _rejects(
            ws, {"type": "input_audio.append", "audio": "AAAA"}, rules.INPUT_ENDED, "ended"
        )
        await _rejects(ws, {"type": "input_audio.flush"}, rules.INPUT_ENDED, "ended")
        assert await _quiet(ws, 0.2) == []  # the server waits for the client to close
    await asyncio.sleep(0.05)
    assert server.records[0].close_code == 1000


async def test_a_flush_with_no_speech_gets_an_empty_done(server: FakeRealtimeServer) -> None:
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _send(ws, {"type": "input_audio.flush"})
        done = (await _until(ws, "transcription.done"))[-1]
    assert done["text"] == "" and done["segments"] == [] and done["language"] is None


@pytest.mark.parametrize(("encoding", "rate"), [("pcm_f32le", 48000), ("pcm_mulaw", 8000)])
async def test_the_session_format_is_heard(
    server: FakeRealtimeServer, encoding: str, rate: int
) -> None:
    audio = pcm_as(tone_speech(TWO_TURNS, 4.5, rate), encoding)
    update = {"audio_format": {"encoding": encoding, "sample_rate": rate}}
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _send(ws, {"type": "session.update", "session": update})
        assert (await _until(ws, "session.updated"))[-1]["session"]["audio_format"] == update[
            "audio_format"
        ]
        await _append(ws, audio, chunk=rate // 10 * (4 if encoding == "pcm_f32le" else 1))
        await _send(ws, {"type": "input_audio.end"})
        done = (await _until(ws, "transcription.done"))[-1]
    assert done["text"] == "alpha bravo charlie delta echo"
    assert done["segments"][1]["start"] == pytest.approx(3.0, abs=0.001)


async def test_a_replay_from_mid_word_is_heard_in_session_time(server: FakeRealtimeServer) -> None:
    cut = round(0.6 * 16000) * 2  # inside "bravo" (0.9..1.2)? no: inside "alpha" (0.5..0.8)
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _append(ws, PCM[cut:])
        await _send(ws, {"type": "input_audio.end"})
        done = (await _until(ws, "transcription.done"))[-1]
    assert done["text"] == "alpha bravo charlie delta echo"
    assert done["segments"][0]["start"] == 0.0
    assert done["segments"][0]["end"] == pytest.approx(1.0, abs=0.001)
    assert done["segments"][1]["start"] == pytest.approx(2.4, abs=0.001)


async def test_turn_detection_reports_turns_in_session_time(server: FakeRealtimeServer) -> None:
    turns = {"turn_detection": {"min_silence_ms": 400}}
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _send(ws, {"type": "session.update", "session": turns})
        updated = (await _until(ws, "session.updated"))[-1]["session"]["turn_detection"]
        assert updated == {**rules.TURN_DEFAULTS, "min_silence_ms": 400}
        await _append(ws, PCM)
        events = await _quiet(ws)
    turn_events = [(e["type"], e["time_s"]) for e in events if e["type"].startswith("turn.")]
    assert turn_events == [
        ("turn.start", 0.5),
        ("turn.eager_end", 1.6),
        ("turn.end", 1.6),
        ("turn.start", 3.0),
        ("turn.eager_end", 3.7),
        ("turn.end", 3.7),
    ]
    assert {e["end_reason"] for e in events if e["type"] == "turn.end"} == {"threshold"}
    assert not any(e["type"] == "transcription.done" for e in events)


async def test_a_short_pause_is_an_eager_end_then_a_resume(server: FakeRealtimeServer) -> None:
    script = [(0.2, 0.5, "alpha"), (0.85, 1.1, "bravo")]  # 350 ms pause, min_silence 500
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _send(ws, {"type": "session.update", "session": TURN})
        await _until(ws, "session.updated")
        await _append(ws, tone_speech(script, 2.0), chunk=320)
        events = await _quiet(ws)
    assert [(e["type"], e["time_s"]) for e in events if e["type"].startswith("turn.")] == [
        ("turn.start", 0.2),
        ("turn.eager_end", 0.5),
        ("turn.resume", 0.85),
        ("turn.eager_end", 1.1),
        ("turn.end", 1.1),
    ]


async def test_auto_done_at_turn_end() -> None:
    with FakeRealtimeServer(faults=Faults(auto_done_at_turn_end=True)) as server:
        async with _session(server) as ws:
            await _until(ws, "session.created")
            await _send(ws, {"type": "session.update", "session": TURN})
            await _until(ws, "session.updated")
            await _append(ws, PCM)
            first = await _until(ws, "transcription.done")
            second = await _until(ws, "transcription.done")
    # the held-back last word is released by the turn's end, then its done
    assert [e["type"] for e in first[-3:]] == [
        "turn.end",
        "transcription.text.delta",
        "transcription.done",
    ]
    assert first[-1]["text"] == "alpha bravo charlie"
    assert second[-1]["text"] == "delta echo"
    assert second[-1]["segments"][0]["start"] == 3.0


async def test_diarized_segments_carry_the_speaker(server: FakeRealtimeServer) -> None:
    script = utterance(["alpha", "bravo"], 0.2, speaker=1) + utterance(
        ["one", "two"], 1.0, speaker=2
    )
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _send(ws, {"type": "session.update", "session": {"diarize": True}})
        await _until(ws, "session.updated")
        await _append(ws, tone_speech(script, 2.0))
        await _send(ws, {"type": "input_audio.end"})
        events = await _until(ws, "transcription.done")
    segments = [(s["text"], s["speaker_id"]) for s in events[-1]["segments"]]
    assert segments == [("alpha bravo", "speaker_1"), ("one two", "speaker_2")]
    streamed = [e for e in events if e["type"] == "transcription.segment"]
    assert [(s["text"], s["start"], s["speaker_id"]) for s in streamed] == [
        ("alpha bravo", 0.2, "speaker_1"),
        ("one two", 1.0, "speaker_2"),
    ]


# --- faults ---------------------------------------------------------------------------------


async def _two_flushes(server: FakeRealtimeServer) -> tuple[list[Any], list[Any]]:
    async with _session(server) as ws:
        await _until(ws, "session.created")
        await _append(ws, PCM[: 2 * 32000])
        await _send(ws, {"type": "input_audio.flush"})
        first = await _quiet(ws)
        await _append(ws, PCM[2 * 32000 :])
        await _send(ws, {"type": "input_audio.flush"})
        return first, await _quiet(ws)


async def test_cumulative_done() -> None:
    with FakeRealtimeServer(faults=Faults(cumulative_done=True)) as server:
        first, second = await _two_flushes(server)
    assert first[-1]["text"] == "alpha bravo charlie"
    assert second[-1]["text"] == "alpha bravo charlie delta echo"
    assert _texts(second) == [" delta", " echo"]  # the deltas stay per turn


async def test_done_never_comes() -> None:
    with FakeRealtimeServer(faults=Faults(no_done=True)) as server:
        first, second = await _two_flushes(server)
    assert _texts(first) == [" alpha", " bravo", " charlie"]
    assert _texts(second) == [" delta", " echo"]
    assert not any(e["type"] == "transcription.done" for e in first + second)


async def test_a_silent_stall() -> None:
    with FakeRealtimeServer(faults=Faults(stall_after=2.0)) as server:
        first, second = await _two_flushes(server)
    assert server.records[0].close_code == 1000  # the client's close: the server never closed
    assert _texts(first) == [" alpha", " bravo"]  # charlie ended at 1.6, held back
    assert second == [] and not any(e["type"] == "error" for e in first)


@pytest.mark.parametrize(
    ("faults", "code"), [(Faults(drop_after=1.0), 1006), (Faults(close_1011_after=1.0), 1011)]
)
async def test_the_connection_breaks_after_some_audio(faults: Faults, code: int) -> None:
    with FakeRealtimeServer(faults=faults) as server:
        async with _session(server) as ws:
            await _until(ws, "session.created")
            with pytest.raises(ConnectionClosed) as closed:
                await _append(ws, PCM)
                await _quiet(ws, 1.0)
            assert ws.close_code == code
        del closed
        assert len(server.records[0].audio) == 16000 * 2  # exactly 1 s was taken


@pytest.mark.parametrize("status", [400, 401, 429, 503])
async def test_the_handshake_fails(status: int) -> None:
    with FakeRealtimeServer(faults=Faults(handshake_status=status, only_first=1)) as server:
        assert (await _refused(_url(server), additional_headers=AUTH))[0] == status
        async with _session(server) as ws:  # the retry succeeds
            await _until(ws, "session.created")
    assert server.connections == 1 and server.rejected[0][0] == status


async def test_a_capacity_error_event() -> None:
    with FakeRealtimeServer(faults=Faults(capacity_error=True)) as server:
        async with _session(server) as ws:
            error = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1013
    assert error == {"type": "error", "error": {"message": error["error"]["message"], "code": 3505}}


async def test_timeout_3804_without_a_flush() -> None:
    with FakeRealtimeServer(faults=Faults(timeout_after=0.3)) as server:
        async with _session(server) as ws:
            await _until(ws, "session.created")
            await _append(ws, PCM[:CHUNK])
            started = time.monotonic()
            error = (await _until(ws, "error"))[-1]
            assert time.monotonic() - started >= 0.25
            assert error["error"] == {"message": rules.TIMEOUT_MESSAGE, "code": 3804}
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        async with _session(server) as ws:  # a flush in time keeps the session alive
            await _until(ws, "session.created")
            await _append(ws, PCM[:CHUNK])
            await _send(ws, {"type": "input_audio.flush"})
            await _until(ws, "transcription.done")
            assert not any(e["type"] == "error" for e in await _quiet(ws, 0.5))


async def test_faults_can_hit_only_the_first_connections() -> None:
    with FakeRealtimeServer(faults=Faults(drop_after=0.5, only_first=2)) as server:
        for _ in range(2):
            async with _session(server) as ws:
                await _until(ws, "session.created")
                with pytest.raises(ConnectionClosed):
                    await _append(ws, PCM)
                    await _quiet(ws, 1.0)
        async with _session(server) as ws:
            await _until(ws, "session.created")
            await _append(ws, PCM)
            await _send(ws, {"type": "input_audio.end"})
            assert (await _until(ws, "transcription.done"))[-1]["text"].endswith("echo")
    assert [r.faulty for r in server.records] == [True, True, False]


# --- the vLLM dialect ---------------------------------------------------------------------


@pytest.fixture
def vllm() -> Any:
    with FakeRealtimeServer("vllm") as fake:
        yield fake


VLLM_MODEL = rules.VLLM_MODELS[0]


@asynccontextmanager
async def _vllm_session(server: FakeRealtimeServer) -> AsyncIterator[ClientConnection]:
    async with connect(_url(server, None, rules.VLLM_PATH)) as ws:
        yield ws


async def _vllm_error(ws: ClientConnection, frame: Any) -> dict[str, Any]:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    error = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert error["type"] == "error" and isinstance(error["error"], str)
    return error


async def test_vllm_session_created_has_no_session_object(vllm: FakeRealtimeServer) -> None:
    async with _vllm_session(vllm) as ws:
        created = json.loads(await ws.recv())
    assert set(created) == {"type", "id", "created"} and created["id"].startswith("sess-")
    assert isinstance(created["created"], int)
    assert (await _refused(_url(vllm, V3)))[0] == 404


async def test_vllm_errors_are_strings_with_the_listed_codes(vllm: FakeRealtimeServer) -> None:
    async with _vllm_session(vllm) as ws:
        await _until(ws, "session.created")
        commit = {"type": "input_audio_buffer.commit"}
        assert (await _vllm_error(ws, commit))["code"] == "model_not_validated"
        assert (await _vllm_error(ws, {"type": "session.update"}))["code"] == "invalid_event"
        unknown = {"type": "session.update", "model": "whisper-1"}
        assert (await _vllm_error(ws, unknown))["code"] == "model_not_found"
        assert (await _vllm_error(ws, "{oops"))["code"] == "invalid_json"
        assert (await _vllm_error(ws, {"type": "input_audio.append"}))["code"] == "unknown_event"
        for audio in ("", base64.b64encode(b"\x00").decode(), "A*"):
            bad = {"type": "input_audio_buffer.append", "audio": audio}
            error = await _vllm_error(ws, bad)
            assert error == {
                "type": "error",
                "error": "Invalid audio data",
                "code": "invalid_audio",
            }


async def test_vllm_transcribes_between_commits(vllm: FakeRealtimeServer) -> None:
    async with _vllm_session(vllm) as ws:
        await _until(ws, "session.created")
        await _send(ws, {"type": "session.update", "model": VLLM_MODEL})
        await _send(ws, {"type": "input_audio_buffer.commit"})
        await _send(ws, {"type": "input_audio_buffer.commit"})  # ignored: one is running
        await ws.send(
            json.dumps(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(PCM).decode()}
            )
        )
        await _send(ws, {"type": "input_audio_buffer.commit", "final": True})
        events = await _until(ws, "transcription.done")
        deltas = [e["delta"] for e in events if e["type"] == "transcription.delta"]
        assert deltas == [" alpha", " bravo", " charlie", " delta", " echo"]
        done = events[-1]
        assert done["text"] == "".join(deltas)
        assert set(done["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
        # the next utterance needs a new commit
        await _send(ws, {"type": "input_audio_buffer.commit"})
        await _append_vllm(ws, tone_speech(utterance(["zulu"], 0.1), 0.6))
        await _send(ws, {"type": "input_audio_buffer.commit", "final": True})
        assert (await _until(ws, "transcription.done"))[-1]["text"] == " zulu"
    assert len(vllm.frames[0]) > 8


async def _append_vllm(ws: ClientConnection, pcm: bytes) -> None:
    for at in range(0, len(pcm), CHUNK):
        audio = base64.b64encode(pcm[at : at + CHUNK]).decode()
        await _send(ws, {"type": "input_audio_buffer.append", "audio": audio})


async def test_vllm_binary_frames_close_the_socket(vllm: FakeRealtimeServer) -> None:
    async with _vllm_session(vllm) as ws:
        await _until(ws, "session.created")
        await ws.send(b"\x00\x00")
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1003
