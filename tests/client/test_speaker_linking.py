"""Speakers that stay the same person across chunks (issue 14), end to end.

A generated conversation (``fake_diarizer.Conversation``: people with distinct
voices taking turns at known times) is transcribed with ``diarize=True`` in
several chunks through ``VoxtralClient`` and ``FakeDiarizer``, which, like every
diarizer, names speakers per request in order of first appearance. Each stitched
segment is mapped to the true person by its time; then:

- no global label ever names two people;
- a person who speaks inside the overlap of two chunks keeps one label across
  both (so one who speaks in every overlap keeps one label for the whole file);
- a person silent throughout an overlap is not guessed: a new label, confidence 0;
- every true turn comes out exactly once, within 0.05 s;
- ``speaker_local``, ``chunk_index`` and ``speaker_confidence`` say what the
  server said in which request, consistently with ``transcription.chunks``;
- ``usage.prompt_audio_seconds`` counts the overlaps twice (the sum of the chunks).

Nothing here assumes where the client cuts or how much it overlaps: the plan is
read from ``transcription.chunks``, and the conversation is laid out against the
plan the client makes for a first draft of it.
"""

from __future__ import annotations

import random
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.constants import FAKE_API_KEY
from tests.support.fake_batch import FakeBatchServer
from tests.support.fake_diarizer import (
    GAPLESS,
    LIVELY,
    PAUSED,
    RATE,
    Conversation,
    FakeDiarizer,
    Style,
    batch_answer,
    cast,
    chunk_plan,
    decode,
    diarize,
    plant,
    slots,
    wav_of,
)
from voxtral_integrations import Chunk, Segment, Transcription, VoxtralClient

DURATION = 390.0
MAX_CHUNK_SECONDS = 120.0
"""Six and a half minutes in chunks of at most two: four chunks or more, each with a
few people in it (the client takes chunks of 10 s and more)."""
TOLERANCE = 0.05
"""Seconds a stitched segment's start and end may be from its true turn."""
NO_OVERLAP_WINDOW = 10.0
"""Where two chunks only touch, who speaks within this of the cut must keep a label."""
SPEAKS_IN_OVERLAP = 1.0
"""A person speaks in an overlap when one of their turns of at least this long lies
inside it (both chunks then hear all of it)."""
SILENT_PERSON = 2
SCENARIOS: dict[str, tuple[Style, int]] = {
    # 3 people, turns of 1-15 s and back-channels, a pause at every handover: cuts
    # fall in pauses, a turn starts right at the cut
    "pauses": (PAUSED, 3),
    # 4 people, one takes over from another with no pause at all: every chunk edge
    # falls inside someone's turn
    "no pauses": (GAPLESS, 4),
}


def diarized(
    client: VoxtralClient, path: Path, max_chunk_seconds: float = MAX_CHUNK_SECONDS
) -> Transcription:
    return client.transcribe(
        path,
        diarize=True,
        timestamp_granularities=["segment"],
        max_chunk_seconds=max_chunk_seconds,
    )


def fake_client(fake: FakeDiarizer) -> VoxtralClient:
    http = httpx.Client(transport=httpx.MockTransport(fake))
    return VoxtralClient(api_key=FAKE_API_KEY, http_client=http)


def windows(chunks: list[Chunk]) -> list[tuple[float, float]]:
    """What chunks ``k`` and ``k + 1`` both hear: their overlap, or, where they only
    touch, :data:`NO_OVERLAP_WINDOW` either side of the cut."""
    found = []
    for before, after in pairwise(chunks):
        if after.start < before.end:
            found.append((after.start, before.end))
        else:
            found.append((before.end - NO_OVERLAP_WINDOW, before.end + NO_OVERLAP_WINDOW))
    return found


def speakers_inside(conversation: Conversation, low: float, high: float) -> set[int]:
    """Who has a turn of :data:`SPEAKS_IN_OVERLAP` s or more entirely in ``[low, high]``."""
    return {
        turn.person
        for turn in conversation.turns
        if turn.start >= low and turn.end <= high and turn.end - turn.start >= SPEAKS_IN_OVERLAP
    }


