"""How each realtime dialect speaks, without I/O: URL, upgrade headers, every frame.

Each dialect's :class:`RealtimeWire` builds the URL, the upgrade headers and every
frame from the checked :class:`RealtimeOptions`, and says what the dialect cannot
do (:class:`UnsupportedFeatureError`, before connecting). The profiles in
``_dialects`` name their wire.

Settings lock at the first audio (the server rejects a later ``session.update``),
so the one ``session.update`` goes before any audio, and other settings mean a new
session.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from ._constants import MAX_APPEND_BYTES, VLLM_REALTIME_ENCODING, VLLM_REALTIME_SAMPLE_RATE
from ._exceptions import UnsupportedFeatureError
from ._realtime_events import MistralRealtimeParser, RealtimeParser, VLLMRealtimeParser
from ._realtime_protocol import RealtimeOptions


class AppendSplitter:
    """Raw PCM in, appends out: each at most ``MAX_APPEND_BYTES``, whole samples only.

    A send that ends inside a sample keeps that odd byte for the next send, so any
    cut of the stream goes through (the server refuses misaligned appends).
    """

    def __init__(self, sample_width: int) -> None:
        self._width = sample_width
        self._rest = b""
        self._max = MAX_APPEND_BYTES - MAX_APPEND_BYTES % sample_width

    def split(self, pcm: bytes) -> list[bytes]:
        data = self._rest + bytes(pcm)
        usable = len(data) - len(data) % self._width
        self._rest = data[usable:]
        return [
            data[start : min(start + self._max, usable)] for start in range(0, usable, self._max)
        ]

    @property
    def pending(self) -> int:
        """Bytes held back (less than one sample)."""
        return len(self._rest)


def websocket_url(base_url: str, path: str, query: Mapping[str, str]) -> str:
    """``base_url`` + ``path`` with http(s) mapped to ws(s), and ``query`` added."""
    parts = urlsplit(base_url.rstrip("/") + path)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(dict(query)), ""))


def _frame(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class RealtimeWire:
    """How one dialect speaks realtime: URL, headers, frames; no I/O."""

    name: ClassVar[str]
    path: ClassVar[str]
    has_session_update_ack: ClassVar[bool] = False
    """Whether the server answers the session update with ``session.updated``."""

    def url(self, base_url: str, options: RealtimeOptions) -> str:
        raise NotImplementedError

    def headers(self, key: str | None, user_agent: str) -> dict[str, str]:
        """The upgrade's headers: the key only here, as a bearer token."""
        headers = {"User-Agent": user_agent}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def check(self, options: RealtimeOptions) -> None:
        """Raise ``UnsupportedFeatureError`` for what this dialect cannot do."""

    def parser(self, options: RealtimeOptions) -> RealtimeParser:
        raise NotImplementedError

    def session_frames(self, options: RealtimeOptions) -> list[str]:
        """Sent once, after ``session.created`` and before any audio."""
        raise NotImplementedError

    def append(self, pcm: bytes) -> str:
        raise NotImplementedError

    def flush(self) -> list[str]:
        raise NotImplementedError

    def end(self) -> list[str]:
        raise NotImplementedError


class MistralRealtimeWire(RealtimeWire):
    """Mistral's ``/audio/transcriptions/realtime?model=``: ``input_audio.*`` frames."""

    name = "mistral"
    path = "/audio/transcriptions/realtime"
    has_session_update_ack = True

    def url(self, base_url: str, options: RealtimeOptions) -> str:
        return websocket_url(base_url, self.path, {"model": options.model})

    def parser(self, options: RealtimeOptions) -> RealtimeParser:
        return MistralRealtimeParser(options.model)

    def session_frames(self, options: RealtimeOptions) -> list[str]:
        """One ``session.update`` with the fields set; the audio format always is, so the
        update is never empty and the server never guesses the format."""
        session: dict[str, Any] = {
            "audio_format": {"encoding": options.encoding, "sample_rate": options.sample_rate}
        }
        if options.target_streaming_delay_ms is not None:
            session["target_streaming_delay_ms"] = options.target_streaming_delay_ms
        session.update(options.v3_fields())
        return [_frame({"type": "session.update", "session": session})]

    def append(self, pcm: bytes) -> str:
        return _frame({"type": "input_audio.append", "audio": base64.b64encode(pcm).decode()})

    def flush(self) -> list[str]:
        return [_frame({"type": "input_audio.flush"})]

    def end(self) -> list[str]:
        return [_frame({"type": "input_audio.end"})]


class VLLMRealtimeWire(RealtimeWire):
    """vLLM's ``/realtime``: the model at the top level, ``input_audio_buffer.*`` frames.

    A turn is a generation: ``commit`` starts one, ``commit{final:true}`` ends its
    input and brings its ``done``; a flush is the latter then a new ``commit``.
    """

    name = "vllm"
    path = "/realtime"

    def url(self, base_url: str, options: RealtimeOptions) -> str:
        return websocket_url(base_url, self.path, {})

    def check(self, options: RealtimeOptions) -> None:
        if (options.encoding, options.sample_rate) != (
            VLLM_REALTIME_ENCODING,
            VLLM_REALTIME_SAMPLE_RATE,
        ):
            raise UnsupportedFeatureError(
                f"vLLM's realtime route takes {VLLM_REALTIME_ENCODING} at "
                f"{VLLM_REALTIME_SAMPLE_RATE} Hz only; got {options.encoding} at "
                f"{options.sample_rate} Hz. Pass sample_rate={VLLM_REALTIME_SAMPLE_RATE}, "
                f"encoding={VLLM_REALTIME_ENCODING!r} (send_audio converts any audio).",
                argument="sample_rate"
                if options.sample_rate != VLLM_REALTIME_SAMPLE_RATE
                else "encoding",
            )
        unsupported = [*options.v3_fields()]
        if options.target_streaming_delay_ms is not None:
            unsupported.insert(0, "target_streaming_delay_ms")
        if unsupported:
            raise UnsupportedFeatureError(
                f"The vLLM backend cannot honour {', '.join(unsupported)}: vLLM's realtime "
                "route has no session fields (its delay is the server's "
                "`transcription_delay_ms`). Use the Mistral backend, or drop them.",
                argument=unsupported[0],
            )

    def parser(self, options: RealtimeOptions) -> RealtimeParser:
        return VLLMRealtimeParser(options.model)

    def session_frames(self, options: RealtimeOptions) -> list[str]:
        return [
            _frame({"type": "session.update", "model": options.model}),
            _frame({"type": "input_audio_buffer.commit"}),
        ]

    def append(self, pcm: bytes) -> str:
        return _frame(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
        )

    def flush(self) -> list[str]:
        return [
            _frame({"type": "input_audio_buffer.commit", "final": True}),
            _frame({"type": "input_audio_buffer.commit"}),
        ]

    def end(self) -> list[str]:
        return [_frame({"type": "input_audio_buffer.commit", "final": True})]


MISTRAL_REALTIME = MistralRealtimeWire()
VLLM_REALTIME = VLLMRealtimeWire()
