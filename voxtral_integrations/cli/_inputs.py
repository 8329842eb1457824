"""What the command line names, expanded into inputs: files, directories, globs, URLs.

A file named explicitly is kept whatever its suffix; what a directory or a glob
finds is kept only when it looks like audio or video and can be read. A path the
user may not read is a failed input (reported through ``denied``), not a skipped
one. Nothing here sends or writes anything.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._constants import MEDIA_SUFFIXES
from .._records import source_name
from .._sources import files_under
from ._exits import UsageError

_URL = re.compile(r"^https?://", re.IGNORECASE)
_OTHER_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_GLOB = re.compile(r"[*?[]")


@dataclass(frozen=True)
class Input:
    """One recording to transcribe: a local path or an http(s) URL, and its printable name."""

    audio: Path | str
    name: str
    """The path as found, or the URL without its query string (signed URLs are credentials)."""


Denied = Callable[[Path, str], None]
"""Told of each path that cannot be read for want of permission, with the reason and fix."""

_CANNOT_READ = "permission denied: it may not be read (give your user read access: chmod u+r)"
_CANNOT_LIST = (
    "permission denied: the directory may not be listed (give your user read and search "
    "access: chmod u+rx)"
)
_CANNOT_REACH = (
    "permission denied: a directory on its path may not be searched (give your user "
    "search access to each: chmod u+x DIR)"
)


class _Counted:
    """A :data:`Denied` that counts: a directory with a denied part is not "empty"."""

    def __init__(self, denied: Denied) -> None:
        self._denied = denied
        self.count = 0

    def __call__(self, path: Path, reason: str) -> None:
        self.count += 1
        self._denied(path, reason)


def expand_inputs(
    arguments: Sequence[str], warn: Callable[[str], None], denied: Denied
) -> list[Input]:
    """Paths, directories (recursive, sorted), globs and URLs, as a list without duplicates.

    A file named explicitly is kept whatever its suffix (the library probes content);
    files found in a directory or by a glob are kept only with an audio or video
    suffix and when they can be read (not empty, not a dangling link), and the
    others are skipped with a warning naming them: one bad file in a directory
    must not stop the run. Hidden files and directories are not searched. A path
    the user may not read or list (the file, a directory, or one above it) goes to
    ``denied`` instead: it is a failed input, not a skipped one, and not "empty".
    """
    found: list[Path | str] = []
    counted = _Counted(denied)
    for argument in arguments:
        if _URL.match(argument):
            found.append(argument)
            continue
        if _OTHER_SCHEME.match(argument):
            raise UsageError(
                f"{source_name(argument)!r}: only http(s) URLs can be transcribed; download "
                "the file first, or pass a path."
            )
        path = Path(argument)
        try:
            status: os.stat_result | None = path.stat()
        except PermissionError:
            counted(path, _CANNOT_REACH)
            continue
        except OSError:  # missing, a dangling link: perhaps a glob
            status = None
        if status is not None and stat.S_ISDIR(status.st_mode):
            before = counted.count
            media = _media_in(path, warn, counted)
            if not media and counted.count == before:
                raise UsageError(
                    f"{argument!r} contains no audio or video file (looked for "
                    f"{_suffix_list()}). Name a file explicitly to try it anyway."
                )
            found.extend(media)
        elif status is not None:
            found.append(path)
        elif _GLOB.search(argument):
            found.extend(_glob(argument, warn, counted))
        else:
            raise UsageError(f"No such file or directory: {argument!r}.")
    unique: dict[object, Input] = {}
    for item in found:
        key = item if isinstance(item, str) else item.resolve()
        if key not in unique:
            name = source_name(item) if isinstance(item, str) else str(item)
            unique[key] = Input(item, name)
    return list(unique.values())


def _glob(pattern: str, warn: Callable[[str], None], denied: _Counted) -> list[Path]:
    """A glob's audio and video files (the shell did not expand it: quoted, or Windows)."""
    media: list[Path] = []
    before = denied.count
    base, *parts = _glob_parts(pattern)
    for path in sorted(set(_matches(Path(base), parts, denied)), key=lambda path: path.parts):
        if path.is_dir():
            media.extend(_media_in(path, warn, denied))
        elif not _is_media(path):
            warn(_unsupported(path))
        elif _usable(path, warn, denied):
            media.append(path)
    if not media and denied.count == before:
        raise UsageError(
            f"{pattern!r} matches no audio or video file (looked for {_suffix_list()})."
        )
    return media