def person_of(conversation: Conversation, segment: Segment) -> int | None:
    assert segment.start is not None and segment.end is not None
    return conversation.person_at(segment.start, segment.end)


def labels_naming_several(
    conversation: Conversation, segments: list[Segment]
) -> dict[str | None, set[int | None]]:
    """Every label (``None``: a segment without one) naming more than one person."""
    people: dict[str | None, set[int | None]] = defaultdict(set)
    for segment in segments:
        people[segment.speaker_id].add(person_of(conversation, segment))
    return {label: who for label, who in people.items() if len(who) > 1 or label is None}


def labels_not_kept(
    conversation: Conversation, chunks: list[Chunk], segments: list[Segment]
) -> list[str]:
    """Across each boundary, everyone who speaks inside its overlap must have one label
    over the two chunks that share it; whoever speaks in every overlap, one label over
    the whole recording. What breaks that, said. (Someone silent through an overlap
    may rightly get a new label after it.)"""

    def labels(person: int, low: float, high: float) -> set[str | None]:
        return {
            segment.speaker_id
            for segment in segments
            if person_of(conversation, segment) == person and low <= (segment.start or 0.0) < high
        }

    problems = []
    for index, (low, high) in enumerate(windows(chunks)):
        # chunks index and index + 1 alone: from the end of the overlap before to the
        # start of the one after (the next chunk may rightly not know someone there)
        since = chunks[index - 1].end if index else 0.0
        until = chunks[index + 2].start if index + 2 < len(chunks) else conversation.duration
        for person in sorted(speakers_inside(conversation, low, high)):
            found = labels(person, since, until)
            if len(found) != 1:
                problems.append(f"person {person} in chunks {index}-{index + 1}: {found}")
    everywhere = set.intersection(*(speakers_inside(conversation, *w) for w in windows(chunks)))
    for person in sorted(everywhere):
        found = labels(person, 0.0, conversation.duration)
        if len(found) != 1:
            problems.append(f"person {person}, in every overlap, over the file: {found}")
    return problems


def turns_not_found_once(conversation: Conversation, segments: list[Segment]) -> list[str]:
    """Unless the segments are the true turns, in order, each within :data:`TOLERANCE`,
    what differs."""
    truth = conversation.turns
    got = [(segment.start or 0.0, segment.end or 0.0) for segment in segments]
    if len(got) != len(truth):
        return [f"{len(got)} segments for {len(truth)} turns"]
    return [
        f"{start:.3f}-{end:.3f} for {turn}"
        for (start, end), turn in zip(got, truth, strict=True)
        if abs(start - turn.start) > TOLERANCE or abs(end - turn.end) > TOLERANCE
    ]


@dataclass
class Run:
    """One scenario, transcribed: the truth, the answer and what the fake said."""

    conversation: Conversation
    result: Transcription
    fake: FakeDiarizer
    silent_window: tuple[float, float]
    """The window of the plan's first boundary; :data:`SILENT_PERSON` is silent there."""
    style: Style

    @property
    def chunks(self) -> list[Chunk]:
        return list(self.result.chunks)

    def person(self, segment: Segment) -> int | None:
        return person_of(self.conversation, segment)


