"""``VoxtralRealtimeLoader`` and ``VoxtralRealtimeTool`` against the strict realtime fake.

Both dialects: a Document per finalised turn, in order, exactly once, at absolute
times, with ``speaker`` when diarized (Realtime 3); the async loader yields while the
audio is still arriving; a dropped connection loses and repeats nothing; bad input is
refused before anything connects.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

from tests.support.constants import FAKE_API_KEY
from tests.support.fake_realtime import FakeRealtimeServer, Faults
from tests.support.realtime_speech import (
    DIALECTS,
    EXPECTED,
    V3,
    WAV,
    LiveSource,
    assert_keys_travel,
    assert_turns,
    settings,
)
from voxtral_integrations import (
    AudioError,
    InvalidInputError,
    UnsupportedFeatureError,
    VoxtralClient,
)
from voxtral_integrations._realtime_loading import REALTIME_LOAD_OPTIONS
from voxtral_integrations.langchain import VoxtralRealtimeLoader, VoxtralRealtimeTool
from voxtral_integrations.llama_index import VoxtralRealtimeReader

DROP_AFTER = {"mistral": 4.0, "vllm": 1.2}
"""Seconds of session audio; vLLM's fake counts them from each turn's start (a new
listener after every final commit), so its drop must fall inside one turn."""


def test_every_adapter_takes_every_option_of_stream_realtime() -> None:
    core = set(inspect.signature(VoxtralClient.stream_realtime).parameters) - {"self", "audio"}
    assert set(REALTIME_LOAD_OPTIONS) == core
    defaults = inspect.signature(VoxtralClient.stream_realtime).parameters
    loader = inspect.signature(VoxtralRealtimeLoader.__init__).parameters
    for name in core:  # the same names, with the same defaults, everywhere
        assert loader[name].default == defaults[name].default, name
        for fields in (VoxtralRealtimeTool.model_fields, VoxtralRealtimeReader.model_fields):
            assert fields[name].default == defaults[name].default, name


@pytest.mark.parametrize("dialect", DIALECTS)
def test_lazy_load_gives_each_turn_once_in_order(dialect: str, tmp_path: Path) -> None:
    path = tmp_path / "standup.wav"
    path.write_bytes(WAV)
    with FakeRealtimeServer(dialect) as server:  # type: ignore[arg-type]
        loader = VoxtralRealtimeLoader(path, realtime=False, **settings(server))
        documents = list(loader.lazy_load())
    assert_turns([d.metadata for d in documents], [d.page_content for d in documents], dialect)
    assert {d.metadata["source"] for d in documents} == {str(path)}
    assert {d.metadata["model"] for d in documents} == {settings(server)["model"]}
    assert server.connections == 1


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_alazy_load_yields_each_turn_while_the_audio_still_arrives(dialect: str) -> None:
    live = LiveSource()
    with FakeRealtimeServer(dialect) as server:  # type: ignore[arg-type]
        loader = VoxtralRealtimeLoader(live(), source_name="mic", **settings(server))
        documents, finished_at_each = [], []
        async for document in loader.alazy_load():
            documents.append(document)
            finished_at_each.append(live.finished)
    assert finished_at_each[0] is False  # the first turn came during the meeting
    assert_turns([d.metadata for d in documents], [d.page_content for d in documents], dialect)
    assert {d.metadata["source"] for d in documents} == {"mic"}


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_dropped_connection_still_gives_every_turn_once(dialect: str) -> None:
    faults = Faults(drop_after=DROP_AFTER[dialect], only_first=1)
    with FakeRealtimeServer(dialect, faults=faults) as server:  # type: ignore[arg-type]
        loader = VoxtralRealtimeLoader(WAV, realtime=False, **settings(server))
        documents = [document async for document in loader.alazy_load()]
    assert server.connections == 2
    assert_turns([d.metadata for d in documents], [d.page_content for d in documents], dialect)


@pytest.mark.parametrize(
    ("audio", "options", "error", "argument"),
    [
        ("missing.wav", {}, AudioError, "audio"),
        (b"", {}, AudioError, "audio"),
        (WAV, {"model": "voxtral-mini-transcribe-realtime-2602", "diarize": True}, None, "diarize"),
        (WAV, {"turn_detection": True}, InvalidInputError, "diarize"),  # with diarize
        (WAV, {"done_timeout": 0}, InvalidInputError, "done_timeout"),
        (WAV, {"max_reconnects": -1}, InvalidInputError, "max_reconnects"),
        (WAV, {"end_of_speech": "sometimes"}, InvalidInputError, "end_of_speech"),
        (WAV, {"realtime": "yes"}, InvalidInputError, "realtime"),
        (WAV, {"source_name": ""}, InvalidInputError, "source_name"),
        (42, {}, AudioError, "audio"),
    ],
)
def test_bad_input_is_refused_before_connecting(
    audio: Any, options: dict[str, Any], error: type[Exception] | None, argument: str
) -> None:
    with FakeRealtimeServer() as server:
        with pytest.raises(error or InvalidInputError) as caught:
            VoxtralRealtimeLoader(audio, **{**settings(server), **options})
        assert server.connections == 0
    assert getattr(caught.value, "argument", None) == argument
    assert FAKE_API_KEY not in str(caught.value)


def test_what_vllm_cannot_do_is_refused_before_connecting() -> None:
    with FakeRealtimeServer("vllm") as server:
        with pytest.raises(UnsupportedFeatureError):
            VoxtralRealtimeLoader(WAV, **{**settings(server), "sample_rate": 24000})
        assert server.connections == 0


def test_an_iterator_is_read_by_one_load_only() -> None:
    with FakeRealtimeServer() as server:
        loader = VoxtralRealtimeLoader(iter([WAV]), **settings(server))
        assert [d.page_content for d in loader.load()] == [text for text, *_ in EXPECTED]
        with pytest.raises(InvalidInputError, match="earlier load"):
            loader.load()
        assert server.connections == 1


@pytest.mark.parametrize("kind", ["loader", "tool"])
def test_a_copy_keeps_the_key_and_a_pickle_reads_it_again(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(WAV)

    def build(**options: Any) -> Any:
        if kind == "tool":
            return VoxtralRealtimeTool(**options)
        return VoxtralRealtimeLoader(path, **options)

    assert_keys_travel(build, path, monkeypatch)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_tool_answers_with_a_timestamped_line_per_turn(dialect: str, tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(WAV)
    with FakeRealtimeServer(dialect) as server:  # type: ignore[arg-type]
        tool = VoxtralRealtimeTool(**settings(server))
        answer = tool.invoke({"path": str(path)})
        again = asyncio.run(tool.ainvoke({"path": str(path)}))
        asyncio.run(tool.aclose())
    expected = [
        f"[00:00:0{int(start)}] " + (f"{speaker}: " if dialect == "mistral" else "") + text
        for text, start, _, speaker in EXPECTED
    ]
    assert answer.splitlines() == expected
    assert again == answer
    assert server.connections == 2


def test_the_tool_refuses_bad_options_and_paths_before_connecting() -> None:
    with FakeRealtimeServer() as server:
        with pytest.raises(InvalidInputError, match="Realtime 3"):
            VoxtralRealtimeTool(api_key=FAKE_API_KEY, turn_detection=True)
        tool = VoxtralRealtimeTool(**settings(server))
        with pytest.raises(AudioError, match="does not exist"):
            tool.invoke({"path": "nowhere.wav"})
        assert server.connections == 0
    assert tool.tool_call_schema.model_json_schema()["required"] == ["path"]
    assert FAKE_API_KEY not in repr(tool) and FAKE_API_KEY not in str(tool.model_dump())
    assert V3 in repr(tool)
