"""Local audio, examined and prepared for upload with PyAV (FFmpeg, no system install).

``prepare`` turns one local upload into the payloads to send:

* a file in a container the API accepts (WAV, MP3, FLAC, OGG, WEBM) that is within
  the limits is sent exactly as it is;
* anything else PyAV can decode (m4a/AAC, video, AIFF, AMR, WMA, ...) is converted
  to FLAC, 16 kHz, mono, 16-bit: lossless at the resolution Voxtral's encoder
  works at (it resamples to 16 kHz mono itself), about 1.9 MB a minute, accepted
  by the API, and quick to encode; for video only the audio track is taken;
* audio longer than a chunk is split at the quietest point of a search window
  before each limit. MP3 and WAV chunks are byte ranges of the original (stream
  copy: nothing is decoded except the search windows, nothing re-encoded); other
  formats are converted chunk by chunk. Payloads are produced only when a request
  is sent, so memory holds the chunks in flight, never the whole decoded file.

Every problem that can be seen locally (no audio stream, nothing decodable, zero
length, truncation, damage in the middle) is an :class:`AudioError` naming the
file, raised before anything is uploaded.
"""

from __future__ import annotations

import importlib
import io
import logging
import math
import struct
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from ._chat_content import audio_to_convert, converted_part
from ._chunking import LEVEL_HOP_SECONDS, one_request_seconds, plan_chunks, quietest_point
from ._constants import ACCEPTED_AUDIO_TYPES, CHAT_MAX_AUDIO_SECONDS
from ._exceptions import AudioError
from ._models import Chunk
from ._sources import AudioUpload

logger = logging.getLogger("voxtral_integrations")


class _ImportedOnFirstUse:
    """A module imported when one of its attributes is first read.

    Importing PyAV loads FFmpeg's libraries, a large share of what ``import
    voxtral_integrations`` cost, for work that chat, remote URLs, file ids and short
    WAVs never do. A missing or broken PyAV raises its own ``ImportError`` at the
    first audio work instead.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


if TYPE_CHECKING:
    import av
else:
    av = _ImportedOnFirstUse("av")

CONVERSION_RATE = 16000
LEVELS_RATE = 4000
"""Loudness profiles are computed at 4 kHz: pauses show as well as at full rate."""
SEARCH_SECONDS = 30.0
"""How far before each chunk limit a cut may move to find a pause."""
SAMPLE_RATES = (1000, 768_000)
"""Sample rates (Hz) a recording can have. A header outside them is damaged or hostile:
1 Hz would make two seconds of samples last half a day, and be sent as 48 requests."""
MAX_CHANNELS = 64
"""The most channels FFmpeg's resampler mixes; a header with more is damaged."""
SENT_CHANNELS = 2
"""Mono and stereo are sent as they are. More channels are downmixed to mono (converted):
the model hears one channel anyway, and eight would cost eight times the upload."""
TRUNCATION_SLACK_SECONDS = 0.5
"""How much shorter than its header declares a file may measure before it is truncated."""
_ACCEPTED = {  # PyAV demuxer name -> (codecs sent as they are, suffix)
    "mp3": ({"mp3", "mp3float"}, ".mp3"),
    "wav": ({"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8"}, ".wav"),
    "flac": ({"flac"}, ".flac"),
    "ogg": ({"vorbis", "opus", "flac"}, ".ogg"),
    "matroska,webm": ({"opus", "vorbis"}, ".webm"),
}


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
    """Where the recording starts on the demuxer's clock (seconds; see ``_origin``).

    Every time this module hands out (packet times, cuts, chunk starts) is measured
    from the first sample of the recording, as a server decoding the whole file hears
    it: demuxer times minus ``origin``.
    """


@dataclass(frozen=True)
class Payload:
    """One request's worth of audio: a chunk of the recording and how to read it."""

    chunk: Chunk
    upload: AudioUpload


@dataclass(frozen=True)
class _PacketIndex:
    """Start time, byte position and size of every packet, for byte-range chunks."""

    times: array[float]
    positions: array[int]
    sizes: array[int]


def _media(upload: AudioUpload) -> Any:
    """Something ``av.open`` reads: the path, or the content in memory."""
    if upload.path is not None:
        return str(upload.path)
    return io.BytesIO(upload.read_all())


@contextmanager
def _opened(upload: AudioUpload, media: Any = None) -> Iterator[Any]:
    open_media = av.open  # before the try: a missing PyAV fails here once, not again in except
    try:
        container = open_media(media if media is not None else _media(upload), "r")
    except av.error.FFmpegError as exc:
        raise AudioError(
            f"{upload.name!r} is not audio that can be decoded ({exc.strerror or exc}). "
            "Check that the file is complete and really audio or video.",
            source=upload.name,
        ) from exc
    try:
        yield container
    finally:
        container.close()


