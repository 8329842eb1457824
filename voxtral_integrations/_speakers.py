"""Who spoke: each chunk's speaker labels linked to the speakers of the whole recording.

A diarizer names speakers per request, in order of first appearance, so
``speaker_1`` of one chunk and ``speaker_1`` of the next may be two people.
Neighbouring diarized chunks share an overlap (``_chunking.iter_chunks``), heard by both
requests. Inside it the two labellings of the same speech are compared, and each
later label is linked to at most one earlier speaker (a one-to-one assignment, as
pyannote constrains local speakers to clusters and DOVER-Lap maps labellings):

- **evidence**, for an earlier speaker ``a`` and a later label ``b``: the seconds in
  which both transcripts place ``a`` and ``b`` speaking, and the words the two
  transcripts share when aligned (the overlap is transcribed twice, so the text is
  a second, independent signal, which still agrees when the two requests place
  the same words a little differently in time);
- **assignment**: the one-to-one pairing with the most evidence in seconds
  (:func:`best_assignment`, the Hungarian method);
- **thresholds**: a pair is linked only if each is heard mostly with the other
  (``confidence``, the share of their evidence that ties them to each other rather
  than to someone else, above :data:`MIN_LINK_CONFIDENCE`) and they share at least
  :data:`MIN_LINK_SECONDS` of speech or :data:`MIN_LINK_WORDS` words. Any other
  label starts a new speaker with confidence 0.0.

So a label never names two people unless the server's own label did: two later
labels never join one earlier speaker, and a doubtful match becomes a new label
rather than a merge. The price of doubt is one person under two labels, which the
audit fields show (``speaker_local``, ``chunk_index``, ``speaker_confidence``).
Someone silent throughout an overlap cannot be linked across it and gets a new
label. Pure: no I/O, float seconds in the original recording.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from ._models import Chunk, Segment

logger = logging.getLogger("voxtral_integrations")

MIN_LINK_CONFIDENCE = 0.5
"""The share of a pair's evidence that must tie the two to each other, to be exceeded:
at half, a later label is heard as much with another earlier speaker (the request
may have heard two people as one), and linking it could make one label name two."""
MIN_LINK_SECONDS = 1.0
MIN_LINK_WORDS = 3
"""The least shared evidence for a link: a second of speech together, or three words
both transcripts give the pair; a cough or one "yes" names nobody."""

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SpeakerLink:
    """What a chunk's own label was linked to: a speaker of the whole recording.

    ``confidence`` is 1.0 in the first chunk (nothing to link), the agreement of the
    two transcripts for a link across a cut, and 0.0 for a label that could not be
    linked and so names a new speaker (possibly a person heard before the cut).
    """

    speaker: str
    confidence: float


def link_speakers(
    chunks: Sequence[Chunk], segments: Sequence[Sequence[Segment]]
) -> list[dict[str, SpeakerLink]]:
    """For each chunk, its labels' links. ``segments[i]`` is all of chunk ``i``'s
    segments in absolute time, with the labels its request gave (overlap included)."""
    linker = SpeakerLinker()
    links = [linker.link(chunk, heard) for chunk, heard in zip(chunks, segments, strict=True)]
    if linker.unlinked:
        logger.warning(
            "%d speaker label(s) could not be linked across a cut between chunks and name new "
            "speakers (speaker_confidence 0.0); each may be a person heard before the cut.",
            linker.unlinked,
        )
    return links


class SpeakerLinker:
    """Links the labels of chunk after chunk, as their segments come.

    :meth:`link` is called with a chunk's segments so far, as often as more arrive
    (a stream knows a chunk's labels once its segments pass the overlap). The first
    call of a chunk links the labels heard in the overlap; a label heard later in
    the chunk, or in a chunk with no overlap, names a new speaker.
    """

    def __init__(self) -> None:
        self.unlinked = 0
        """Labels that named new speakers after the first chunk."""
        self._taken: list[str] = []
        self._before: tuple[Chunk, list[Segment]] | None = None
        self._chunk: Chunk | None = None
        self._segments: list[Segment] = []
        self._links: dict[str, SpeakerLink] = {}

    def link(self, chunk: Chunk, segments: Sequence[Segment]) -> dict[str, SpeakerLink]:
        """``chunk``'s links, for the labels of ``segments`` (absolute times)."""
        matched: dict[str, SpeakerLink] = {}
        if self._chunk is None or chunk.index != self._chunk.index:
            if self._chunk is not None:
                self._before = (self._chunk, _relabelled(self._segments, self._links))
            self._chunk, self._links = chunk, {}
            if self._before is not None:
                before_chunk, before = self._before
                matched = _match(before, segments, (chunk.start, before_chunk.end))
        self._segments = list(segments)
        for label in _labels(segments):
            if label in self._links:
                continue
            if self._before is None:  # the first chunk names the first speakers
                link = SpeakerLink(label, 1.0)
            elif label in matched:
                link = matched[label]
            else:
                link = SpeakerLink(_new_label(self._taken), 0.0)
                self.unlinked += 1
            self._links[label] = link
            self._taken.append(link.speaker)
        return dict(self._links)


def _relabelled(segments: Sequence[Segment], links: Mapping[str, SpeakerLink]) -> list[Segment]:
    return [
        segment.model_copy(update={"speaker_id": links[segment.speaker_id].speaker})
        for segment in segments
        if segment.speaker_id is not None
    ]


def _labels(segments: Sequence[Segment]) -> list[str]:
    """A chunk's speaker labels, in order of first appearance."""
    return list(dict.fromkeys(s.speaker_id for s in segments if s.speaker_id is not None))


def _new_label(taken: Sequence[str]) -> str:
    """The next label in the server's own style: after ``speaker_3``, ``speaker_4``."""
    numbered = [m for label in taken if (m := re.fullmatch(r"(.*?)(\d+)", label))]
    prefix = numbered[0].group(1) if numbered else "speaker_"
    number = max((int(m.group(2)) for m in numbered if m.group(1) == prefix), default=0) + 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"


@dataclass(frozen=True)
class _Said:
    """A labelled, timed segment, clipped to the overlap."""

    speaker: str
    start: float
    end: float
    words: list[str]
    length: float
    """Seconds per word: a segment's words are spread evenly over its whole time."""


def _said(segments: Sequence[Segment], low: float, high: float) -> list[_Said]:
    said = []
    for segment in segments:
        bounds = _bounds(segment)
        if (
            segment.speaker_id is None
            or bounds is None
            or not (bounds[0] < high and bounds[1] > low)
        ):
            continue
        words = _WORD.findall(segment.text.lower())
        length = (bounds[1] - bounds[0]) / max(len(words), 1)
        inside = [
            word
            for position, word in enumerate(words)
            if low <= bounds[0] + (position + 0.5) * length < high
        ]
        said.append(
            _Said(segment.speaker_id, max(bounds[0], low), min(bounds[1], high), inside, length)
        )
    return said


def _match(
    earlier: Sequence[Segment], later: Sequence[Segment], overlap: tuple[float, float]
) -> dict[str, SpeakerLink]:
    """The later chunk's labels linked to earlier speakers across one ``overlap``."""
    low, high = overlap
    before, after = _said(earlier, low, high), _said(later, low, high)
    rows = list(dict.fromkeys(s.speaker for s in before))
    columns = list(dict.fromkeys(s.speaker for s in after))
    together = {(a, b): 0.0 for a in rows for b in columns}
    for first in before:
        for second in after:
            shared = min(first.end, second.end) - max(first.start, second.start)
            together[first.speaker, second.speaker] += max(shared, 0.0)
    words_before = [(word, s.speaker) for s in before for word in s.words]
    words_after = [(word, s) for s in after for word in s.words]
    agreed = {(a, b): 0 for a in rows for b in columns}
    matched_seconds = {(a, b): 0.0 for a in rows for b in columns}
    matcher = SequenceMatcher(
        None, [w for w, _ in words_before], [w for w, _ in words_after], autojunk=False
    )
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            a, heard = words_before[block.a + offset][1], words_after[block.b + offset][1]
            agreed[a, heard.speaker] += 1
            matched_seconds[a, heard.speaker] += heard.length
    evidence = [[together[a, b] + matched_seconds[a, b] for b in columns] for a in rows]
    links: dict[str, SpeakerLink] = {}
    for row, column in best_assignment(evidence):
        a, b = rows[row], columns[column]
        shares = [share for signal in (together, agreed) if (share := _exclusive(signal, a, b))]
        confidence = sum(shares) / len(shares) if shares else 0.0
        supported = together[a, b] >= MIN_LINK_SECONDS or agreed[a, b] >= MIN_LINK_WORDS
        if supported and confidence > MIN_LINK_CONFIDENCE:
            links[b] = SpeakerLink(a, round(confidence, 3))
    return links


def _exclusive(signal: Mapping[tuple[str, str], float], a: str, b: str) -> float | None:
    """How much of what ``signal`` ties to ``a`` or to ``b`` ties them to each other:
    1.0 when each is heard only with the other, 0.5 when ``b`` is heard as much with
    another earlier speaker; ``None`` when the signal has nothing on the pair."""
    with_b = sum(value for (_, later), value in signal.items() if later == b)
    with_a = sum(value for (earlier, _), value in signal.items() if earlier == a)
    if not with_a or not with_b:
        return None
    return signal[a, b] / max(with_a, with_b)


def _bounds(segment: Segment) -> tuple[float, float] | None:
    if segment.start is None or segment.end is None:
        return None
    if not (math.isfinite(segment.start) and math.isfinite(segment.end)):
        return None
    return segment.start, max(segment.start, segment.end)


def best_assignment(weights: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """The one-to-one (row, column) pairs with the largest total weight.

    The Hungarian method with shortest augmenting paths (Kuhn-Munkres, as in
    ``scipy.optimize.linear_sum_assignment``), exact in O(n²m) for n rows and m
    columns, so a few dozen speakers cost nothing and scipy is not a dependency.
    Every row of the smaller side is paired; pairs of weight zero are left out.
    """
    if not weights or not weights[0]:
        return []
    flipped = len(weights) > len(weights[0])
    grid = (
        [list(column) for column in zip(*weights, strict=True)]
        if flipped
        else [list(row) for row in weights]
    )
    rows, columns = len(grid), len(grid[0])
    top = max(max(row) for row in grid)
    cost = [[top - value for value in row] for row in grid]  # the largest weight costs least
    row_potential = [0.0] * (rows + 1)
    column_potential = [0.0] * (columns + 1)
    owner = [0] * (columns + 1)  # the row (1-based) paired with each column; 0 for none
    for row in range(1, rows + 1):
        owner[0] = row
        column = 0
        slack = [math.inf] * (columns + 1)
        came_from = [0] * (columns + 1)
        visited = [False] * (columns + 1)
        while owner[column]:
            visited[column] = True
            current, step, nearest = owner[column], math.inf, 0
            for candidate in range(1, columns + 1):
                if visited[candidate]:
                    continue
                reduced = (
                    cost[current - 1][candidate - 1]
                    - row_potential[current]
                    - column_potential[candidate]
                )
                if reduced < slack[candidate]:
                    slack[candidate], came_from[candidate] = reduced, column
                if slack[candidate] < step:
                    step, nearest = slack[candidate], candidate
            for candidate in range(columns + 1):
                if visited[candidate]:
                    row_potential[owner[candidate]] += step
                    column_potential[candidate] -= step
                else:
                    slack[candidate] -= step
            column = nearest
        while column:
            previous = came_from[column]
            owner[column] = owner[previous]
            column = previous
    pairs = [(owner[column] - 1, column - 1) for column in range(1, columns + 1) if owner[column]]
    if flipped:
        pairs = [(row, column) for column, row in pairs]
    return sorted(pair for pair in pairs if weights[pair[0]][pair[1]] > 0)
