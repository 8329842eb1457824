"""The ``voxtral`` command in a pseudo-terminal, checked on what a person sees.

The real command (``python -m voxtral_integrations``) runs with stdout and stderr
on a pseudo-terminal, against a local ``SpeechServer``; :class:`Screen` turns
what it writes into the lines a terminal would show (carriage returns, cursor
moves, erasing, wrapping at the width). The standard library only (``os.openpty``),
so the suite needs nothing more than the ``test`` extra.

What is checked: results on stdout never share a line with a progress bar (the
bars are on stderr, and both reach the terminal at the same cursor); bars are
closed in their order with a summary under them; Ctrl-C says how many requests
are really in flight, and every chunk the server answered is in the resume cache,
so the re-run does not pay for it again; a closed pipe (``| head -1``) ends the
command quietly. Where a test needs a moment (a request in flight while Ctrl-C
comes), the server holds its answer until the test has done its part: no sleeps,
no timing asserts.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.audio_factory import encode, speech_pcm
from tests.support.cli_server import SpeechServer
from tests.support.constants import FAKE_API_KEY, REPO
from voxtral_integrations import Transcription
from voxtral_integrations._records import srt
from voxtral_integrations.cli import _screen

fcntl = pytest.importorskip("fcntl", reason="pseudo-terminals are POSIX")
termios = pytest.importorskip("termios", reason="pseudo-terminals are POSIX")

WIDTH, HEIGHT = 200, 50
"""Wide enough that no message wraps: a wrapped line is two lines on screen."""
WAIT = 30.0
"""Seconds any one wait may take before the test fails (never reached when it works)."""
BAR = re.compile(r"(files|chunks): +(\d+)%\|[^|]*\| (\d+)/(\d+) \[[^\]]*\]")
LONG_REGIONS = [(0.5, 3.0), (4.0, 7.5), (9.0, 12.0), (13.0, 15.5), (16.3, 19.0), (20.0, 23.9)]


class Screen:
    """Enough of a terminal to read back what was shown: a grid of lines, unbounded
    downwards (the scrollback), written at a cursor.

    Printable characters overwrite at the cursor; a character past the last
    column wraps to the next line first (as xterm does); ``\\r``, ``\\n``,
    backspace, CSI cursor moves (``A`` ``B`` ``C`` ``D`` ``G``) and erasing (``K``,
    ``J``) act as in a VT100. Other escape sequences are ignored.
    """

    _CSI = re.compile(r"\x1b\[([?0-9;]*)([@-~])")
    _UNFINISHED = re.compile(r"\x1b(\[[?0-9;]*)?$")

    def __init__(self, width: int) -> None:
        self.width = width
        self._rows: list[list[str]] = [[]]
        self._row = 0
        self._col = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes) -> None:
        text = self._pending + self._decoder.decode(data)
        self._pending = ""
        position = 0
        while position < len(text):
            char = text[position]
            if char == "\x1b":
                match = self._CSI.match(text, position)
                if match is None:
                    if self._UNFINISHED.match(text, position):
                        self._pending = text[position:]  # the rest of it comes next
                        return
                    position += 1
                    continue
                self._control(match.group(1), match.group(2))
                position = match.end()
                continue
            self._character(char)
            position += 1

    def lines(self) -> list[str]:
        """Every line shown, without trailing spaces or trailing empty lines."""
        shown = ["".join(row).rstrip() for row in self._rows]
        while shown and not shown[-1]:
            shown.pop()
        return shown

    def _character(self, char: str) -> None:
        if char == "\r":
            self._col = 0
        elif char == "\n":
            self._move_to(self._row + 1)
        elif char == "\b":
            self._col = max(0, min(self._col, self.width - 1) - 1)
        elif char >= " ":
            if self._col >= self.width:
                self._move_to(self._row + 1)
                self._col = 0
            row = self._rows[self._row]
            row.extend(" " * (self._col + 1 - len(row)))
            row[self._col] = char
            self._col += 1

    def _control(self, parameters: str, command: str) -> None:
        if parameters.startswith("?"):
            return  # private modes (cursor shown or hidden)
        first = parameters.split(";")[0]
        count = max(int(first or 1), 1)  # moves: none given, or 0, is 1
        mode = int(first or 0)  # erasing: none given is 0
        row = self._rows[self._row]
        if command == "A":
            self._row = max(0, self._row - count)
        elif command == "B":
            self._move_to(self._row + count)
        elif command == "C":
            self._col = min(self.width - 1, self._col + count)
        elif command == "D":
            self._col = max(0, min(self._col, self.width - 1) - count)
        elif command == "G":
            self._col = count - 1
        elif command == "K":
            if mode == 0:
                del row[self._col :]
            elif mode == 1:
                row[: self._col + 1] = [" "] * min(len(row), self._col + 1)
            else:
                row.clear()
        elif command == "J" and mode == 0:
            del row[self._col :]
            del self._rows[self._row + 1 :]

    def _move_to(self, row: int) -> None:
        self._row = row
        while len(self._rows) <= row:
            self._rows.append([])


class Terminal:
    """The command running with its output on a pseudo-terminal of ``WIDTH`` columns.

    The terminal is the command's controlling one, so a Ctrl-C typed into it
    (:meth:`type`) reaches the command as it does in a shell. ``stdout`` may be
    given (a pipe) to watch stderr alone on the terminal.
    """

    def __init__(self, argv: Sequence[str], env: dict[str, str], stdout: int | None = None):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
        self._master = master
        self.screen = Screen(WIDTH)
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voxtral_integrations", *argv],
            stdin=slave,
            stdout=slave if stdout is None else stdout,
            stderr=slave,
            cwd=REPO,
            env=env,
            start_new_session=True,
            preexec_fn=_take_terminal,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: every process holding the terminal is gone
                data = b""
            if not data:
                return
            with self._lock:
                self.screen.feed(data)

    def lines(self) -> list[str]:
        with self._lock:
            return self.screen.lines()

    def type(self, keys: bytes) -> None:
        os.write(self._master, keys)

    def wait_for(self, shown: Callable[[list[str]], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not shown(self.lines()):
            assert self.process.poll() is None, "\n".join(self.lines())
            assert time.monotonic() < deadline, "\n".join(self.lines())
            time.sleep(0.01)

    def finish(self) -> int:
        """The exit status, once the command has ended and all it wrote is on screen."""
        try:
            code = self.process.wait(timeout=WAIT)
        finally:
            self.close()
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=WAIT)
        if self._master >= 0:
            os.close(self._master)
            self._master = -1


def _take_terminal() -> None:
    """In the child, a session leader now: make the pseudo-terminal its controlling one."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        yield running


