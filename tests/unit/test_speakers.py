"""Speakers linked across chunks (``_speakers``, through ``stitch``): pure, no audio.

A simulated diarizer answers each chunk as a real one does: the turns it hears,
clipped to the chunk, times relative to it, speakers numbered by first appearance
in that request, each word where it falls, boundaries jittered and some words
misheard differently in each request. The recording's true speakers are known, so
the tests check what the issue asks: no label ever names two people, a person who
speaks in an overlap keeps one label across it, and every turn is kept once.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from voxtral_integrations._chunking import iter_chunks, shift, stitch
from voxtral_integrations._long_stream import LongStream
from voxtral_integrations._models import (
    Chunk,
    DoneEvent,
    Segment,
    SegmentEvent,
    TextDeltaEvent,
    Transcription,
    TranscriptionStreamEvent,
    Usage,
)
from voxtral_integrations._speakers import MIN_LINK_CONFIDENCE, best_assignment

VOCABULARY = [f"word{i}" for i in range(400)]


@dataclass(frozen=True)
class Turn:
    person: str
    start: float
    end: float
    words: tuple[str, ...]


def conversation(
    seed: int, duration: float, people: int, *, longest_turn: float = 15.0
) -> list[Turn]:
    """Turns of 0.5 to ``longest_turn`` seconds by random people, with pauses between."""
    rng = random.Random(seed)
    turns, time = [], rng.uniform(0.2, 2.0)
    while time < duration - 1.0:
        length = min(
            rng.choice([rng.uniform(0.5, 1.5), rng.uniform(1.5, longest_turn)]), duration - time
        )
        words = tuple(rng.choice(VOCABULARY) for _ in range(max(1, round(length * 2.5))))
        turns.append(Turn(f"person{rng.randrange(people)}", time, time + length, words))
        time += length + rng.uniform(0.2, 1.5)
    return turns


def diarizer(
    turns: Sequence[Turn], chunk: Chunk, *, seed: int, jitter: float = 0.0, mishear: float = 0.0
) -> Transcription:
    """One request's answer for ``chunk``: what a diarizer hears of ``turns``."""
    rng = random.Random(seed * 1000 + chunk.index)
    labels: dict[str, str] = {}
    segments = []
    for turn in turns:
        start, end = max(turn.start, chunk.start), min(turn.end, chunk.end)
        if end - start < 0.1:
            continue
        spread = (turn.end - turn.start) / len(turn.words)
        heard = [
            word if rng.random() >= mishear else rng.choice(VOCABULARY)
            for position, word in enumerate(turn.words)
            if start <= turn.start + (position + 0.5) * spread < end
        ]
        if not heard:
            continue
        label = labels.setdefault(turn.person, f"speaker_{len(labels) + 1}")
        low = max(start + rng.uniform(-jitter, jitter), chunk.start)
        high = min(end + rng.uniform(-jitter, jitter), chunk.end)
        segments.append(
            Segment(
                text=" ".join(heard),
                start=low - chunk.start,
                end=max(high, low + 0.05) - chunk.start,
                speaker_id=label,
            )
        )
    return Transcription(
        text=" ".join(s.text for s in segments),
        model="voxtral-mini-latest",
        segments=segments,
        usage=Usage(prompt_audio_seconds=chunk.duration),
    )


def quiet_gaps(turns: Sequence[Turn]) -> list[tuple[float, float]]:
    return [(a.end, b.start) for a, b in itertools.pairwise(turns)]


def plan(
    turns: Sequence[Turn], duration: float, chunk_seconds: float, overlap: float
) -> list[Chunk]:
    """The client's plan: cuts in the pauses between turns where the window holds one."""
    gaps = quiet_gaps(turns)

    def find_cut(low: float, high: float) -> float:
        inside = [(a, b) for a, b in gaps if low <= (a + b) / 2 <= high]
        if not inside:
            return high
        a, b = max(inside, key=lambda gap: gap[1] - gap[0])
        return (a + b) / 2

    return list(
        iter_chunks(duration, chunk_seconds, find_cut, search_seconds=30.0, overlap_seconds=overlap)
    )


def person_of(segment: Segment, turns: Sequence[Turn]) -> str:
    """The person whose turn overlaps ``segment`` most (the truth behind a label)."""
    assert segment.start is not None and segment.end is not None
    return max(
        turns,
        key=lambda t: min(t.end, segment.end) - max(t.start, segment.start),  # type: ignore[type-var]
    ).person


def transcribe(
    turns: Sequence[Turn], chunks: Sequence[Chunk], *, seed: int = 0, **noise: float
) -> Transcription:
    return stitch(chunks, [diarizer(turns, chunk, seed=seed, **noise) for chunk in chunks])