def _audio_stream(container: Any, upload: AudioUpload) -> Any:
    if not container.streams.audio:
        kind = "video with no audio track" if container.streams.video else "file with no audio"
        raise AudioError(
            f"{upload.name!r} is a {kind}: there is nothing to transcribe. Pass the recording "
            "itself, or a video exported with its sound.",
            source=upload.name,
        )
    stream = container.streams.audio[0]
    if stream.codec_context is None or stream.codec_context.codec is None:
        raise AudioError(
            f"{upload.name!r} uses an audio codec PyAV cannot decode. Convert it to WAV, FLAC "
            "or MP3 with the program that made it.",
            source=upload.name,
        )
    return stream


def inspect(upload: AudioUpload) -> tuple[AudioInfo, _PacketIndex]:
    """Probe ``upload`` and index its packets; raise ``AudioError`` for unusable audio.

    Reading every packet (without decoding) measures the real duration and finds
    damage: in MP3 a run of bytes no frame covers is a corrupt region that FFmpeg
    would otherwise skip silently.
    """
    with _opened(upload) as container:
        stream = _audio_stream(container, upload)
        context = stream.codec_context
        if not context.sample_rate or not context.channels:  # no frame FFmpeg could read
            raise AudioError(
                f"{upload.name!r} is not audio that can be decoded (no audio frame found). "
                "Check that the file is complete and really audio or video.",
                source=upload.name,
            )
        _check_layout(upload, context.sample_rate, context.channels)
        time_base = float(stream.time_base)
        times, positions, sizes = array("d"), array("q"), array("q")
        end = 0.0
        origin: float | None = None
        is_mp3 = container.format.name == "mp3"
        checked_size = -1
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                if origin is None:
                    origin = _origin(stream, packet.pts * time_base)
                start = packet.pts * time_base - origin
                times.append(start)
                positions.append(packet.pos)
                sizes.append(packet.size)
                end = max(end, start + (packet.duration or 0) * time_base)
                if is_mp3 and packet.size != checked_size:  # CBR: one check per size
                    _check_mp3_frame(upload, bytes(packet), start)
                    checked_size = packet.size
        except av.error.FFmpegError as exc:
            at = f" at {times[-1]:.1f} s" if times else ""
            raise AudioError(
                f"{upload.name!r} is damaged{at} ({exc.strerror or exc}); repair or re-encode it.",
                source=upload.name,
            ) from exc
        info = AudioInfo(
            container=container.format.name,
            codec=context.name,
            duration=end - max(times[0] if times else 0.0, 0.0),
            sample_rate=context.sample_rate or 0,
            channels=context.channels or 0,
            size=upload.size,
            accepted_suffix=_accepted_suffix(
                container.format.name, context.name, context.channels or 0
            ),
            origin=origin or 0.0,
        )
    if not times or info.duration <= 0:
        raise _no_audio(upload)
    index = _PacketIndex(times, positions, sizes)
    declared = _declared_seconds(upload, info.container, index)
    if declared is not None and info.duration < declared - TRUNCATION_SLACK_SECONDS:
        raise _truncated(upload, declared, info.duration)
    if info.container == "mp3":
        _check_mp3_continuity(upload, index)
    if info.container == "ogg":
        _check_ogg_pages(upload, times[-1])
    return info, index


def _origin(stream: Any, first_packet: float) -> float:
    """The demuxer time (seconds) of the recording's first sample: what a decoder drops.

    Encoders put samples before the recording (MP3: LAME's encoder delay plus the
    decoder's 529; AAC: 1024 priming samples; Opus: the pre-skip) and tell the
    decoder in a header to drop them. A chunk that keeps that header is trimmed like
    the whole file; one that does not (an MP3 byte range) is not, so each chunk's
    offset must come from the same clock. Three cases:

    * FFmpeg read the delay from the file and starts the stream after it: MP3's
      Xing/LAME tag becomes ``stream.start_time`` (the first packet is at 0 and the
      decoder drops what comes before ``start_time``). That is the origin. It is also
      where a stream starts late (MPEG-TS, a video's audio track).
    * The container marks the priming with packets before the start (an MP4 edit
      list, Opus pre-skip): the first packet is before ``start_time`` and the decoder
      drops it. The origin is ``start_time``.
    * AAC with no edit list (raw ADTS, an MP4 written without one): nothing tells the
      decoder, which plays the priming as audio, so every time would be late by it.
      The priming is one frame (``frame_size``, 1024 samples for AAC-LC): the
      MDCT overlap every AAC encoder starts with.
    """
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    context = stream.codec_context
    if context.name == "aac" and first_packet >= start and context.sample_rate:
        return start + float(context.frame_size or 1024) / float(context.sample_rate)
    return start


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


