"""Audio input resolution (``_sources.resolve_audio``): every check made before sending."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from voxtral_integrations import AudioError, InvalidInputError, UploadedFile
from voxtral_integrations._constants import MAX_FILE_URL_LENGTH
from voxtral_integrations._requests import RequestSpec
from voxtral_integrations._sources import (
    AudioFileId,
    AudioUpload,
    AudioURL,
    check_file_id,
    mime_type_for,
    resolve_audio,
    sniff_extension,
)

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32)
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(32)
MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(32)
FLAC = b"fLaC\x00\x00\x00\x22" + bytes(32)
OGG = b"OggS\x00\x02" + bytes(32)
WEBM = b"\x1a\x45\xdf\xa3" + bytes(32)
M4A = b"\x00\x00\x00\x20ftypM4A " + bytes(32)
UNKNOWN = b"hello, not audio at all"


def write(tmp_path: Path, name: str, content: bytes = WAV) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def upload_of(audio: Any) -> AudioUpload:
    source = resolve_audio(audio)
    assert isinstance(source, AudioUpload)
    return source


def multipart_body(upload: AudioUpload) -> tuple[bytes, httpx.Headers]:
    """The bytes httpx would send for ``upload`` (through the real RequestSpec path)."""
    spec = RequestSpec("POST", "/audio/transcriptions", form={"model": "m"}, upload=upload)
    with spec.body() as body:
        request = httpx.Request("POST", "https://api.mistral.ai/v1/audio/transcriptions", **body)
        content = request.read()
    return content, request.headers


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("as_type", [pytest.param(str, id="str"), pytest.param(Path, id="Path")])
def test_path(tmp_path: Path, as_type: type) -> None:
    path = write(tmp_path, "clip.wav", WAV)
    upload = upload_of(as_type(path))
    assert upload.name == str(path)
    assert upload.filename == "clip.wav"
    assert upload.mime_type == "audio/wav"
    assert upload.size == len(WAV)
    assert upload.read_all() == WAV
    assert upload.read_all() == WAV  # re-opened for every attempt


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        pytest.param(lambda tmp: tmp / "missing.mp3", "not found", id="missing"),
        pytest.param(lambda tmp: tmp, "directory", id="directory"),
        pytest.param(lambda tmp: write(tmp, "empty.mp3", b""), "empty", id="empty-file"),
        pytest.param(lambda tmp: tmp / "no-such-dir" / "x.mp3", "not found", id="missing-parent"),
    ],
)
def test_unusable_path(tmp_path: Path, make: Any, problem: str) -> None:
    path = make(tmp_path)
    with pytest.raises(AudioError) as info:
        resolve_audio(path)
    assert info.value.argument == "audio"
    assert info.value.source == str(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)
    assert isinstance(info.value, InvalidInputError)


@pytest.mark.parametrize("name", ["notes:v2.wav", "rec.2024-01-01T10:00:00.wav", "C:talk.mp3"])
def test_a_missing_path_with_a_colon_is_not_found_not_a_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AudioError, match="not found") as info:
        resolve_audio(name)
    assert info.value.source == name


def test_empty_string_is_not_reported_as_the_current_directory() -> None:
    # Path("") is "."; the message must not send the caller looking at a directory.
    with pytest.raises(InvalidInputError) as info:
        resolve_audio("")
    assert info.value.argument == "audio"
    assert "'.'" not in str(info.value)
    assert "directory" not in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.wav")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that can read a mode-000 file")
        with pytest.raises(AudioError) as info:
            resolve_audio(path)
        assert "readable" in str(info.value) or "permission" in str(info.value).lower()
        assert info.value.source == str(path)
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize(
    ("filename", "mime_type"),
    [
        pytest.param("a.mp3", "audio/mpeg", id="mp3"),
        pytest.param("a.MP3", "audio/mpeg", id="mp3-upper"),
        pytest.param("a.wav", "audio/wav", id="wav"),
        pytest.param("a.flac", "audio/flac", id="flac"),
        pytest.param("a.ogg", "audio/ogg", id="ogg"),
        pytest.param("a.opus", "audio/ogg", id="opus"),
        pytest.param("a.webm", "audio/webm", id="webm"),
        pytest.param("a.m4a", "audio/mp4", id="m4a"),
        pytest.param("a.mp4", "video/mp4", id="mp4"),
        pytest.param("a.tar.mp3", "audio/mpeg", id="double-suffix"),
        pytest.param("a.xyz", "application/octet-stream", id="unknown-suffix"),
        pytest.param("noext", "application/octet-stream", id="no-suffix"),
    ],
)
def test_mime_type_by_suffix(tmp_path: Path, filename: str, mime_type: str) -> None:
    assert mime_type_for(filename) == mime_type
    upload = upload_of(write(tmp_path, filename, UNKNOWN))
    assert upload.mime_type == mime_type
    assert upload.filename == filename


# --------------------------------------------------------------------------- bytes


@pytest.mark.parametrize(
    ("content", "filename", "mime_type"),
    [
        pytest.param(WAV, "audio.wav", "audio/wav", id="wav"),
        pytest.param(MP3_ID3, "audio.mp3", "audio/mpeg", id="mp3-id3"),
        pytest.param(MP3_FRAME, "audio.mp3", "audio/mpeg", id="mp3-frame-sync"),
        pytest.param(FLAC, "audio.flac", "audio/flac", id="flac"),
        pytest.param(OGG, "audio.ogg", "audio/ogg", id="ogg"),
        pytest.param(WEBM, "audio.webm", "audio/webm", id="webm"),
        pytest.param(M4A, "audio.m4a", "audio/mp4", id="m4a"),
        pytest.param(UNKNOWN, "audio", "application/octet-stream", id="unknown"),
        pytest.param(b"\xff", "audio", "application/octet-stream", id="single-byte"),
    ],
)
def test_bytes_mime_sniffed(content: bytes, filename: str, mime_type: str) -> None:
    upload = upload_of(content)
    assert upload.filename == filename
    assert upload.mime_type == mime_type
    assert upload.name == "<bytes>"
    assert upload.size == len(content)
    assert upload.read_all() == content


@pytest.mark.parametrize(
    ("head", "extension"),
    [
        pytest.param(b"RIFF\x00\x00\x00\x00AVI ", None, id="riff-but-not-wave"),
        pytest.param(b"", None, id="empty"),
        pytest.param(b"\xff\x00", None, id="ff-without-sync"),
        pytest.param(WAV[:12], ".wav", id="wav-12-bytes"),
    ],
)
def test_sniff_extension_edges(head: bytes, extension: str | None) -> None:
    assert sniff_extension(head) == extension


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(bytes, id="bytes"),
        pytest.param(bytearray, id="bytearray"),
        pytest.param(memoryview, id="memoryview"),
    ],
)
def test_bytes_like(wrap: Any) -> None:
    upload = upload_of(wrap(WAV))
    assert upload.read_all() == WAV
    assert upload.size == len(WAV)


def test_bytearray_is_copied() -> None:
    data = bytearray(WAV)
    upload = upload_of(data)
    data[:4] = b"XXXX"
    assert upload.read_all() == WAV


@pytest.mark.parametrize(
    "empty",
    [
        pytest.param(b"", id="bytes"),
        pytest.param(bytearray(), id="bytearray"),
        pytest.param(memoryview(b""), id="memoryview"),
    ],
)
def test_empty_bytes(empty: Any) -> None:
    with pytest.raises(AudioError, match="empty") as info:
        resolve_audio(empty)
    assert info.value.source == "<bytes>"


# --------------------------------------------------------------------------- file objects

PREFIX = b"JUNK-BEFORE-"


@pytest.mark.parametrize(
    "opener",
    [
        pytest.param("bytesio", id="BytesIO"),
        pytest.param("file", id="real-file"),
        pytest.param("buffered-reader", id="BufferedReader"),
    ],
)
def test_file_object_at_non_zero_position(tmp_path: Path, opener: str) -> None:
    content = PREFIX + WAV
    if opener == "bytesio":
        stream: Any = io.BytesIO(content)
    else:
        path = write(tmp_path, "clip.wav", content)
        stream = path.open("rb") if opener == "file" else io.BufferedReader(io.FileIO(path))
    with stream:
        stream.seek(len(PREFIX))
        upload = upload_of(stream)
        assert stream.tell() == len(PREFIX), "resolving must not move the caller's stream"
        assert upload.size == len(WAV)
        assert upload.read_all() == WAV
        assert upload.read_all() == WAV  # a second attempt sends the same bytes
        with upload.open() as opened:
            assert opened.tell() == 0
            assert opened.read(4) == b"RIFF"
            assert opened.tell() == 4
            assert opened.seek(0) == 0
            assert opened.tell() == 0
            assert opened.seek(0, io.SEEK_END) == len(WAV)
            assert opened.tell() == len(WAV)
            assert opened.seek(0) == 0
            assert opened.read() == WAV
        content_sent, headers = multipart_body(upload)
        assert WAV in content_sent
        assert PREFIX not in content_sent
        assert int(headers["content-length"]) == len(content_sent)
        # Twice: a retried request must carry the same file part.
        assert multipart_body(upload)[0].count(WAV) == 1
        assert not stream.closed, "the caller owns the stream; it must stay open"


def test_file_object_name_gives_filename(tmp_path: Path) -> None:
    path = write(tmp_path, "speech.flac", FLAC)
    with path.open("rb") as stream:
        upload = upload_of(stream)
    assert upload.filename == "speech.flac"
    assert upload.mime_type == "audio/flac"
    assert upload.name == str(path)


def test_file_object_without_name_is_sniffed() -> None:
    upload = upload_of(io.BytesIO(OGG))
    assert upload.filename == "audio.ogg"
    assert upload.mime_type == "audio/ogg"
    assert upload.name == "<file object>"


def test_file_object_sniffs_from_its_position() -> None:
    stream = io.BytesIO(UNKNOWN + MP3_ID3)
    stream.seek(len(UNKNOWN))
    upload = upload_of(stream)
    assert upload.filename == "audio.mp3"


@pytest.mark.parametrize(
    "position",
    [pytest.param("end", id="at-end"), pytest.param("empty", id="empty-stream")],
)
def test_file_object_with_nothing_left(position: str) -> None:
    stream = io.BytesIO(b"" if position == "empty" else WAV)
    stream.seek(0, io.SEEK_END)
    with pytest.raises(AudioError, match="no bytes left"):
        resolve_audio(stream)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda path: io.BytesIO(WAV), id="BytesIO"),
        pytest.param(lambda path: path.open("rb"), id="real-file"),
    ],
)
def test_closed_file_object(tmp_path: Path, make: Any) -> None:
    """A closed file object is a bad input: a typed error naming it, not a bare ValueError."""
    stream = make(write(tmp_path, "clip.wav"))
    stream.close()
    with pytest.raises(AudioError, match="closed") as info:
        resolve_audio(stream)
    assert info.value.argument == "audio"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda path: path.open("r"), id="open-r"),
        pytest.param(lambda path: io.StringIO("text"), id="StringIO"),
    ],
)
def test_text_mode_file_object(tmp_path: Path, make: Any) -> None:
    path = write(tmp_path, "clip.wav", b"abc")
    with make(path) as stream, pytest.raises(AudioError, match="'rb'") as info:
        resolve_audio(stream)
    assert info.value.argument == "audio"


class NonSeekable(io.RawIOBase):
    """A pipe-like stream: readable once, no seek, no tell."""

    def __init__(self, content: bytes) -> None:
        self._inner = io.BytesIO(content)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_non_seekable_stream_is_read_once_and_replayable() -> None:
    stream = NonSeekable(FLAC)
    upload = upload_of(stream)
    assert upload.size == len(FLAC)
    assert upload.filename == "audio.flac"
    assert upload.read_all() == FLAC
    assert upload.read_all() == FLAC
    assert FLAC in multipart_body(upload)[0]


def test_non_seekable_empty_stream() -> None:
    with pytest.raises(AudioError, match="empty"):
        resolve_audio(NonSeekable(b""))


def test_pipe(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, MP3_ID3)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as stream:
        upload = upload_of(stream)
    assert upload.read_all() == MP3_ID3
    assert upload.filename == "audio.mp3"


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://example.com/a.mp3", id="http"),
        pytest.param("https://example.com/a.mp3", id="https"),
        pytest.param("HTTPS://example.com/a.mp3", id="upper-scheme"),
        pytest.param(
            "https://files.mistral.ai/x.mp3?X-Amz-Signature=abc&X-Amz-Expires=3600",
            id="signed-url-kept-intact",
        ),
        pytest.param("https://e.com/" + "a" * (MAX_FILE_URL_LENGTH - 14), id="at-length-limit"),
    ],
)
def test_http_urls(url: str) -> None:
    assert resolve_audio(url) == AudioURL(url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://example.com/a.mp3?token=SECRET", id="ftp"),
        pytest.param("file:///tmp/a.mp3?token=SECRET", id="file"),
        pytest.param("s3://bucket/a.mp3?X-Amz-Signature=SECRET", id="s3"),
        pytest.param("gs://bucket/a.mp3#SECRET", id="gs-fragment"),
        pytest.param("ftp://user:SECRET@example.com/a.mp3", id="ftp-userinfo"),
    ],
)
def test_other_schemes_rejected_without_leaking(url: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        resolve_audio(url)
    assert info.value.argument == "audio"
    assert "SECRET" not in str(info.value)
    assert "http(s)" in str(info.value)
    assert url.split(":", 1)[0] in str(info.value)


@pytest.mark.parametrize(
    "extra",
    [pytest.param(1, id="one-over"), pytest.param(10_000, id="far-over")],
)
def test_over_long_url(extra: int) -> None:
    url = "https://e.com/" + "a" * (MAX_FILE_URL_LENGTH - 14 + extra) + "?sig=SECRET"
    with pytest.raises(InvalidInputError) as info:
        resolve_audio(url)
    assert info.value.argument == "audio"
    assert str(MAX_FILE_URL_LENGTH) in str(info.value)
    assert "upload_file" in str(info.value)
    assert "SECRET" not in str(info.value)


# --------------------------------------------------------------------------- file ids


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param(
            {"audio": None, "file_id": "file-abc_123.x"},
            AudioFileId("file-abc_123.x"),
            id="file-id-keyword",
        ),
        pytest.param(
            {"audio": UploadedFile(id="00edaf84-2b9b-4e5c")},
            AudioFileId("00edaf84-2b9b-4e5c"),
            id="uploaded-file",
        ),
        pytest.param(
            {"audio": None, "file_id": UploadedFile(id="f1")},
            AudioFileId("f1"),
            id="uploaded-file-as-file-id",
        ),
    ],
)
def test_file_ids(kwargs: dict[str, Any], expected: AudioFileId) -> None:
    assert resolve_audio(kwargs.pop("audio"), **kwargs) == expected


@pytest.mark.parametrize(
    "file_id",
    [
        pytest.param("a/b", id="slash"),
        pytest.param("../etc", id="dot-dot-slash"),
        pytest.param("a b", id="space"),
        pytest.param("", id="empty"),
        pytest.param("-abc", id="leading-dash"),
        pytest.param("abc?x=1", id="query"),
        pytest.param("abc\n", id="trailing-newline"),
        pytest.param(123, id="int"),
    ],
)
def test_bad_file_ids(file_id: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        resolve_audio(None, file_id=file_id)
    assert info.value.argument == "file_id"
    assert "upload_file" in str(info.value)
    with pytest.raises(InvalidInputError):
        check_file_id(file_id)
    if isinstance(file_id, str):
        with pytest.raises(InvalidInputError):
            resolve_audio(UploadedFile(id=file_id))


def test_two_sources() -> None:
    with pytest.raises(InvalidInputError, match="exactly one") as info:
        resolve_audio(WAV, file_id="file-1")
    assert info.value.argument == "file_id"


def test_no_source() -> None:
    with pytest.raises(InvalidInputError) as info:
        resolve_audio(None)
    assert info.value.argument == "audio"
    assert "file_id=" in str(info.value)


@pytest.mark.parametrize(
    "audio",
    [
        pytest.param(42, id="int"),
        pytest.param(["a.mp3"], id="list"),
        pytest.param(object(), id="object"),
    ],
)
def test_unsupported_type(audio: Any) -> None:
    with pytest.raises(InvalidInputError, match=type(audio).__name__) as info:
        resolve_audio(audio)
    assert info.value.argument == "audio"