def people_per_label(stitched: Transcription, turns: Sequence[Turn]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for segment in stitched.segments:
        assert segment.speaker_id is not None
        found.setdefault(segment.speaker_id, set()).add(person_of(segment, turns))
    return found


def spoken_inside(turns: Sequence[Turn], person: str, low: float, high: float) -> float:
    return sum(max(0.0, min(t.end, high) - max(t.start, low)) for t in turns if t.person == person)


def check_linking(turns: Sequence[Turn], chunks: Sequence[Chunk], stitched: Transcription) -> None:
    # no label ever names two people
    for label, people in people_per_label(stitched, turns).items():
        assert len(people) == 1, f"{label} names {sorted(people)}"
    # every turn is kept exactly once, at its own time
    assert len(stitched.segments) == len(turns)
    for segment, turn in zip(stitched.segments, turns, strict=True):
        assert segment.start == pytest.approx(turn.start, abs=0.5)
        assert person_of(segment, turns) == turn.person
    # a person who speaks in an overlap (a few seconds) has one label on both sides
    labels: dict[tuple[int, str], str] = {}
    for segment in stitched.segments:
        assert segment.speaker_id is not None
        assert (segment.chunk_index is None) == (len(chunks) == 1)  # audit fields when linked
        labels[segment.chunk_index or 0, person_of(segment, turns)] = segment.speaker_id
    for before, after in itertools.pairwise(chunks):
        for person in {t.person for t in turns}:
            if spoken_inside(turns, person, after.start, before.end) < 3.0:
                continue
            if (before.index, person) in labels and (after.index, person) in labels:
                assert labels[before.index, person] == labels[after.index, person], person


@settings(max_examples=60)
# found by hypothesis: a turn on the border, timed a little differently by each
# request, was kept by both until both hearings were judged by one midpoint
@example(seed=255, people=3, minutes=3, chunk_seconds=60.0, overlap=30.0, jitter=0.1, mishear=0.0)
@given(
    seed=st.integers(0, 10_000),
    people=st.integers(2, 6),
    minutes=st.integers(3, 12),
    chunk_seconds=st.sampled_from([60.0, 90.0, 150.0, 240.0]),
    overlap=st.sampled_from([20.0, 30.0, 45.0]),
    jitter=st.sampled_from([0.0, 0.1, 0.3]),
    mishear=st.sampled_from([0.0, 0.1, 0.3]),
)
def test_random_conversations_and_cut_plans(
    seed: int,
    people: int,
    minutes: int,
    chunk_seconds: float,
    overlap: float,
    jitter: float,
    mishear: float,
) -> None:
    duration = minutes * 60.0
    # a turn shorter than half the overlap is heard whole by the chunk that keeps it
    turns = conversation(seed, duration, people, longest_turn=min(15.0, overlap / 4))
    chunks = plan(turns, duration, chunk_seconds, overlap)
    stitched = transcribe(turns, chunks, seed=seed, jitter=jitter, mishear=mishear)
    check_linking(turns, chunks, stitched)


def test_speakers_keep_their_labels_across_every_cut_of_a_long_meeting() -> None:
    turns = conversation(1, 30 * 60.0, 3)
    chunks = plan(turns, 30 * 60.0, 600.0, 45.0)
    stitched = transcribe(turns, chunks, jitter=0.2, mishear=0.15)
    assert len(chunks) == 4
    for before, after in itertools.pairwise(chunks):  # everyone speaks in every overlap
        assert all(
            spoken_inside(turns, f"person{i}", after.start, before.end) > 3 for i in range(3)
        )
    check_linking(turns, chunks, stitched)
    found = people_per_label(stitched, turns)
    assert len(found) == 3  # three people, three labels, each one person
    assert min(s.speaker_confidence or 0.0 for s in stitched.segments) > MIN_LINK_CONFIDENCE


def meeting(*turns: tuple[str, float, float]) -> list[Turn]:
    return [
        Turn(
            person,
            start,
            end,
            tuple(f"{person}-{start}-{i}" for i in range(int(end - start) * 2 + 1)),
        )
        for person, start, end in turns
    ]


# Two chunks that share [50, 70]: the cut is at 60.
CHUNKS = [Chunk(index=0, start=0.0, end=70.0), Chunk(index=1, start=50.0, end=120.0)]


def test_a_speaker_silent_throughout_the_overlap_gets_a_new_label_never_another_persons() -> None:
    turns = meeting(
        ("alice", 2.0, 10.0),
        ("carol", 12.0, 20.0),  # carol speaks before the overlap...
        ("alice", 51.0, 58.0),
        ("bob", 59.0, 66.0),  # bob's turn spans the cut
        ("carol", 80.0, 90.0),  # ...and after it, never inside it
        ("alice", 95.0, 100.0),
    )
    stitched = transcribe(turns, CHUNKS)
    by_person = {person_of(s, turns): s for s in stitched.segments if s.chunk_index == 1}
    assert by_person["alice"].speaker_id == "speaker_1"  # chunk 1 named her speaker_1 too
    assert by_person["bob"].speaker_id == "speaker_3"  # linked: chunk 1 calls him speaker_2
    carol = by_person["carol"]
    assert (carol.speaker_id, carol.speaker_local, carol.speaker_confidence) == (
        "speaker_4",  # chunk 0's carol is speaker_2: unlinked, so a new label
        "speaker_3",
        0.0,
    )
    assert [s.speaker_id for s in stitched.segments].count("speaker_2") == 1
    check_linking(turns, CHUNKS, stitched)


def test_each_segment_records_its_chunk_and_the_label_its_request_gave() -> None:
    turns = meeting(
        ("alice", 2.0, 10.0), ("bob", 52.0, 58.0), ("alice", 62.0, 68.0), ("bob", 90.0, 99.0)
    )
    stitched = transcribe(turns, CHUNKS)
    assert [(s.speaker_id, s.speaker_local, s.chunk_index) for s in stitched.segments] == [
        ("speaker_1", "speaker_1", 0),
        ("speaker_2", "speaker_2", 0),
        ("speaker_1", "speaker_2", 1),  # chunk 1 heard bob first
        ("speaker_2", "speaker_1", 1),
    ]
    confidences = [s.speaker_confidence for s in stitched.segments]
    assert confidences[:2] == [1.0, 1.0] and all(c and c > 0.9 for c in confidences[2:])


def test_the_overlap_is_kept_once_and_its_text_is_not_repeated() -> None:
    turns = meeting(("alice", 2.0, 10.0), ("bob", 52.0, 58.0), ("alice", 62.0, 68.0))
    stitched = transcribe(turns, CHUNKS)
    assert stitched.text.split() == [word for turn in turns for word in turn.words]
    assert stitched.usage.prompt_audio_seconds == pytest.approx(70.0 + 70.0)  # billed twice


def test_a_later_label_that_covers_two_earlier_speakers_equally_is_not_merged() -> None:
    """The later request heard alice and bob as one voice: linking it to either would
    make one label name two people, so it becomes a label of its own."""
    earlier = Transcription(
        text="",
        model="m",
        segments=[
            Segment(text="a b c d e f", start=51.0, end=55.0, speaker_id="speaker_1"),
            Segment(text="g h i j k l", start=55.5, end=59.5, speaker_id="speaker_2"),
        ],
    )
    later = Transcription(
        text="",
        model="m",
        segments=[
            Segment(text="a b c d e f", start=1.0, end=5.0, speaker_id="speaker_1"),
            Segment(text="g h i j k l", start=5.5, end=9.5, speaker_id="speaker_1"),
        ],
    )
    stitched = stitch(CHUNKS, [earlier, later])
    later_labels = {s.speaker_id for s in stitched.segments if s.chunk_index == 1}
    assert later_labels.isdisjoint({"speaker_1", "speaker_2"})


def test_one_chunk_keeps_the_servers_labels_untouched() -> None:
    result = Transcription(
        text="hi",
        model="m",
        segments=[Segment(text="hi", start=0.0, end=1.0, speaker_id="speaker_0")],
    )
    stitched = stitch([Chunk(index=0, start=0.0, end=5.0)], [result])
    assert stitched.segments[0].model_dump() == result.segments[0].model_dump()


def test_the_planned_overlap_is_centred_on_the_cut_and_fits_the_limit() -> None:
    chunks = list(
        iter_chunks(
            1000.0,
            300.0,
            lambda low, high: (low + high) / 2,
            search_seconds=30.0,
            overlap_seconds=40.0,
        )
    )
    assert len(chunks) >= 4
    assert all(chunk.duration <= 300.0 + 1e-9 for chunk in chunks)
    for before, after in itertools.pairwise(chunks):
        assert before.end - after.start == pytest.approx(40.0)
    assert chunks[0].start == 0.0 and chunks[-1].end == 1000.0


def test_the_overlap_is_at_most_a_quarter_of_a_chunk() -> None:
    chunks = list(
        iter_chunks(100.0, 20.0, lambda low, high: high, search_seconds=30.0, overlap_seconds=45.0)
    )
    assert all(
        before.end - after.start == pytest.approx(5.0)
        for before, after in itertools.pairwise(chunks)
    )


@given(
    st.lists(
        st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=5),
        min_size=1,
        max_size=5,
    ).filter(lambda rows: len({len(row) for row in rows}) == 1)
)
def test_best_assignment_is_the_best_one_to_one_pairing(weights: list[list[float]]) -> None:
    rows, columns = len(weights), len(weights[0])
    pairs = best_assignment(weights)
    assert len({r for r, _ in pairs}) == len(pairs) == len({c for _, c in pairs})
    best = (
        max(
            sum(weights[r][c] for r, c in zip(order, chosen, strict=False))
            for order in [range(rows)]
            for chosen in itertools.permutations(range(columns), min(rows, columns))
        )
        if rows <= columns
        else max(
            sum(weights[r][c] for r, c in zip(chosen, range(columns), strict=False))
            for chosen in itertools.permutations(range(rows), columns)
        )
    )
    assert sum(weights[r][c] for r, c in pairs) == pytest.approx(best)


