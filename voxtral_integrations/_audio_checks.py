"""What local audio holds, and whether it is whole, read from its bytes in Python.

No codec runs here. These are the checks that catch what FFmpeg would pass over in
silence: a header declaring an impossible sample rate or channel count, a file shorter
than its header declares (FLAC STREAMINFO, MP3 Xing/Info), bytes between MP3 frames
that are not audio, a cut-off last frame or Ogg page. Each is an :class:`AudioError`
naming the file. The PCM WAV layout is read here too (header checked, samples sliced
by byte range), so the common short WAV needs no PyAV at all.
"""

from __future__ import annotations

import io
import struct
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from ._exceptions import AudioError
from ._sources import AudioUpload

SAMPLE_RATES = (1000, 768_000)
"""Sample rates (Hz) a recording can have. A header outside them is damaged or hostile:
1 Hz would make two seconds of samples last half a day, and be sent as 48 requests."""
MAX_CHANNELS = 64
"""The most channels FFmpeg's resampler mixes; a header with more is damaged."""
TRUNCATION_SLACK_SECONDS = 0.5
"""How much shorter than its header declares a file may measure before it is truncated."""


@dataclass(frozen=True)
class AudioInfo:
    """What PyAV found in a file. ``duration`` is measured, not the header's claim."""

    container: str
    codec: str
    duration: float
    sample_rate: int
    channels: int
    size: int
    accepted_suffix: str | None
    """The suffix to send it under if the API accepts it as it is, else ``None``."""
    origin: float = 0.0
    """Where the recording starts on the demuxer's clock (seconds; ``_audio_decode._origin``).

    Every time the audio modules hand out (packet times, cuts, chunk starts) is measured
    from the first sample of the recording, as a server decoding the whole file hears
    it: demuxer times minus ``origin``.
    """


@dataclass(frozen=True)
class _PacketIndex:
    """Start time, byte position and size of every packet, for byte-range chunks."""

    times: array[float]
    positions: array[int]
    sizes: array[int]


def _no_audio(upload: AudioUpload) -> AudioError:
    return AudioError(
        f"{upload.name!r} holds no audio (zero length): no audio data was found in it. Check "
        "that it is the finished recording, not an empty export or another kind of file.",
        source=upload.name,
    )


def _truncated(upload: AudioUpload, declared: float, held: float) -> AudioError:
    return AudioError(
        f"{upload.name!r} is truncated: its header declares {declared:.1f} s of audio but the "
        f"file holds {held:.1f} s. Download or export it again.",
        source=upload.name,
    )


def _check_layout(upload: AudioUpload, sample_rate: int, channels: int) -> None:
    """Refuse a sample rate or channel count no recording has, before any time is computed."""
    low, high = SAMPLE_RATES
    if not low <= sample_rate <= high:
        problem = f"a sample rate of {sample_rate} Hz (recordings have {low} to {high} Hz)"
    elif not 1 <= channels <= MAX_CHANNELS:
        problem = f"{channels} channels (recordings have 1 to {MAX_CHANNELS})"
    else:
        return
    raise AudioError(
        f"{upload.name!r} has an impossible header: {problem}. The file is damaged or not "
        "what its name says; export it again from the original recording.",
        source=upload.name,
    )


def _declared_seconds(upload: AudioUpload, container: str, index: _PacketIndex) -> float | None:
    """The length the file's header declares, for the formats whose header counts samples.

    FLAC's STREAMINFO and the Xing/Info frame LAME and FFmpeg put before MP3 audio
    count what the encoder wrote; a file that measures shorter lost its end. Other
    headers' lengths are estimates (from the bitrate) and prove nothing.
    """
    if container == "flac":
        with _byte_range(upload, 0, 26) as head:
            if head[:4] != b"fLaC" or head[4] & 0x7F != 0:  # STREAMINFO comes first
                return None
            rate = int.from_bytes(head[18:21], "big") >> 4
            samples = int.from_bytes(head[21:26], "big") & 0xFFFFFFFFF  # 0: not known
        return samples / rate if rate and samples else None
    if container == "mp3":
        first_audio = index.positions[0]
        with _byte_range(upload, max(0, first_audio - _MP3_MAX_FRAME), first_audio) as head:
            return _xing_seconds(bytes(head))
    return None