def _accepted_suffix(container: str, codec: str, channels: int) -> str | None:
    codecs, suffix = _ACCEPTED.get(container, (set(), ""))
    return suffix if codec in codecs and channels <= SENT_CHANNELS else None


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


def prepare(
    upload: AudioUpload,
    *,
    max_chunk_seconds: float,
    max_bytes: int,
    target_seconds: float | None = None,
    overlap_seconds: float = 0.0,
) -> tuple[AudioInfo, list[Payload]]:
    """Probe, plan the cuts and describe each chunk's payload (read lazily when sent).

    Chunks never exceed ``max_chunk_seconds`` or ``max_bytes``; with
    ``target_seconds`` audio longer than that is shared out in even chunks of
    about that length, and neighbours share ``overlap_seconds`` (see
    ``plan_chunks``).
    """
    one_request = one_request_seconds(max_chunk_seconds, target_seconds)
    wav = _WavLayout.parse(upload)
    if wav is not None and wav.channels > SENT_CHANNELS:
        wav = None  # downmixed to mono: converted, never sent or sliced as it is
    if wav is not None and wav.duration <= one_request and upload.size <= max_bytes:
        info = wav.info(upload)  # the common short WAV: the header says it all
        return info, [Payload(Chunk(index=0, start=0.0, end=info.duration), _renamed(upload, info))]
    if upload.path is None:  # read a caller's stream once, then share it (bytes are not copied)
        content = upload.read_all()
        upload = AudioUpload(
            upload.name,
            upload.filename,
            upload.mime_type,
            len(content),
            lambda: nullcontext(content),
        )
    info, index = inspect(upload)
    if info.accepted_suffix and info.duration <= one_request and upload.size <= max_bytes:
        return info, [Payload(Chunk(index=0, start=0.0, end=info.duration), _renamed(upload, info))]
    sliceable = info.container in ("mp3", "wav")
    # keep every payload under the size limit: slices scale with the original's byte
    # rate, converted chunks are FLAC, at most the size of their 16 kHz 16-bit PCM
    bytes_per_second = upload.size / info.duration if sliceable else 2 * CONVERSION_RATE
    max_chunk_seconds = min(max_chunk_seconds, 0.95 * max_bytes / bytes_per_second)
    levels = _levels_by_slice if sliceable else _levels_by_decoding

    def find_cut(lo: float, hi: float) -> float:
        return lo + quietest_point(levels(upload, info, index, lo, hi))

    chunks = plan_chunks(
        info.duration,
        max_chunk_seconds,
        find_cut,
        search_seconds=SEARCH_SECONDS,
        target_seconds=target_seconds,
        overlap_seconds=overlap_seconds,
    )
    if info.container == "mp3":
        chunks = _snap_to_packets(chunks, index)
    logger.debug(
        "%s: %s/%s, %.1f s, %d chunk(s): %s",
        upload.name,
        info.container,
        info.codec,
        info.duration,
        len(chunks),
        ", ".join(f"{c.start:.2f}-{c.end:.2f}" for c in chunks),
    )
    return info, [
        Payload(chunk, _chunk_upload(upload, info, index, chunk, wav)) for chunk in chunks
    ]


def chat_audio(content: bytes, *, name: str) -> tuple[bytes, str]:
    """``content`` as audio the chat endpoint decodes, with its format name.

    Audio in an accepted container and codec is returned as it is; anything else
    PyAV decodes (m4a/AAC, video, AIFF...) becomes FLAC, 16 kHz, mono, 16-bit, as
    for transcription: lossless (a lossy source is not coded twice), at the
    resolution the model hears, about half the size of WAV, and decoded by both
    Mistral and vLLM. Raises :class:`AudioError` naming ``name`` for audio that
    cannot be decoded or is longer than the model can take in one message.
    """
    upload = AudioUpload(
        name, "audio", "application/octet-stream", len(content), lambda: nullcontext(content)
    )
    info, _ = inspect(upload)
    if info.duration > CHAT_MAX_AUDIO_SECONDS:
        raise AudioError(
            f"The audio in {name} lasts {info.duration / 60:.1f} minutes; one chat message "
            f"takes at most {CHAT_MAX_AUDIO_SECONDS // 60} minutes of audio. Send a shorter "
            "excerpt, or transcribe the recording (VoxtralClient.transcribe) and chat about "
            "the text.",
            source=name,
        )
    if info.accepted_suffix:
        return content, info.accepted_suffix.lstrip(".")
    return _to_flac(upload, info, 0.0, info.duration), "flac"


