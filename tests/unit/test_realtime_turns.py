"""The turn assembler: final text exactly once, at absolute times, whatever the server does.

The tables pin each rule; the property test runs random scripts of turns against a
simulated server (pure: it hears words from the audio, so a replay is heard again)
with random faults (cumulative ``done``, a ``done`` lost, a silent stall, a dropped
connection) and checks that every utterance arrives once, in order, at its time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxtral_integrations import (
    DoneEvent,
    SegmentEvent,
    TextDeltaEvent,
    TurnEvent,
    UtteranceEvent,
)
from voxtral_integrations._models import Segment
from voxtral_integrations._realtime_protocol import realtime_options
from voxtral_integrations._realtime_turns import TurnAssembler

RATE = 16000
OPTIONS = realtime_options(model="m", encoding="pcm_s16le", sample_rate=RATE)
WORD_SECONDS = 0.3
GAP_SECONDS = 0.2
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * round(seconds * RATE)


def word(index: int) -> bytes:
    """A word as a constant level that names it: the simulated server reads it back."""
    return (1000 + 100 * index).to_bytes(2, "little", signed=True) * round(WORD_SECONDS * RATE)


def assembler(**changes: Any) -> TurnAssembler:
    return TurnAssembler(OPTIONS, **{"done_timeout": 1.0, "stall_timeout": 3.0, **changes})


def utterances(events: list[Any]) -> list[UtteranceEvent]:
    return [event for event in events if isinstance(event, UtteranceEvent)]


def done(text: str, segments: list[Segment] | None = None) -> DoneEvent:
    return DoneEvent(text=text, model="m", segments=segments or [])


def test_a_flushed_turn_is_final_at_its_done() -> None:
    turns = assembler()
    turns.session_started(0.0)
    turns.audio(silence(0.5) + word(0) + silence(0.5), 1.0)
    turns.flush(1.3)
    assert turns.event(TextDeltaEvent(text=" alpha"), 1.4) == [TextDeltaEvent(text=" alpha")]
    (utterance,) = utterances(turns.event(done("alpha"), 1.5))
    assert (utterance.text, utterance.final, utterance.index) == ("alpha", "done", 0)
    assert utterance.start == pytest.approx(0.5, abs=0.02)
    assert utterance.end == pytest.approx(0.8, abs=0.02)


@pytest.mark.parametrize(
    ("turns_heard", "expected"),
    [
        ([("one two", "one two"), ("three four", "one two three four")], ["one two", "three four"]),
        ([("one two", "one two"), ("three four", "three four")], ["one two", "three four"]),
        ([("yes", "yes"), ("yes", "yes")], ["yes", "yes"]),  # the same words, not a repeat
        ([("one", "one"), ("one", "one one"), ("two", "one one two")], ["one", "one", "two"]),
        ([("one", "one"), ("", "one")], ["one"]),  # a repeat and nothing new
        ([("one", "one"), ("oneself", "oneself")], ["one", "oneself"]),  # not a whole word
        ([("one", "one"), ("two", "One two")], ["one", "One two"]),  # not the same prefix
    ],
)
def test_a_cumulative_done_is_stripped_of_what_was_final(
    turns_heard: list[tuple[str, str]], expected: list[str]
) -> None:
    """Each turn: the deltas heard, then the ``done`` text the server sent."""
    turns = assembler()
    turns.session_started(0.0)
    got = []
    for index, (deltas, text) in enumerate(turns_heard):
        turns.audio(word(index) + silence(0.5), float(index))
        turns.flush(float(index))
        for piece in deltas.split():
            turns.event(TextDeltaEvent(text=" " + piece), float(index))
        got += [u.text for u in utterances(turns.event(done(text), float(index)))]
    assert got == expected


def test_a_done_lost_while_the_server_talks_falls_back_to_the_deltas() -> None:
    turns = assembler()
    turns.session_started(0.0)
    turns.audio(word(0) + silence(0.5), 0.0)
    turns.flush(1.0)
    turns.event(TextDeltaEvent(text=" alpha"), 1.1)
    assert turns.poll(1.9).events == [] and turns.poll(1.9).reconnect is None
    assert turns.deadline() == pytest.approx(2.0)
    polled = turns.poll(2.0)
    (utterance,) = utterances(polled.events)
    assert (utterance.text, utterance.final) == ("alpha", "deltas")
    assert polled.reconnect == "a flush's done never came"


def test_a_flush_nobody_answers_is_a_stall_and_is_replayed() -> None:
    turns = assembler()
    turns.session_started(0.0)
    audio = word(0) + silence(0.5)
    turns.audio(audio, 0.0)
    turns.flush(1.0)
    polled = turns.poll(2.0)
    assert (polled.events, polled.reconnect) == ([], "no answer to a flush")
    replay = turns.session_started(2.5)
    assert replay.offset == 0.0
    assert replay.steps == [("audio", audio), ("flush", None)]
    assert replay.seconds == pytest.approx(0.8)
    (utterance,) = utterances(turns.event(done("alpha"), 2.6))
    assert utterance.text == "alpha"


def test_speech_without_events_is_a_stall() -> None:
    turns = assembler(stall_timeout=2.0)
    turns.session_started(0.0)
    for second in range(2):
        turns.audio(word(0) * 3 + silence(0.1), float(second))
        assert turns.poll(float(second) + 0.9).reconnect is None
    turns.audio(word(0) * 3, 2.0)
    assert turns.deadline() == 2.0
    assert turns.poll(2.0).reconnect == "no event while speech was sent"


def test_too_little_speech_without_events_sets_no_deadline() -> None:
    turns = assembler(stall_timeout=2.0)
    turns.session_started(0.0)
    turns.audio(word(0) * 3, 0.0)  # 0.9 s of speech, then the speaker is silent
    assert turns.deadline() is None  # not 2.0, which would be past and polled for ever
    assert turns.poll(60.0).reconnect is None
    turns.audio(word(0) * 4, 61.0)
    assert turns.deadline() == 2.0


def test_silence_without_events_is_no_stall() -> None:
    turns = assembler(stall_timeout=2.0)
    turns.session_started(0.0)
    for second in range(10):
        turns.audio(silence(1.0), float(second))
    assert turns.poll(10.0).reconnect is None and turns.deadline() is None


def test_after_a_reconnect_times_are_shifted_once() -> None:
    turns = assembler()
    turns.session_started(0.0)
    turns.audio(word(0) + silence(0.7), 0.0)
    turns.flush(1.0)
    turns.event(done("alpha", [Segment(text="alpha", start=0.0, end=0.3)]), 1.1)
    turns.audio(word(1) + silence(0.2), 1.5)  # 1.0 .. 1.5 s absolute
    replay = turns.session_started(2.0)  # the connection dropped
    assert replay.offset == pytest.approx(1.0)
    assert replay.steps == [("audio", word(1) + silence(0.2))]
    (shifted,) = turns.event(TurnEvent(type="turn.start", time=0.05), 2.1)
    assert isinstance(shifted, TurnEvent) and shifted.time == pytest.approx(1.05)
    (segment,) = turns.event(SegmentEvent(text="bravo", start=0.0, end=0.3), 2.2)
    assert isinstance(segment, SegmentEvent) and segment.start == pytest.approx(1.0)
    turns.flush(2.3)
    events = turns.event(done("bravo", [Segment(text="bravo", start=0.0, end=0.3)]), 2.4)
    assert isinstance(events[0], DoneEvent) and events[0].segments[0].end == pytest.approx(1.3)
    (utterance,) = utterances(events)
    assert (utterance.index, utterance.start, utterance.end) == (1, 1.0, pytest.approx(1.3))


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        ([SegmentEvent(text="x", start=0.2, end=0.4, speaker_id="speaker_2")], (0.2, 0.4)),
        (
            [TurnEvent(type="turn.start", time=0.1), TurnEvent(type="turn.end", time=0.9)],
            (0.1, 0.9),
        ),
        ([TurnEvent(type="turn.end", time=0.9)], (0.0, 0.9)),
        ([SegmentEvent(text="x", start=None, end=None)], (0.5, 0.8)),  # untimed: the speech
        ([], (0.5, 0.8)),
    ],
)
def test_utterance_times_by_rule(heard: list[Any], expected: tuple[float, float]) -> None:
    turns = assembler()
    turns.session_started(0.0)
    turns.audio(silence(0.5) + word(0) + silence(0.5), 0.0)
    turns.flush(1.0)
    for event in heard:
        turns.event(event, 1.0)
    (utterance,) = utterances(turns.event(done("x"), 1.1))
    assert (utterance.start, utterance.end) == (
        pytest.approx(expected[0], abs=0.021),
        pytest.approx(expected[1], abs=0.021),
    )
    assert utterance.speaker_id == getattr(heard[0] if heard else None, "speaker_id", None)


def test_silent_turns_give_their_whole_audio_span() -> None:
    turns = assembler()
    turns.session_started(0.0)
    turns.audio(silence(1.0), 0.0)
    turns.flush(1.0)
    (utterance,) = utterances(turns.event(done("hm"), 1.1))
    assert (utterance.start, utterance.end) == (0.0, 1.0)


def test_a_done_nobody_asked_for_finalises_the_open_turn_once() -> None:
    turns = assembler()
    turns.session_started(0.0)
    turns.audio(word(0) + silence(1.0), 0.0)
    turns.event(TurnEvent(type="turn.end", time=0.8), 1.0)
    (utterance,) = utterances(turns.event(done("alpha"), 1.1))
    assert (utterance.text, utterance.end) == ("alpha", pytest.approx(0.8))
    turns.flush(1.2)  # the shell flushed at turn.end as well
    assert utterances(turns.event(done(""), 1.3)) == []
    assert utterances(turns.event(done("alpha"), 1.3)) == []  # a cumulative repeat
    replay = turns.session_started(2.0)
    assert replay.offset == pytest.approx(1.3)


def test_end_finishes_after_the_last_done_and_give_up_keeps_the_deltas() -> None:
    turns = assembler()
    turns.session_started(0.0)
    turns.audio(word(0), 0.0)
    turns.flush(0.5, end=True)
    assert turns.ended and not turns.finished
    turns.event(TextDeltaEvent(text=" alpha"), 0.6)
    (utterance,) = utterances(turns.give_up())
    assert (utterance.text, utterance.final) == ("alpha", "deltas")
    assert turns.finished


# ---- the property: random scripts, random faults


@dataclass
class SimulatedServer:
    """One server session: hears words from the audio, times them from its first sample."""

    cumulative: bool
    faults: dict[int, str]
    """Per flush number of this session: 'lose_done', 'stall' or 'drop'."""
    audio: bytearray = field(default_factory=bytearray)
    heard_upto: int = 0
    flushes: int = 0
    final_texts: list[str] = field(default_factory=list)
    stalled: bool = False
    dropped: bool = False

    def words(self, start: int, end: int) -> list[tuple[str, float, float]]:
        found, position, samples = [], start - start % 2, self.audio
        while position + 2 <= end:
            level = int.from_bytes(samples[position : position + 2], "little", signed=True)
            run = position
            while run + 2 <= end and samples[run : run + 2] == samples[position : position + 2]:
                run += 2
            if level >= 1000:
                found.append((WORDS[(level - 1000) // 100], position / 2 / RATE, run / 2 / RATE))
            position = run
        return found

    def flush(self) -> list[Any]:
        fault = self.faults.get(self.flushes)
        self.flushes += 1
        if fault == "stall":
            self.stalled = True
        if fault == "drop":
            self.dropped = True
        if self.stalled or self.dropped:
            return []
        words = self.words(self.heard_upto, len(self.audio))
        self.heard_upto = len(self.audio)
        events: list[Any] = [TextDeltaEvent(text=" " + text) for text, _, _ in words]
        text = " ".join(text for text, _, _ in words)
        segments = [Segment(text=text, start=start, end=end) for text, start, end in words]
        self.final_texts.append(text)
        if fault != "lose_done":
            shown = " ".join(t for t in self.final_texts if t) if self.cumulative else text
            events.append(DoneEvent(text=shown, model="m", segments=segments))
        return events


@st.composite
def scripts(draw: st.DrawFn) -> tuple[list[list[int]], list[str], bool]:
    turns = draw(
        st.lists(
            st.lists(st.integers(0, len(WORDS) - 1), min_size=1, max_size=3), min_size=1, max_size=5
        )
    )
    faults = draw(
        st.lists(
            st.sampled_from(["none", "none", "lose_done", "stall", "drop"]),
            min_size=len(turns),
            max_size=len(turns),
        )
    )
    return turns, faults, draw(st.booleans())


@settings(max_examples=150, deadline=None)
@given(scripts())
def test_every_utterance_arrives_once_in_order_at_its_absolute_time(
    script: tuple[list[list[int]], list[str], bool],
) -> None:
    turns_script, faults, cumulative = script
    turns = assembler()
    clock = 0.0
    expected: list[tuple[str, float, float]] = []
    position = 0.0
    delivered: list[UtteranceEvent] = []
    pending_faults = {index: fault for index, fault in enumerate(faults) if fault != "none"}
    flush_number = 0  # which script flush the next fresh server flush answers

    def new_server() -> SimulatedServer:
        return SimulatedServer(cumulative=cumulative, faults={})

    server = new_server()

    def connect() -> None:
        nonlocal server
        replay = turns.session_started(clock)
        server = new_server()
        for kind, pcm in replay.steps:
            if kind == "audio":
                assert pcm is not None
                server.audio += pcm
            else:
                deliver(server.flush())

    def deliver(events: list[Any]) -> None:
        for event in events:
            delivered.extend(utterances(turns.event(event, clock)))

    def send_flush(end: bool) -> None:
        nonlocal flush_number
        turns.flush(clock, end=end)
        fault = pending_faults.pop(flush_number, None)
        if fault is not None:
            server.faults[server.flushes] = fault
        flush_number += 1
        deliver(server.flush())

    def settle() -> None:
        nonlocal clock
        for _ in range(200):
            if server.dropped:
                connect()
                continue
            polled = turns.poll(clock)
            delivered.extend(utterances(polled.events))
            if polled.reconnect:
                connect()
                continue
            deadline = turns.deadline()
            if deadline is None:
                return
            clock = max(clock + 0.05, deadline)

    connect()
    for index, words in enumerate(turns_script):
        pcm = silence(0.2)
        position += 0.2
        times = []
        for number, word_index in enumerate(words):
            if number:
                pcm += silence(GAP_SECONDS)
                position += GAP_SECONDS
            pcm += word(word_index)
            times.append((position, position + WORD_SECONDS))
            position += WORD_SECONDS
        pcm += silence(0.3)
        position += 0.3
        expected.append((" ".join(WORDS[w] for w in words), times[0][0], times[-1][1]))
        turns.audio(pcm, clock)
        server.audio += pcm  # a stalled server takes audio too, and says nothing
        clock += len(pcm) / 2 / RATE
        send_flush(end=index == len(turns_script) - 1)
        settle()
    settle()
    assert turns.finished
    assert [u.text for u in delivered] == [text for text, _, _ in expected]
    assert [u.index for u in delivered] == list(range(len(expected)))
    for utterance, (_, start, end) in zip(delivered, expected, strict=True):
        assert utterance.start == pytest.approx(start, abs=1e-6)
        assert utterance.end == pytest.approx(end, abs=1e-6)
