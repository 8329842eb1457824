"""Speakers across chunks: labels as each request gave them, and as the client returns them.

A generated 30-minute meeting of three people (several hundred turns of 1-15 s,
short back-channels, a quarter of the handovers without a pause, some monologues
broken by pauses; ``tests/fake_diarizer.py``, fixed seed) is transcribed with
``diarize=True`` under ``max_chunk_seconds=600`` (a server taking 10 minutes per
request) through ``VoxtralClient`` and ``FakeDiarizer``, which decodes what it is
sent and names speakers per request in order of first appearance, as every
diarizer does. Each stitched segment is mapped to the true person by time.

Two labellings of the same run are scored side by side:

- **as sent**: the label the request gave (``segment.speaker_local``; before the
  client had that field, the label the fake recorded for that segment), which is
  what stitching the labels as they came shows;
- **returned**: ``segment.speaker_id``, what the client gives the user.

For each: segments, segments carrying another person's label (each label is
taken to name the person it covers most; every segment of someone else counts),
labels naming more than one person, labels per person. Then the requests, the
audio sent against the file's length (the overlap's cost), wall time, and, from
the chunk plan alone, the overlap's cost for a 2-hour file at the default
chunking and at ``max_chunk_seconds=600``.

Exits 1 if the returned labels miss a target (a segment with another person's
label, a label naming two people, a person with more than one label, a true turn
not found exactly once within 0.05 s), 0 otherwise; every figure is printed
either way.

    python benchmarks/speaker_linking.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]
for _path in (_ROOT,):  # run as a script: the fake lives with the tests
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from tests.support.fake_diarizer import (  # noqa: E402
    LIVELY,
    Conversation,
    FakeDiarizer,
    cast,
    chunk_plan,
    slots,
    wav_of,
)
from voxtral_integrations import Chunk, Segment, Transcription, VoxtralClient  # noqa: E402

TOLERANCE = 0.05
"""Seconds a segment may be from its true turn and still be that turn."""


def meeting(minutes: float, people: int, seed: int) -> Conversation:
    import random

    rng = random.Random(seed)
    duration = minutes * 60
    return cast(
        slots(0.5, duration - 0.5, LIVELY, rng),
        people,
        rng,
        style=LIVELY,
        duration=duration,
        seed=seed,
    )


def transcribe(path: Path, max_chunk_seconds: float) -> tuple[Transcription, FakeDiarizer, float]:
    fake = FakeDiarizer()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    with VoxtralClient(api_key="sk-test-benchmark", http_client=http) as client:
        began = time.perf_counter()
        result = client.transcribe(
            path,
            diarize=True,
            timestamp_granularities=["segment"],
            max_chunk_seconds=max_chunk_seconds,
        )
        return result, fake, time.perf_counter() - began


def score(
    segments: list[Segment], label: Callable[[Segment], str | None], conversation: Conversation
) -> dict[str, Any]:
    """Purity and consistency of ``label`` over ``segments``."""
    covered: dict[str | None, Counter[int | None]] = defaultdict(Counter)
    for segment in segments:
        assert segment.start is not None and segment.end is not None
        covered[label(segment)][conversation.person_at(segment.start, segment.end)] += 1
    wrong = sum(sum(c.values()) - max(c.values()) for c in covered.values())
    per_person: dict[int | None, set[str | None]] = defaultdict(set)
    for name, people in covered.items():
        for person in people:
            per_person[person].add(name)
    return {
        "segments": len(segments),
        "wrong": wrong,
        "mixed labels": sum(1 for c in covered.values() if len(c) > 1),
        "labels": len(covered),
        "per person": {p: len(names) for p, names in sorted(per_person.items(), key=str)},
    }


def turns_found_once(segments: list[Segment], conversation: Conversation) -> tuple[int, int]:
    """(true turns found exactly once within :data:`TOLERANCE`, segments matching none)."""
    starts = np.array([turn.start for turn in conversation.turns])
    ends = np.array([turn.end for turn in conversation.turns])
    hits: Counter[int] = Counter()
    strays = 0
    for segment in segments:
        assert segment.start is not None and segment.end is not None
        error = np.maximum(abs(starts - segment.start), abs(ends - segment.end))
        index = int(error.argmin())
        if error[index] <= TOLERANCE:
            hits[index] += 1
        else:
            strays += 1
    return sum(1 for count in hits.values() if count == 1), strays


def overlap_cost(chunks: list[Chunk], duration: float) -> str:
    sent = sum(chunk.duration for chunk in chunks)
    extra = sent - duration
    return (
        f"{len(chunks)} requests, {sent / 60:.1f} min sent for {duration / 60:.1f} min: "
        f"+{extra / 60:.2f} min ({100 * extra / duration:.1f}%)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--people", type=int, default=3)
    parser.add_argument("--max-chunk-seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--long-hours", type=float, default=2.0, help="0: skip the plan")
    options = parser.parse_args(argv)

    made = time.perf_counter()
    conversation = meeting(options.minutes, options.people, options.seed)
    pcm = conversation.pcm()
    lengths = [turn.end - turn.start for turn in conversation.turns]
    with tempfile.TemporaryDirectory(prefix="voxtral-speakers-") as directory:
        path = Path(directory) / "meeting.wav"
        path.write_bytes(wav_of(pcm))
        print(
            f"meeting: {options.minutes:g} min, {options.people} people, "
            f"{len(lengths)} turns ({sum(1 for s in lengths if s < 1)} back-channels "
            f"under 1 s, median {float(np.median(lengths)):.1f} s, longest "
            f"{max(lengths):.1f} s), made in {time.perf_counter() - made:.1f} s"
        )
        result, fake, wall = transcribe(path, options.max_chunk_seconds)
        chunks = list(result.chunks)

        def as_sent(segment: Segment) -> str | None:
            local = getattr(segment, "speaker_local", None)
            if local is not None:
                return str(local)
            sent = fake.labels_as_sent(segment, chunks)  # before overlaps: one at most
            return sent[0][1] if sent else None

        segments = list(result.segments)
        sides = {
            "as sent": score(segments, as_sent, conversation),
            "returned": score(segments, lambda s: s.speaker_id, conversation),
        }
        linked = any(getattr(s, "speaker_local", None) is not None for s in segments)
        print(
            f"\nmax_chunk_seconds={options.max_chunk_seconds:g}: "
            f"{overlap_cost(chunks, conversation.duration)}; usage.prompt_audio_seconds "
            f"{result.usage.prompt_audio_seconds}; wall {wall:.1f} s"
        )
        print("chunks: " + ", ".join(f"{c.start:.1f}-{c.end:.1f}" for c in chunks))
        if not linked:
            print("(no segment has speaker_local: 'as sent' is what the fake recorded)")
        print(f"\n{'':28}{'as sent':>16}{'returned':>16}")
        rows = [
            ("segments", lambda s: str(s["segments"])),
            (
                "another person's label",
                lambda s: f"{s['wrong']} ({100 * s['wrong'] / max(1, s['segments']):.1f}%)",
            ),
            ("labels naming >1 person", lambda s: str(s["mixed labels"])),
            ("labels", lambda s: str(s["labels"])),
            (
                "labels per person",
                lambda s: " ".join(str(n) for n in s["per person"].values()),
            ),
        ]
        for name, shown in rows:
            print(f"{name:28}{shown(sides['as sent']):>16}{shown(sides['returned']):>16}")
        once, strays = turns_found_once(segments, conversation)
        print(
            f"\ntrue turns found exactly once: {once} of {len(conversation.turns)}; "
            f"segments matching no turn: {strays}"
        )

        if options.long_hours:
            long_path = Path(directory) / "long.wav"
            repeats = int(np.ceil(options.long_hours * 3600 / conversation.duration))
            long_pcm = np.tile(pcm, repeats)[: round(options.long_hours * 3600 * 16000)]
            long_path.write_bytes(wav_of(long_pcm))
            duration = len(long_pcm) / 16000
            print(f"\n{options.long_hours:g} h file (the meeting repeated), chunk plan only:")
            for label, settings in (
                ("default chunking", {}),
                (
                    f"max_chunk_seconds={options.max_chunk_seconds:g}",
                    {"max_chunk_seconds": options.max_chunk_seconds},
                ),
            ):
                print(f"  {label}: {overlap_cost(chunk_plan(long_path, **settings), duration)}")

    returned = sides["returned"]
    missed = []
    if returned["wrong"]:
        missed.append(f"{returned['wrong']} segments with another person's label")
    if returned["mixed labels"]:
        missed.append(f"{returned['mixed labels']} labels naming several people")
    if any(count != 1 for count in returned["per person"].values()):
        missed.append(f"labels per person {returned['per person']}")
    if once != len(conversation.turns) or strays:
        missed.append(f"{len(conversation.turns) - once} turns not found exactly once")
    if missed:
        print("\nTARGETS MISSED: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
