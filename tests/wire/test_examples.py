"""The examples run as a user would run them, against cassettes."""

from __future__ import annotations

import asyncio
import base64
import runpy
import sys
from pathlib import Path

import pytest

from tests.support.audio_factory import encode, speech_pcm
from tests.support.chat_server import ChatServer
from tests.support.constants import FAKE_API_KEY, REPO

EXAMPLES = REPO / "examples"


def run_example(name: str, *args: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), *args])
    # llama-index's sync API runs coroutines on `asyncio.get_event_loop()`, creating
    # a loop it never closes; give it one and close it, or a later test trips on the
    # ResourceWarning when that loop is collected.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return int(exit_info.value.code or 0)


@pytest.mark.vcr
def test_transcribe_file_example(
    api_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", api_key)
    assert run_example("transcribe_file.py", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "Barcelona" in out
    assert out.startswith("[00:00:0")
    assert "s of audio" in out


def test_transcribe_file_example_explains_a_missing_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run_example("transcribe_file.py", monkeypatch=monkeypatch) == 1
    assert "MISTRAL_API_KEY" in capsys.readouterr().err


# The example conversations depend on what retrieval found, so their cassettes are
# matched on method and path, in order (see cassettes/README.md).
EXAMPLE_MATCHING = {"match_on": ["method", "scheme", "host", "path"]}


@pytest.mark.vcr(**EXAMPLE_MATCHING)
def test_langchain_rag_with_timestamps_example(
    api_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", api_key)
    assert run_example("langchain_rag_with_timestamps.py", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    answer, sources = out.split("Sources:")
    assert "20" in answer
    assert "bcn_weather.mp3 @ 00:00:0" in sources
    assert "bcn_weather.mp3#t=" in sources  # each piece's own citation


@pytest.mark.vcr(**EXAMPLE_MATCHING)
def test_langchain_chat_with_audio_example(
    api_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", api_key)
    assert run_example("langchain_chat_with_audio.py", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "Barcelona" in out.split("Tool call:")[0]
    assert "Tool call: get_weather({'city': 'Barcelona'})" in out


@pytest.mark.vcr(**EXAMPLE_MATCHING)
def test_llama_index_query_with_timestamps_example(
    api_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", api_key)
    assert run_example("llama_index_query_with_timestamps.py", monkeypatch=monkeypatch) == 0
    answer, sources = capsys.readouterr().out.split("Sources:")
    assert "20" in answer
    assert "bcn_weather.mp3 @ 00:00:00" in sources
    assert "bcn_weather.mp3#t=" in sources  # each node's own citation


def test_langchain_chat_with_audio_example_sends_an_m4a_converted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m4a = tmp_path / "question.m4a"
    m4a.write_bytes(encode(speech_pcm([(0.3, 1.2)], 1.5), "m4a"))
    with ChatServer() as server:
        monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
        monkeypatch.setenv("MISTRAL_BASE_URL", server.base_url)
        assert run_example("langchain_chat_with_audio.py", str(m4a), monkeypatch=monkeypatch) == 0
    assert "About the recording: ok" in capsys.readouterr().out
    parts = server.audio_parts()
    assert len(parts) == 2
    assert all(base64.b64decode(part)[:4] == b"fLaC" for part in parts)
