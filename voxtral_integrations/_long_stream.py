"""One stream of events for a recording sent in several chunks (``stream_transcription``).

Pure: it turns the event streams of consecutive chunks, as they come, into the
stream of the whole recording, and gives what :func:`._chunking.stitch` gives for
the same answers (the tests compare the two).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

from ._chunking import agreed_midpoints, owns, shift, stitch, territories, with_speaker
from ._models import (
    Chunk,
    DoneEvent,
    LanguageEvent,
    Segment,
    SegmentEvent,
    TextDeltaEvent,
    Transcription,
    TranscriptionStreamEvent,
    shared_seconds,
    speaker_link,
)
from ._speakers import SpeakerLink, SpeakerLinker


class LongStream:
    """Turns the event streams of consecutive chunks into one stream of the recording.

    Segments are shifted by their chunk's start (through ``shift``, like stitched
    results); the language event is kept from the first chunk only; the first text
    delta of a later chunk starts with a space; each chunk's ``DoneEvent`` is held
    back and :meth:`done` ends the stream with one for the whole recording.

    Where chunks overlap (diarized audio), the stream gives what :func:`stitch`
    gives, as soon as it can: each segment once, from the chunk that owns it, with
    the text deltas before it, under its recording-wide speaker. So a chunk's events
    in the overlap with the next wait for the next chunk's hearing of it (both are
    judged by one midpoint: ``agreed_midpoints``), and a later chunk's events wait
    until its segments have passed the overlap, where its labels are linked
    (``SpeakerLinker``); then they flow.
    """

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self._chunks = list(chunks)
        self._territories = dict(zip((c.index for c in chunks), territories(chunks), strict=True))
        overlapping = [(b, a) for b, a in pairwise(chunks) if shared_seconds(b, a)]
        self._before = {after.index: before for before, after in overlapping}
        self._after = {before.index: after for before, after in overlapping}
        """Each chunk's neighbours that share audio with it, by chunk index."""
        self._overlapping = bool(overlapping)
        self._linker = SpeakerLinker()
        self._results: list[Transcription] = []
        self._last_delta_chunk: int | None = None
        self._heard: list[Segment] = []
        """The current chunk's segments so far, in the recording's time."""
        self._held: list[tuple[TranscriptionStreamEvent, int | None]] = []
        """Its events not yet streamed, each segment with its place in ``_heard``."""
        self._middles: dict[int, float] | None = None
        """Its midpoints agreed with the chunk before, once its labels are linked."""
        self._previous: _Heard | None = None
        """The chunk before, while its events in their overlap wait for this one."""

    def absolute(
        self, chunk: Chunk, event: TranscriptionStreamEvent
    ) -> list[TranscriptionStreamEvent]:
        """``event`` in the recording's time: the events it releases (none while held)."""
        if isinstance(event, TextDeltaEvent):
            joins = self._last_delta_chunk not in (None, chunk.index)
            self._last_delta_chunk = chunk.index
            delta = event.model_copy(update={"text": " " + event.text.lstrip()}) if joins else event
            if not self._overlapping:
                return [delta]
            self._held.append((delta, None))
            return []
        if isinstance(event, SegmentEvent):
            return self._segment(chunk, event)
        if isinstance(event, DoneEvent):
            self._results.append(Transcription.model_validate(event.model_dump(exclude={"type"})))
            return self._release(chunk, final=True) if self._overlapping else []
        if isinstance(event, LanguageEvent) and chunk.index > 0:
            return []
        return [event]

    def _segment(self, chunk: Chunk, event: SegmentEvent) -> list[TranscriptionStreamEvent]:
        moved = shift(Segment(text=event.text, start=event.start, end=event.end), chunk.start)
        absolute = event.model_copy(update={"start": moved.start, "end": moved.end})
        if not self._overlapping:
            return [absolute]
        self._held.append((absolute, len(self._heard)))
        self._heard.append(moved.model_copy(update={"speaker_id": event.speaker_id}))
        before = self._before.get(chunk.index)
        passed = before is None or (moved.start is not None and moved.start >= before.end)
        return self._release(chunk, final=False) if passed else []

    def _release(self, chunk: Chunk, *, final: bool) -> list[TranscriptionStreamEvent]:
        """The held events to stream now (see the class): the chunk before's that were
        waiting for this one, then this one's up to its overlap with the next; the
        rest waits, for the next chunk or (deltas after the last segment) the end."""
        links = self._linker.link(chunk, self._heard)
        released: list[TranscriptionStreamEvent] = []
        if self._middles is None:
            self._middles = {}
            previous, self._previous = self._previous, None
            if previous is not None:
                middles = agreed_midpoints([previous.chunk, chunk], [previous.heard, self._heard])
                ready, trailing = previous.streamed(previous.waiting, middles[0], self._territories)
                released += ready + [event for event, _ in trailing]
                self._middles = middles[1]
        after = self._after.get(chunk.index)
        waiting_from = next(
            (
                position
                for position, (_, index) in enumerate(self._held)
                if index is not None
                and after is not None
                and (end := self._heard[index].end) is not None
                and end > after.start
            ),
            len(self._held),
        )
        current = _Heard(chunk, self._heard, links)
        ready, trailing = current.streamed(
            self._held[:waiting_from], self._middles, self._territories
        )
        released += ready
        waiting = self._held[waiting_from:]
        if waiting:  # the deltas before a waiting segment wait with it
            waiting, trailing = trailing + waiting, []
        elif final:
            released += [event for event, _ in trailing]
            trailing = []
        self._held = waiting + trailing
        if final:
            self._previous = (
                _Heard(chunk, self._heard, links, waiting) if after is not None else None
            )
            self._heard, self._held, self._middles = [], [], None
        return released

    def done(self) -> DoneEvent:
        whole = stitch(self._chunks, self._results)
        return DoneEvent.model_validate(whole.model_dump())


class _Heard:
    """One chunk's hearing, for :class:`LongStream`: its segments, links and waiting events."""

    def __init__(
        self,
        chunk: Chunk,
        heard: list[Segment],
        links: dict[str, SpeakerLink],
        waiting: list[tuple[TranscriptionStreamEvent, int | None]] | None = None,
    ) -> None:
        self.chunk, self.heard, self.links = chunk, heard, links
        self.waiting = waiting or []

    def streamed(
        self,
        held: Sequence[tuple[TranscriptionStreamEvent, int | None]],
        middles: Mapping[int, float],
        territory: Mapping[int, tuple[float, float]],
    ) -> tuple[list[TranscriptionStreamEvent], list[tuple[TranscriptionStreamEvent, int | None]]]:
        """Of ``held``, each segment this chunk owns with the deltas before it (a segment
        it does not own takes its deltas with it), and the deltas after the last
        segment, which belong to a segment still to come (or to the end)."""
        low, high = territory[self.chunk.index]
        released: list[TranscriptionStreamEvent] = []
        deltas: list[tuple[TranscriptionStreamEvent, int | None]] = []
        for event, index in held:
            if index is None:
                deltas.append((event, index))
                continue
            segment = self.heard[index]
            if owns(segment, low, high, middle=middles.get(index)):
                linked = with_speaker(segment, self.chunk.index, self.links)
                update = {"speaker_id": linked.speaker_id, **speaker_link(linked)}
                released += [*(delta for delta, _ in deltas), event.model_copy(update=update)]
            deltas = []
        return released, deltas
