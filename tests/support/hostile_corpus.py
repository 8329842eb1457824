"""Hostile and broken inputs, all made here: nothing is downloaded or checked in.

Valid audio comes from ``audio_factory`` (the same speech in every format: two
bursts, at 0.3-1.2 s and 1.6-2.4 s of a 2.8 s recording); every broken case is a
few bytes changed, cut or wrapped around it, the way real files go wrong: a
download cut off, a header that lies, a file renamed, a web page saved as audio.
Each maker returns the file's bytes and is cached, so a corpus costs one encode
per format however many tests use it.
"""

from __future__ import annotations

import io
import struct
import wave
import zipfile
from array import array
from fractions import Fraction
from functools import cache

import av

from tests.support.audio_factory import encode, speech_pcm

REGIONS = ((0.3, 1.2), (1.6, 2.4))
DURATION = 2.8
RATE = 16000
TRANSCRIPT = "words 0 words 1"
"""What ``FakeVoxtral`` answers for audio holding ``REGIONS``: one text per burst."""


@cache
def speech() -> bytes:
    """``REGIONS`` of speech-like sound in ``DURATION`` s: mono s16 PCM at 16 kHz."""
    return speech_pcm(REGIONS, DURATION)


@cache
def encoded(name: str) -> bytes:
    """The speech in format ``name`` (a key of ``audio_factory.FORMATS``)."""
    return encode(speech(), name)


# --------------------------------------------------------------------------- cut short


def cut_mid_stream(name: str) -> bytes:
    """The first 55% of the file (and 3 bytes, so the cut falls inside a frame)."""
    data = encoded(name)
    return data[: len(data) * 55 // 100 + 3]


def cut_in_header(name: str) -> bytes:
    """The file cut inside the header that says what the audio is."""
    data = encoded(name)
    inside = {
        "wav": data.find(b"fmt ") + 12,  # in the format chunk
        "mp3": data.find(b"Info") + 6,  # in LAME's Info frame, before the frame count
        "flac": 20,  # in STREAMINFO
        "ogg-opus": data.find(b"OpusHead") + 8,  # in the Opus identification header
    }[name]
    return data[:inside]


# --------------------------------------------------------------------------- lying headers


def wav_with(
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    data_size: int | None = None,
) -> bytes:
    """The speech WAV with header fields overwritten; the samples stay as they are."""
    data = bytearray(encoded("wav"))
    fmt = data.find(b"fmt ") + 8
    if channels is not None:
        struct.pack_into("<H", data, fmt + 2, channels)
    if sample_rate is not None:
        struct.pack_into("<I", data, fmt + 4, sample_rate)
    if data_size is not None:
        struct.pack_into("<I", data, data.find(b"data") + 4, data_size)
    return bytes(data)


def mp3_with_frame_count(frames: int) -> bytes:
    """The speech MP3 whose Info (Xing) header counts ``frames`` frames."""
    data = bytearray(encoded("mp3"))
    info = data.find(b"Info")
    (flags,) = struct.unpack_from(">I", data, info + 4)
    assert flags & 1, "LAME writes the frame count"
    struct.pack_into(">I", data, info + 8, frames)
    return bytes(data)


def hours_of_mp3_frames(hours: float) -> int:
    """Frames of 1152 samples at 44.1 kHz (the factory's MP3) in ``hours``."""
    return round(hours * 3600 * 44100 / 1152)


# --------------------------------------------------------------------------- no audio in it


def empty_wav() -> bytes:
    """A WAV header and no samples."""
    output = io.BytesIO()
    with wave.open(output, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
    return output.getvalue()


def mp3_without_frames() -> bytes:
    """The speech MP3 up to its first audio frame: the ID3 tag and the Info frame."""
    data = encoded("mp3")
    with av.open(io.BytesIO(data)) as container:
        first = next(p for p in container.demux(container.streams.audio[0]) if p.size)
        return data[: first.pos]


def ogg_without_audio_pages() -> bytes:
    """The speech Ogg Opus file's header pages (OpusHead, OpusTags) and nothing after."""
    data, offset = encoded("ogg-opus"), 0
    while True:
        (granule,) = struct.unpack_from("<q", data, offset + 6)
        if granule > 0:  # the first page holding audio
            return data[:offset]
        segments = data[offset + 27 : offset + 27 + data[offset + 26]]
        offset += 27 + len(segments) + sum(segments)


def video_without_audio(container_format: str) -> bytes:
    """One second of an mpeg4 video stream, and no audio stream, in ``container_format``."""
    output = io.BytesIO()
    with av.open(output, "w", format=container_format) as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(5):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, 5)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return output.getvalue()


def zipped_wav() -> bytes:
    """A zip archive holding the speech WAV (what a "download all" button gives)."""
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meeting.wav", encoded("wav"))
    return output.getvalue()


TEXT = b"Minutes of the meeting: nothing was recorded today.\n" * 40
HTML = (
    b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
    b"<body><h1>Not Found</h1><p>The requested recording was not found.</p></body></html>\n"
)


# --------------------------------------------------------------------------- valid, but odd


def multichannel_wav(channels: int) -> bytes:
    """The speech on every one of ``channels`` channels (quieter on some), 16 kHz."""
    mono = array("h", speech())
    interleaved = array("h", bytes(2 * channels * len(mono)))
    for channel in range(channels):
        gain = 1.0 if channel % 2 == 0 else 0.5
        interleaved[channel::channels] = array("h", (int(x * gain) for x in mono))
    output = io.BytesIO()
    with wave.open(output, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(interleaved.tobytes())
    return output.getvalue()


def _syncsafe(size: int) -> bytes:
    return bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))


def mp3_with_id3_tag(payload_bytes: int) -> bytes:
    """The speech MP3 behind an ID3v2.3 tag holding a ``payload_bytes`` private frame
    (cover art and chapter images make tags of megabytes in real podcasts)."""
    data = encoded("mp3")
    assert data[:3] == b"ID3"
    audio = data[10 + _syncsafe_decode(data[6:10]) :]
    body = b"voxtral-test\x00" + bytes(payload_bytes)
    frame = b"PRIV" + struct.pack(">I", len(body)) + b"\x00\x00" + body
    return b"ID3\x03\x00\x00" + _syncsafe(len(frame)) + frame + audio


def _syncsafe_decode(size: bytes) -> int:
    return (size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3]


TITLE_MARK = b"TitleTitle"


def with_title(name: str, title_bytes: int) -> bytes:
    """The speech in format ``name``, remuxed (not re-encoded) under a huge title tag."""
    container_format = {"m4a": "ipod", "flac": "flac"}[name]
    with av.open(io.BytesIO(encoded(name))) as source:
        output = io.BytesIO()
        with av.open(output, "w", format=container_format) as target:
            target.metadata["title"] = (TITLE_MARK * (title_bytes // len(TITLE_MARK))).decode()
            stream_in = source.streams.audio[0]
            stream_out = target.add_stream_from_template(stream_in)
            for packet in source.demux(stream_in):
                if packet.dts is not None:
                    packet.stream = stream_out
                    target.mux(packet)
    return output.getvalue()