def _glob_parts(pattern: str) -> list[str]:
    """The pattern's leading part without wildcards (``.`` if none), then its other parts."""
    parts = list(Path(pattern).parts)
    plain = next((n for n, part in enumerate(parts) if _GLOB.search(part)), len(parts))
    return [os.path.join(*parts[:plain]) if plain else os.curdir, *parts[plain:]]


def _matches(base: Path, parts: Sequence[str], denied: Denied) -> Iterator[Path]:
    """What ``base/parts...`` matches, as :func:`glob.glob` with ``recursive=True`` would,
    except that ``**`` does not follow symlinks to directories: two links back to an
    ancestor make glob's walk grow without end. Hidden names match only a part that
    starts with a dot, as in glob."""
    if not parts:
        yield base
        return
    part, rest = parts[0], parts[1:]
    if not _GLOB.search(part):
        try:
            exists = (base / part).exists() or (not rest and (base / part).is_symlink())
        except PermissionError:
            denied(base / part, _CANNOT_REACH)
            return
        if exists:
            yield from _matches(base / part, rest, denied)
        return
    try:
        entries = sorted(os.scandir(base), key=lambda entry: entry.name)
    except PermissionError:
        denied(base, _CANNOT_LIST)
        return
    except OSError:
        return
    visible = [entry for entry in entries if not entry.name.startswith(".") or part[0] == "."]
    if part == "**":
        yield from _matches(base, rest, denied)
        for entry in visible:
            if entry.is_dir(follow_symlinks=False):
                yield from _matches(Path(entry.path), parts, denied)
            elif not rest:
                yield Path(entry.path)
        return
    for entry in visible:
        if fnmatch.fnmatch(entry.name, part) and (not rest or entry.is_dir()):
            yield from _matches(Path(entry.path), rest, denied)


def _media_in(directory: Path, warn: Callable[[str], None], denied: Denied) -> list[Path]:
    def unlisted(error: OSError) -> None:
        if isinstance(error, PermissionError):
            denied(Path(error.filename or directory), _CANNOT_LIST)
        else:
            warn(f"skipping {error.filename or str(directory)!r}: {error.strerror or error}")

    media = []
    for path in files_under(directory, onerror=unlisted):
        if not _is_media(path):
            warn(_unsupported(path))
        elif _usable(path, warn, denied):
            media.append(path)
    return media


def _usable(path: Path, warn: Callable[[str], None], denied: Denied) -> bool:
    """Whether a found file can be sent; if not, say why (it is skipped, the run goes on)."""
    try:
        status = path.stat()
    except PermissionError:
        denied(path, _CANNOT_REACH)
        return False
    except OSError as error:
        reason = "a link to nothing" if path.is_symlink() else (error.strerror or str(error))
    else:
        if not stat.S_ISREG(status.st_mode):
            reason = "not a regular file"
        elif status.st_size == 0:
            reason = "an empty file"
        elif not os.access(path, os.R_OK):
            denied(path, _CANNOT_READ)
            return False
        else:
            return True
    warn(f"skipping {str(path)!r}: {reason}")
    return False


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_SUFFIXES


def _unsupported(path: Path) -> str:
    return (
        f"skipping {str(path)!r}: not an audio or video file by its suffix "
        "(name it explicitly to try it anyway)"
    )


def _suffix_list() -> str:
    return " ".join(sorted(MEDIA_SUFFIXES))