@pytest.fixture(scope="module", params=list(SCENARIOS))
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The scenario's conversation, laid out against the client's own plan: a draft
    is planned, then a turn is planted across the start of every later chunk and
    :data:`SILENT_PERSON` is kept silent through the first boundary's window (with 5 s
    to spare), and the result is transcribed."""
    style, people = SCENARIOS[request.param]
    path = tmp_path_factory.mktemp("linking") / "conversation.wav"
    rng = random.Random(14)
    found = slots(0.5, DURATION - 0.5, style, rng)
    path.write_bytes(cast(found, people, rng, style=style, duration=DURATION, seed=3).wav())
    draft = chunk_plan(path, max_chunk_seconds=MAX_CHUNK_SECONDS)
    found = plant(found, [(c.start - 4.0, c.start + 4.0) for c in draft[1:]], style, rng)
    path.write_bytes(cast(found, people, rng, style=style, duration=DURATION, seed=3).wav())
    low, high = windows(chunk_plan(path, max_chunk_seconds=MAX_CHUNK_SECONDS))[0]
    silent = [(SILENT_PERSON, low - 8.0, high + 8.0)]
    conversation = cast(found, people, rng, style=style, silent=silent, duration=DURATION, seed=3)
    path.write_bytes(conversation.wav())
    fake = FakeDiarizer()
    with fake_client(fake) as client:
        result = diarized(client, path)
    return Run(conversation, result, fake, windows(list(result.chunks))[0], style)


def test_the_scenario_is_what_it_claims(run: Run) -> None:
    """The premises, on the plan the client actually made (passes before linking)."""
    chunks, conversation = run.chunks, run.conversation
    assert len(chunks) >= 3, chunks
    assert len(conversation.people) >= 3
    low, high = run.silent_window
    assert SILENT_PERSON not in conversation.speaking(low, high)
    # the silent person speaks on both sides of that window, in chunks 0 and 1 alone
    assert SILENT_PERSON in conversation.speaking(0.0, chunks[1].start)
    assert SILENT_PERSON in conversation.speaking(high, chunks[2].start)
    assert all(speakers_inside(conversation, *window) for window in windows(chunks))
    edges = [chunk.start for chunk in chunks[1:]] + [chunk.end for chunk in chunks[:-1]]
    across = [t for t in conversation.turns if any(t.start + 0.2 < e < t.end - 0.2 for e in edges)]
    if run.style is GAPLESS:
        assert across, "no turn is cut by a chunk's edge"


def test_no_label_names_two_people(run: Run) -> None:
    shared = labels_naming_several(run.conversation, run.result.segments)
    assert not shared, f"labels naming several people: {shared}"


def test_a_person_heard_in_an_overlap_keeps_one_label(run: Run) -> None:
    problems = labels_not_kept(run.conversation, run.chunks, run.result.segments)
    assert not problems, "\n".join(problems)


def test_a_person_silent_through_an_overlap_is_not_guessed(run: Run) -> None:
    """With nothing to link them by, the silent person's next chunk gives them a new
    label, marked as not linked (confidence 0), rather than someone's label."""
    chunks = run.chunks
    before = {s.speaker_id for s in run.result.segments if (s.end or 0.0) <= chunks[1].start}
    low, high = run.silent_window[1], chunks[2].start  # chunk 1's alone
    after = [
        s
        for s in run.result.segments
        if run.person(s) == SILENT_PERSON and low <= (s.start or 0.0) < high
    ]
    assert after, "the silent person does not speak in the next chunk"
    for segment in after:
        assert segment.speaker_id not in before, segment
        assert getattr(segment, "speaker_confidence", None) == 0.0, segment


def test_every_true_turn_comes_out_exactly_once(run: Run) -> None:
    problems = turns_not_found_once(run.conversation, run.result.segments)
    assert not problems, "\n".join(problems)


def test_audit_fields_say_what_each_request_said(run: Run) -> None:
    """``chunk_index`` and ``speaker_local`` are the request and the label the server
    gave there; within a chunk, local and global labels correspond one to one."""
    chunks = run.chunks
    links: dict[int, set[tuple[str, str | None]]] = defaultdict(set)
    for segment in run.result.segments:
        sent = run.fake.labels_as_sent(segment, chunks)
        assert sent, f"no answer holds {segment}"
        index = getattr(segment, "chunk_index", None)
        local = getattr(segment, "speaker_local", None)
        confidence = getattr(segment, "speaker_confidence", None)
        assert (index, local) in sent, (segment, sent)
        assert isinstance(confidence, float) and 0.0 <= confidence <= 1.0, segment
        assert segment.start is not None and segment.end is not None
        chunk = chunks[index]
        assert chunk.start - 0.01 <= segment.start <= segment.end <= chunk.end + 0.01
        links[index].add((local, segment.speaker_id))
    for index, pairs in links.items():
        assert len({local for local, _ in pairs}) == len(pairs), (index, pairs)
        assert len({label for _, label in pairs}) == len(pairs), (index, pairs)


def test_diarized_chunks_overlap(run: Run) -> None:
    """Linking needs speech both chunks hear: consecutive chunks share 10 s or more."""
    chunks = run.chunks
    shared = [before.end - after.start for before, after in pairwise(chunks)]
    assert all(seconds >= 10.0 for seconds in shared), shared


