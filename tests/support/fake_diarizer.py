"""A diarizing stand-in for the transcription endpoint, and conversations to feed it.

:class:`FakeDiarizer` hears only what it is sent, like the real server: it decodes
the upload (PyAV), finds the speech (silence between turns, or a change of voice
where one person takes over from another without a pause), tells voices apart by
their pitch and names them ``speaker_1``, ``speaker_2``... **per request, in order
of first appearance**, as every diarizer does. So ``speaker_1`` of the third
request is whoever speaks first in it, not necessarily ``speaker_1`` of the first.
A segment's text is made from what was heard (the stretch's length): the same
turn heard whole in two overlapping chunks reads the same, a turn cut at a
chunk's edge reads differently.

:class:`Conversation` is the ground truth it is tested against: people with
distinct voices (pitches) taking turns at known times, rendered as speech-like
audio (a few harmonics under a syllable-rate envelope), WAV or any format of
``audio_factory``. Everything is numpy, so half an hour is made and heard in
seconds, and everything is deterministic for a seed.
"""

from __future__ import annotations

import io
import math
import random
import statistics
import threading
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np

from tests.support.audio_factory import encode
from tests.support.fake_voxtral import multipart
from voxtral_integrations import Chunk, Segment, VoxtralClient

RATE = 16000
HOP = 160
"""Samples per loudness frame (10 ms)."""
SILENCE_RMS = 200.0
"""RMS (s16) of a 10 ms frame below which it is a pause; generated pauses are zero."""
BRIDGED_SECONDS = 0.15
"""A quieter stretch shorter than this is a codec dropout, not a pause."""
EDGE = 1000
"""Sample magnitude that marks a stretch's first and last sample (placed to the sample)."""
MIN_SECONDS = 0.1
"""Shorter stretches of sound are not speech (nothing a diarizer would report)."""
PITCH_WINDOW = 1024
"""Samples per pitch estimate (64 ms: a few periods of the lowest voice)."""
PITCH_FFT = 2048
"""FFT length of a pitch estimate (zero-padded): 7.8 Hz bins."""
PITCH_RANGE = (60.0, 500.0)
SAME_VOICE = 1.12
"""Pitches within this ratio are one voice (a person's turns vary by a few percent)."""
MIN_TURN_SECONDS = 0.2
"""A change of pitch lasting less than this inside speech is a glitch, not a new turn."""

VOICES = (100.0, 160.0, 250.0, 390.0)
"""Each person's pitch (Hz), far enough apart for a 64 ms window to tell them apart."""
AMPLITUDE = 7000.0
WORDS = (
    "so",
    "the",
    "plan",
    "was",
    "to",
    "ship",
    "it",
    "before",
    "the",
    "review",
    "and",
    "then",
    "we",
    "would",
    "look",
    "again",
    "at",
    "what",
    "the",
    "numbers",
    "say",
    "about",
    "latency",
    "cost",
    "and",
    "how",
    "many",
    "people",
    "actually",
    "use",
    "it",
    "every",
    "week",
    "which",
    "is",
    "not",
    "what",
    "anyone",
    "expected",
    "when",
    "we",
    "started",
)


# ---- hearing