def _xing_seconds(head: bytes) -> float | None:
    """Seconds a Xing/Info frame at the end of ``head`` declares, or ``None`` if none does."""
    for tag in (b"Xing", b"Info"):
        at = head.rfind(tag)
        if at < 0 or len(head) < at + 12:
            continue
        for side in (9, 17, 32):
            frame = at - 4 - side
            if frame < 0:
                continue
            version, rate_index = (head[frame + 1] >> 3) & 3, (head[frame + 2] >> 2) & 3
            if head[frame] != 0xFF or head[frame + 1] & 0xE0 != 0xE0 or version == 1:
                continue
            if rate_index == 3 or side != _MP3_SIDE_INFO[version == 3][head[frame + 3] >> 6 == 3]:
                continue
            if not int.from_bytes(head[at + 4 : at + 8], "big") & 1:  # no frame count
                return None
            frames = int.from_bytes(head[at + 8 : at + 12], "big")
            return frames * (1152 if version == 3 else 576) / _MP3_RATES[version][rate_index]
    return None


def _check_ogg_pages(upload: AudioUpload, last: float) -> None:
    """Raise if the last Ogg page is cut off: FFmpeg drops it without a word.

    Pages are walked by their headers alone (27 bytes and a segment table each).
    """
    with upload.open() as content:
        stream = io.BytesIO(content) if isinstance(content, bytes) else content
        offset = 0
        while offset < upload.size:
            stream.seek(offset)
            header = stream.read(27)
            if header[:4] != b"OggS"[: len(header)]:
                return  # not a page: FFmpeg resynchronised past it; nothing cut here
            lacing = stream.read(header[26]) if len(header) == 27 else b""
            if len(header) < 27 or len(lacing) < header[26]:
                break
            offset += 27 + len(lacing) + sum(lacing)
    if offset != upload.size:
        raise AudioError(
            f"{upload.name!r} is truncated: its last Ogg page is cut off after {last:.1f} s. "
            "Download or export it again.",
            source=upload.name,
        )


