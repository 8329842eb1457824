"""Where each input's output goes and how it is written.

The formats and their suffixes, the rendering of a transcription in each, output
names under ``--output-dir`` (stable across runs, never clashing, never leaving the
directory), atomic writes, the outputs index that tells which input an existing
file was written for, and the plan of which inputs a re-run skips.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from .._models import Transcription, speaker_link
from .._records import srt, vtt
from ._exits import UsageError
from ._inputs import _URL, Input

SUFFIXES = {"txt": ".txt", "json": ".json", "jsonl": ".jsonl", "srt": ".srt", "vtt": ".vtt"}
"""Output formats and the suffix of their files under ``--output-dir``."""
OUTPUT_INDEX = ".voxtral-outputs.json"
"""In ``--output-dir``: the input each output was written for, so a re-run skips only its own."""
INDEX_SAVE_SECONDS = 1.0
"""The index is saved at most this often while outputs come in (and at the end): a
rewrite per output would cost a large corpus quadratic time."""
TIMED_FORMATS = ("srt", "vtt", "jsonl")
"""Formats made of timed segments: segment timestamps are requested for them."""
DEFAULT_FORMAT = "txt"


_UNSAFE = re.compile(r"[^\w.-]+")


def output_names(inputs: Sequence[Input], suffix: str = "") -> list[PurePosixPath]:
    """Where each input's output goes under ``--output-dir``, before the format's suffix.

    The input's stem (``talk.mp3`` -> ``talk``). Inputs whose stems clash are told
    apart by their path relative to their common parent (``a/talk``, ``b/talk``),
    then by their suffix (``talk.mp3``, ``talk.wav``), then by a short hash of their
    name (URLs), and last, for inputs with the same printable name (two signed URLs
    of one object), by ``-2``, ``-3`` in input order. Names are compared
    case-insensitively (macOS, Windows) and with ``suffix`` (the file's), so no
    output is another's file or directory; the same inputs always get the same
    names, which is what lets a re-run skip them.
    """
    names = [PurePosixPath(_stem(item)) for item in inputs]
    local = [item.audio.resolve() if isinstance(item.audio, Path) else None for item in inputs]
    clashing = _clashes(names)
    paths = [path for index in clashing if (path := local[index]) is not None]
    if paths:
        parent = Path(os.path.commonpath([path.parent for path in paths]))
        for index in clashing:
            path = local[index]
            if path is not None:
                relative = PurePosixPath(path.relative_to(parent).as_posix())
                names[index] = relative.with_name(_safe_stem(relative))
    for index in _clashes(names):
        path = local[index]
        if path is not None and path.suffix:
            names[index] = names[index].with_name(names[index].name + path.suffix)
    for index in _clashes(names):
        digest = hashlib.sha256(inputs[index].name.encode()).hexdigest()
        names[index] = names[index].with_name(f"{names[index].name}-{digest[:8]}")
    return _numbered(names, suffix)


def _numbered(names: Sequence[PurePosixPath], suffix: str) -> list[PurePosixPath]:
    """``names`` with each repeat, or file another one needs as a directory, numbered."""
    directories = {str(parent).casefold() for name in names for parent in name.parents}
    taken: set[str] = set()
    unique = []
    for name in names:
        candidate, number = name, 1
        while (file := f"{candidate}{suffix}".casefold()) in taken or file in directories:
            number += 1
            candidate = name.with_name(f"{name.name}-{number}")
        taken.add(file)
        unique.append(candidate)
    return unique


def output_paths(inputs: Sequence[Input], output_dir: Path, output_format: str) -> list[Path]:
    """``DIR/<name>.<format>`` for each input (see :func:`output_names`), each inside ``DIR``."""
    paths = [
        output_dir.joinpath(*name.parts).with_name(name.name + SUFFIXES[output_format])
        for name in output_names(inputs, SUFFIXES[output_format])
    ]
    inside = Path(os.path.abspath(output_dir))
    for item, path in zip(inputs, paths, strict=True):
        if inside not in Path(os.path.abspath(path)).parents:  # no name leaves the directory
            raise UsageError(
                f"Cannot place the output of {item.name!r} inside --output-dir "
                f"{str(output_dir)!r} (it would go to {str(path)!r}): rename the input."
            )
    return paths


def _stem(item: Input) -> str:
    if isinstance(item.audio, Path):
        return _safe_stem(PurePosixPath(item.audio.name))
    parts = urlsplit(item.audio)
    stem = PurePosixPath(unquote(parts.path)).stem or parts.hostname or "audio"
    return _UNSAFE.sub("_", stem).strip("._") or "audio"


def _safe_stem(path: PurePosixPath) -> str:
    """A file name's stem, never `.` or `..` (`..mp3`): those would leave the directory."""
    stem = path.stem or path.name
    return stem if stem.strip(".") else "audio"


def _clashes(names: Sequence[PurePosixPath]) -> list[int]:
    seen: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        seen.setdefault(str(name).casefold(), []).append(index)
    return sorted(index for group in seen.values() if len(group) > 1 for index in group)


def render(transcription: Transcription, name: str, output_format: str, *, compact: bool) -> str:
    """One input's output in ``output_format``; ``compact`` JSON is one line (for stdout)."""
    if output_format == "txt":
        return transcription.text.strip() + "\n"
    if output_format == "srt":
        return srt(transcription)
    if output_format == "vtt":
        return vtt(transcription)
    if output_format == "json":
        document = {"source": name, **transcription.model_dump(mode="json")}
        return json.dumps(document, ensure_ascii=False, indent=None if compact else 2) + "\n"
    return "".join(
        json.dumps(_segment_line(segment, name), ensure_ascii=False) + "\n"
        for segment in transcription.segments
    )


def _segment_line(segment: Any, name: str) -> dict[str, Any]:
    line: dict[str, Any] = {"source": name, "start": segment.start, "end": segment.end}
    if segment.speaker_id:
        line["speaker_id"] = segment.speaker_id
    line.update(speaker_link(segment))
    line["text"] = segment.text.strip()
    return line


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename).

    The file gets the mode of the one it replaces, else the one a plain ``open``
    would give (``mkstemp`` makes it private to the user, whatever the umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, _file_mode(path))
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _file_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)  # the only way to read it; set back at once
        os.umask(umask)
        return 0o666 & ~umask


