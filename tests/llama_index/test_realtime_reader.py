"""``VoxtralRealtimeReader`` against the strict realtime fake, both dialects.

The LangChain loader's promises (``tests/langchain/test_realtime.py``) from the reader
side: a Document per finalised turn, in order, once, at absolute times, with
``speaker`` when diarized; ``alazy_load_data`` yields while the audio still arrives;
a dropped connection loses and repeats nothing; bad input fails before connecting.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.schema import MetadataMode

from tests.support import realtime_speech
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_realtime import FakeRealtimeServer, Faults
from tests.support.realtime_speech import DIALECTS, WAV, LiveSource, assert_turns, settings
from voxtral_integrations import AudioError, InvalidInputError
from voxtral_integrations.llama_index import VoxtralRealtimeReader


@pytest.mark.parametrize("dialect", DIALECTS)
def test_lazy_load_data_gives_each_turn_once_in_order(dialect: str, tmp_path: Path) -> None:
    path = tmp_path / "standup.wav"
    path.write_bytes(WAV)
    with FakeRealtimeServer(dialect) as server:  # type: ignore[arg-type]
        reader = VoxtralRealtimeReader(realtime=False, **settings(server))
        documents = list(reader.lazy_load_data(path, extra_info={"meeting": "standup"}))
    assert_turns([d.metadata for d in documents], [d.text for d in documents], dialect)
    assert {d.metadata["meeting"] for d in documents} == {"standup"}
    assert {d.metadata["source"] for d in documents} == {str(path)}
    first = documents[0]
    embedded = first.get_content(metadata_mode=MetadataMode.EMBED)
    assert "utterance_index" not in embedded and "start" not in embedded
    assert "model" not in first.get_content(metadata_mode=MetadataMode.LLM)
    assert "start_timestamp" in first.get_content(metadata_mode=MetadataMode.LLM)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_alazy_load_data_yields_each_turn_while_the_audio_still_arrives(
    dialect: str,
) -> None:
    live = LiveSource()
    with FakeRealtimeServer(dialect) as server:  # type: ignore[arg-type]
        reader = VoxtralRealtimeReader(**settings(server))
        documents, finished_at_each = [], []
        async for document in reader.alazy_load_data(live(), source_name="mic"):
            documents.append(document)
            finished_at_each.append(live.finished)
    assert finished_at_each[0] is False  # the first turn came during the meeting
    assert_turns([d.metadata for d in documents], [d.text for d in documents], dialect)
    assert {d.metadata["source"] for d in documents} == {"mic"}


@pytest.mark.parametrize(("dialect", "drop_after"), [("mistral", 4.0), ("vllm", 1.2)])
def test_a_dropped_connection_still_gives_every_turn_once(dialect: str, drop_after: float) -> None:
    faults = Faults(drop_after=drop_after, only_first=1)
    with FakeRealtimeServer(dialect, faults=faults) as server:  # type: ignore[arg-type]
        reader = VoxtralRealtimeReader(realtime=False, **settings(server))
        documents = asyncio.run(reader.aload_data(WAV))
    assert server.connections == 2
    assert_turns([d.metadata for d in documents], [d.text for d in documents], dialect)


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"turn_detection": True}, "diarize"),
        ({"stall_timeout": -1}, "stall_timeout"),
        ({"encoding": "mp3"}, "encoding"),
        ({"language": "english"}, "language"),
    ],
)
def test_bad_options_are_refused_when_built(options: dict[str, Any], argument: str) -> None:
    with FakeRealtimeServer() as server:
        with pytest.raises(InvalidInputError) as caught:
            VoxtralRealtimeReader(**{**settings(server), **options})
        assert server.connections == 0
    assert caught.value.argument == argument


def test_bad_audio_and_changed_options_are_refused_before_connecting(tmp_path: Path) -> None:
    with FakeRealtimeServer() as server:
        reader = VoxtralRealtimeReader(**settings(server))
        with pytest.raises(AudioError, match="does not exist"):
            reader.lazy_load_data(tmp_path / "missing.wav")
        with pytest.raises(AudioError, match="empty"):
            reader.alazy_load_data(b"")
        reader.done_timeout = 0
        with pytest.raises(InvalidInputError, match="done_timeout"):
            reader.load_data(WAV)
        assert server.connections == 0
    assert FAKE_API_KEY not in repr(reader) and FAKE_API_KEY not in reader.to_json()
    assert reader.class_name() == "VoxtralRealtimeReader"


def test_a_copy_keeps_the_key_and_a_pickle_reads_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(WAV)
    realtime_speech.assert_keys_travel(VoxtralRealtimeReader, path, monkeypatch)
