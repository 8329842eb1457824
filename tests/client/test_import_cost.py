"""PyAV, tqdm and asyncio are imported by the work that needs them, not by ``import``.

They were most of what ``import voxtral_integrations`` cost (see
``benchmarks/import_time.py``), and chat, remote audio and file ids need none of
them. No timings here: which modules a step loads is what decides the cost, and it
does not depend on how busy the machine is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.audio_factory import encode, speech_pcm
from tests.support.constants import REPO
from voxtral_integrations import VoxtralClient

ROOT = REPO

# Each step runs after the ones before it in one fresh interpreter, and records which of
# the heavy modules are loaded by then. The client answers from a MockTransport.
STEPS = """
import json, sys

HEAVY = ("av", "tqdm", "asyncio")
steps = {}

def loaded():
    return sorted(name for name in HEAVY if name in sys.modules)

import voxtral_integrations
steps["import"] = loaded()

import httpx
from voxtral_integrations import VoxtralClient

def answer(request):
    if request.url.path.endswith("/chat/completions"):
        message = {"role": "assistant", "content": "hi"}
        return httpx.Response(200, json={"model": "m", "choices": [{"message": message}]})
    return httpx.Response(200, json={"model": "m", "text": "hi"})

http = httpx.Client(transport=httpx.MockTransport(answer))
client = VoxtralClient(api_key="test-key", http_client=http)
steps["client"] = loaded()
assert client.chat([{"role": "user", "content": "hello"}]).text == "hi"
steps["chat"] = loaded()
assert client.transcribe("https://example.com/talk.mp3").text == "hi"
steps["remote audio"] = loaded()
assert client.transcribe(sys.argv[1]).text == "hi"
steps["short WAV"] = loaded()
assert client.transcribe(sys.argv[2]).text == "hi"
steps["MP3"] = loaded()
assert [r.error for r in client.transcribe_many(["https://example.com/talk.mp3"])] == [None]
steps["transcribe_many"] = loaded()
print(json.dumps(steps))
"""


def _mp3(path: Path) -> Path:
    path.write_bytes(encode(speech_pcm([(0.2, 0.8)], 1.0), "mp3"))
    return path


def test_heavy_modules_wait_for_the_work_that_needs_them(tmp_path: Path, tiny_wav: Path) -> None:
    mp3 = _mp3(tmp_path / "short.mp3")
    done = subprocess.run(
        [sys.executable, "-c", STEPS, str(tiny_wav), str(mp3)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "import": [],
        "client": [],
        "chat": [],
        "remote audio": [],
        # read from its header: a WAV that fits one request needs no decoder
        "short WAV": [],
        # examined with PyAV; one short chunk draws no progress bar
        "MP3": ["av"],
        # its bars are tqdm.auto's, which brings asyncio
        "transcribe_many": ["asyncio", "av", "tqdm"],
    }


def test_a_missing_pyav_fails_the_audio_work_once_before_sending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mp3 = _mp3(tmp_path / "short.mp3")
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"model": "m", "text": "hi"})

    monkeypatch.setitem(sys.modules, "av", None)  # what Python does for a module it lacks
    http = httpx.Client(transport=httpx.MockTransport(answer))
    with VoxtralClient(api_key="test-key", http_client=http) as client:
        with pytest.raises(ImportError, match=r"\bav\b") as raised:
            client.transcribe(mp3)
        assert client.transcribe("https://example.com/talk.mp3").text == "hi"
    # Python's own ImportError, raised once: not raised again while it was being handled
    assert raised.value.__context__ is None
    assert [request.url.path for request in sent] == ["/v1/audio/transcriptions"]
