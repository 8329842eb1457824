"""A pure, incremental parser for ``text/event-stream`` bodies.

Bytes go in as the network delivers them (a frame, or even a UTF-8 character,
may be split across chunks); complete events come out. It follows the WHATWG
event-stream rules for lines and fields, with one deliberate difference: a
final event with no terminating blank line is still delivered by :meth:`close`,
because servers that end the body right after their last ``data:`` line exist
and the last event of a transcription stream is the one that matters most.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerSentEvent:
    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed it byte chunks with :meth:`feed`; call :meth:`close` at end of body."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._started = False
        self._reset()

    def _reset(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._pending + self._strip_bom(self._decoder.decode(chunk))
        events: list[ServerSentEvent] = []
        start = 0
        for line_end in _LINE_END.finditer(text):
            if line_end.group() == "\r" and line_end.end() == len(text):
                break  # may be the first half of a "\r\n" split across chunks
            event = self._line(text[start : line_end.start()])
            if event is not None:
                events.append(event)
            start = line_end.end()
        self._pending = text[start:]
        return events

    def close(self) -> list[ServerSentEvent]:
        """Flush what is left: a last line with no newline, an event with no blank line."""
        text = self._pending + self._strip_bom(self._decoder.decode(b"", final=True))
        self._pending = ""
        events = [event for line in _LINE_END.split(text) if (event := self._line(line))]
        final = self._dispatch()
        return [*events, final] if final else events

    def _strip_bom(self, text: str) -> str:
        """Drop one byte-order mark at the very start of the stream."""
        if not self._started and text:
            self._started = True
            return text.removeprefix("\ufeff")
        return text

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:  # an event with no data is not dispatched (WHATWG)
            self._reset()
            return None
        event = ServerSentEvent("\n".join(self._data), self._event, self._id, self._retry)
        self._reset()
        return event
