"""Pure arithmetic of long audio: where to cut, and how to put the pieces back.

No I/O and no codecs here. Times are float seconds in the original recording.

Cutting: each cut goes at the quietest stretch of a search window that ends at
the chunk-length limit, so a chunk never ends inside speech when the window holds
a pause. Stitching: a chunk's offset is added to its segments in exactly one
place (:func:`shift`), and a segment belongs to the chunk that holds its midpoint,
so no segment is duplicated or lost at a cut, even if chunks overlap (speech heard
by two overlapping requests is judged by the midpoint both agree on).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import pairwise
from statistics import median

from ._models import Chunk, Segment, Transcription, Usage, shared_seconds
from ._speakers import SpeakerLink, link_speakers

LEVEL_HOP_SECONDS = 0.01
"""The loudness profile has one level per 10 ms."""
PAUSE_SMOOTHING_SECONDS = 0.3
"""Levels are averaged over 300 ms, the shortest pause worth cutting in."""
_EPSILON = 1e-9
"""A nanosecond: below any audio resolution, above float rounding of seconds."""


def rms_levels(samples: Sequence[float], hop: int, scale: float = 1.0) -> list[float]:
    """RMS of each ``hop`` samples (the last hop may be shorter), divided by ``scale``.

    ``math.hypot`` of a slice is its root sum of squares in C: twice as fast as a
    generator of squares, which matters at a hundred realtime sessions in one process.
    """
    levels = []
    for start in range(0, len(samples), hop):
        piece = samples[start : start + hop]
        levels.append(math.hypot(*piece) / math.sqrt(len(piece)) / scale)
    return levels


def quietest_point(levels: Sequence[float], *, hop: float = LEVEL_HOP_SECONDS) -> float:
    """Seconds from the window's start to the middle of its quietest stretch.

    ``levels`` is a loudness profile (RMS per ``hop``). The profile is smoothed over
    :data:`PAUSE_SMOOTHING_SECONDS`; among the frames near the minimum (within a tenth
    of the way from the minimum to the median) the longest run wins, the later one on
    a tie so chunks stay long, and the cut goes in its middle.
    """
    if not levels:
        return 0.0
    width = max(1, round(PAUSE_SMOOTHING_SECONDS / hop))
    smoothed = _moving_average(levels, width)
    floor, peak = min(smoothed), max(smoothed)
    # a tenth of the way from the floor to typical speech; when pauses fill most of
    # the window (median at the floor), a hundredth of the way to the loudest frame
    threshold = floor + 0.1 * max(median(smoothed) - floor, 0.1 * (peak - floor))
    best_start, best_length, run_start = 0, 0, None
    for index, level in enumerate([*smoothed, float("inf")]):
        if level <= threshold:
            run_start = index if run_start is None else run_start
            continue
        if run_start is not None and index - run_start >= best_length:
            best_start, best_length = run_start, index - run_start
        run_start = None
    return (best_start + best_length / 2) * hop


def _moving_average(values: Sequence[float], width: int) -> list[float]:
    """Centered moving average; windows are truncated at the edges."""
    prefix = [0.0]
    for value in values:
        prefix.append(prefix[-1] + value)
    half = width // 2
    count = len(values)
    return [
        (prefix[min(count, i + half + 1)] - prefix[max(0, i - half)])
        / (min(count, i + half + 1) - max(0, i - half))
        for i in range(count)
    ]


def iter_chunks(
    duration: float,
    max_chunk_seconds: float,
    find_cut: Callable[[float, float], float],
    *,
    search_seconds: float,
    target_seconds: float | None = None,
    overlap_seconds: float = 0.0,
) -> Iterator[Chunk]:
    """Split ``[0, duration]`` into chunks of at most ``max_chunk_seconds``, each
    handed out as soon as its end is cut, so its request can go out while the next
    cut is searched: a cut depends only on the one before it (and the duration).

    ``find_cut(lo, hi)`` returns the time to cut at within ``[lo, hi]`` (the
    quietest point there); windows are ``search_seconds`` long, never more than
    half a chunk. Without ``target_seconds`` each window ends at the limit, so
    chunks are as long as allowed. With it (shorter chunks, for concurrency) the
    recording is shared out evenly: as many chunks as the target needs, each
    window centred on an equal share of what remains, never past the limit, so
    no chunk is left much shorter than the others.

    With ``overlap_seconds`` neighbours share that much audio (at most a quarter
    of a chunk), centred on their cut, so speakers can be linked across it
    (:mod:`._speakers`). The cuts are planned for chunks that much shorter, so a
    widened chunk still fits the limit, and each cut stays in its pause: it is the
    border of the two chunks' territories (:func:`territories`).
    """
    if fits_one_request(duration, max_chunk_seconds, target_seconds):
        yield Chunk(index=0, start=0.0, end=duration)
        return
    overlap_seconds = min(overlap_seconds, min(target_seconds or math.inf, max_chunk_seconds) / 4)
    if not overlap_seconds:
        yield from _planned(duration, max_chunk_seconds, find_cut, search_seconds, target_seconds)
        return
    narrower = _planned(
        duration,
        max_chunk_seconds - overlap_seconds,
        find_cut,
        search_seconds,
        target_seconds and target_seconds - overlap_seconds,
    )
    half = overlap_seconds / 2
    for chunk in narrower:
        yield Chunk(
            index=chunk.index,
            start=max(chunk.start - half, 0.0) if chunk.index else 0.0,
            end=min(chunk.end + half, duration) if chunk.end < duration else duration,
        )


def _planned(
    duration: float,
    max_chunk_seconds: float,
    find_cut: Callable[[float, float], float],
    search_seconds: float,
    target_seconds: float | None,
) -> Iterator[Chunk]:
    """:func:`iter_chunks` without overlap: chunks that meet at the cuts."""
    target = min(target_seconds or max_chunk_seconds, max_chunk_seconds)
    stretched = one_request_seconds(max_chunk_seconds, target_seconds)
    count = math.ceil(duration / stretched - _EPSILON) if target_seconds else 1
    if duration <= stretched + _EPSILON:
        yield Chunk(index=0, start=0.0, end=duration)
        return
    window = min(search_seconds, target / 2)
    index, start, planned = 0, 0.0, 1
    # the second test stops a limit that rounds onto the end from leaving an empty chunk
    while (duration - start > max_chunk_seconds and start + max_chunk_seconds < duration) or (
        planned < count
    ):
        limit = start + max_chunk_seconds
        high = limit
        if planned < count:
            share = (duration - start) / (count - planned + 1)
            high = min(start + share + window / 2, limit)
        low = max(high - window, (start + high) / 2)
        found = find_cut(low, high)
        cut = high if math.isnan(found) else min(max(found, low), high)
        yield Chunk(index=index, start=start, end=cut)
        index, start, planned = index + 1, cut, planned + 1
    yield Chunk(index=index, start=start, end=duration)


def fits_one_request(
    duration: float, max_chunk_seconds: float, target_seconds: float | None
) -> bool:
    """Whether a recording of ``duration`` goes whole, in one request (one chunk)."""
    return duration <= one_request_seconds(max_chunk_seconds, target_seconds) + _EPSILON


def one_request_seconds(max_chunk_seconds: float, target_seconds: float | None) -> float:
    """The longest audio sent whole: a target is approximate, and 5% over it (within
    the limit) beats one more, small, chunk."""
    if not target_seconds:
        return max_chunk_seconds
    return min(target_seconds * 1.05, max_chunk_seconds)


def shift(segment: Segment, offset: float) -> Segment:
    """``segment`` with its times moved by ``offset``: the one place offsets are applied."""
    return segment.model_copy(
        update={
            "start": None if segment.start is None else segment.start + offset,
            "end": None if segment.end is None else segment.end + offset,
        }
    )


def territories(chunks: Sequence[Chunk]) -> list[tuple[float, float]]:
    """The stretch of the recording each chunk speaks for, in order.

    Neighbours split at the middle of their overlap (at the cut when they only
    touch); the first reaches back and the last forward without limit, so nothing
    a chunk reports near the recording's ends is dropped.
    """
    borders = [(before.end + after.start) / 2 for before, after in pairwise(chunks)]
    return list(zip([-math.inf, *borders], [*borders, math.inf], strict=True))


def owns(segment: Segment, low: float, high: float, *, middle: float | None = None) -> bool:
    """Whether ``segment`` (absolute times) has its midpoint in ``[low, high)``.

    Both borders are moved down by a few units in the last place, so that the two
    chunks on either side of a border, which compute a segment's midpoint with
    different float rounding, still agree on who keeps it, without either border
    claiming any real stretch of time. A segment without usable bounds (null, or
    not finite) stays with the chunk that produced it. ``middle`` overrides the
    segment's own midpoint: the one both hearings of it agree on (:func:`agreed_midpoints`).
    """
    if middle is None:
        if segment.start is None or segment.end is None:
            return True
        middle = (segment.start + segment.end) / 2
    if not math.isfinite(middle):
        return True
    return _lowered(low) <= middle < _lowered(high)


def _lowered(border: float) -> float:
    return border - 4 * math.ulp(border) if math.isfinite(border) else border


def stitch(chunks: Sequence[Chunk], results: Sequence[Transcription]) -> Transcription:
    """One transcription of the whole recording from per-chunk transcriptions.

    ``results[i]`` holds chunk ``i``'s times relative to that chunk's start. The
    segments come out in order of their start (subtitles need it, and a long segment
    kept by a later chunk may start before one kept by the chunk before it); the
    texts are joined in chunk order.

    Speakers are numbered by each request, in order of first appearance, so
    ``speaker_1`` of one chunk and ``speaker_1`` of the next may be two people: a
    later chunk's labels are linked to the earlier speakers they overlap with
    (:func:`._speakers.link_speakers`), and each diarized segment keeps the label
    its request gave and how sure the link is (:func:`with_speaker`).
    """
    if len(chunks) == 1 and chunks[0].start == 0:  # nothing to move: keep every field
        return results[0].model_copy(update={"chunks": list(chunks)})
    heard = [
        [shift(segment, chunk.start) for segment in result.segments]
        for chunk, result in zip(chunks, results, strict=True)
    ]
    links = link_speakers(chunks, heard) if any(_diarized(s) for s in heard) else None
    overlapping = any(shared_seconds(before, after) for before, after in pairwise(chunks))
    middles = agreed_midpoints(chunks, heard)
    segments: list[Segment] = []
    texts: list[str] = []
    for position, (chunk, result, shifted, (low, high)) in enumerate(
        zip(chunks, results, heard, territories(chunks), strict=True)
    ):
        kept = [
            segment
            for index, segment in enumerate(shifted)
            if owns(segment, low, high, middle=middles[position].get(index))
        ]
        if links is not None:
            kept = [with_speaker(segment, chunk.index, links[position]) for segment in kept]
        segments.extend(kept)
        # an overlap is heard twice: its words are the segments kept, when there are any
        texts += [s.text for s in kept] if overlapping and result.segments else [result.text]
    languages = [result.language for result in results if result.language]
    return Transcription(
        text=" ".join(stripped for text in texts if (stripped := text.strip())),
        model=results[0].model if results else "",
        language=languages[0] if languages else None,
        segments=by_start(segments),
        usage=sum_usage(result.usage for result in results),
        chunks=list(chunks),
        replayed_usage=_replayed_usage(results),
    )


HEARD_TWICE_OVERLAP = 0.5
"""How much two segments of neighbouring chunks must share (of their union) to be one
stretch of speech heard by both requests."""


def agreed_midpoints(
    chunks: Sequence[Chunk], heard: Sequence[Sequence[Segment]]
) -> list[dict[int, float]]:
    """For each chunk, the midpoints to decide ownership by, where they differ from a
    segment's own: speech heard by two overlapping requests is timed by each a little
    differently, so near a border each could place its midpoint on its own side and
    keep it (or neither would). Both hearings get the mean of their two midpoints, so
    exactly one of them is kept. ``heard[i]`` is chunk ``i``'s segments, absolute."""
    middles: list[dict[int, float]] = [{} for _ in chunks]
    for position, (before, after) in enumerate(pairwise(chunks)):
        if not shared_seconds(before, after):
            continue
        pairs = heard_twice(heard[position], heard[position + 1], (after.start, before.end))
        for first, second in pairs:
            middle = (_middle(heard[position][first]) + _middle(heard[position + 1][second])) / 2
            middles[position][first] = middles[position + 1][second] = middle
    return middles


