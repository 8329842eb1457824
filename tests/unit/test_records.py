"""Records: rendering at the edges of time, windows with null bounds."""

from __future__ import annotations

import pytest

from voxtral_integrations import Transcription
from voxtral_integrations._realtime_events import UtteranceEvent
from voxtral_integrations._records import (
    clock,
    records,
    srt,
    timestamped_lines,
    timestamped_text,
    utterance_record,
)


def transcription(*segments: tuple[float | None, float | None]) -> Transcription:
    return Transcription.model_validate(
        {
            "text": "",
            "model": "m",
            "segments": [
                {"text": f"s{i}", "start": start, "end": end}
                for i, (start, end) in enumerate(segments)
            ],
        }
    )


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(0.0, "00:00:00", id="zero"),
        pytest.param(59.9994, "00:00:59", id="below-a-minute"),
        pytest.param(3599.9996, "01:00:00", id="rounds-like-start"),
        pytest.param(90061.0, "25:01:01", id="past-a-day"),
        pytest.param(-3.0, "00:00:00", id="negative"),
    ],
)
def test_clock(seconds: float, expected: str) -> None:
    assert clock(seconds) == expected


def test_the_timestamp_agrees_with_start_and_the_subtitles() -> None:
    result = transcription((3599.9996, 3601.0))
    (record,) = records(result, source="a.mp3")
    assert record.metadata["start"] == 3600.0 and record.metadata["start_timestamp"] == "01:00:00"
    assert srt(result).splitlines()[1].startswith("01:00:00,000")


def test_windows_measure_from_the_first_known_start() -> None:
    segments = [(None, None)] + [(10.0 * i, 10.0 * i + 9) for i in range(30)]
    windowed = records(
        transcription(*segments), source="a.mp3", granularity="window", window_seconds=60
    )
    assert len(windowed) == 5
    # The window opens with words of unknown time: it claims no start (0.0 would be a guess).
    assert "start" not in windowed[0].metadata and windowed[0].metadata["end"] == 59.0
    assert all(r.metadata["end"] - r.metadata["start"] <= 60 for r in windowed[1:])


@pytest.mark.parametrize(
    ("segments", "start", "end"),
    [
        pytest.param([(None, None), (6.0, 7.0)], None, 7.0, id="opens-unknown"),
        pytest.param([(1.0, 2.0), (None, None)], 1.0, None, id="closes-unknown"),
        pytest.param([(1.0, 2.0), (None, None), (3.0, 4.0)], 1.0, 4.0, id="unknown-inside"),
    ],
)
def test_a_window_takes_its_outer_segments_bounds(
    segments: list[tuple[float | None, float | None]], start: float | None, end: float | None
) -> None:
    (window,) = records(transcription(*segments), source="a.mp3", granularity="window")
    assert window.metadata.get("start") == start and window.metadata.get("end") == end
    assert window.text == " ".join(f"s{i}" for i in range(len(segments)))


def test_timestamped_text_keeps_words_of_unknown_time() -> None:
    text = timestamped_text(transcription((1.0, 2.0), (None, None), (3.0, 4.0)))
    assert text.splitlines() == ["[00:00:01] s0", "s1", "[00:00:03] s2"]


def linked(*segments: tuple[float, float, str, str, int, float]) -> Transcription:
    return Transcription.model_validate(
        {
            "text": "",
            "model": "m",
            "segments": [
                {
                    "text": f"s{i}",
                    "start": start,
                    "end": end,
                    "speaker_id": speaker,
                    "speaker_local": local,
                    "chunk_index": chunk,
                    "speaker_confidence": confidence,
                }
                for i, (start, end, speaker, local, chunk, confidence) in enumerate(segments)
            ],
        }
    )


def test_a_window_of_a_speaker_linked_across_a_cut_ends_at_the_cut() -> None:
    """One speaker talks across the cut: two windows, each true of its audit fields."""
    result = linked(
        (0.0, 4.0, "speaker_2", "speaker_2", 0, 1.0),
        (5.0, 9.0, "speaker_2", "speaker_1", 1, 0.92),
        (10.0, 14.0, "speaker_2", "speaker_1", 1, 0.92),
    )
    windows = records(result, source="a.wav", granularity="window")
    assert [record.text for record in windows] == ["s0", "s1 s2"]
    assert [
        {
            key: record.metadata[key]
            for key in ("speaker", "speaker_local", "chunk_index", "speaker_confidence")
        }
        for record in windows
    ] == [
        {
            "speaker": "speaker_2",
            "speaker_local": "speaker_2",
            "chunk_index": 0,
            "speaker_confidence": 1.0,
        },
        {
            "speaker": "speaker_2",
            "speaker_local": "speaker_1",
            "chunk_index": 1,
            "speaker_confidence": 0.92,
        },
    ]


def test_an_unlinked_result_has_no_audit_fields() -> None:
    (record,) = records(transcription((0.0, 1.0)), source="a.wav", granularity="segment")
    assert not {"speaker_local", "chunk_index", "speaker_confidence"} & set(record.metadata)


def test_an_utterance_record_has_the_file_records_flat_metadata() -> None:
    said = UtteranceEvent(index=4, text=" over to you ", start=3661.25, end=3663.5)
    plain = utterance_record(said, source="https://host/live?token=secret", model="m")
    assert plain.text == "over to you"
    assert plain.metadata == {
        "source": "https://host/live",
        "model": "m",
        "utterance_index": 4,
        "start": 3661.25,
        "start_timestamp": "01:01:01",
        "citation": "https://host/live#t=3661.25,3663.5",
        "end": 3663.5,
    }
    labelled = said.model_copy(update={"speaker_id": "speaker_2", "language": "fr"})
    record = utterance_record(labelled, source="call #1.wav", model="m")
    assert (record.metadata["speaker"], record.metadata["language"]) == ("speaker_2", "fr")
    assert record.metadata["citation"] == "call %231.wav#t=3661.25,3663.5"
    assert timestamped_lines([plain, record]) == (
        "[01:01:01] over to you\n[01:01:01] speaker_2: over to you"
    )