def streamed(chunks: Sequence[Chunk], results: Sequence[Transcription]) -> list[object]:
    """What ``LongStream`` makes of each chunk's event stream (delta, segment, ..., done)."""
    joined = LongStream(chunks)
    out: list[object] = []
    for chunk, result in zip(chunks, results, strict=True):
        events: list[TranscriptionStreamEvent] = []
        for segment in result.segments:
            events.append(TextDeltaEvent(text=segment.text + " "))
            events.append(SegmentEvent(**segment.model_dump(exclude_none=True)))
        events.append(DoneEvent(**result.model_dump()))
        for event in events:
            out.extend(joined.absolute(chunk, event))
    out.append(joined.done())
    return out


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), people=st.integers(2, 5))
def test_a_stream_gives_each_segment_once_under_the_speaker_the_result_gives(
    seed: int, people: int
) -> None:
    turns = conversation(seed, 400.0, people, longest_turn=5.0)
    chunks = plan(turns, 400.0, 90.0, 20.0)
    results = [diarizer(turns, chunk, seed=seed, jitter=0.2, mishear=0.1) for chunk in chunks]
    stitched = stitch(chunks, results)
    events = streamed(chunks, results)
    segments = [e for e in events if isinstance(e, SegmentEvent)]
    keys = ("text", "start", "end", "speaker_id", "speaker_local", "chunk_index")
    assert [[getattr(e, k) for k in keys] for e in segments] == [
        [getattr(s, k) for k in keys] for s in stitched.segments
    ]
    deltas = "".join(e.text for e in events if isinstance(e, TextDeltaEvent))
    assert deltas.split() == stitched.text.split()  # the overlap's words are streamed once
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.segments == stitched.segments