def heard_twice(
    before: Sequence[Segment], after: Sequence[Segment], overlap: tuple[float, float]
) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``: ``before[i]`` and ``after[j]`` are one stretch of speech in the
    ``overlap``, heard by both requests (most of their union shared: at least
    :data:`HEARD_TWICE_OVERLAP`), matched one to one, the closest first."""
    low, high = overlap

    def timed(segments: Sequence[Segment]) -> list[tuple[int, float, float]]:
        return [
            (index, segment.start, segment.end)
            for index, segment in enumerate(segments)
            if segment.start is not None
            and segment.end is not None
            and math.isfinite(segment.start + segment.end)
            and segment.start < high
            and segment.end > low
        ]

    candidates = []
    for i, a_start, a_end in timed(before):
        for j, b_start, b_end in timed(after):
            shared = min(a_end, b_end) - max(a_start, b_start)
            union = max(a_end, b_end) - min(a_start, b_start)
            if union > 0 and shared / union >= HEARD_TWICE_OVERLAP:
                candidates.append((shared / union, i, j))
    pairs, used_i, used_j = [], set(), set()
    for _, i, j in sorted(candidates, reverse=True):
        if i not in used_i and j not in used_j:
            pairs.append((i, j))
            used_i.add(i)
            used_j.add(j)
    return pairs


def _middle(segment: Segment) -> float:
    assert segment.start is not None and segment.end is not None
    return (segment.start + segment.end) / 2


def _diarized(segments: Sequence[Segment]) -> bool:
    return any(segment.speaker_id is not None for segment in segments)


def with_speaker(segment: Segment, chunk_index: int, links: Mapping[str, SpeakerLink]) -> Segment:
    """``segment`` under its recording-wide speaker, with the label its chunk's request
    gave (``speaker_local``), the chunk and the link's confidence, for audit."""
    if segment.speaker_id is None:
        return segment
    link = links[segment.speaker_id]
    return segment.model_copy(
        update={
            "speaker_id": link.speaker,
            "speaker_local": segment.speaker_id,
            "chunk_index": chunk_index,
            "speaker_confidence": link.confidence,
        }
    )