Run = Callable[..., Terminal]


@pytest.fixture
def run(server: SpeechServer, tmp_path: Path) -> Iterator[Run]:
    """``run(argv, stdout=None)``: the command in a terminal, pointed at ``server``."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MISTRAL_", "COLUMNS", "LINES", "TQDM_"))
    }
    env = {
        **environment,
        "MISTRAL_API_KEY": FAKE_API_KEY,
        "MISTRAL_BASE_URL": server.base_url,
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "TERM": "xterm",
    }
    started: list[Terminal] = []

    def start(argv: Sequence[str], stdout: int | None = None) -> Terminal:
        started.append(Terminal(argv, env, stdout))
        return started[-1]

    yield start
    for terminal in started:  # a test that failed half-way leaves no process behind
        terminal.close()


def write_wav(path: Path, regions: list[tuple[float, float]], duration: float) -> Path:
    path.write_bytes(encode(speech_pcm(regions, duration), "wav"))
    return path


def recordings(directory: Path, names: str) -> list[Path]:
    """One WAV per name, each of its own length (the same audio would come from the cache)."""
    return [
        write_wav(directory / f"{name}.wav", [(0.5, 2.0), (3.0, 5.5)], 6.0 + number / 2)
        for number, name in enumerate(names)
    ]


def assert_no_line_mixes_a_bar(lines: Sequence[str]) -> None:
    """A line with a bar in it is that bar and nothing else: no result, message, other
    bar or the terminal's own echo of a ``^C`` is drawn into it."""
    for line in lines:
        if "%|" in line or BAR.search(line):
            assert BAR.fullmatch(line), f"garbled: {line!r}"


