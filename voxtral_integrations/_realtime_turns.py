"""Turns without I/O: every utterance's final text exactly once, at absolute times.

:class:`TurnAssembler` is told what the session shell did and saw (audio appended,
a flush or end asked for, a server event, a new server session) and the time it
happened (``now``, the shell's monotonic clock: there is no clock here). It answers
with the events a caller sees and, through :meth:`TurnAssembler.poll`, whether the
connection must be replaced.

The rules, in the order the server's faults need them:

- **One offset.** A server session's times start at 0, and a session opened after a
  reconnection starts where the audio not yet final starts. Every time a caller sees
  is shifted here, once, to absolute stream seconds.
- **Final text** comes from a ``done``: the oldest flush still waiting for one takes
  it (the server answers flushes in order). A ``done`` that repeats the turns already
  final in this session (cumulative, pipecat#4485) is stripped of them, unless it is
  exactly this turn's deltas. A ``done`` nobody asked for (Realtime 3 may finalise at
  ``turn.end`` by itself) finalises the open turn; the one answering the later flush
  is then empty or a repeat, and gives no utterance. An utterance without text is
  never given.
- **A missing done.** A flush without its ``done`` after ``done_timeout``. Deltas
  carry no times, so they tell which turn they belong to only while no audio followed
  the flush: then the server, alive (it said something since the flush) but without
  the ``done``, has its joined deltas taken as final (``final="deltas"``) and the
  connection is replaced, so a late ``done`` cannot be taken for the next turn's. In
  every other case (it said nothing: a stall; or later audio went out, whose deltas
  mix with this turn's) the turn stays open and is replayed into a new session; when
  no new session can be had, :meth:`TurnAssembler.give_up` gives the deltas as final.
- **A silent stall.** No event while ``stall_timeout`` seconds of speech were sent
  and as long went by: the connection is replaced.
- **Replay.** The audio not yet final is kept (from the end of the last final turn)
  with the flushes in it, and is sent again into each new session, which starts at
  its absolute offset. Partial text heard before starts again.
- **Times.** An utterance's start and end are those of the server's timed segments
  for the turn when it sends them; else of its ``turn.start``/``turn.end``; else of
  the speech heard in the turn's audio (``_realtime_vad.speech_span``: frames louder
  than ``REALTIME_SPEECH_LEVEL``); else the turn's whole audio. The speaker is the one
  of most of the turn's segments, when diarized.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ._models import DoneEvent, LanguageEvent, Segment, SegmentEvent, TextDeltaEvent
from ._realtime_events import RealtimeEvent, TurnEvent, UtteranceEvent
from ._realtime_protocol import RealtimeOptions
from ._realtime_vad import speech_span

Step = tuple[Literal["audio"], bytes] | tuple[Literal["flush", "end"], None]


@dataclass
class _Turn:
    """A flushed turn waiting for its ``done``; positions in absolute bytes."""

    start: int
    end: int
    asked: float
    ending: bool
    speech: tuple[int, int] | None
    heard: bool = False


@dataclass
class _Heard:
    """What the current server session said about the turn it is working on."""

    deltas: list[str] = field(default_factory=list)
    segments: list[Segment | SegmentEvent] = field(default_factory=list)
    turn_start: float | None = None
    turn_end: float | None = None


@dataclass(frozen=True)
class Replay:
    """What a new server session is sent before new audio: its offset and the steps."""

    offset: float
    steps: list[Step]
    seconds: float


@dataclass(frozen=True)
class Poll:
    events: list[RealtimeEvent]
    reconnect: str | None = None
    """Why the connection must be replaced, or ``None``."""


class TurnAssembler:
    """Turns the events of one stream, over any number of server sessions, into
    utterances; see the module docstring for the rules."""

    def __init__(self, options: RealtimeOptions, *, done_timeout: float, stall_timeout: float):
        self._options = options
        self._done_timeout = done_timeout
        self._stall_timeout = stall_timeout
        self._pcm = bytearray()
        self._pcm_start = 0  # absolute byte of self._pcm[0]: the end of the last final turn
        self._sent = 0
        self._offset = 0  # absolute byte of the current server session's time 0
        self._turn_start = 0
        self._speech: tuple[int, int] | None = None  # of the open turn
        self._turns: deque[_Turn] = deque()
        self._heard = _Heard()
        self._session_texts: list[str] = []
        self._language: str | None = None
        self._index = 0
        self._ended = False
        self._last_event = 0.0
        self._speech_since_event = 0
        self._speech_since: float | None = None

    # ---- what the shell did

    def audio(self, pcm: bytes, now: float) -> None:
        """``pcm`` (whole samples) was appended."""
        frame = max(self._options.sample_width, self._options.bytes_per_second // 50)
        span = speech_span(pcm, self._options.encoding, frame)
        if span is not None:
            first, last = self._sent + span[0], self._sent + span[1]
            self._speech = (self._speech[0] if self._speech else first, last)
            self._speech_since_event += span[1] - span[0]
            if self._speech_since is None:
                self._speech_since = now
        self._pcm += pcm
        self._sent += len(pcm)

    def flush(self, now: float, *, end: bool = False) -> None:
        """The open turn was flushed (``end``: the input ended)."""
        self._turns.append(_Turn(self._turn_start, self._sent, now, end, self._speech))
        self._turn_start, self._speech = self._sent, None
        self._ended = self._ended or end

    def session_started(self, now: float) -> Replay:
        """A new server session opened: it starts at the audio not yet final.

        The steps replay that audio and its flushes; the shell sends them before
        anything new, and does not report the replayed audio again.
        """
        self._offset = self._pcm_start
        self._heard = _Heard()
        self._session_texts = []
        self._last_event, self._speech_since_event, self._speech_since = now, 0, None
        steps: list[Step] = []
        position = self._pcm_start
        for turn in self._turns:
            turn.asked, turn.heard = now, False
            if turn.end > position:
                steps.append(("audio", self._bytes(position, turn.end)))
            steps.append(("end", None) if turn.ending else ("flush", None))
            position = turn.end
        if self._sent > position:
            steps.append(("audio", self._bytes(position, self._sent)))
        return Replay(self._seconds(self._offset), steps, self._seconds(len(self._pcm)))

    # ---- what the server said

    def event(self, event: RealtimeEvent, now: float) -> list[RealtimeEvent]:
        """A server event in; the events the caller sees out (absolute times)."""
        self._last_event, self._speech_since_event, self._speech_since = now, 0, None
        for turn in self._turns:
            turn.heard = True
        offset = self._seconds(self._offset)
        if isinstance(event, TextDeltaEvent):
            self._heard.deltas.append(event.text)
        elif isinstance(event, LanguageEvent):
            self._language = event.audio_language
        elif isinstance(event, SegmentEvent):
            event = event.model_copy(update=_shifted(event, offset))
            self._heard.segments.append(event)
        elif isinstance(event, TurnEvent):
            event = event.model_copy(update={"time": event.time + offset})
            if event.type == "turn.start" and self._heard.turn_start is None:
                self._heard.turn_start = event.time
            elif event.type == "turn.end":
                self._heard.turn_end = event.time
        elif isinstance(event, DoneEvent):
            segments = [
                segment.model_copy(update=_shifted(segment, offset)) for segment in event.segments
            ]
            event = event.model_copy(update={"segments": segments})
            return [event, *self._done(event)]
        return [event]

    def poll(self, now: float) -> Poll:
        """Timeouts: a ``done`` overdue, or a stall. Call by :meth:`deadline` at the latest."""
        if self._turns and now - self._turns[0].asked >= self._done_timeout:
            turn = self._turns[0]
            if not turn.heard:
                return Poll([], reconnect="no answer to a flush")
            if len(self._turns) > 1 or self._sent > turn.end:
                return Poll([], reconnect="a flush's done never came")  # whose deltas are whose?
            events = self._finalise(self._joined(), "deltas")
            reconnect = None if self.finished else "a flush's done never came"
            return Poll(events, reconnect=reconnect)
        if (
            self._speech_since is not None
            and now - self._speech_since >= self._stall_timeout
            and self._seconds(self._speech_since_event) >= self._stall_timeout
        ):
            return Poll([], reconnect="no event while speech was sent")
        return Poll([])

    def deadline(self) -> float | None:
        """The clock time by which :meth:`poll` must be called, or ``None``.

        A stall has one only once enough speech went out: until then no waiting makes
        one, and a deadline already past would have the shell poll without pause.
        """
        times = [self._turns[0].asked + self._done_timeout] if self._turns else []
        if (
            self._speech_since is not None
            and self._seconds(self._speech_since_event) >= self._stall_timeout
        ):
            times.append(self._speech_since + self._stall_timeout)
        return min(times) if times else None

    def give_up(self) -> list[RealtimeEvent]:
        """No more server sessions: what was heard of the waiting turns is final."""
        events: list[RealtimeEvent] = []
        while self._turns:
            events += self._finalise(self._joined(), "deltas")
        return events

    @property
    def finished(self) -> bool:
        """The input ended and every turn is final."""
        return self._ended and not self._turns

    @property
    def sent_bytes(self) -> int:
        """Audio appended so far, in bytes (the absolute stream position)."""
        return self._sent

    @property
    def ended(self) -> bool:
        return self._ended

    # ---- turns

    def _done(self, done: DoneEvent) -> list[RealtimeEvent]:
        text = self._turn_text(done.text)
        self._heard.segments.extend(done.segments)
        language = done.language or self._language
        if self._turns:
            return self._finalise(text, "done", language)
        if not text:  # the answer to a flush of a turn the server finalised itself
            self._heard = _Heard()
            return []
        end = self._heard.turn_end
        end_byte = self._sent if end is None else min(self._sent, self._byte(end))
        self._turns.append(
            _Turn(self._turn_start, max(end_byte, self._turn_start), 0.0, False, self._speech)
        )
        self._turn_start, self._speech = self._turns[-1].end, None
        return self._finalise(text, "done", language)

    def _turn_text(self, done_text: str) -> str:
        text = " ".join(done_text.split())
        prior = " ".join(" ".join(self._session_texts).split())
        if not prior or text == self._joined() or not text.startswith(prior):
            return text
        rest = text[len(prior) :]
        return rest.strip() if not rest or rest[0] == " " else text

    def _joined(self) -> str:
        return " ".join("".join(self._heard.deltas).split())

    def _finalise(
        self, text: str, final: Literal["done", "deltas"], language: str | None = None
    ) -> list[RealtimeEvent]:
        turn = self._turns.popleft()
        heard, self._heard = self._heard, _Heard()
        self._session_texts.append(text)
        del self._pcm[: turn.end - self._pcm_start]
        self._pcm_start = turn.end
        if not text:
            return []
        start, end = self._times(turn, heard)
        utterance = UtteranceEvent(
            index=self._index,
            text=text,
            start=start,
            end=end,
            speaker_id=_speaker(heard.segments),
            language=language or self._language,
            final=final,
        )
        self._index += 1
        return [utterance]

    def _times(self, turn: _Turn, heard: _Heard) -> tuple[float, float]:
        low, high = self._seconds(turn.start), self._seconds(turn.end)
        timed = [
            (segment.start, segment.end)
            for segment in heard.segments
            if segment.start is not None
            and segment.end is not None
            and segment.end > low - 0.05
            and segment.start < high + 0.05
        ]
        if timed:
            return min(start for start, _ in timed), max(end for _, end in timed)
        if heard.turn_start is not None or heard.turn_end is not None:
            start = heard.turn_start if heard.turn_start is not None else low
            return start, max(start, heard.turn_end if heard.turn_end is not None else high)
        if turn.speech is not None:
            return self._seconds(turn.speech[0]), self._seconds(turn.speech[1])
        return low, high

    def _bytes(self, start: int, end: int) -> bytes:
        return bytes(self._pcm[start - self._pcm_start : end - self._pcm_start])

    def _seconds(self, byte: int) -> float:
        return self._options.seconds(byte)

    def _byte(self, absolute: float) -> int:
        width = self._options.sample_width
        return round(absolute * self._options.bytes_per_second / width) * width


def _shifted(segment: Segment | SegmentEvent, offset: float) -> dict[str, float | None]:
    return {
        "start": None if segment.start is None else segment.start + offset,
        "end": None if segment.end is None else segment.end + offset,
    }


def _speaker(segments: Iterable[Segment | SegmentEvent]) -> str | None:
    counts = Counter(segment.speaker_id for segment in segments if segment.speaker_id)
    return counts.most_common(1)[0][0] if counts else None
