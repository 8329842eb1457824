"""An MP3's packet index read from its bytes at C speed, where its frames tile the file.

``inspect`` indexes a recording by demuxing it, and for a 2-hour MP3 that is 200,000
packets through PyAV: 0.3 s before the first request can go out. A clean MP3 (every
frame as long as its header declares, from the first audio frame to the last byte)
is its own index: a regular expression of this stream's frame headers matches the
whole file in C, and its matches are the packets FFmpeg hands over, each one
frame's duration after the one before. Anything else (a tag at the end, junk, a
cut-off frame, free format) gives ``None``, and the demuxer indexes the file and
names the damage.
"""

from __future__ import annotations

import io
import operator
import re
from array import array
from itertools import repeat

from ._audio_checks import _MP3_BITRATES, _MP3_MAX_FRAME, _MP3_RATES, _PacketIndex
from ._sources import AudioUpload

BLOCK_BYTES = 8 << 20
"""The file is matched 8 MiB at a time: memory holds one block, not the recording."""


def frame_index(
    upload: AudioUpload,
    first: int,
    header: bytes,
    pts: int,
    step: int,
    time_base: float,
    origin: float,
) -> _PacketIndex | None:
    """The index of ``upload``'s packets from its first audio frame (at byte ``first``,
    starting with ``header``, at demuxer time ``pts``, each frame ``step`` long in
    ``time_base`` units), with times as ``inspect`` computes them; ``None`` unless
    the frames tile the rest of the file exactly."""
    patterns = _frame_patterns(header)
    if patterns is None:
        return None
    frame, own, length = patterns
    tiling = re.compile(b"(?:" + frame.pattern + b")*", re.DOTALL)
    steady = re.compile(b"(?:" + own.pattern + b")*", re.DOTALL)
    positions = array("q")
    with upload.open() as content:
        stream = io.BytesIO(content) if isinstance(content, bytes) else content
        offset = first
        while offset < upload.size:
            stream.seek(offset)
            block = stream.read(BLOCK_BYTES)
            last = offset + len(block) >= upload.size
            if end := _tiled(steady, block, last):  # frames of one length: CBR
                positions.extend(range(offset, offset + end, length))
            elif end := _tiled(tiling, block, last):
                starts = map(re.Match.start, frame.finditer(block, 0, end))
                positions.extend(map(operator.add, repeat(offset), starts))
            else:
                return None  # not a frame where one must start: the demuxer decides
            offset += end
    if not positions:
        return None
    sizes = array("q", map(operator.sub, positions[1:], positions[:-1]))
    sizes.append(upload.size - positions[-1])
    # (pts + k * step) * time_base - origin, the demuxer's arithmetic, in C
    demuxed = map(operator.mul, range(pts, pts + len(positions) * step, step), repeat(time_base))
    times = array("d", map(operator.sub, demuxed, repeat(origin)))
    return _PacketIndex(times, positions, sizes)


def _tiled(frames: re.Pattern[bytes], block: bytes, last: bool) -> int:
    """How far ``frames`` (a repeated frame) tile ``block`` from its start: to its end,
    or, in a block that is not the file's last, to within one frame of it (the next
    block starts there); 0 if they do not."""
    matched = frames.match(block)
    end = matched.end() if matched else 0
    if end < len(block) and (last or len(block) - end > _MP3_MAX_FRAME):
        return 0
    return end


def _frame_patterns(
    header: bytes,
) -> tuple[re.Pattern[bytes], re.Pattern[bytes], int] | None:
    """One frame of the stream ``header`` begins (its first two bytes, then any bitrate
    and padding at its sample rate, followed by as many bytes as that frame holds),
    one frame as long as ``header``'s, and that length."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer, rate_index = (header[1] >> 3) & 3, (header[1] >> 1) & 3, (header[2] >> 2) & 3
    if layer != 1 or version == 1 or rate_index == 3:
        return None  # not Layer III, or a reserved version or rate
    rate = _MP3_RATES[version][rate_index]
    bitrates = _MP3_BITRATES[1 if version == 3 else 2]
    thirds: dict[int, list[int]] = {}  # frame length -> third header bytes giving it
    for third in range(256):
        bitrate_index = third >> 4
        if bitrate_index in (0, 15) or (third >> 2) & 3 != rate_index:
            continue  # free format, invalid, or another sample rate
        length = (144 if version == 3 else 72) * bitrates[bitrate_index] * 1000 // rate
        thirds.setdefault(length + ((third >> 1) & 1), []).append(third)
    own = next((length for length, values in thirds.items() if header[2] in values), None)
    if own is None:
        return None  # the first frame is free format or invalid

    def frames(lengths: list[int]) -> re.Pattern[bytes]:
        alternatives = [
            b"[" + b"".join(re.escape(bytes([value])) for value in thirds[length]) + b"]"
            b".{%d}" % (length - 3)
            for length in lengths
        ]
        return re.compile(
            re.escape(header[:2]) + b"(?:" + b"|".join(alternatives) + b")", re.DOTALL
        )

    others = [length for length in thirds if length != own]
    return frames([own, *others]), frames([own]), own
