"""Records: rendering at the edges of time, windows with null bounds."""

from __future__ import annotations

import pytest

from voxtral_integrations import Transcription
from voxtral_integrations._records import clock, records, srt


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
    assert windowed[0].metadata["start"] == 0.0 and windowed[0].metadata["end"] == 59.0
    assert all(r.metadata["end"] - r.metadata["start"] <= 60 for r in windowed)
