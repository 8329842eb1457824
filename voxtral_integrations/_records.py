"""Pure: a transcription as framework-neutral records (text + flat metadata).

Both adapters map these records onto their own Document types, so LangChain and
LlamaIndex users get the same granularities, timestamps and metadata. Metadata
values are flat scalars only (vector stores reject nested values and ``None``);
a key whose value is unknown is left out rather than set to null. Times are
float seconds, absolute in the original recording; ``HH:MM:SS`` strings, SRT and
VTT are rendered here, at the edge, and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from ._constants import DEFAULT_GRANULARITY, DEFAULT_WINDOW_SECONDS
from ._exceptions import InvalidInputError
from ._models import Segment, Transcription
from ._redaction import redact_url

Granularity = Literal["file", "segment", "window"]
TranscriptFormat = Literal["text", "srt", "vtt"]
Scalar = str | int | float | bool

TIMING_KEYS = ("start", "end", "start_timestamp", "duration", "segment_index")
"""Metadata about time: kept for the LLM, left out of what gets embedded."""
PROVENANCE_KEYS = ("model",)
"""Metadata about how the text was made: kept for filtering, left out of what is
embedded and of what the LLM reads (a model id is no evidence for an answer)."""


@dataclass(frozen=True)
class Record:
    """One piece of a transcript: its text and flat metadata."""

    text: str
    metadata: dict[str, Scalar]


def check_record_options(
    granularity: object, window_seconds: object, transcript_format: object
) -> None:
    """Raise ``InvalidInputError`` naming the bad value, before any audio is sent."""
    if granularity not in get_args(Granularity):
        raise InvalidInputError(
            f"Unknown granularity {granularity!r}: use 'file' (one document per file), "
            "'segment' (one per timed segment) or 'window' (segments grouped up to "
            "`window_seconds`).",
            argument="granularity",
        )
    if (
        isinstance(window_seconds, bool)
        or not isinstance(window_seconds, (int, float))
        or not math.isfinite(window_seconds)
        or window_seconds <= 0
    ):
        raise InvalidInputError(
            f"`window_seconds`={window_seconds!r} must be a number of seconds > 0.",
            argument="window_seconds",
        )
    if transcript_format not in get_args(TranscriptFormat):
        raise InvalidInputError(
            f"Unknown transcript_format {transcript_format!r}: use 'text', 'srt' or 'vtt'.",
            argument="transcript_format",
        )
    if transcript_format != "text" and granularity != "file":
        raise InvalidInputError(
            f"transcript_format={transcript_format!r} renders a whole file; it needs "
            f"granularity='file', not {granularity!r}.",
            argument="transcript_format",
        )


def source_name(source: str) -> str:
    """What to store as ``source``: a path as given, a URL without query or credentials."""
    if "://" not in source:
        return source
    return redact_url(source).removesuffix("?<redacted>")


def records(
    transcription: Transcription,
    *,
    source: str,
    granularity: Granularity = DEFAULT_GRANULARITY,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    transcript_format: TranscriptFormat = "text",
) -> list[Record]:
    """The records of one file's transcription at ``granularity``."""
    common: dict[str, Scalar] = {"source": source_name(source), "model": transcription.model}
    if transcription.language:
        common["language"] = transcription.language
    duration = _duration(transcription)
    if duration is not None:
        common["duration"] = duration
    if granularity == "file":
        if transcript_format == "srt":
            text = srt(transcription)
        elif transcript_format == "vtt":
            text = vtt(transcription)
        else:
            text = transcription.text.strip()
        return [Record(text, {**common, **_span(0.0, duration)})]
    groups = (
        [[(i, s)] for i, s in enumerate(transcription.segments)]
        if granularity == "segment"
        else list(_windows(transcription.segments, window_seconds))
    )
    return [_group_record(group, common) for group in groups if _joined(group)]


def _group_record(group: list[tuple[int, Segment]], common: dict[str, Scalar]) -> Record:
    first = group[0][1]
    # Only the outer segments' bounds are the window's: an inner one would cut off words.
    metadata = {**common, "segment_index": group[0][0], **_span(first.start, group[-1][1].end)}
    if first.speaker_id:
        metadata["speaker"] = first.speaker_id
    return Record(_joined(group), metadata)


def _joined(group: list[tuple[int, Segment]]) -> str:
    return " ".join(text for _, segment in group if (text := segment.text.strip()))


def _span(start: float | None, end: float | None) -> dict[str, Scalar]:
    span: dict[str, Scalar] = {}
    if start is not None:
        span["start"] = round(start, 3)
        span["start_timestamp"] = clock(start)
    if end is not None:
        span["end"] = round(end, 3)
    return span


def _duration(transcription: Transcription) -> float | None:
    if transcription.chunks:
        return round(transcription.chunks[-1].end, 3)
    return None


def _windows(
    segments: Sequence[Segment], window_seconds: float
) -> Iterator[list[tuple[int, Segment]]]:
    """Consecutive segments up to ``window_seconds`` long, a new window at a speaker change.

    A segment is never split: one longer than the window is a window of its own.
    """
    window: list[tuple[int, Segment]] = []
    for index, segment in enumerate(segments):
        if window:
            start = next((s.start for _, s in window if s.start is not None), None)
            too_long = (
                start is not None
                and segment.end is not None
                and segment.end - start > window_seconds
            )
            if too_long or segment.speaker_id != window[0][1].speaker_id:
                yield window
                window = []
        window.append((index, segment))
    if window:
        yield window


def clock(seconds: float) -> str:
    """``HH:MM:SS`` (hours keep counting past 24)."""
    whole = int(round(max(seconds, 0.0), 3))  # the same millisecond as ``start``
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _precise(seconds: float, separator: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{separator}{rest % 1000:03d}"


def _cues(transcription: Transcription) -> Iterator[tuple[str, str, str]]:
    for segment in transcription.segments:
        if segment.start is None or segment.end is None or not segment.text.strip():
            continue
        speaker = f"{segment.speaker_id}: " if segment.speaker_id else ""
        yield (
            _precise(segment.start, ","),
            _precise(segment.end, ","),
            speaker + segment.text.strip(),
        )


def srt(transcription: Transcription) -> str:
    """SubRip subtitles of the timed segments (segments without times are left out)."""
    return "\n".join(
        f"{number}\n{start} --> {end}\n{text}\n"
        for number, (start, end, text) in enumerate(_cues(transcription), start=1)
    )


def vtt(transcription: Transcription) -> str:
    """WebVTT subtitles of the timed segments."""
    cues = (
        f"{start.replace(',', '.')} --> {end.replace(',', '.')}\n{text}\n"
        for start, end, text in _cues(transcription)
    )
    return "WEBVTT\n\n" + "\n".join(cues)


def timestamped_text(transcription: Transcription) -> str:
    """The transcript as lines ``[HH:MM:SS] text`` (for agents), or the plain text.

    A segment the server gave no start keeps its line, without a time.
    """
    lines = [
        (f"[{clock(segment.start)}] " if segment.start is not None else "")
        + (f"{segment.speaker_id}: " if segment.speaker_id else "")
        + segment.text.strip()
        for segment in transcription.segments
        if segment.text.strip()
    ]
    return "\n".join(lines) if lines else transcription.text.strip()