def test_usage_bills_the_overlap_twice(run: Run) -> None:
    chunks = run.chunks
    billed = run.result.usage.prompt_audio_seconds
    assert billed == pytest.approx(sum(c.duration for c in chunks), abs=0.002 * len(chunks))
    assert len(run.fake.answers) == len(chunks)


@settings(
    max_examples=6,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # an example takes a second or two
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**20),
    style=st.sampled_from([PAUSED, GAPLESS, LIVELY]),
    people=st.integers(3, 4),
    seconds=st.floats(200.0, 420.0),
    max_chunk_seconds=st.integers(60, 180),
)
def test_random_conversations_and_cut_plans(
    seed: int, style: Style, people: int, seconds: float, max_chunk_seconds: int
) -> None:
    rng = random.Random(seed)
    conversation = cast(
        slots(0.5, seconds - 0.5, style, rng), people, rng, style=style, duration=seconds
    )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "conversation.wav"
        path.write_bytes(conversation.wav())
        with fake_client(FakeDiarizer()) as client:
            result = diarized(client, path, max_chunk_seconds=max_chunk_seconds)
    segments, chunks = list(result.segments), list(result.chunks)
    assert not labels_naming_several(conversation, segments)
    assert not labels_not_kept(conversation, chunks, segments)
    assert not turns_not_found_once(conversation, segments)


# ---- passes before linking: the fake, and a recording sent whole


def test_a_single_request_keeps_the_servers_labels_and_no_audit_fields(tmp_path: Path) -> None:
    rng = random.Random(5)
    conversation = cast(slots(0.5, 59.5, PAUSED, rng), 3, rng, duration=60.0)
    path = tmp_path / "short.wav"
    path.write_bytes(conversation.wav())
    fake = FakeDiarizer()
    with fake_client(fake) as client:
        result = diarized(client, path)
    assert len(result.chunks) == 1
    (answer,) = fake.answers
    assert [s.speaker_id for s in result.segments] == [s["speaker_id"] for s in answer.segments]
    assert named_in_order_of_first_appearance(
        [conversation.person_at(s["start"], s["end"]) for s in answer.segments],
        [s["speaker_id"] for s in answer.segments],
    )
    for segment in result.segments:
        assert getattr(segment, "speaker_local", None) is None
        assert getattr(segment, "chunk_index", None) is None
        assert getattr(segment, "speaker_confidence", None) is None


def test_the_fake_names_speakers_per_request_in_order_of_first_appearance(run: Run) -> None:
    """Every request's labels name the people it heard, in order of first appearance
    in it (read at the time of a chunk as long as the request's audio). So
    ``speaker_1`` of a later chunk is not always ``speaker_1`` of the first: the
    problem linking solves is really there."""
    first_speakers = set()
    for answer in run.fake.answers:
        labels = [heard["speaker_id"] for heard in answer.segments]
        readings = [
            [
                run.conversation.person_at(h["start"] + c.start, h["end"] + c.start)
                for h in answer.segments
            ]
            for c in run.chunks
            if abs(c.duration - answer.seconds) < 0.01
        ]
        people = next((p for p in readings if named_in_order_of_first_appearance(p, labels)), None)
        assert people is not None, f"no chunk of {answer.seconds} s reads {labels}"
        first_speakers.add(people[0])
    assert len(first_speakers) > 1, "every chunk starts with the same person"


