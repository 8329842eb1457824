"""What the Mistral fake says about the words it hears (pure: it returns the events).

* A word's ``transcription.text.delta`` (``" word"``) goes out once the word's end has
  arrived, except that the last word heard is held back until the next word, a flush or the
  end (client-python#357). ``transcription.language`` follows the first delta, once.
* ``transcription.done``: ``text`` is the turn's words joined by spaces (the joined deltas
  without their leading space); ``segments`` are the turn's words grouped at pauses of 0.5 s
  or a change of speaker, with ``speaker_id`` ("speaker_N", from the tone's amplitude) when
  the session diarizes, which also sends one ``transcription.segment`` per segment before the
  done. ``usage.prompt_audio_seconds`` is the turn's audio rounded up (an int in the SDK).
* ``turn_detection``: ``turn.start`` at the first word's start, ``turn.eager_end`` after half
  of ``min_silence_ms`` of silence, ``turn.resume`` when speech comes back before the end,
  ``turn.end`` (``time_s`` = the last word's end, ``end_reason`` "threshold") after
  ``min_silence_ms``. All times are seconds from the session's first sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tests.support.audio_factory import Heard

SEGMENT_PAUSE = 0.5
Event = dict[str, Any]


class Transcript:
    def __init__(
        self,
        session: Mapping[str, Any],
        *,
        auto_done: bool = False,
        cumulative: bool = False,
        no_done: bool = False,
    ) -> None:
        self.session = session
        self.turns: dict[str, Any] | None = session.get("turn_detection")
        self.auto_done, self.cumulative, self.no_done = auto_done, cumulative, no_done
        self.held: Heard | None = None
        self.turn: list[Heard] = []
        self.turn_from = 0.0
        self.finished: list[str] = []
        self.language_sent = self.in_turn = self.eager = False
        self.last_end: float | None = None
        self.last_speech = -1.0

    @property
    def language(self) -> str:
        return str(self.session.get("language") or "en")

    def heard(self, words: list[Heard], now: float, sounding: float | None) -> list[Event]:
        """Events for ``words`` just heard, with ``now`` seconds received and a word sounding
        since ``sounding`` (or none)."""
        events: list[Event] = []
        for word in words:
            events += self._turn_progress(word.start, now)
            events += self._word(word)
        return events + self._turn_progress(sounding, now)

    def finalise(self, words: list[Heard], until: float) -> list[Event]:
        """Events of a flush or end at ``until`` seconds, with the ``words`` it completed."""
        events = [event for word in words for event in self._word(word)]
        return events + self._done(until)

    def _word(self, word: Heard) -> list[Event]:
        events = self._delta(self.held) if self.held is not None else []
        self.held = word
        self.turn.append(word)
        self.last_end = word.end
        return events

    def _delta(self, word: Heard) -> list[Event]:
        events: list[Event] = [{"type": "transcription.text.delta", "text": f" {word.word}"}]
        if not self.language_sent:
            self.language_sent = True
            events.append({"type": "transcription.language", "audio_language": self.language})
        return events

    def _turn_progress(self, speech: float | None, now: float) -> list[Event]:
        """Turn events for the silence since the last word, up to ``speech`` (or ``now``)."""
        if self.turns is None or (speech is not None and speech <= self.last_speech):
            return []
        events: list[Event] = []
        min_silence = self.turns["min_silence_ms"] / 1000
        if self.in_turn and self.last_end is not None:
            silence = (now if speech is None else speech) - self.last_end
            if silence >= min_silence:
                events.append(
                    {"type": "turn.end", "time_s": self.last_end, "end_reason": "threshold"}
                )
                self.in_turn = self.eager = False
                if self.auto_done:
                    events += self._done(self.last_end)
            elif silence >= min_silence / 2 and not self.eager:
                events.append({"type": "turn.eager_end", "time_s": self.last_end})
                self.eager = True
            if speech is not None and self.eager:
                events.append({"type": "turn.resume", "time_s": speech})
                self.eager = False
        if speech is not None:
            self.last_speech = speech
            if not self.in_turn:
                events.append({"type": "turn.start", "time_s": speech})
                self.in_turn = True
        return events

    def _done(self, until: float) -> list[Event]:
        events = self._delta(self.held) if self.held is not None else []
        self.held = None
        text = " ".join(word.word for word in self.turn)
        segments = self._segments()
        if self.session.get("diarize"):
            events += [{**segment, "type": "transcription.segment"} for segment in segments]
        seconds = max(0.0, until - self.turn_from)
        self.turn, self.turn_from = [], until
        if text:
            self.finished.append(text)
        if self.no_done:
            return events
        if self.cumulative:
            text = " ".join(self.finished)
        prompt, completion = math.ceil(seconds * 12.5), len(text.split())
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_audio_seconds": math.ceil(seconds),
        }
        done = {"model": self.session["model"], "text": text, "segments": segments, "usage": usage}
        language = self.language if text else None
        return [*events, {"type": "transcription.done", **done, "language": language}]

    def _segments(self) -> list[Event]:
        groups: list[list[Heard]] = []
        for word in self.turn:
            last = groups[-1][-1] if groups else None
            if last and word.start - last.end < SEGMENT_PAUSE and word.speaker == last.speaker:
                groups[-1].append(word)
            else:
                groups.append([word])
        speakers = bool(self.session.get("diarize"))
        return [
            {
                "type": "transcription_segment",
                "text": " ".join(word.word for word in group),
                "start": group[0].start,
                "end": group[-1].end,
                **({"speaker_id": f"speaker_{group[0].speaker}"} if speakers else {}),
            }
            for group in groups
        ]