def _replayed_usage(results: Sequence[Transcription]) -> Usage | None:
    """What of the chunks' usage came from a resume cache, added up; ``None`` if none did."""
    replayed = [result.replayed_usage for result in results if result.replayed_usage]
    return sum_usage(replayed) if replayed else None


def by_start(segments: Sequence[Segment]) -> list[Segment]:
    """``segments`` sorted by start, stably; one without a usable start keeps its place
    after the segment before it."""
    keys: list[float] = []
    key = -math.inf
    for segment in segments:
        if segment.start is not None and math.isfinite(segment.start):
            key = segment.start
        keys.append(key)
    order = sorted(range(len(segments)), key=keys.__getitem__)
    return [segments[index] for index in order]


def sum_usage(usages: Iterable[Usage]) -> Usage:
    """Token and audio counts added up over chunks; a count no chunk reported stays unset."""
    usages = list(usages)
    seconds = [u.prompt_audio_seconds for u in usages if u.prompt_audio_seconds is not None]
    details = {
        key: sum(counts)
        for key, counts in (
            ("cached_tokens", [u.cached_tokens for u in usages if u.cached_tokens is not None]),
            ("audio_tokens", [u.audio_tokens for u in usages if u.audio_tokens is not None]),
        )
        if counts
    }
    return Usage(
        prompt_tokens=sum(u.prompt_tokens for u in usages),
        completion_tokens=sum(u.completion_tokens for u in usages),
        total_tokens=sum(u.total_tokens for u in usages),
        prompt_audio_seconds=sum(seconds, 0.0) if seconds else None,
        **({"prompt_tokens_details": details} if details else {}),
    )
