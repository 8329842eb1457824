"""Every Python block of the README and the guides runs, against a local server.

A page's blocks run in order in one namespace, as a reader pastes them one after the
other, in a folder holding the recordings they name (made here with PyAV), with
``MISTRAL_API_KEY`` and ``MISTRAL_BASE_URL`` pointing at :class:`DocsServer`; a block
that opens a realtime session (it names ``realtime``) points at the strict realtime fake
instead, and ``live.wav`` holds speech that fake hears. A block that raises fails its
page's test with the block's file and line, so a snippet that stops working fails CI.

A collector of our own rather than pytest-examples: the guides' blocks build on each
other (a page is one session), they need recordings on disk and a server that speaks
the whole API, and none of them prints an output to compare.
"""

from __future__ import annotations

import asyncio
import re
import traceback
from pathlib import Path

import pytest

from tests.support.audio_factory import encode, speech_pcm, tone_speech, utterance
from tests.support.constants import FAKE_API_KEY, REPO
from tests.support.docs_server import DocsServer
from tests.support.fake_realtime import FakeRealtimeServer

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_REALTIME = re.compile(r"realtime", re.IGNORECASE)
LIVE_SCRIPT = [
    *utterance(["alpha", "bravo"], 0.3),
    *utterance(["charlie", "delta"], 2.0, speaker=2),
]

RECORDINGS = {
    "meeting.mp3": "mp3",
    "talk.mp3": "mp3",
    "lecture.mp3": "mp3",
    "question.mp3": "mp3",
    "call.wav": "wav",
    "lecture.m4a": "m4a",
    "standup.m4a": "m4a",
    "interviews/anna.m4a": "m4a",
    "interviews/ben.m4a": "m4a",
    "calls/monday.wav": "wav",
    "calls/tuesday.wav": "wav",
    "calls/wednesday.wav": "wav",
}


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """Each ```python block of ``page`` with the line its code starts on."""
    text = page.read_text()
    return [
        (text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in _BLOCK.finditer(text)
    ]


def test_the_collector_finds_the_blocks_of_every_page() -> None:
    found = {page.name: len(python_blocks(page)) for page in PAGES}
    assert found["README.md"] >= 3  # core, LangChain, LlamaIndex quickstarts
    assert found["transcription.md"] >= 4
    assert sum(found.values()) >= 15
    line, code = python_blocks(REPO / "README.md")[0]
    assert code.startswith("from voxtral_integrations import VoxtralClient")
    assert (REPO / "README.md").read_text().splitlines()[line - 1] == code.splitlines()[0]


@pytest.fixture
def reader_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pcm = speech_pcm([(0.3, 1.6), (2.2, 3.5)], 4.0)
    encoded = {kind: encode(pcm, kind) for kind in set(RECORDINGS.values())}
    for name, kind in RECORDINGS.items():
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(encoded[kind])
    (tmp_path / "live.wav").write_bytes(encode(tone_speech(LIVE_SCRIPT, 3.5), "wav"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "page", [page for page in PAGES if python_blocks(page)], ids=lambda page: page.name
)
def test_every_python_block_runs(
    page: Path, reader_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # llama-index's sync API runs coroutines on `asyncio.get_event_loop()`, creating a
    # loop it never closes; give it one and close it (see test_examples.py)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        blocks = python_blocks(page)
        live = [bool(_REALTIME.search(code)) for _, code in blocks]
        with DocsServer() as server, FakeRealtimeServer() as realtime:
            monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
            namespace: dict[str, object] = {"__name__": "__main__"}
            for (line, code), is_live in zip(blocks, live, strict=True):
                where = f"{page.relative_to(REPO)}:{line}"
                base_url = realtime.base_url if is_live else server.base_url
                monkeypatch.setenv("MISTRAL_BASE_URL", base_url)
                try:
                    exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
                except Exception:
                    pytest.fail(f"the block at {where} raised:\n{traceback.format_exc()}")
            if not all(live):
                assert server.request_count > 0, f"{page.name}'s blocks sent no request"
            if any(live):
                assert realtime.connections > 0, f"{page.name}'s realtime blocks never connected"
            assert not server.errors, server.errors
    finally:
        asyncio.set_event_loop(None)
        loop.close()
