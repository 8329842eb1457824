"""Tone speech round trip: every word, speaker and time comes back, however the audio is cut."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.support.audio_factory import (
    ENCODINGS,
    MIN_HEARD_SECONDS,
    WORDS,
    WordListener,
    heard_speech,
    heard_words,
    pcm_as,
    samples_of,
    tone_speech,
    transcript,
    utterance,
)

TOLERANCE = 0.0002  # the decoder rounds to 0.1 ms; a cosine's last sample may be near zero

SCRIPT = [
    *utterance(WORDS, 0.25, word=0.12, gap=0.03),
    *utterance(["alpha", "two"], 7.0, speaker=3),
    *utterance(["tower"], 8.0, word=0.1, speaker=4),
]


def _same(heard: list[tuple[float, float, str]], script: list[tuple[float, float, str]]) -> None:
    assert [word for _, _, word in heard] == [word for _, _, word in script]
    for (start, end, _), (true_start, true_end, _) in zip(heard, script, strict=True):
        assert start == pytest.approx(true_start, abs=TOLERANCE)
        assert end == pytest.approx(true_end, abs=TOLERANCE)


def test_words_are_distinct_short_words() -> None:
    assert len(WORDS) == len(set(WORDS)) >= 40
    assert all(word.isalpha() and word.islower() for word in WORDS)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 48000])
def test_every_word_and_speaker_comes_back_at_its_time(rate: int) -> None:
    heard = heard_speech(tone_speech(SCRIPT, 8.5, rate), rate)
    _same([(h.start, h.end, h.word) for h in heard], [(s, e, w) for s, e, w, _ in SCRIPT])
    assert [h.speaker for h in heard] == [speaker for *_, speaker in SCRIPT]


def test_silence_is_digital_zero_and_hears_nothing() -> None:
    pcm = tone_speech([], 2.0)
    assert pcm == bytes(len(pcm)) and heard_words(pcm) == []


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_round_trips(encoding: str) -> None:
    pcm = tone_speech(SCRIPT, 8.5, 8000)
    samples = samples_of(pcm_as(pcm, encoding), encoding)
    back = np.round(samples).astype("<i2").tobytes()
    _same(heard_words(back, 8000), [(s, e, w) for s, e, w, _ in SCRIPT])


def test_feeding_piece_by_piece_hears_the_same_words() -> None:
    pcm = tone_speech(SCRIPT, 8.5)
    samples = np.frombuffer(pcm, dtype="<i2")
    whole = heard_speech(pcm)
    rng = random.Random(5)
    for _ in range(10):
        listener, heard, at = WordListener(16000), [], 0
        while at < len(samples):
            step = rng.choice([1, 13, 160, 1600, 8192])
            heard += listener.feed(samples[at : at + step])
            at += step
        assert heard + listener.finish() == whole


def test_a_word_is_reported_only_once_its_end_has_arrived() -> None:
    script = [(0.5, 0.8, "alpha"), (1.0, 1.3, "bravo")]
    samples = np.frombuffer(tone_speech(script, 2.0), dtype="<i2")
    listener = WordListener(16000)
    assert listener.feed(samples[: round(0.79 * 16000)]) == []
    assert listener.sounding_since == pytest.approx(0.5)
    assert [h.word for h in listener.feed(samples[round(0.79 * 16000) : 16000])] == ["alpha"]
    assert listener.sounding_since is None


@pytest.mark.parametrize("cut", [0.0, 0.3, 0.33, 0.39, 0.45, 0.5, 0.55, 0.7])
def test_a_cut_word_counts_only_with_enough_of_it_and_times_restart_at_the_cut(cut: float) -> None:
    script = [(0.3, 0.6, "echo"), (0.8, 1.1, "golf")]
    pcm = tone_speech(script, 1.5)
    heard = heard_words(pcm[2 * round(cut * 16000) :])
    expected = [
        (max(start, cut) - cut, end - cut, word)
        for start, end, word in script
        if end - max(start, cut) >= MIN_HEARD_SECONDS
    ]
    _same(heard, expected)


def test_a_word_cut_at_the_end_of_the_audio_is_heard_up_to_the_cut() -> None:
    pcm = tone_speech([(0.3, 0.6, "echo")], 0.5)
    _same(heard_words(pcm), [(0.3, 0.5, "echo")])


def test_the_script_is_checked() -> None:
    with pytest.raises(ValueError, match=r"0\.1 s"):
        tone_speech([(0.0, 0.05, "alpha")], 1.0)
    with pytest.raises(ValueError, match="speaker"):
        tone_speech([(0.0, 0.5, "alpha", 5)], 1.0)
    assert transcript(utterance(["one", "two"], 0.0)) == "one two"
