"""Turn whatever the caller calls "audio" into one of three things the API takes.

A path, ``bytes`` or a binary file object becomes an :class:`AudioUpload`, an
``http(s)`` URL an :class:`AudioURL` (sent as ``file_url``), and a file id or
:class:`UploadedFile` an :class:`AudioFileId` (sent as ``file_id``). Every check
that can be made locally is made here, so a bad input fails before any request.

An upload is re-opened on every attempt (``AudioUpload.open``) rather than held
in memory: a retried request must send the same bytes again, and a 3-hour file
should not live in RAM to make that possible.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeAlias, Union
from urllib.parse import urlsplit

from ._chat_content import sniff_extension
from ._constants import ACCEPTED_AUDIO_TYPES, MAX_FILE_URL_LENGTH, OTHER_AUDIO_TYPES
from ._exceptions import AudioError, InvalidInputError
from ._models import UploadedFile
from ._redaction import shown_url

AudioInput: TypeAlias = Union[
    str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], UploadedFile
]
"""Everything ``transcribe`` accepts as ``audio``."""

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_URI_SCHEME = re.compile(
    r"^(https?|ftp|file|data|javascript|mailto|blob|about|urn|tel):", re.IGNORECASE
)
"""URIs written without ``//`` (``data:``, a mistyped ``https:/host``); any other
``word:`` (``notes:v2.wav``, ``rec.2024-01-01T10:00.wav``, ``C:``) is a path that may
simply not exist."""
_FILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class AudioUpload:
    """Local audio to send as the multipart ``file`` part."""

    name: str
    """How to name this input in messages: the path, or ``<bytes>``."""
    filename: str
    mime_type: str
    size: int
    open: Callable[[], AbstractContextManager[IO[bytes] | bytes]]
    """Opens the content at its first byte; called again for every attempt."""
    path: Path | None = None
    """The file on disk holding exactly this content, when there is one."""

    def read_all(self) -> bytes:
        with self.open() as content:
            return content if isinstance(content, bytes) else content.read()


@dataclass(frozen=True)
class AudioURL:
    url: str


@dataclass(frozen=True)
class AudioFileId:
    file_id: str


AudioSource: TypeAlias = AudioUpload | AudioURL | AudioFileId


def resolve_audio(audio: AudioInput | None, *, file_id: str | None = None) -> AudioSource:
    """Classify and check one audio input; raise a typed error naming it if unusable."""
    if audio is not None and file_id is not None:
        raise InvalidInputError(
            "Two audio sources were given: `audio` and `file_id`. Pass exactly one.",
            argument="file_id",
        )
    if file_id is not None:
        return AudioFileId(check_file_id(file_id))
    if audio is None:
        raise InvalidInputError(
            "No audio was given. Pass a path, bytes, a binary file object, an http(s) URL, "
            "or `file_id=` for a file uploaded with `upload_file`.",
            argument="audio",
        )
    if isinstance(audio, UploadedFile):
        return AudioFileId(check_file_id(audio.id))
    if isinstance(audio, (bytes, bytearray, memoryview)):
        return _upload_from_bytes(bytes(audio), name="<bytes>")
    if isinstance(audio, str) and (match := _SCHEME.match(audio)):
        return _url(audio, match.group(1))
    if isinstance(audio, str) and (match := _URI_SCHEME.match(audio)) and not os.path.exists(audio):
        return _url(audio, match.group(1))
    if isinstance(audio, (str, os.PathLike)):
        path = os.fspath(audio)
        if not path:
            raise InvalidInputError(
                "`audio` is an empty string; pass a path or URL.", argument="audio"
            )
        return _upload_from_path(Path(path))
    if hasattr(audio, "read"):
        return _upload_from_file_object(audio)
    raise InvalidInputError(
        f"Unsupported audio input of type {type(audio).__name__}. Pass a path, bytes, a binary "
        "file object, an http(s) URL, or `file_id=`.",
        argument="audio",
    )


def local_audio(audio: AudioInput) -> AudioUpload:
    """``audio`` as an upload, which only local audio can be (the Files API's input)."""
    source = resolve_audio(audio)
    if not isinstance(source, AudioUpload):
        raise InvalidInputError(
            "Only local audio (a path, bytes or a binary file object) can be uploaded; "
            "URLs and file ids are already on the server side.",
            argument="audio",
        )
    return source


def check_file_id(file_id: object) -> str:
    """Return ``file_id`` if it can be a Files API id; it ends up in URL paths."""
    if isinstance(file_id, UploadedFile):
        file_id = file_id.id
    if not isinstance(file_id, str) or not _FILE_ID.fullmatch(file_id):
        raise InvalidInputError(
            f"{file_id!r} is not a file id. Use the `id` returned by `upload_file` "
            "(letters, digits, '-', '_' and '.').",
            argument="file_id",
        )
    return file_id


def mime_type_for(filename: str) -> str:
    suffix = os.path.splitext(filename)[1].lower()
    return (
        ACCEPTED_AUDIO_TYPES.get(suffix)
        or OTHER_AUDIO_TYPES.get(suffix)
        or "application/octet-stream"
    )


def files_under(directory: Path, onerror: Callable[[OSError], None] | None = None) -> list[Path]:
    """Every file under ``directory``, at any depth, in path order; hidden files and
    directories are left out (not even searched). Links to directories are not
    followed, so a link back up cannot loop. ``onerror`` hears a folder that cannot
    be listed (``os.walk``'s)."""
    files: list[Path] = []
    for root, subdirectories, names in os.walk(directory, onerror=onerror):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        files.extend(Path(root, name) for name in names if not name.startswith("."))
    return sorted(files, key=lambda path: path.relative_to(directory).parts)


def _url(url: str, scheme: str) -> AudioURL:
    if scheme.lower() not in ("http", "https"):
        raise InvalidInputError(
            f"Unsupported URL scheme {scheme!r} in {shown_url(url)!r}: the API fetches only "
            "http(s) URLs. Pass a local path, or upload the file first.",
            argument="audio",
        )
    try:
        host = urlsplit(url).hostname
    except ValueError:  # a malformed port or IPv6 address
        host = None
    if not host:
        raise InvalidInputError(
            f"The audio URL {shown_url(url)!r} names no host the server could fetch it from. "
            "Pass a whole http(s) URL (https://host/path), or a local path.",
            argument="audio",
        )
    if len(url) > MAX_FILE_URL_LENGTH:
        raise InvalidInputError(
            f"The audio URL is {len(url)} characters long; the API accepts at most "
            f"{MAX_FILE_URL_LENGTH}. Upload the file with `upload_file` and pass its id instead.",
            argument="audio",
        )
    return AudioURL(url)


def _upload_from_path(path: Path) -> AudioUpload:
    name = str(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise AudioError(f"Audio file not found: {name!r}. Check the path.", source=name) from None
    except OSError as exc:
        raise AudioError(
            f"Cannot access audio file {name!r}: {exc.strerror}.", source=name
        ) from exc
    if path.is_dir():
        raise AudioError(
            f"{name!r} is a directory, not an audio file. Pass one file at a time.", source=name
        )
    if stat.st_size == 0:
        raise AudioError(
            f"Audio file {name!r} is empty (0 bytes). Check the path, or export the recording "
            "again.",
            source=name,
        )
    if not os.access(path, os.R_OK):
        raise AudioError(
            f"Audio file {name!r} is not readable: check its permissions.", source=name
        )

    @contextmanager
    def open_file() -> Iterator[IO[bytes]]:
        with path.open("rb") as stream:
            yield stream

    filename = os.fsencode(path.name).decode("utf-8", "replace")  # undecodable bytes: '\ufffd'
    return AudioUpload(name, filename, mime_type_for(path.name), stat.st_size, open_file, path)


def _upload_from_bytes(content: bytes, *, name: str, filename: str | None = None) -> AudioUpload:
    if not content:
        raise AudioError(
            f"The audio {name} is empty (0 bytes): pass the recording's content.", source=name
        )
    if filename is None or not os.path.splitext(filename)[1]:
        filename = "audio" + (sniff_extension(content[:16]) or "")
    # bytes are immutable, so every attempt can send the very same object
    return AudioUpload(
        name, filename, mime_type_for(filename), len(content), lambda: nullcontext(content)
    )


def _upload_from_file_object(stream: IO[bytes]) -> AudioUpload:
    raw_name = getattr(stream, "name", None)
    name = raw_name if isinstance(raw_name, str) else "<file object>"
    if isinstance(stream, io.TextIOBase):
        raise AudioError(
            f"Audio file object {name!r} is open in text mode; open it with 'rb'.", source=name
        )
    if getattr(stream, "closed", False):
        raise AudioError(f"Audio file object {name!r} is closed; pass it while open.", source=name)
    filename = Path(name).name if isinstance(raw_name, str) else None
    if not _seekable(stream):
        return _upload_from_bytes(stream.read(), name=name, filename=filename)

    start = stream.tell()
    size = stream.seek(0, io.SEEK_END) - start
    head = b""
    if size > 0:
        stream.seek(start)
        head = stream.read(16)
    stream.seek(start)
    if size <= 0:
        raise AudioError(f"Audio file object {name!r} has no bytes left to read.", source=name)
    if filename is None or not Path(filename).suffix:
        filename = "audio" + (sniff_extension(head) or "")

    @contextmanager
    def rewind() -> Iterator[IO[bytes]]:
        stream.seek(start)
        try:
            yield _Window(stream, start)  # type: ignore[misc]
        finally:
            stream.seek(start)  # leave the caller's file where it was, ready for reuse

    return AudioUpload(name, filename, mime_type_for(filename), size, rewind)


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError):
        return False


class _Window:
    """The caller's file object from ``start`` on, seen as a file of its own.

    httpx seeks to 0 before sending and measures length with ``seek``/``tell``; this
    makes both relative to where the caller's stream stood, and never closes it:
    the caller owns it.
    """

    def __init__(self, inner: IO[bytes], start: int) -> None:
        self._inner = inner
        self._start = start

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            offset += self._start
        return self._inner.seek(offset, whence) - self._start

    def tell(self) -> int:
        return self._inner.tell() - self._start