def decode(audio: bytes) -> np.ndarray[Any, np.dtype[np.int16]]:
    """``audio`` (any container PyAV reads) as mono s16 samples at :data:`RATE`."""
    pieces = []
    with av.open(io.BytesIO(audio)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        for frame in container.decode(stream):
            pieces.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        pieces.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    return np.concatenate(pieces).astype(np.int16) if pieces else np.zeros(0, np.int16)


def sound_regions(samples: np.ndarray[Any, Any]) -> list[tuple[int, int]]:
    """First and one-past-last sample of every stretch of sound between pauses."""
    count = len(samples) // HOP
    frames = samples[: count * HOP].reshape(count, HOP).astype(np.float32)
    loud = np.sqrt((frames**2).mean(axis=1)) > SILENCE_RMS
    edges = np.flatnonzero(np.diff(np.concatenate([[False], loud, [False]]).astype(np.int8)))
    runs: list[tuple[int, int]] = []
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if runs and (start - runs[-1][1]) * HOP < BRIDGED_SECONDS * RATE:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    loud_samples = np.abs(samples.astype(np.int32)) > EDGE
    regions = []
    for start, end in runs:
        first, last = start * HOP, end * HOP
        head = np.flatnonzero(loud_samples[max(0, first - HOP) : first + HOP])
        tail = np.flatnonzero(loud_samples[max(0, last - HOP) : last + HOP])
        first = max(0, first - HOP) + int(head[0]) if len(head) else first
        last = max(0, last - HOP) + int(tail[-1]) + 1 if len(tail) else last
        if last - first >= MIN_SECONDS * RATE:
            regions.append((first, last))
    return regions


def pitch_track(samples: np.ndarray[Any, Any], first: int, last: int) -> np.ndarray[Any, Any]:
    """The dominant frequency (Hz) around every :data:`HOP` of ``samples[first:last]``."""
    half = PITCH_WINDOW // 2
    padded = np.zeros(last - first + PITCH_WINDOW, np.float32)
    padded[half : half + last - first] = samples[first:last]
    starts = np.arange(0, last - first, HOP)
    window = np.hanning(PITCH_WINDOW).astype(np.float32)
    bins = np.fft.rfftfreq(PITCH_FFT, 1 / RATE)
    usable = (bins >= PITCH_RANGE[0]) & (bins <= PITCH_RANGE[1])
    pitches = np.empty(len(starts))
    for block in range(0, len(starts), 2048):  # bounded memory for long turns
        chosen = starts[block : block + 2048]
        frames = padded[chosen[:, None] + np.arange(PITCH_WINDOW)] * window
        spectrum = np.abs(np.fft.rfft(frames, PITCH_FFT, axis=1))[:, usable]
        pitches[block : block + len(chosen)] = bins[usable][spectrum.argmax(axis=1)]
    return pitches


_SAME_VOICE_LOG = math.log(SAME_VOICE)


def _same_voice(a: float, b: float) -> bool:
    return abs(math.log(a / b)) < _SAME_VOICE_LOG


def turns_in(samples: np.ndarray[Any, Any]) -> list[tuple[int, int, float]]:
    """Every turn heard: (first sample, end sample, pitch). A stretch of sound is split
    where the pitch changes for at least :data:`MIN_TURN_SECONDS` (one person taking
    over from another without a pause); a shorter change is a glitch, except at the
    stretch's end (a turn cut short by the end of the audio)."""
    turns = []
    shortest = round(MIN_TURN_SECONDS * RATE / HOP)
    for first, last in sound_regions(samples):
        pitches = pitch_track(samples, first, last)
        heard = np.log(pitches).tolist()
        runs = [0]  # the first frame of each run of one voice
        for index in range(1, len(heard)):
            voice_of_run = statistics.median(heard[runs[-1] : min(index, runs[-1] + 10)])
            if abs(heard[index] - voice_of_run) < _SAME_VOICE_LOG:
                continue
            ahead = heard[index : index + shortest]
            reaches = len(ahead) == shortest or index + len(ahead) == len(heard)
            if reaches and all(abs(h - voice_of_run) >= _SAME_VOICE_LOG for h in ahead):
                runs.append(index)
        bounds = [first, *(first + run * HOP - HOP // 2 for run in runs[1:]), last]
        ends = [*runs[1:], len(pitches)]
        for run, end_frame, start, end in zip(runs, ends, bounds, bounds[1:], strict=False):
            if end - start >= MIN_SECONDS * RATE / 2:
                turns.append((start, end, float(np.median(pitches[run:end_frame]))))
    return turns


def words_for(seconds: float) -> str:
    """Text for a stretch of speech, from what was heard: its length (to 50 ms)."""
    key = round(seconds * 20)
    count = max(1, round(seconds * 2.5))
    words = [WORDS[(key * 31 + index * 7) % len(WORDS)] for index in range(count)]
    return " ".join(words).capitalize() + "."


def diarize(samples: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
    """Mistral-shaped diarized segments of ``samples``: voices named in order of
    first appearance in this audio (``speaker_1`` is whoever speaks first)."""
    voices: list[float] = []
    segments = []
    for first, last, pitch in turns_in(samples):
        known = [index for index, voice in enumerate(voices) if _same_voice(pitch, voice)]
        if not known:
            voices.append(pitch)
        speaker = known[0] if known else len(voices) - 1
        segments.append(
            {
                "text": words_for((last - first) / RATE),
                "start": round(first / RATE, 3),
                "end": round(last / RATE, 3),
                "speaker_id": f"speaker_{speaker + 1}",
                "type": "transcription_segment",
            }
        )
    return segments


@dataclass(frozen=True)
class Answer:
    """What the fake heard and answered for one request."""

    seconds: float
    segments: list[dict[str, Any]]


def answered(
    audio: bytes, model: str, *, diarized: bool, timed: bool
) -> tuple[Answer, dict[str, Any]]:
    """What the fake hears in ``audio`` and the Mistral-shaped body it answers."""
    samples = decode(audio)
    segments = diarize(samples)
    if not diarized:
        segments = [{k: v for k, v in s.items() if k != "speaker_id"} for s in segments]
    seconds = round(len(samples) / RATE, 3)
    body = {
        "model": model,
        "text": " ".join(segment["text"] for segment in segments),
        "language": None,
        "segments": segments if timed else [],
        "usage": {
            "prompt_audio_seconds": seconds,
            "prompt_tokens": 4,
            "completion_tokens": 3 * len(segments),
            "total_tokens": 4 + 3 * len(segments),
            "request_count": 1,
        },
    }
    return Answer(seconds, segments), body


def batch_answer(audio: bytes, model: str, body: dict[str, Any]) -> dict[str, Any]:
    """``FakeBatchServer.answer`` for a batch line: the same answer as online."""
    timed = bool(body.get("timestamp_granularities"))
    return answered(audio, model, diarized=bool(body.get("diarize")), timed=timed)[1]


@dataclass
class FakeDiarizer:
    """Answers diarized transcription requests from the audio alone (see the module).

    ``answers`` holds every request's answer, in arrival order. Like the API, it
    refuses ``language`` together with ``diarize``.
    """

    answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        fields, upload = multipart(request)
        assert upload is not None, "the fake only transcribes uploads"
        diarized = fields.get("diarize") == ["true"]
        if diarized and "language" in fields:
            message = "`language` is not compatible with `diarize`"
            return httpx.Response(400, json={"object": "error", "message": message})
        answer, body = answered(
            upload[1],
            fields["model"][0],
            diarized=diarized,
            timed=bool(fields.get("timestamp_granularities")),
        )
        with self._lock:
            self.answers.append(answer)
        return httpx.Response(200, json=body)

    def labels_as_sent(self, segment: Segment, chunks: Sequence[Chunk]) -> list[tuple[int, str]]:
        """Every ``(chunk index, speaker label)`` under which a request heard a stitched
        ``segment``: each answer as long as a chunk that holds the segment, with its
        text, at its time in that chunk. A turn heard whole in an overlap is held by
        both chunks' answers. (What ``chunk_index`` and ``speaker_local`` may say,
        found without them.)"""
        assert segment.start is not None and segment.end is not None
        found = []
        for chunk in chunks:
            for answer in self.answers:
                if abs(answer.seconds - chunk.duration) > 0.01:
                    continue
                found.extend(
                    (chunk.index, str(heard["speaker_id"]))
                    for heard in answer.segments
                    if abs(heard["start"] + chunk.start - segment.start) < 0.002
                    and abs(heard["end"] + chunk.start - segment.end) < 0.002
                    and heard["text"] == segment.text
                )
        return found


def chunk_plan(path: Path, **options: Any) -> list[Chunk]:
    """The chunks the client plans for ``path`` with a diarized ``transcribe(**options)``,
    found through the client against a server that hears nothing (no decoding, so
    planning hours takes seconds)."""

    def deaf(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"model": "voxtral-mini-latest", "text": ""})

    http = httpx.Client(transport=httpx.MockTransport(deaf))
    with VoxtralClient(api_key="sk-test-deaf-server", http_client=http) as client:
        result = client.transcribe(
            path, diarize=True, timestamp_granularities=["segment"], **options
        )
    return list(result.chunks)


# ---- the truth


@dataclass(frozen=True)
class Turn:
    """One person speaking from ``start`` to ``end`` (seconds), with no pause."""

    person: int
    start: float
    end: float


@dataclass(frozen=True)
class Conversation:
    """People (0, 1, 2...) taking turns; person ``p`` speaks at ``VOICES[p]``."""

    turns: tuple[Turn, ...]
    duration: float
    seed: int = 0

    @property
    def people(self) -> list[int]:
        return sorted({turn.person for turn in self.turns})

    def pcm(self) -> np.ndarray[Any, np.dtype[np.int16]]:
        """Mono s16 at :data:`RATE`: each turn a voice, digital silence elsewhere."""
        samples = np.zeros(round(self.duration * RATE), np.int16)
        rng = np.random.default_rng(self.seed)
        for turn in self.turns:
            first, last = round(turn.start * RATE), round(turn.end * RATE)
            samples[first:last] = voice(VOICES[turn.person], last - first, rng)
        return samples

    def wav(self) -> bytes:
        return wav_of(self.pcm())

    def encoded(self, name: str) -> bytes:
        """The audio as ``audio_factory`` format ``name`` ("wav", "flac", "mp3"...)."""
        return self.wav() if name == "wav" else encode(self.pcm().tobytes(), name)

    def speaking(self, low: float, high: float) -> set[int]:
        """Who speaks at some point in ``[low, high]``."""
        return {turn.person for turn in self.turns if turn.start < high and turn.end > low}

    def person_at(self, start: float, end: float) -> int | None:
        """The person whose turns cover most of ``[start, end]`` (``None``: nobody)."""
        cover: dict[int, float] = {}
        for turn in self.turns:
            shared = min(end, turn.end) - max(start, turn.start)
            if shared > 0:
                cover[turn.person] = cover.get(turn.person, 0.0) + shared
        return max(cover, key=cover.__getitem__) if cover else None


def wav_of(samples: np.ndarray[Any, np.dtype[np.int16]]) -> bytes:
    """Mono s16 ``samples`` at :data:`RATE` as a WAV file."""
    output = io.BytesIO()
    with wave.open(output, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(samples.tobytes())
    return output.getvalue()


def voice(pitch: float, count: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """``count`` samples of speech-like sound at about ``pitch`` Hz: three harmonics
    under a syllable-rate envelope (3.5-5 a second), a little noise. Each turn's pitch
    varies by up to 2%, as a person's does."""
    t = np.arange(count) / RATE
    f0 = pitch * (1 + rng.uniform(-0.02, 0.02))
    syllables = rng.uniform(3.5, 5.0)
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * syllables * t)
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
    noise = rng.uniform(-300, 300, count)
    return np.clip(AMPLITUDE * envelope * tone + noise, -32000, 32000).astype(np.int16)


@dataclass(frozen=True)
class Style:
    """How turns follow one another: lengths (s), share of short back-channels
    (0.3-1 s), the pause between two people (``handover``, 0 for none) and between
    two turns of one person (at least 0.3 s, so that they are two turns)."""

    lengths: tuple[float, float] = (1.0, 15.0)
    backchannels: float = 0.15
    handover: tuple[float, float] = (0.3, 1.2)
    no_pause_share: float = 0.0
    """Share of handovers with no pause at all (one voice takes over from the other)."""
    same_person_share: float = 0.0
    """Share of turns where the same person goes on after a pause."""


PAUSED = Style()
GAPLESS = Style(lengths=(1.0, 10.0), no_pause_share=1.0)
LIVELY = Style(no_pause_share=0.25, same_person_share=0.15)
"""A 30-minute meeting: a quarter of handovers without a pause, some monologues
broken by pauses."""


Slot = tuple[float, float]
"""A turn's start and end before anyone is given it."""


def pause(style: Style, rng: random.Random) -> float:
    """Seconds between one turn and the next in ``style`` (0: a voice takes over)."""
    return 0.0 if rng.random() < style.no_pause_share else rng.uniform(*style.handover)


def slots(low: float, high: float, style: Style, rng: random.Random) -> list[Slot]:
    """Turn times in ``style`` from ``low`` (where the first starts) to ``high``."""
    found: list[Slot] = []
    start = low
    while True:
        if rng.random() < style.backchannels:
            length = rng.uniform(0.3, 1.0)
        else:
            shortest, longest = style.lengths
            length = shortest + (longest - shortest) * rng.betavariate(1.3, 3.5)
        end = min(start + length, high)
        if end - start < 0.3:
            return found
        found.append((round(start, 4), round(end, 4)))
        start = end + pause(style, rng)


def plant(
    found: Sequence[Slot], planted: Iterable[Slot], style: Style, rng: random.Random
) -> list[Slot]:
    """``found`` with a turn at each planted ``(start, end)``: turns in the way are
    dropped and the room around the planted turn is filled again in ``style``, up to
    it and from it. Plant ``(t, t + 5)`` for a turn starting at ``t``, ``(t - 3, t + 3)``
    for one across ``t``."""
    result = sorted(found)
    for start, end in sorted(planted):
        before = [s for s in result if s[1] + 0.3 <= start]
        after = [s for s in result if s[0] >= end + 0.3]
        if before:  # fill up to the planted turn, the last turn stretched to meet it
            room = slots(before[-1][1] + pause(style, rng), start, style, rng) or [before.pop()]
            last = (room[-1][0], round(start - pause(style, rng), 4))
            before += [*room[:-1], *([last] if last[1] - last[0] >= 0.3 else [])]
        if after:  # and from it, the next turn kept moved to start a pause after the fill
            following = after.pop(0)
            room = slots(round(end + pause(style, rng), 4), following[0], style, rng)
            resume = round((room[-1][1] if room else end) + pause(style, rng), 4)
            moved = [(resume, following[1])] if following[1] - resume >= 0.3 else []
            after = [*room, *moved, *after]
        result = [*before, (start, end), *after]
    return result


def cast(
    found: Sequence[Slot],
    people: int,
    rng: random.Random,
    *,
    style: Style = PAUSED,
    silent: Iterable[tuple[int, float, float]] = (),
    duration: float,
    seed: int = 0,
) -> Conversation:
    """A conversation giving each slot a person: someone else than the last speaker
    (the same person may go on, after a pause, ``style.same_person_share`` of the
    time), never a person who is ``silent`` (person, from, to) there."""
    quiet = list(silent)
    turns: list[Turn] = []
    for slot in found:
        allowed = [
            p
            for p in range(people)
            if not any(q == p and slot[0] < hi and slot[1] > lo for q, lo, hi in quiet)
        ]
        last = turns[-1].person if turns else None
        others = [p for p in allowed if p != last]
        joined = bool(turns) and slot[0] - turns[-1].end < 0.3  # heard as one turn
        goes_on = last in allowed and not joined and rng.random() < style.same_person_share
        person = last if goes_on or not others else rng.choice(others)
        assert person is not None
        turns.append(Turn(person, *slot))
    return Conversation(tuple(turns), duration, seed)
