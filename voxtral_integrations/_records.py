"""Pure: a transcription as framework-neutral records (text + flat metadata).

Both adapters map these records onto their own Document types, so LangChain and
LlamaIndex users get the same granularities, timestamps and metadata. Metadata
values are flat scalars only (vector stores reject nested values and ``None``);
a key whose value is unknown is left out rather than set to null. Times are
float seconds, absolute in the original recording; ``HH:MM:SS`` strings, SRT and
VTT are rendered here, at the edge, and nowhere else.

Every timed record carries ``citation``, a W3C Media Fragments link
``<source>#t=<start>,<end>`` a RAG answer can show as a clickable citation; the
source is the one ``source_name`` shows, so a signed URL's token never appears.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from ._constants import DEFAULT_GRANULARITY, DEFAULT_WINDOW_SECONDS
from ._exceptions import InvalidInputError
from ._models import Segment, Transcription, speaker_link
from ._realtime_events import UtteranceEvent
from ._redaction import redact_url

Granularity = Literal["file", "segment", "window"]
TranscriptFormat = Literal["text", "srt", "vtt"]
Scalar = str | int | float | bool

TIMING_KEYS = (
    "start",
    "end",
    "start_timestamp",
    "duration",
    "segment_index",
    "utterance_index",
    "citation",
)
"""Metadata about time: kept for the LLM, left out of what gets embedded."""
PROVENANCE_KEYS = ("model", "speaker_local", "chunk_index", "speaker_confidence")
"""Metadata about how the text was made: kept for filtering and audit, left out of
what is embedded and of what the LLM reads (a model id, or how a speaker label was
linked across chunks, is no evidence for an answer; ``speaker`` is)."""


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
    _check_window_seconds(window_seconds)
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


def check_split_options(max_characters: object, window_seconds: object) -> None:
    """Raise ``InvalidInputError`` naming a bad splitter option."""
    if (
        isinstance(max_characters, bool)
        or not isinstance(max_characters, int)
        or max_characters < 1
    ):
        raise InvalidInputError(
            f"`max_characters`={max_characters!r} must be a whole number of characters >= 1.",
            argument="max_characters",
        )
    _check_window_seconds(window_seconds)


def _check_window_seconds(window_seconds: object) -> None:
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
        return [Record(text, {**common, **_span(str(common["source"]), 0.0, duration)})]
    segments = transcription.segments
    groups = (
        [[index] for index in range(len(segments))]
        if granularity == "segment"
        else list(_windows([_timing(s) for s in segments], window_seconds))
    )
    return [_group_record(group, segments, common) for group in groups if _joined(group, segments)]


def utterance_record(utterance: UtteranceEvent, *, source: str, model: str) -> Record:
    """One finalised realtime turn as a record, with the file records' flat metadata.

    ``source`` and ``model`` as a file's records have them, ``utterance_index`` (from
    0 over the whole stream, across reconnections) where a segment has its index, the
    turn's absolute ``start``/``end`` with ``start_timestamp`` and ``citation``, and
    ``speaker`` and ``language`` when the server said them.
    """
    metadata: dict[str, Scalar] = {"source": source_name(source), "model": model}
    if utterance.language:
        metadata["language"] = utterance.language
    metadata["utterance_index"] = utterance.index
    metadata.update(_span(str(metadata["source"]), utterance.start, utterance.end))
    if utterance.speaker_id:
        metadata["speaker"] = utterance.speaker_id
    return Record(utterance.text.strip(), metadata)


def timestamped_lines(pieces: Iterable[Record]) -> str:
    """Records as lines ``[HH:MM:SS] speaker: text`` (for agents), as
    :func:`timestamped_text` renders a transcription's segments."""
    return "\n".join(
        (f"[{record.metadata['start_timestamp']}] " if "start_timestamp" in record.metadata else "")
        + (f"{record.metadata['speaker']}: " if "speaker" in record.metadata else "")
        + record.text
        for record in pieces
        if record.text
    )


def _timing(segment: Segment) -> tuple[float | None, float | None, str | None]:
    return segment.start, segment.end, _who(segment.speaker_id, segment.chunk_index)


def _who(speaker: object, chunk_index: object) -> str | None:
    """Whose a span is, for the window rule: its speaker, and (for a speaker linked
    across chunks) its chunk, so a window's audit fields are true of all of it."""
    if speaker is None:
        return None
    return f"{speaker}@{chunk_index}" if isinstance(chunk_index, int) else str(speaker)


def _speaker_fields(segment: Segment) -> dict[str, Scalar]:
    """``speaker`` and, for diarized audio sent in chunks, how it was linked."""
    fields: dict[str, Scalar] = {}
    if segment.speaker_id:
        fields["speaker"] = segment.speaker_id
    return {**fields, **speaker_link(segment)}


def _group_record(
    group: list[int], segments: Sequence[Segment], common: dict[str, Scalar]
) -> Record:
    first, last = segments[group[0]], segments[group[-1]]
    # Only the outer segments' bounds are the window's: an inner one would cut off words.
    span = _span(str(common["source"]), first.start, last.end)
    metadata = {**common, "segment_index": group[0], **span, **_speaker_fields(first)}
    return Record(_joined(group, segments), metadata)


