"""Citable times: media-fragment links, and pieces cut at segment seams with their own times."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxtral_integrations import InvalidInputError, Transcription
from voxtral_integrations._records import (
    Record,
    check_split_options,
    citation,
    piece,
    piece_groups,
    records,
)

FRAGMENT = re.compile(r"^(?P<source>.+)#t=(?P<start>\d+(\.\d{1,3})?)(,(?P<end>\d+(\.\d{1,3})?))?$")


def transcription(*segments: tuple[float, float, str | None]) -> Transcription:
    return Transcription.model_validate(
        {
            "text": "",
            "model": "m",
            "segments": [
                {"text": f"words{i} " * 3, "start": start, "end": end, "speaker_id": speaker}
                for i, (start, end, speaker) in enumerate(segments)
            ],
        }
    )


@pytest.mark.parametrize(
    ("source", "start", "end", "expected"),
    [
        pytest.param("talk.mp3", 62.5, 75.04, "talk.mp3#t=62.5,75.04", id="decimals-trimmed"),
        pytest.param("talk.mp3", 0.0, 60.0, "talk.mp3#t=0,60", id="whole-seconds"),
        pytest.param("a.wav", 1.23456, 2.0004, "a.wav#t=1.235,2", id="milliseconds"),
        pytest.param("a.wav", 3725.125, None, "a.wav#t=3725.125", id="open-end"),
        pytest.param("a.wav", -0.001, 1.0, "a.wav#t=0,1", id="never-negative"),
        pytest.param("calls/#3.m4a", 1.0, 2.0, "calls/%233.m4a#t=1,2", id="hash-in-a-path"),
        pytest.param("https://cdn.example/t.mp3", 1.0, 2.0, "https://cdn.example/t.mp3#t=1,2"),
    ],
)
def test_citation_is_a_media_fragment(
    source: str, start: float, end: float | None, expected: str
) -> None:
    assert citation(source, start, end) == expected


@pytest.mark.parametrize("granularity", ["file", "segment", "window"])
def test_every_record_cites_its_own_start_and_end(granularity: Any) -> None:
    result = transcription((0.5, 3.0, None), (4.0, 7.5, None), (65.0, 70.25, None))
    for record in records(result, source="talk.mp3", granularity=granularity):
        fragment = FRAGMENT.match(str(record.metadata["citation"]))
        assert fragment, record.metadata
        assert fragment["source"] == "talk.mp3"
        assert float(fragment["start"]) == record.metadata["start"]
        if "end" in record.metadata:
            assert float(fragment["end"]) == record.metadata["end"]


def test_a_signed_urls_token_never_reaches_the_citation() -> None:
    result = transcription((1.0, 2.0, None))
    source = "https://user:pw@cdn.example/talk.mp3?sig=SECRET&exp=1#frag"
    for granularity in ("file", "segment", "window"):
        (record,) = records(result, source=source, granularity=granularity)  # type: ignore[arg-type]
        cited = str(record.metadata["citation"])
        assert "SECRET" not in cited and "pw@" not in cited and "frag" not in cited
        assert cited.startswith("https://<redacted>@cdn.example/talk.mp3#t=")


def test_a_record_without_a_start_has_no_citation() -> None:
    result = Transcription.model_validate(
        {"text": "", "model": "m", "segments": [{"text": "x", "start": None, "end": 2.0}]}
    )
    (record,) = records(result, source="a.wav", granularity="segment")
    assert "citation" not in record.metadata and record.metadata["end"] == 2.0


def units(
    result: Transcription, source: str = "talk.mp3", **extra: Any
) -> list[tuple[str, dict[str, Any]]]:
    return [
        (r.text, {**r.metadata, **extra})
        for r in records(result, source=source, granularity="segment")
    ]


def pieces(unit_list: list[tuple[str, dict[str, Any]]], **options: Any) -> list[Record]:
    groups = piece_groups(unit_list, **{"max_characters": 1000, "window_seconds": 60.0, **options})
    return [piece(unit_list, group) for group in groups]


TEN = transcription(*[(i * 5.0 + 0.5, i * 5.0 + 4.0, None) for i in range(10)])
"""Ten segments of 24 characters, 5 s apart: 0.5-4.0, 5.5-9.0 ... 45.5-49.0."""


@pytest.mark.parametrize(
    ("options", "spans"),
    [
        pytest.param({}, [(0.5, 49.0)], id="all-fit"),
        pytest.param(
            {"max_characters": 50}, [(i * 10 + 0.5, i * 10 + 9.0) for i in range(5)], id="pairs"
        ),
        pytest.param(
            {"max_characters": 10}, [(i * 5 + 0.5, i * 5 + 4.0) for i in range(10)], id="singles"
        ),
        pytest.param({"window_seconds": 20.0}, [(0.5, 19.0), (20.5, 39.0), (40.5, 49.0)]),
        pytest.param(
            {"window_seconds": 20.0, "max_characters": 75},
            [(0.5, 14.0), (15.5, 19.0), (20.5, 34.0), (35.5, 39.0), (40.5, 49.0)],
            id="inside-windows",
        ),
    ],
)
def test_pieces_start_and_end_at_segment_boundaries(
    options: dict[str, Any], spans: list[tuple[float, float]]
) -> None:
    got = pieces(units(TEN), **options)
    assert [(p.metadata["start"], p.metadata["end"]) for p in got] == spans
    for p in got:
        assert p.metadata["citation"] == citation("talk.mp3", *spans[got.index(p)])
        single = p.text.count("words") == 3  # one segment, never cut
        assert single or len(p.text) <= options.get("max_characters", 1000)


def test_a_piece_never_spans_a_window_it_did_not_come_from() -> None:
    result = transcription(
        (0.5, 4.0, "speaker_1"),
        (5.0, 9.0, "speaker_1"),
        (10.0, 12.0, "speaker_2"),
        (13.0, 15.0, "speaker_2"),
        (16.0, 80.0, "speaker_2"),
        (81.0, 83.0, "speaker_2"),
    )
    windows = records(result, source="a.wav", window_seconds=30.0)
    got = pieces(units(result, "a.wav"), window_seconds=30.0, max_characters=50)
    for p in got:
        assert any(
            w.metadata["start"] <= p.metadata["start"] and p.metadata["end"] <= w.metadata["end"]
            for w in windows
        ), (p.metadata, [w.metadata for w in windows])
        assert p.metadata["speaker"] in ("speaker_1", "speaker_2")
    spans = [(p.metadata["speaker"], p.metadata["start"], p.metadata["end"]) for p in got]
    assert spans == [
        ("speaker_1", 0.5, 9.0),
        ("speaker_2", 10.0, 15.0),
        ("speaker_2", 16.0, 80.0),
        ("speaker_2", 81.0, 83.0),
    ]


def test_files_are_never_joined_and_each_keeps_its_metadata() -> None:
    short = transcription((0.5, 1.0, None))
    unit_list = units(short, "a.wav", topic="x") + units(short, "b.wav", topic="y")
    got = pieces(unit_list)
    assert [(p.metadata["source"], p.metadata["topic"]) for p in got] == [
        ("a.wav", "x"),
        ("b.wav", "y"),
    ]
    assert [p.metadata["citation"] for p in got] == ["a.wav#t=0.5,1", "b.wav#t=0.5,1"]


def test_a_gap_in_segment_indices_ends_a_piece() -> None:
    unit_list = units(TEN)
    got = pieces(unit_list[:3] + unit_list[5:])
    assert [(p.metadata["start"], p.metadata["end"]) for p in got] == [(0.5, 14.0), (25.5, 49.0)]


def test_window_documents_are_kept_whole() -> None:
    windows = [(r.text, r.metadata) for r in records(TEN, source="t.mp3", window_seconds=20.0)]
    got = pieces(windows, max_characters=10)
    assert [p.metadata for p in got] == [dict(m) for _, m in windows]


@pytest.mark.parametrize(
    ("max_characters", "window_seconds", "argument"),
    [
        (0, 60.0, "max_characters"),
        (True, 60.0, "max_characters"),
        (1.5, 60.0, "max_characters"),
        (100, 0, "window_seconds"),
        (100, float("nan"), "window_seconds"),
    ],
)
def test_bad_split_options_are_named(
    max_characters: Any, window_seconds: Any, argument: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_split_options(max_characters, window_seconds)
    assert raised.value.argument == argument


@given(
    gaps=st.lists(
        st.tuples(st.floats(0.0, 5.0), st.floats(0.1, 30.0), st.integers(0, 2)), max_size=40
    ),
    max_characters=st.integers(1, 200),
    window_seconds=st.floats(1.0, 120.0),
)
def test_pieces_keep_every_segment_once_with_its_own_bounds(
    gaps: list[tuple[float, float, int]], max_characters: int, window_seconds: float
) -> None:
    segments, clock = [], 0.0
    for pause, length, speaker in gaps:
        segments.append((clock + pause, clock + pause + length, f"speaker_{speaker}"))
        clock += pause + length
    unit_list = units(transcription(*segments))
    groups = piece_groups(unit_list, max_characters=max_characters, window_seconds=window_seconds)
    assert [i for group in groups for i in group] == list(range(len(unit_list)))
    for group in groups:
        record = piece(unit_list, group)
        first, last = unit_list[group[0]][1], unit_list[group[-1]][1]
        assert (record.metadata["start"], record.metadata["end"]) == (first["start"], last["end"])
        assert record.metadata["citation"] == citation("talk.mp3", first["start"], last["end"])
        assert len({unit_list[i][1]["speaker"] for i in group}) == 1
        assert len(group) == 1 or len(record.text) <= max_characters
        assert len(group) == 1 or last["end"] - first["start"] <= window_seconds