def assert_shown_whole(lines: Sequence[str], expected: str) -> int:
    """``expected`` (what went to stdout) is on screen line for line; returns where it ends."""
    wanted = expected.rstrip("\n").split("\n")
    for start in range(len(lines) - len(wanted) + 1):
        if lines[start : start + len(wanted)] == wanted:
            return start + len(wanted)
    raise AssertionError("not shown whole:\n" + expected + "\n--- screen:\n" + "\n".join(lines))


def bars(lines: Sequence[str]) -> list[tuple[str, int, int]]:
    """Each bar line as (name, done, total), top to bottom."""
    found = []
    for line in lines:
        match = BAR.fullmatch(line)
        if match:
            found.append((match.group(1), int(match.group(3)), int(match.group(4))))
    return found


def assert_ends_clean(lines: Sequence[str], after: int, files: int, chunks: int, last: str) -> None:
    """Under the results: the two bars, closed in their order, then the closing line."""
    tail = list(lines[after:])
    assert [(name, done) for name, done, _ in bars(tail)] == [("files", files), ("chunks", chunks)]
    assert re.match(last, tail[-1]), tail
    assert len(tail) == 3, tail  # the two bars and the summary, nothing half drawn


def test_the_screen_draws_as_a_terminal_does() -> None:
    screen = Screen(10)
    screen.feed(b"files 1/2\r\n")  # the terminal's \n is \r\n (ONLCR)
    screen.feed(b"chunks\x1b[A\rfiles 2/2\x1b")  # an escape sequence cut in two
    screen.feed(b"[B\r\x1b[Kdone\r\n0123456789ab\r\n\xe2\x96")
    screen.feed(b"\x88|")
    assert screen.lines() == ["files 2/2", "done", "0123456789", "ab", "\u2588|"]


def test_a_ctrl_c_waits_for_the_line_being_written() -> None:
    """The handler of a Ctrl-C runs between two steps of the main thread: inside a
    write, it would draw its message (and raise) into a line half written."""
    happened: list[str] = []

    def said() -> None:
        happened.append("said")

    with pytest.raises(KeyboardInterrupt), _screen._interruptible(said), _screen._SCREEN.writing():
        os.kill(os.getpid(), signal.SIGINT)
        happened.append("written")
    assert happened == ["written", "said"]


def test_subtitles_never_share_a_line_with_a_bar(
    server: SpeechServer, run: Run, tmp_path: Path
) -> None:
    question = write_wav(tmp_path / "question.wav", [(0.5, 2.0), (3.0, 5.5)], 6.0)

    terminal = run(["transcribe", str(question), "--format", "srt"])

    assert terminal.finish() == 0
    lines = terminal.lines()
    assert_no_line_mixes_a_bar(lines)
    subtitles = srt(Transcription.model_validate(server.answered("question.wav")))
    end = assert_shown_whole(lines, subtitles)
    assert_ends_clean(lines, end, files=1, chunks=1, last=r"voxtral: 1 done, 0 failed; ")


def test_several_texts_keep_their_headers_whole(
    server: SpeechServer, run: Run, tmp_path: Path
) -> None:
    paths = recordings(tmp_path, "abc")

    terminal = run(["transcribe", *map(str, paths), "--concurrency", "1"])

    assert terminal.finish() == 0
    lines = terminal.lines()
    assert_no_line_mixes_a_bar(lines)
    expected = "\n".join(
        f"==> {path} <==\n{server.answered(path.name)['text'].strip()}\n" for path in paths
    )
    end = assert_shown_whole(lines, expected)
    assert_ends_clean(lines, end, files=3, chunks=3, last=r"voxtral: 3 done, 0 failed; ")