def _joined(group: list[int], segments: Sequence[Segment]) -> str:
    return " ".join(text for index in group if (text := segments[index].text.strip()))


_SPAN_KEYS = ("start", "start_timestamp", "citation", "end")
"""What ``_span`` sets: a piece's own, never inherited from its first unit."""


def _span(source: str, start: float | None, end: float | None) -> dict[str, Scalar]:
    span: dict[str, Scalar] = {}
    if start is not None:
        span["start"] = round(start, 3)
        span["start_timestamp"] = clock(start)
        span["citation"] = citation(source, start, end)
    if end is not None:
        span["end"] = round(end, 3)
    return span


def citation(source: str, start: float, end: float | None) -> str:
    """``source#t=start,end`` (W3C Media Fragments, seconds to the millisecond).

    ``source`` is a stored ``source`` (``source_name``: a URL without its query). A
    ``#`` in a file name is escaped, or it would end the name early.
    """
    where = source if "://" in source else source.replace("#", "%23")
    times = _seconds(start) + ("" if end is None else "," + _seconds(end))
    return f"{where}#t={times}"


def _seconds(seconds: float) -> str:
    return f"{max(seconds, 0.0):.3f}".rstrip("0").rstrip(".")


Unit = tuple[str, Mapping[str, Scalar]]
"""What the splitters pack: one Document's text and metadata (normally one segment's)."""


def piece_groups(
    units: Sequence[Unit], *, max_characters: int, window_seconds: float
) -> list[list[int]]:
    """Consecutive transcript units packed into pieces at their seams: each piece's
    unit indices (make its record with :func:`piece`).

    The splitters' core. A unit (normally one segment's Document) is never cut, so
    a piece's ``start``/``end``/``citation`` are exactly its first unit's start and
    its last unit's end, never a window's. Units are first grouped by the window
    rule (the same source and speaker, contiguous ``segment_index``, at most
    ``window_seconds``), so a piece never spans two windows, then each window is
    packed greedily up to ``max_characters`` (a unit longer than that is a piece of
    its own). Units without text are left out.
    """
    pieces: list[list[int]] = []
    for run in _runs(units):
        timings = [_unit_timing(units[index][1]) for index in run]
        for window in _windows(timings, window_seconds):
            group: list[int] = []
            length = 0  # of the group's text: its units' texts joined by single spaces
            for index in (run[position] for position in window):
                text = units[index][0].strip()
                if group and length + 1 + len(text) > max_characters:
                    pieces.append(group)
                    group, length = [], 0
                if text:
                    length += len(text) + (1 if group else 0)
                    group.append(index)
            if group:
                pieces.append(group)
    return pieces


def _runs(units: Sequence[Unit]) -> Iterator[list[int]]:
    """Indices of units that follow each other: one source, consecutive segment indices."""
    run: list[int] = []
    for index, (_, metadata) in enumerate(units):
        if run:
            previous = units[run[-1]][1]
            before, after = previous.get("segment_index"), metadata.get("segment_index")
            # a window's index is its first segment's: windows are runs of their own
            follows = not (isinstance(before, int) and isinstance(after, int)) or (
                after == before + 1
            )
            if previous.get("source") != metadata.get("source") or not follows:
                yield run
                run = []
        run.append(index)
    if run:
        yield run


def _unit_timing(metadata: Mapping[str, Scalar]) -> tuple[float | None, float | None, str | None]:
    start, end = metadata.get("start"), metadata.get("end")
    return (
        float(start) if isinstance(start, (int, float)) else None,
        float(end) if isinstance(end, (int, float)) else None,
        _who(metadata.get("speaker"), metadata.get("chunk_index")),
    )


def _piece_text(units: Sequence[Unit], group: list[int]) -> str:
    return " ".join(units[index][0].strip() for index in group)


def piece(units: Sequence[Unit], group: list[int]) -> Record:
    """The record of one piece: its text, its own span and ``citation``, and its first
    unit's other metadata (``source``, ``speaker``, ``segment_index``, the caller's)."""
    timings = [_unit_timing(units[index][1]) for index in group]
    start = next((start for start, _, _ in timings if start is not None), None)
    end = next((end for _, end, _ in reversed(timings) if end is not None), None)
    first = units[group[0]][1]
    metadata = {key: value for key, value in first.items() if key not in _SPAN_KEYS}
    metadata.update(_span(str(first.get("source", "")), start, end))
    return Record(_piece_text(units, group), metadata)


def _duration(transcription: Transcription) -> float | None:
    if transcription.chunks:
        return round(transcription.chunks[-1].end, 3)
    return None


def _windows(
    timings: Sequence[tuple[float | None, float | None, str | None]], window_seconds: float
) -> Iterator[list[int]]:
    """Indices of consecutive (start, end, speaker) spans up to ``window_seconds`` long,
    a new window at a speaker change (and, for speakers linked across chunks, at a
    chunk change: ``_who``).

    A span is never split: one longer than the window is a window of its own.
    """
    window: list[int] = []
    for index, (_, end, speaker) in enumerate(timings):
        if window:
            start = next((timings[i][0] for i in window if timings[i][0] is not None), None)
            too_long = start is not None and end is not None and end - start > window_seconds
            if too_long or speaker != timings[window[0]][2]:
                yield window
                window = []
        window.append(index)
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
