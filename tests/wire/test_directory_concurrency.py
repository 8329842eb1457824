"""The directory patterns the README shows transcribe files side by side, at a real server.

The server holds every transcription request at a barrier for ``FILES`` parties:
the requests get through only if all of them are in flight at once, so a pattern
that sends files one at a time fails here (the barrier breaks) instead of passing
slowly. Nothing is timed; the barrier's timeout only ends a broken run.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core import SimpleDirectoryReader

from benchmarks.local_server import (
    TRANSCRIPTIONS_PATH,
    LocalVoxtralServer,
    ReceivedRequest,
    Reply,
)
from tests.support.audio_factory import encode, speech_pcm
from tests.support.constants import FAKE_API_KEY
from voxtral_integrations import InvalidInputError
from voxtral_integrations.langchain import VoxtralLoader
from voxtral_integrations.llama_index import VoxtralReader

FILES = 4


class AllAtOnce:
    """A server answering transcriptions only once ``FILES`` of them are in flight."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(FILES, timeout=20)
        self.server = LocalVoxtralServer(hook=self._hold, api_key=FAKE_API_KEY)
        self.peak = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    def _hold(self, request: ReceivedRequest) -> Reply | None:
        if request.path != TRANSCRIPTIONS_PATH:
            return None
        with self._lock:
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
        try:
            self.barrier.wait()  # BrokenBarrierError (a 500) unless all files came together
        finally:
            with self._lock:
                self._in_flight -= 1
        return None


@pytest.fixture
def server() -> Iterator[AllAtOnce]:
    held = AllAtOnce()
    with held.server:
        yield held
    assert held.server.errors == []


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    """``calls/``: four recordings (one in a subdirectory, one hidden away) and a note."""
    folder = tmp_path / "calls"
    for index, name in enumerate(["a.wav", "b.wav", "c.wav", "team/d.wav"]):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(speech_pcm([(0.2, 0.6 + index / 10)], 1.0), "wav"))
    (folder / "notes.txt").write_text("not audio")
    (folder / ".trash").mkdir()
    (folder / ".trash" / "old.wav").write_bytes((folder / "a.wav").read_bytes())
    return folder


def sources(docs: list[object]) -> list[str]:
    return sorted(Path(doc.metadata["source"]).name for doc in docs)  # type: ignore[attr-defined]


def test_a_langchain_loader_given_a_directory_sends_its_files_together(
    server: AllAtOnce, calls: Path
) -> None:
    docs = VoxtralLoader(calls, api_key=FAKE_API_KEY, base_url=server.server.base_url).load()
    assert sources(docs) == ["a.wav", "b.wav", "c.wav", "d.wav"]
    assert server.peak == FILES


def test_a_llama_index_reader_given_a_directory_sends_its_files_together(
    server: AllAtOnce, calls: Path
) -> None:
    reader = VoxtralReader(api_key=FAKE_API_KEY, base_url=server.server.base_url)
    assert sources(reader.load_data(str(calls))) == ["a.wav", "b.wav", "c.wav", "d.wav"]
    assert server.peak == FILES


def test_simple_directory_reader_aload_data_sends_its_files_together(
    server: AllAtOnce, calls: Path
) -> None:
    reader = VoxtralReader(api_key=FAKE_API_KEY, base_url=server.server.base_url)
    directory = SimpleDirectoryReader(
        str(calls), recursive=True, required_exts=[".wav"], file_extractor={".wav": reader}
    )
    docs = asyncio.run(directory.aload_data())
    assert sources(docs) == ["a.wav", "b.wav", "c.wav", "d.wav"]
    assert server.peak == FILES


def test_a_directory_without_recordings_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not audio")
    loader = VoxtralLoader(tmp_path, api_key=FAKE_API_KEY)
    with pytest.raises(InvalidInputError) as raised:
        loader.load()
    assert str(tmp_path) in str(raised.value) and "no audio or video files" in str(raised.value)