def test_the_fake_hears_a_turn_the_same_in_two_overlapping_requests() -> None:
    """Heard whole, a turn reads the same in both; cut by an edge, it reads otherwise."""
    rng = random.Random(8)
    conversation = cast(slots(0.5, 89.5, PAUSED, rng), 3, rng, duration=90.0)
    samples = conversation.pcm()
    edge = next(t for t in conversation.turns if t.end - t.start > 2 and t.start > 30).start + 1
    first = diarize(decode(wav_of(samples[: round(60 * RATE)])))
    second = diarize(decode(wav_of(samples[round(edge * RATE) :])))
    whole = next(t for t in conversation.turns if t.start > edge + 1 and t.end < 59)
    heard_first = next(s for s in first if abs(s["start"] - whole.start) < TOLERANCE)
    heard_second = next(s for s in second if abs(s["start"] + edge - whole.start) < TOLERANCE)
    assert heard_first["text"] == heard_second["text"]
    assert heard_first["end"] - heard_first["start"] == pytest.approx(
        heard_second["end"] - heard_second["start"], abs=0.002
    )
    cut = next(s for s in first if s["start"] < edge < s["end"])
    assert cut["text"] != second[0]["text"]
    assert second[0]["start"] == pytest.approx(0.0, abs=0.01)
    assert [len(first), len(second)] == [
        len([t for t in conversation.turns if t.start < 60]),
        len([t for t in conversation.turns if t.end > edge]),
    ]


@pytest.mark.parametrize("container", ["wav", "flac"])
@pytest.mark.parametrize("style", [PAUSED, GAPLESS], ids=["pauses", "no pauses"])
def test_the_fake_hears_every_turn_and_who_said_it(style: Style, container: str) -> None:
    rng = random.Random(21)
    conversation = cast(slots(0.5, 179.5, style, rng), 4, rng, style=style, duration=180.0)
    heard = diarize(decode(conversation.encoded(container)))
    assert len(heard) == len(conversation.turns)
    for segment, turn in zip(heard, conversation.turns, strict=True):
        assert abs(segment["start"] - turn.start) <= 0.02, (segment, turn)
        assert abs(segment["end"] - turn.end) <= 0.02, (segment, turn)
    assert named_in_order_of_first_appearance(
        [turn.person for turn in conversation.turns], [s["speaker_id"] for s in heard]
    )


def test_plant_puts_a_turn_at_and_across_the_given_times() -> None:
    rng = random.Random(2)
    found = plant(slots(0.5, 299.5, PAUSED, rng), [(100.0, 105.0), (197.0, 203.0)], PAUSED, rng)
    assert (100.0, 105.0) in found
    assert (197.0, 203.0) in found
    assert all(a[1] + 0.3 <= b[0] and b[1] - b[0] >= 0.3 for a, b in pairwise(found))
    gapless = plant(slots(0.5, 299.5, GAPLESS, rng), [(150.0, 158.0)], GAPLESS, rng)
    assert (150.0, 158.0) in gapless
    assert all(a[1] == b[0] for a, b in pairwise(gapless)), "a pause where there is none"


def named_in_order_of_first_appearance(people: list[int | None], labels: list[str]) -> bool:
    """Whether ``labels`` name ``people`` one to one, ``speaker_1`` for the first to
    speak, ``speaker_2`` for the next new voice..."""
    order: dict[int | None, str] = {}
    for person in people:
        order.setdefault(person, f"speaker_{len(order) + 1}")
    return [order[person] for person in people] == labels


def test_batch_api_results_name_the_same_speakers_as_the_online_path(
    run: Run, tmp_path: Path
) -> None:
    """A Batch API job of the same recording is cut, heard and linked the same way."""
    path = tmp_path / "conversation.wav"
    path.write_bytes(run.conversation.wav())
    server = FakeBatchServer(answer=batch_answer)
    http = httpx.Client(transport=httpx.MockTransport(server))
    with VoxtralClient(api_key=FAKE_API_KEY, http_client=http, max_retries=0) as client:
        job = client.submit_batch(
            [path],
            manifest_dir=tmp_path / "jobs",
            diarize=True,
            timestamp_granularities=["segment"],
            max_chunk_seconds=MAX_CHUNK_SECONDS,
        )
        client.wait_for_batch(job.id, poll_interval=0)
        (result,) = client.batch_results(job.id, manifest_dir=tmp_path / "jobs")
    batch = result.unwrap()
    assert batch.chunks == run.result.chunks
    fields = ("text", "start", "end", "speaker_id", "speaker_local", "chunk_index")
    assert [[getattr(s, f) for f in fields] for s in batch.segments] == [
        [getattr(s, f) for f in fields] for s in run.result.segments
    ]
    assert {s.speaker_confidence for s in batch.segments} == {
        s.speaker_confidence for s in run.result.segments
    }