def test_ctrl_c_waits_for_the_requests_in_flight_and_keeps_all_they_paid_for(
    server: SpeechServer, run: Run, tmp_path: Path
) -> None:
    long = write_wav(tmp_path / "long.wav", LONG_REGIONS, 25.0)  # 3 chunks of <= 10 s
    argv = ["transcribe", str(long), "--max-chunk-seconds", "10", "--concurrency", "2", "-f", "srt"]
    answer = threading.Event()  # the two requests in flight are answered after the Ctrl-C

    def held(filename: str) -> float:
        answer.wait(WAIT)
        return 0.0

    server.delay = held
    finishing = "voxtral: finishing 2 request(s) in flight; press Ctrl-C again to abandon them"

    terminal = run(argv)
    try:
        wait_until(lambda: len(server.filenames()) == 2)
        terminal.type(b"\x03")
        terminal.wait_for(lambda lines: finishing in lines)
    finally:
        answer.set()

    assert terminal.finish() == 130
    lines = terminal.lines()
    assert_no_line_mixes_a_bar(lines)
    # the message where the bars were (they are drawn again under it), the bars telling
    # the truth (no file is done, two chunks are), the way to go on; nothing stale
    assert lines[0] == finishing
    assert bars(lines[1:3]) == [("files", 0, 1), ("chunks", 2, 3)]
    assert lines[3].startswith("voxtral: interrupted. run the same command again")
    assert len(lines) == 4, lines
    answered = sorted(answer.filename for answer in server.answers if answer.status == 200)
    assert answered == ["long.part000.wav", "long.part001.wav"]
    cache = tmp_path / "xdg-cache" / "voxtral-integrations"
    assert len(list(cache.glob("*.json"))) == len(answered)

    server.reset()
    server.delay = lambda filename: 0.0
    rerun = run(argv)
    assert rerun.finish() == 0
    assert server.filenames() == ["long.part002.wav"]  # the answered chunks came from the cache
    said = {line.split()[0] for line in rerun.lines() if line.startswith("long.part")}
    assert said == {"long.part000", "long.part001", "long.part002"}


def test_a_second_ctrl_c_closes_the_bars_before_saying_so(
    server: SpeechServer, run: Run, tmp_path: Path
) -> None:
    long = write_wav(tmp_path / "long.wav", LONG_REGIONS, 25.0)
    argv = ["transcribe", str(long), "--max-chunk-seconds", "10", "--concurrency", "2"]
    gone = threading.Event()  # the requests in flight are never answered while it runs

    def held(filename: str) -> float:
        gone.wait(WAIT)
        return 0.0

    server.delay = held
    terminal = run([*argv, "--no-cache"])
    try:
        wait_until(lambda: len(server.filenames()) == 2)
        terminal.type(b"\x03")
        terminal.wait_for(
            lambda lines: any(line.startswith("voxtral: finishing") for line in lines)
        )
        terminal.type(b"\x03")
        code = terminal.finish()
    finally:
        gone.set()

    assert code == 130
    lines = terminal.lines()
    # the second ^C is echoed where the cursor stood, at the end of the files bar
    drawn = [line.removesuffix("^C") for line in lines]
    assert_no_line_mixes_a_bar(drawn)
    assert bars(drawn) == [("files", 0, 1), ("chunks", 0, 3)]
    assert drawn[-2].startswith("voxtral: interrupted. run the same command again")
    assert drawn[-1] == "voxtral: abandoned the requests in flight."


def test_a_closed_pipe_ends_the_command_quietly(
    server: SpeechServer, run: Run, tmp_path: Path
) -> None:
    paths = recordings(tmp_path, "abc")
    closed = threading.Event()  # b and c are answered once the reader is gone

    def held(filename: str) -> float:
        if filename != "a.wav":
            closed.wait(WAIT)
        return 0.0

    server.delay = held
    read_end, write_end = os.pipe()
    argv = ["transcribe", *map(str, paths), "--format", "jsonl", "--concurrency", "1"]
    try:
        terminal = run(argv, stdout=write_end)
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:  # `| head -1`
        first = pipe.readline()
    closed.set()

    code = terminal.finish()
    shown = "\n".join(terminal.lines())
    assert json.loads(first)["source"] == str(paths[0])
    assert code == 141, shown
    for noise in ("Traceback", "Exception ignored", "BrokenPipeError", "Errno 32"):
        assert noise not in shown, shown