class _OutputIndex:
    """``DIR/.voxtral-outputs.json``: output file -> its input (:func:`source_key`).

    A file of the right name may hold another input's output (``x/talk.wav`` then
    ``y/talk.wav`` into one directory); the index tells them apart for every format.
    A missing or damaged index is empty: outputs it does not know are taken as done.
    Both sides are stored relative to ``DIR`` (``talk.txt`` -> ``../audio/talk.wav``),
    so a tree moved or shared whole keeps its index, which names no home directory;
    an index of absolute paths (older versions) is read all the same.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._root = directory.resolve()
        self._path = directory / OUTPUT_INDEX
        self._entries = {
            output: self._relative(source) for output, source in _read_index(self._path).items()
        }
        self._unsaved = False
        self._saved_at = time.monotonic()

    def owner(self, target: Path) -> str | None:
        """The :func:`source_key` of the input ``target`` was written for, if known."""
        source = self._entries.get(self._key(target))
        if source is None or _URL.match(source):
            return source
        return os.path.normpath(os.path.join(self._root, source))  # an absolute one stays

    def record(self, target: Path, source: str) -> None:
        self._entries[self._key(target)] = self._relative(source)
        self._unsaved = True
        if time.monotonic() - self._saved_at >= INDEX_SAVE_SECONDS:
            self.save()

    def save(self) -> None:
        if self._unsaved:
            text = json.dumps(self._entries, ensure_ascii=False, indent=1, sort_keys=True)
            write_atomically(self._path, text + "\n")
            self._unsaved = False
            self._saved_at = time.monotonic()

    def _key(self, target: Path) -> str:
        return target.relative_to(self._directory).as_posix()

    def _relative(self, source: str) -> str:
        """A local input's absolute path as relative to ``DIR``; a URL's name as it is."""
        if _URL.match(source) or not os.path.isabs(source):
            return source
        try:
            return Path(os.path.relpath(source, self._root)).as_posix()
        except ValueError:  # on another drive (Windows): only an absolute path names it
            return source


def _read_index(path: Path) -> dict[str, str]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {key: value for key, value in entries.items() if isinstance(value, str)}


def source_key(item: Input) -> str:
    """What an output records as its input: a local file's absolute path, or the URL's name."""
    return str(item.audio.resolve()) if isinstance(item.audio, Path) else item.name


def plan_outputs(
    inputs: Sequence[Input],
    targets: Sequence[Path | None],
    index: _OutputIndex | None,
    output_format: str,
    *,
    overwrite: bool,
    warn: Callable[[str], None],
) -> tuple[list[Path | None], list[int]]:
    """Each input's output file, and the positions of the inputs to transcribe.

    An input whose output exists is skipped, unless ``overwrite``, or unless that
    file was written for another input: then its output goes to ``<name>-2``
    (``-3``...), never over the other one.
    """
    planned = list(targets)
    taken = {str(target).casefold() for target in targets if target is not None}
    todo = []
    for position, (item, target) in enumerate(zip(inputs, targets, strict=True)):
        if target is None or overwrite:
            todo.append(position)
            continue
        candidate, number, other = target, 1, None
        while candidate.exists():
            owner = _owner(candidate, output_format, index)
            if owner is None or owner in (item.name, source_key(item)):
                break  # done by an earlier run
            other = other or owner
            while True:
                number += 1
                stem = target.name.removesuffix(SUFFIXES[output_format])
                candidate = target.with_name(f"{stem}-{number}{SUFFIXES[output_format]}")
                if str(candidate).casefold() not in taken:
                    break
        else:
            todo.append(position)
            if other is not None:
                warn(
                    f"{str(target)!r} holds the output of {other!r}, not of {item.name!r}: "
                    f"writing {str(candidate)!r}"
                )
        taken.add(str(candidate).casefold())
        planned[position] = candidate
    return planned, todo


def _owner(target: Path, output_format: str, index: _OutputIndex | None) -> str | None:
    """The input ``target`` was written for, if the index or the file itself says."""
    recorded = index.owner(target) if index is not None else None
    if recorded is not None or output_format not in ("json", "jsonl"):
        return recorded
    try:
        with target.open(encoding="utf-8") as file:
            document = json.loads(file.read() if output_format == "json" else file.readline())
    except (OSError, ValueError):
        return None
    source = document.get("source") if isinstance(document, dict) else None
    return source if isinstance(source, str) else None


def _check_writable(directory: Path) -> None:
    """``--output-dir`` can take files: probed in it, or in its nearest existing parent
    (it is made with the first output, so a run that writes nothing leaves nothing).

    Checked before anything is sent, so a folder the user may not write to is a usage
    error, not a traceback after every upload. A probe, not ``os.access``: root passes
    that check even on a read-only file system.
    """
    flag = f"--output-dir {str(directory)!r}"
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag}: {str(existing)!r} exists and is not a directory.")
    try:
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".voxtral-probe-"))
    except OSError as error:
        raise UsageError(
            f"{flag} cannot be written to ({error.strerror}): choose a folder you may "
            "write to, or fix its permissions (chmod u+rwx)."
        ) from None