def decodable_chat_part(part: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """An ``input_audio`` part the chat endpoint decodes: inline audio it may not
    (:func:`audio_to_convert` decides) goes through :func:`chat_audio`."""
    inline = audio_to_convert(part, where)
    if inline is None:
        return part
    return converted_part(part, inline, *chat_audio(inline.content, name=where))


def prepare_short_wav(
    upload: AudioUpload,
    *,
    max_chunk_seconds: float,
    max_bytes: int,
    target_seconds: float | None = None,
    overlap_seconds: float = 0.0,
) -> list[Payload] | None:
    """The payload of a PCM WAV within the limits, read from its header alone, or ``None``.

    (``overlap_seconds`` is :func:`prepare`'s; a single request has no neighbour.)

    Cheap enough (one 4 KiB read, no codec) for an event loop to call directly.
    """
    wav = _WavLayout.parse(upload)
    one_request = one_request_seconds(max_chunk_seconds, target_seconds)
    if wav is None or wav.channels > SENT_CHANNELS:
        return None
    if wav.duration > one_request or upload.size > max_bytes:
        return None
    info = wav.info(upload)
    return [Payload(Chunk(index=0, start=0.0, end=info.duration), _renamed(upload, info))]


def _renamed(upload: AudioUpload, info: AudioInfo) -> AudioUpload:
    """The upload under a filename whose suffix matches its real container."""
    suffix = info.accepted_suffix or ""
    if upload.filename.lower().endswith(suffix):
        return upload
    return _with(
        upload,
        filename=upload.filename.rsplit(".", 1)[0] + suffix,
        mime=ACCEPTED_AUDIO_TYPES[suffix],
    )


def _with(
    upload: AudioUpload, *, filename: str, mime: str, size: int | None = None, open: Any = None
) -> AudioUpload:
    """``upload`` under another name, or (given ``open``) a payload derived from it."""
    if open is None:
        return AudioUpload(upload.name, filename, mime, upload.size, upload.open, upload.path)
    return AudioUpload(upload.name, filename, mime, upload.size if size is None else size, open)


def _snap_to_packets(chunks: list[Chunk], index: _PacketIndex) -> list[Chunk]:
    """Move each chunk's start and end to the start of the MP3 frame at or after it.

    A chunk is a byte range from its first frame, without the file's Xing/LAME header,
    so its decoder drops no encoder delay: its audio starts where that frame's does on
    the recording's clock (``index.times``), the first chunk's before 0 (by the delay),
    and it ends where the frame after its last begins (the last chunk at the end).
    """
    times = index.times

    def frame_at(seconds: float) -> float | None:
        position = bisect_left(times, seconds)
        return times[position] if position < len(times) else None

    snapped = []
    for chunk in chunks:
        start = times[0] if chunk.index == 0 else frame_at(chunk.start)
        end = None if chunk is chunks[-1] else frame_at(chunk.end)
        snapped.append(
            Chunk(
                index=chunk.index,
                start=times[-1] if start is None else start,
                end=chunk.end if end is None else end,
            )
        )
    return snapped


def _chunk_upload(
    upload: AudioUpload, info: AudioInfo, index: _PacketIndex, chunk: Chunk, wav: _WavLayout | None
) -> AudioUpload:
    stem = upload.filename.rsplit(".", 1)[0]
    name = f"{stem}.part{chunk.index:03d}"
    if info.container == "mp3":
        first = bisect_left(index.times, chunk.start)
        last = bisect_left(index.times, chunk.end)
        start = index.positions[first]
        stop = (
            index.positions[last]
            if last < len(index.positions)
            else index.positions[-1] + index.sizes[-1]
        )
        return _with(
            upload,
            filename=name + ".mp3",
            mime="audio/mpeg",
            size=stop - start,
            open=lambda: _byte_range(upload, start, stop),
        )
    if wav is not None:
        return _with(
            upload,
            filename=name + ".wav",
            mime="audio/wav",
            open=lambda: nullcontext(wav.slice(upload, chunk.start, chunk.end)),
        )
    return _with(
        upload,
        filename=name + ".flac",
        mime="audio/flac",
        open=lambda: nullcontext(_to_flac(upload, info, chunk.start, chunk.end)),
    )


@contextmanager
def _byte_range(upload: AudioUpload, start: int, stop: int) -> Iterator[bytes]:
    with upload.open() as content:
        if isinstance(content, bytes):
            yield content[start:stop]
        else:
            content.seek(start)
            yield content.read(stop - start)


# --------------------------------------------------------------------------- decoding


def _pcm(
    container: Any,
    stream: Any,
    start: float,
    end: float,
    rate: int,
    *,
    name: str,
    origin: float,
    seek: bool = True,
) -> Iterator[bytes]:
    """Mono signed 16-bit PCM at ``rate`` covering ``[start, end)`` exactly.

    ``start`` and ``end`` are on the recording's clock: demuxer time minus ``origin``
    (``AudioInfo.origin`` for the whole file, 0 for a byte range, which has no header
    telling its decoder to drop anything).
    """
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    if seek and start > 0:
        at = int((start + origin) / float(stream.time_base))
        container.seek(at, stream=stream, backward=True)
    position: float | None = None  # time of the next output sample
    for frame in _decoded(container, stream, name):
        for out in resampler.resample(frame):
            if position is None:
                position = frame.time - origin if frame.time is not None else start
            data = bytes(out.planes[0])[: out.samples * 2]
            skip = max(0, round((start - position) * rate))
            keep = max(0, round((end - position) * rate)) - skip
            position += out.samples / rate
            piece = data[skip * 2 : (skip + keep) * 2] if keep > 0 else b""
            if piece:
                yield piece
            if position >= end:
                return


def _decoded(container: Any, stream: Any, name: str) -> Iterator[Any]:
    try:
        yield from container.decode(stream)
    except av.error.FFmpegError as exc:
        raise AudioError(
            f"{name!r} could not be decoded ({exc.strerror or exc}); repair or re-encode it.",
            source=name,
        ) from exc


def _rms_levels(pcm: bytes, rate: int) -> list[float]:
    samples = array("h", pcm)
    hop = max(1, round(rate * LEVEL_HOP_SECONDS))
    return [
        math.sqrt(sum(x * x for x in samples[i : i + hop]) / len(samples[i : i + hop]))
        for i in range(0, len(samples), hop)
    ]


def _levels_by_decoding(
    upload: AudioUpload, info: AudioInfo, index: _PacketIndex, lo: float, hi: float
) -> list[float]:
    with _opened(upload) as container:
        stream = container.streams.audio[0]
        pcm = b"".join(
            _pcm(container, stream, lo, hi, LEVELS_RATE, name=upload.name, origin=info.origin)
        )
    return _rms_levels(pcm, LEVELS_RATE)


def _levels_by_slice(
    upload: AudioUpload, info: AudioInfo, index: _PacketIndex, lo: float, hi: float
) -> list[float]:
    """Levels of ``[lo, hi]`` decoded from that byte range alone (exact times, no seeking)."""
    wav = _WavLayout.parse(upload) if info.container == "wav" else None
    if wav is not None:
        media = io.BytesIO(wav.slice(upload, lo, hi))
        offset = 0.0
    else:
        first = max(0, bisect_left(index.times, lo) - 1)
        last = min(bisect_left(index.times, hi) + 1, len(index.times) - 1)
        with _byte_range(upload, index.positions[first], index.positions[last]) as data:
            media = io.BytesIO(data)
        offset = lo - index.times[first]
    with _opened(upload, media) as container:
        stream = container.streams.audio[0]
        pcm = b"".join(
            _pcm(
                container,
                stream,
                offset,
                offset + hi - lo,
                LEVELS_RATE,
                name=upload.name,
                origin=0.0,
                seek=False,
            )
        )
    return _rms_levels(pcm, LEVELS_RATE)


def _to_flac(upload: AudioUpload, info: AudioInfo, start: float, end: float) -> bytes:
    """``[start, end)`` of ``upload`` (the recording's clock) as FLAC, 16 kHz, mono, 16-bit.

    The FLAC starts with the sample at ``start``: a decoder drops nothing from it.
    """
    output = io.BytesIO()
    with _opened(upload) as container:
        stream = container.streams.audio[0]
        with av.open(output, "w", format="flac") as flac:
            # PyAV before 18 types add_stream() as a stream of any kind
            encoder: av.AudioStream = flac.add_stream(  # type: ignore[assignment,unused-ignore]
                "flac", rate=CONVERSION_RATE, layout="mono"
            )
            encoder.codec_context.format = "s16"
            pcms = _pcm(
                container, stream, start, end, CONVERSION_RATE, name=upload.name, origin=info.origin
            )
            for pcm in pcms:
                frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
                frame.planes[0].update(pcm)
                frame.sample_rate = CONVERSION_RATE
                for packet in encoder.encode(frame):
                    flac.mux(packet)
            for packet in encoder.encode(None):
                flac.mux(packet)
    return output.getvalue()


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