@pytest.mark.parametrize(
    ("first", "second", "kept_by"),
    [
        pytest.param((58.9, 61.0), (59.2, 61.1), 1, id="each-request-on-its-own-side"),
        pytest.param((59.2, 61.0), (58.6, 61.0), 0, id="each-request-on-the-other-side"),
    ],
)
def test_a_turn_on_the_border_timed_differently_by_each_request_is_kept_once(
    first: tuple[float, float], second: tuple[float, float], kept_by: int
) -> None:
    """Chunk 0 places the turn's midpoint before the border, chunk 1 after it (or the
    other way round): judged by the midpoint both agree on, exactly one keeps it, in
    the result and in the stream alike."""

    def heard(chunk: Chunk, times: tuple[float, float], *others: Segment) -> Transcription:
        on_border = Segment(
            text="on the border", start=times[0], end=times[1], speaker_id="speaker_1"
        )
        in_order = sorted((*others, on_border), key=lambda s: s.start or 0.0)
        segments = [shift(s, -chunk.start) for s in in_order]  # as the request reports it
        return Transcription(text="", model="m", segments=segments)

    results = [
        heard(
            CHUNKS[0], first, Segment(text="before", start=52.0, end=57.0, speaker_id="speaker_1")
        ),
        heard(
            CHUNKS[1], second, Segment(text="after", start=62.0, end=68.0, speaker_id="speaker_1")
        ),
    ]
    stitched = stitch(CHUNKS, results)
    assert [(s.text, s.chunk_index) for s in stitched.segments] == [
        ("before", 0),
        ("on the border", kept_by),
        ("after", 1),
    ]
    events = streamed(CHUNKS, results)
    segments = [e for e in events if isinstance(e, SegmentEvent)]
    assert [(e.text, e.chunk_index) for e in segments] == [
        (s.text, s.chunk_index) for s in stitched.segments
    ]
