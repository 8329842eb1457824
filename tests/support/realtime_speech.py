"""Speech the realtime fake hears, and what the realtime adapters must make of it.

Three turns, the second by another speaker, with pauses long enough for the local
end-of-speech detector: each must come back as one Document, in order, once, at
its absolute times, with ``speaker`` when the session diarizes (Realtime 3).
"""

from __future__ import annotations

import asyncio
import copy
import pickle
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.audio_factory import encode, tone_speech, utterance
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_realtime import FakeRealtimeServer
from voxtral_integrations import AuthenticationError

DIALECTS = ["mistral", "vllm"]
V3 = "voxtral-mini-transcribe-realtime-3"
VLLM_MODEL = "mistralai/Voxtral-Mini-4B-Realtime-2602"
TURNS = [
    utterance(["alpha", "bravo", "charlie"], 0.5),
    utterance(["delta", "echo"], 3.0, speaker=2),
    utterance(["golf", "hotel", "india"], 6.0),
]
DURATION = 8.5
WAV = encode(tone_speech([word for turn in TURNS for word in turn], DURATION), "wav")
EXPECTED = [
    (" ".join(word[2] for word in turn), turn[0][0], turn[-1][1], f"speaker_{turn[0][3]}")
    for turn in TURNS
]
PATIENCE = {"done_timeout": 0.6, "stall_timeout": 1.0}
"""Short waits, so a fault is noticed within a test's time."""


def settings(server: FakeRealtimeServer) -> dict[str, Any]:
    """An adapter's settings for ``server``: Realtime 3 with diarization on Mistral, the
    served model on vLLM (which has no key and no speakers)."""
    if server.dialect == "vllm":
        return {"backend": "vllm", "base_url": server.base_url, "model": VLLM_MODEL, **PATIENCE}
    return {
        "api_key": FAKE_API_KEY,
        "base_url": server.base_url,
        "model": V3,
        "diarize": True,
        **PATIENCE,
    }


def assert_turns(metadata: list[Mapping[str, Any]], texts: list[str], dialect: str) -> None:
    """Every turn once, in order, at its absolute times, with its speaker when diarized."""
    assert texts == [text for text, _, _, _ in EXPECTED]
    assert [m["utterance_index"] for m in metadata] == list(range(len(EXPECTED)))
    for seen, (_, start, end, speaker) in zip(metadata, EXPECTED, strict=True):
        assert seen["start"] == pytest.approx(start, abs=0.03), seen
        assert seen["end"] == pytest.approx(end, abs=0.03), seen
        assert seen["citation"] == f"{seen['source']}#t={seen['start']:g},{seen['end']:g}"
        if dialect == "vllm":
            assert "speaker" not in seen
        else:
            assert seen["speaker"] == speaker
        assert all(isinstance(value, (str, int, float, bool)) for value in seen.values())
        assert FAKE_API_KEY not in repr(seen)


class LiveSource:
    """A microphone: the WAV's bytes, 0.1 s of audio at a time, a little faster than
    speech; ``finished`` once the last piece was handed over."""

    def __init__(self, pause: float = 0.03) -> None:
        self.pause = pause
        self.finished = False
        self.pieces = 0

    async def __call__(self) -> AsyncIterator[bytes]:
        step = 3200  # 0.1 s of 16 kHz s16
        for start in range(0, len(WAV), step):
            await asyncio.sleep(self.pause)
            self.pieces += 1
            yield WAV[start : start + step]
        self.finished = True


ENVIRONMENT_KEY = "sk-from-the-environment"
HEARD = [text for text, _, _, _ in EXPECTED]


def listen(adapter: Any, path: Path) -> list[str]:
    """The turns' texts ``adapter`` (a realtime loader, tool or reader) hears in ``path``."""
    if hasattr(adapter, "lazy_load"):
        return [document.page_content for document in adapter.load()]
    if hasattr(adapter, "invoke"):
        lines = adapter.invoke({"path": str(path)}).splitlines()
        return [line.split("] ", 1)[1].split(": ")[-1] for line in lines]
    return [document.text for document in adapter.load_data(path)]


def assert_keys_travel(build: Callable[..., Any], path: Path, monkeypatch: Any) -> None:
    """Of the adapter ``build(**settings)`` makes: a copy keeps the key (also after a
    load), a pickle holds none and, unpickled, reads ``MISTRAL_API_KEY``."""
    with FakeRealtimeServer() as server:
        adapter = build(**settings(server), realtime=False)
        assert listen(adapter, path) == HEARD
        for copier in (copy.copy, copy.deepcopy):
            assert listen(copier(adapter), path) == HEARD
        assert server.connections == 3
    with FakeRealtimeServer(api_key=ENVIRONMENT_KEY) as other:
        adapter = build(**{**settings(other), "realtime": False})
        with pytest.raises(AuthenticationError):  # this server takes the other key only
            listen(adapter, path)
        pickled = pickle.dumps(adapter)
        assert FAKE_API_KEY.encode() not in pickled
        monkeypatch.setenv("MISTRAL_API_KEY", ENVIRONMENT_KEY)
        assert listen(pickle.loads(pickled), path) == HEARD