_MP3_BITRATES = {  # kbit/s by bitrate index, Layer III
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_MP3_SIDE_INFO = {True: {False: 32, True: 17}, False: {False: 17, True: 9}}
"""Bytes of side information after a Layer III header: [MPEG-1?][mono?]."""
_MP3_MAX_FRAME = 2048
"""More than the longest Layer III frame (1441 bytes at 320 kbit/s, 32 kHz)."""


def _check_mp3_frame(upload: AudioUpload, frame: bytes, at: float) -> None:
    """Compare a packet with the length its MPEG Layer III header declares.

    FFmpeg hands over undecodable bytes glued to the frame before them, and a frame
    cut off at the end of the file as a short packet: both show up here.
    """
    if len(frame) < 4 or frame[0] != 0xFF or frame[1] & 0xE0 != 0xE0:
        raise AudioError(
            f"{upload.name!r} is damaged at {at:.1f} s: the data there is not an MP3 frame. "
            "Repair or re-encode the file; it would otherwise be transcribed with that "
            "stretch silently missing.",
            source=upload.name,
        )
    version, layer = (frame[1] >> 3) & 3, (frame[1] >> 1) & 3
    bitrate_index, rate_index = frame[2] >> 4, (frame[2] >> 2) & 3
    if layer != 1 or version == 1 or bitrate_index in (0, 15) or rate_index == 3:
        return  # not Layer III, or a free/invalid header: nothing to compare
    bitrate = _MP3_BITRATES[1 if version == 3 else 2][bitrate_index] * 1000
    rate = _MP3_RATES[version][rate_index]
    length = (144 if version == 3 else 72) * bitrate // rate + ((frame[2] >> 1) & 1)
    if len(frame) > length + 4:
        raise AudioError(
            f"{upload.name!r} is damaged at {at:.1f} s: {len(frame) - length} bytes there are "
            "not audio. Repair or re-encode the file; it would otherwise be transcribed with "
            "that stretch silently missing.",
            source=upload.name,
        )
    if len(frame) < length:
        raise AudioError(
            f"{upload.name!r} is truncated: the frame at {at:.1f} s is cut off. Download or "
            "export it again.",
            source=upload.name,
        )


def _check_mp3_continuity(upload: AudioUpload, index: _PacketIndex) -> None:
    """Raise if frames do not tile the file: a gap is damage, an overrun truncation."""
    positions, sizes, times = index.positions, index.sizes, index.times
    for i in range(1, len(positions)):
        expected = positions[i - 1] + sizes[i - 1]
        if positions[i] != expected:
            raise AudioError(
                f"{upload.name!r} is damaged around {times[i]:.1f} s: {positions[i] - expected} "
                "bytes there are not audio. Repair or re-encode the file; it would otherwise be "
                "transcribed with that stretch silently missing.",
                source=upload.name,
            )
    if positions[-1] + sizes[-1] > upload.size:
        raise AudioError(
            f"{upload.name!r} is truncated: its last frame is cut off at {times[-1]:.1f} s. "
            "Download or export it again.",
            source=upload.name,
        )


@contextmanager
def _byte_range(upload: AudioUpload, start: int, stop: int) -> Iterator[bytes]:
    with upload.open() as content:
        if isinstance(content, bytes):
            yield content[start:stop]
        else:
            content.seek(start)
            yield content.read(stop - start)


@contextmanager
def _byte_range_file(upload: AudioUpload, start: int, stop: int) -> Iterator[IO[bytes] | bytes]:
    """``[start, stop)`` of ``upload`` to send: a reader of that range of the file on
    disk (httpx streams it, so memory holds none of it), else the bytes themselves."""
    if upload.path is None:
        with _byte_range(upload, start, stop) as data:
            yield data
        return
    with open(upload.path, "rb") as file:
        yield io.BufferedReader(_RangeReader(file, start, stop))


class _RangeReader(io.RawIOBase):
    """``[start, stop)`` of an open file, read as a file of its own (positions from 0)."""

    def __init__(self, file: IO[bytes], start: int, stop: int) -> None:
        self._file, self._start, self._stop = file, start, stop
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._stop - self._start}
        self._position = max(0, base[whence] + offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        left = max(0, self._stop - self._start - self._position)
        size = left if size is None or size < 0 else min(size, left)
        self._file.seek(self._start + self._position)
        data = self._file.read(size)
        self._position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# --------------------------------------------------------------------------- WAV


_WAV_SIZE_UNKNOWN = 0xFFFFFFFF
"""The data size FFmpeg and others write when the output cannot seek back (a pipe)."""


@dataclass(frozen=True)
class _WavLayout:
    """Where a PCM WAV file keeps its samples, read from its header in Python."""

    format_chunk: bytes
    data_offset: int
    data_size: int
    sample_rate: int
    channels: int
    block_align: int

    @property
    def duration(self) -> float:
        return self.data_size / self.block_align / self.sample_rate

    @classmethod
    def parse(cls, upload: AudioUpload) -> _WavLayout | None:
        """The layout of a plain PCM WAV upload, or ``None`` for anything else."""
        with upload.open() as content:
            head = content[:4096] if isinstance(content, bytes) else _peek(content, 4096)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset, fmt = 12, None
        while offset + 8 <= len(head):
            kind, size = (
                head[offset : offset + 4],
                struct.unpack("<I", head[offset + 4 : offset + 8])[0],
            )
            if kind == b"fmt ":
                fmt = head[offset + 8 : offset + 8 + size]
            elif kind == b"data" and fmt is not None and len(fmt) >= 16:
                tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
                if tag not in (1, 3, 0xFFFE):
                    return None
                _check_layout(upload, rate, channels)
                if not block_align or block_align != channels * ((bits + 7) // 8):
                    raise AudioError(
                        f"{upload.name!r} has an impossible header: blocks of {block_align} "
                        f"bytes for {channels} channel(s) of {bits} bits. The file is damaged; "
                        "export it again from the original recording.",
                        source=upload.name,
                    )
                available = max(upload.size - offset - 8, 0)
                if size == _WAV_SIZE_UNKNOWN:  # written to a pipe: the samples run to the end
                    size = available - available % block_align
                if size > available:
                    byte_rate = block_align * rate
                    raise _truncated(upload, size / byte_rate, available / byte_rate)
                if size == 0:
                    raise _no_audio(upload)
                return cls(fmt, offset + 8, size, rate, channels, block_align)
            offset += 8 + size + (size & 1)
        return None

    def info(self, upload: AudioUpload) -> AudioInfo:
        return AudioInfo(
            "wav", "pcm", self.duration, self.sample_rate, self.channels, upload.size, ".wav"
        )

    def slice(self, upload: AudioUpload, start: float, end: float) -> bytes:
        """A standalone WAV file of ``[start, end)``: a new header and a copy of the samples."""
        first = round(start * self.sample_rate) * self.block_align
        last = min(round(end * self.sample_rate) * self.block_align, self.data_size)
        with _byte_range(upload, self.data_offset + first, self.data_offset + last) as content:
            samples = content
        header = (
            b"RIFF"
            + struct.pack("<I", 4 + 8 + len(self.format_chunk) + 8 + len(samples))
            + b"WAVE"
            + b"fmt "
            + struct.pack("<I", len(self.format_chunk))
            + self.format_chunk
            + b"data"
            + struct.pack("<I", len(samples))
        )
        return header + samples


def _peek(stream: IO[bytes], size: int) -> bytes:
    position = stream.tell()
    head = stream.read(size)
    stream.seek(position)
    return head
