"""The ``voxtral`` command end to end: in process through ``main([...])``, against a real
local server (``cli_server.SpeechServer``) that transcribes what it hears.

Every output format is parsed back and compared with the answers the server sent
(texts and times) and with the generated speech (times within 50 ms, absolute in
the recording also when it was split into chunks). Also: exit codes, failures
named on stderr, directory and glob expansion, resume after a failure or an
interruption, the chunk cache, stdout/stderr separation and the key never shown.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest

from tests.support.audio_factory import encode, speech_pcm
from tests.support.cli_server import SpeechServer
from tests.support.constants import FAKE_API_KEY, REPO
from tests.support.fake_batch import FakeBatchServer
from voxtral_integrations import VoxtralClient
from voxtral_integrations._constants import CLI_CACHE_MAX_AGE_DAYS
from voxtral_integrations.cli import _commands, _exits, _outputs, main
from voxtral_integrations.cli._inputs import Input, expand_inputs
from voxtral_integrations.cli._outputs import OUTPUT_INDEX, SUFFIXES, output_names, output_paths

TOLERANCE = 0.05
TRUTH = {
    "talk": [(0.5, 2.0), (3.0, 5.5)],
    "interview": [(0.4, 1.6), (2.5, 3.5), (4.5, 6.0)],
    "standup": [(1.0, 4.0)],
}
LONG_REGIONS = [(0.5, 3.0), (4.0, 7.5), (9.0, 12.0), (13.0, 15.5), (16.3, 19.0), (20.0, 23.9)]


def write_wav(path: Path, regions: list[tuple[float, float]], duration: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(speech_pcm(regions, duration), "wav"))
    return path


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    """``recordings/`` with three speech WAVs (one in a subdirectory) and a text file."""
    folder = tmp_path / "recordings"
    write_wav(folder / "talk.wav", TRUTH["talk"], 6.0)
    write_wav(folder / "interview.wav", TRUTH["interview"], 6.5)
    write_wav(folder / "team" / "standup.wav", TRUTH["standup"], 4.5)
    (folder / "notes.txt").write_text("not audio")
    return folder


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        monkeypatch.setenv("MISTRAL_BASE_URL", running.base_url)
        monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
        yield running


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    assert FAKE_API_KEY not in captured.out + captured.err
    return code, captured.out, captured.err


def outputs(directory: Path) -> list[Path]:
    """What the command wrote in ``directory``, without its index of which input is which."""
    return [path for path in directory.iterdir() if path.name != OUTPUT_INDEX]


def segments_of(answer: dict[str, Any], offset: float = 0.0) -> list[tuple[float, float, str]]:
    return [(s["start"] + offset, s["end"] + offset, s["text"].strip()) for s in answer["segments"]]


def assert_times(got: list[tuple[float, float, str]], truth: list[tuple[float, float]]) -> None:
    assert len(got) == len(truth), (got, truth)
    for (start, end, _), (true_start, true_end) in zip(got, truth, strict=True):
        assert abs(start - true_start) <= TOLERANCE, (start, true_start)
        assert abs(end - true_end) <= TOLERANCE, (end, true_end)


def assert_same(got: list[tuple[float, float, str]], want: list[tuple[float, float, str]]) -> None:
    """Same texts; times equal to the millisecond (subtitles keep milliseconds)."""
    assert [text for *_, text in got] == [text for *_, text in want]
    for (start, end, _), (want_start, want_end, _) in zip(got, want, strict=True):
        assert abs(start - want_start) <= 0.0011 and abs(end - want_end) <= 0.0011


CUE = re.compile(
    r"(\d\d):(\d\d):(\d\d)[,.](\d{3}) --> (\d\d):(\d\d):(\d\d)[,.](\d{3})\n(.+?)(?:\n\n|\n?$)", re.S
)


def parse_cues(text: str) -> list[tuple[float, float, str]]:
    def seconds(h: str, m: str, s: str, ms: str) -> float:
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    return [
        (seconds(*match.groups()[0:4]), seconds(*match.groups()[4:8]), match.group(9).strip())
        for match in CUE.finditer(text)
    ]


def parse_output(
    text: str, output_format: str
) -> tuple[str | None, list[tuple[float, float, str]]]:
    """An output file's text (when the format has it) and timed segments."""
    if output_format == "txt":
        return text.strip(), []
    if output_format == "json":
        document = json.loads(text)
        return document["text"], [
            (s["start"], s["end"], s["text"].strip()) for s in document["segments"]
        ]
    if output_format == "jsonl":
        lines = [json.loads(line) for line in text.splitlines()]
        return None, [(line["start"], line["end"], line["text"]) for line in lines]
    if output_format == "srt":
        blocks = text.strip().split("\n\n")
        assert [block.split("\n")[0] for block in blocks] == [
            str(n) for n in range(1, len(blocks) + 1)
        ]
        return None, parse_cues(text)
    assert text.startswith("WEBVTT\n\n")
    return None, parse_cues(text)


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("output_format", ["txt", "json", "jsonl", "srt", "vtt"])
def test_every_format_matches_what_the_server_said(
    server: SpeechServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    output_format: str,
) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, "transcribe", recordings, "-o", out, "-f", output_format)

    assert code == 0, stderr
    assert stdout == ""
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted([OUTPUT_INDEX, *(f"{name}.{output_format}" for name in TRUTH)])
    index = json.loads((out / OUTPUT_INDEX).read_text())
    assert index == {  # which input each output holds, for a re-run to skip only its own
        f"{path.stem}.{output_format}": Path(os.path.relpath(path, out)).as_posix()
        for path in recordings.resolve().rglob("*.wav")
    }
    timed = output_format != "txt"
    for name, truth in TRUTH.items():
        answer = server.answered(f"{name}.wav")
        assert bool(answer["segments"]) == (output_format in ("jsonl", "srt", "vtt"))
        text, segments = parse_output((out / f"{name}.{output_format}").read_text(), output_format)
        if text is not None:  # json keeps the server's text as it is, txt strips it
            assert text == (answer["text"] if output_format == "json" else answer["text"].strip())
        if timed and output_format != "json":
            assert_same(segments, segments_of(answer))
            assert_times(segments, truth)
    if output_format == "json":
        document = json.loads((out / "standup.json").read_text())
        assert document["source"] == str(recordings / "team" / "standup.wav")
        assert document["model"] == "voxtral-mini-latest"
        assert document["usage"] == server.answered("standup.wav")["usage"]


def test_timed_formats_ask_for_segment_timestamps_and_txt_does_not(
    server: SpeechServer, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    talk = recordings / "talk.wav"
    assert run(capsys, "transcribe", talk, "-f", "srt")[0] == 0
    assert run(capsys, "transcribe", talk)[0] == 0
    assert run(capsys, "transcribe", talk, "-f", "json", "--timestamps", "word")[0] == 0
    sent = [record.fields.get("timestamp_granularities") for record in server.server.requests]
    assert sent == [("segment",), None, ("word",)]


def test_json_with_timestamps_carries_the_segments(
    server: SpeechServer, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run(
        capsys, "transcribe", recordings / "interview.wav", "-f", "json", "--timestamps", "segment"
    )
    assert code == 0
    document = json.loads(stdout)
    assert document["source"] == str(recordings / "interview.wav")
    got = [(s["start"], s["end"], s["text"].strip()) for s in document["segments"]]
    assert_same(got, segments_of(server.answered("interview.wav")))
    assert_times(got, TRUTH["interview"])


def test_diarized_jsonl_carries_speakers(
    server: SpeechServer, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run(
        capsys, "transcribe", recordings / "interview.wav", "--diarize", "-f", "jsonl"
    )
    assert code == 0
    lines = [json.loads(line) for line in stdout.splitlines()]
    answer = server.answered("interview.wav")
    assert [line["speaker_id"] for line in lines] == [s["speaker_id"] for s in answer["segments"]]
    assert {line["source"] for line in lines} == {str(recordings / "interview.wav")}
    assert server.server.requests[0].fields["diarize"] == ("true",)


# --------------------------------------------------------------------------- stdout


def test_several_texts_on_stdout_in_input_order_with_headers(
    server: SpeechServer, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [
        recordings / "talk.wav",
        recordings / "team" / "standup.wav",
        recordings / "interview.wav",
    ]
    code, stdout, stderr = run(capsys, "transcribe", *files, "--concurrency", "3")
    assert code == 0
    expected = "\n".join(
        f"==> {path} <==\n{server.answered(path.name)['text'].strip()}\n" for path in files
    )
    assert stdout == expected
    assert "==>" not in stderr and "talk 0" not in stderr


def test_json_on_stdout_is_one_line_per_input(
    server: SpeechServer, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run(capsys, "transcribe", recordings, "-f", "json")
    assert code == 0
    documents = [json.loads(line) for line in stdout.splitlines()]
    assert [Path(d["source"]).stem for d in documents] == ["interview", "talk", "standup"]
    assert [d["text"] for d in documents] == [
        server.answered(f"{Path(d['source']).stem}.wav")["text"] for d in documents
    ]


def test_one_subtitle_on_stdout_but_several_need_an_output_dir(
    server: SpeechServer, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run(capsys, "transcribe", recordings / "talk.wav", "-f", "vtt")
    assert code == 0
    assert_same(parse_output(stdout, "vtt")[1], segments_of(server.answered("talk.wav")))

    code, stdout, stderr = run(capsys, "transcribe", recordings, "-f", "srt")
    assert code == 2
    assert stdout == ""
    assert "--output-dir" in stderr and "3 inputs" in stderr


def test_summary_on_stderr_counts_audio_and_tokens(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = run(capsys, "transcribe", recordings, "-o", tmp_path / "out")
    assert code == 0 and stdout == ""
    answers = [server.answered(f"{name}.wav") for name in TRUTH]
    minutes = sum(a["usage"]["prompt_audio_seconds"] for a in answers) / 60
    prompt = sum(a["usage"]["prompt_tokens"] for a in answers)
    completion = sum(a["usage"]["completion_tokens"] for a in answers)
    summary = stderr.strip().splitlines()[-1]
    assert summary.startswith("voxtral: 3 done, 0 failed;")
    assert f"{minutes:.1f} min of audio" in summary
    assert f"{prompt + completion} tokens ({prompt} prompt, {completion} completion)" in summary

    code, _, stderr = run(capsys, "transcribe", recordings, "-o", tmp_path / "other", "--quiet")
    assert code == 0
    assert "done" not in stderr


def test_progress_bars_go_to_stderr_only_when_asked(
    server: SpeechServer, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = run(capsys, "transcribe", recordings, "--progress", "-q")
    assert code == 0
    assert "files" in stderr and "3/3" in stderr
    assert "files" not in stdout
    code, _, stderr = run(capsys, "transcribe", recordings, "-q")  # stderr is not a terminal
    assert code == 0
    assert "3/3" not in stderr


# --------------------------------------------------------------------------- inputs


def test_directory_search_skips_unsupported_files_with_a_named_warning(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (recordings / ".hidden.wav").write_bytes(b"not searched")
    write_wav(recordings / ".trash" / "old.wav", TRUTH["talk"], 6.0)  # hidden: not searched
    clip = recordings / "clips" / "demo.mp4"
    clip.parent.mkdir()
    clip.write_bytes(encode(speech_pcm([(0.5, 2.5)], 3.0), "mp4", video=True))
    out = tmp_path / "out"

    code, _, stderr = run(capsys, "transcribe", recordings, "-o", out)

    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"voxtral: warning: skipping {str(recordings / 'notes.txt')!r}: not an audio or video "
        "file by its suffix (name it explicitly to try it anyway)"
    ]
    assert sorted(p.name for p in outputs(out)) == [
        "demo.txt",
        "interview.txt",
        "standup.txt",
        "talk.txt",
    ]
    converted = server.answered("demo.part000.ogg")  # video: its audio track, as Opus
    assert (out / "demo.txt").read_text().strip() == converted["text"].strip()
    assert converted["text"].strip() == "demo.part000 0"  # its one burst of speech was heard
    assert sorted(server.filenames()) == [
        "demo.part000.ogg",
        "interview.wav",
        "standup.wav",
        "talk.wav",
    ]


def test_a_bad_file_found_in_a_directory_or_glob_is_skipped_by_name(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (recordings / "aborted.wav").write_bytes(b"")
    (recordings / "moved.mp3").symlink_to(tmp_path / "gone.mp3")
    os.mkfifo(recordings / "team" / "pipe.wav")
    out = tmp_path / "out"

    for argument in (recordings, f"{recordings}/**/*.*"):
        code, _, stderr = run(capsys, "transcribe", argument, "-o", out, "--overwrite")
        assert code == 0, stderr
        warnings = [line for line in stderr.splitlines() if "warning" in line]
        assert (
            f"voxtral: warning: skipping {str(recordings / 'aborted.wav')!r}: an empty file"
            in warnings
        )
        assert (
            f"voxtral: warning: skipping {str(recordings / 'moved.mp3')!r}: a link to nothing"
            in warnings
        )
        pipe = recordings / "team" / "pipe.wav"
        assert f"voxtral: warning: skipping {str(pipe)!r}: not a regular file" in warnings
        assert sorted(p.name for p in outputs(out)) == [
            "interview.txt",
            "standup.txt",
            "talk.txt",
        ]
    code, _, stderr = run(capsys, "transcribe", tmp_path / "gone.mp3", "-o", out)
    assert code == 2 and "No such file or directory" in stderr  # named: still a usage error


def deny(
    monkeypatch: pytest.MonkeyPatch,
    *,
    reach: Path | None = None,
    read: Path | None = None,
    list_: Path | None = None,
) -> None:
    """Act as a user without permission (the tests run as root, whom modes do not stop):
    nothing under ``reach`` can be looked at, ``read`` may not be read, ``list_`` listed."""
    real_stat, real_access, real_scandir = Path.stat, os.access, os.scandir

    def stat_(path: Path, **kwargs: Any) -> os.stat_result:
        if reach is not None and reach in path.parents:
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, **kwargs)

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        if read is not None and Path(path) == read and mode & os.R_OK:
            return False
        return real_access(path, mode, **kwargs)

    def scandir(path: Any = ".") -> Any:
        if list_ is not None and Path(path) == list_:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(Path, "stat", stat_)
    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "scandir", scandir)


def failures_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("voxtral: failed: ")]


def test_a_file_in_a_directory_that_may_not_be_searched_is_a_failed_input(
    server: SpeechServer,
    recordings: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    locked = write_wav(tmp_path / "locked" / "inner.wav", TRUTH["talk"], 6.0)
    deny(monkeypatch, reach=locked.parent)
    out = tmp_path / "out"

    code, _, stderr = run(capsys, "transcribe", locked, recordings / "talk.wav", "-o", out)

    assert code == 1, stderr
    assert failures_in(stderr) == [
        f"voxtral: failed: {locked}: permission denied: a directory on its path may not be "
        "searched (give your user search access to each: chmod u+x DIR)"
    ]
    assert [p.name for p in outputs(out)] == ["talk.txt"]
    assert "1 done, 1 failed" in stderr
    assert "Traceback" not in stderr


def test_an_unreadable_recording_in_a_directory_is_a_failed_input(
    server: SpeechServer,
    recordings: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deny(monkeypatch, read=recordings / "talk.wav")
    out = tmp_path / "out"

    code, _, stderr = run(capsys, "transcribe", recordings, "-o", out)

    assert code == 1, stderr
    assert failures_in(stderr) == [
        f"voxtral: failed: {recordings / 'talk.wav'}: permission denied: it may not be read "
        "(give your user read access: chmod u+r)"
    ]
    assert "Errno" not in stderr
    assert sorted(p.name for p in outputs(out)) == ["interview.txt", "standup.txt"]
    assert "talk.wav" not in server.filenames()
    assert "2 done, 1 failed" in stderr


@pytest.mark.parametrize("where", ["named", "inside", "glob"])
def test_a_directory_that_may_not_be_listed_is_a_failed_input_not_an_empty_one(
    server: SpeechServer,
    recordings: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    team = recordings / "team"
    deny(monkeypatch, list_=team)
    argument = {"named": team, "inside": recordings, "glob": f"{team}/*.wav"}[where]
    inputs = [argument] if where == "inside" else [argument, recordings / "talk.wav"]

    code, _, stderr = run(capsys, "transcribe", *inputs, "-o", tmp_path / "out")

    assert code == 1, stderr
    assert failures_in(stderr) == [
        f"voxtral: failed: {team}: permission denied: the directory may not be listed (give "
        "your user read and search access: chmod u+rx)"
    ]
    assert "contains no audio" not in stderr and "matches no audio" not in stderr
    assert "standup.wav" not in server.filenames() and "talk.wav" in server.filenames()


def test_batch_submit_refuses_inputs_it_may_not_read_before_uploading(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deny(monkeypatch, read=recordings / "talk.wav")
    code, stdout, stderr = run(capsys, "batch", "submit", recordings, "-o", tmp_path / "out")
    assert code == 2 and stdout == ""
    assert f"voxtral: failed: {recordings / 'talk.wav'}: permission denied" in stderr
    assert "1 input(s) may not be read (named above); nothing was submitted" in stderr
    assert batch_server.operations == []


def test_real_permissions_where_they_apply(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = recordings / "team"
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running with privileges that can read a mode-000 directory")
        code, _, stderr = run(capsys, "transcribe", locked / "standup.wav", locked, "-q")
        assert code == 1, stderr
        assert [line.split(": ")[2] for line in failures_in(stderr)] == [
            str(locked / "standup.wav"),
            str(locked),
        ]
    finally:
        locked.chmod(0o755)


def test_globs_are_expanded_and_duplicates_sent_once(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    talk = recordings / "talk.wav"
    code, _, stderr = run(
        capsys, "transcribe", f"{recordings}/**/*.wav", talk, f"{recordings}/./talk.wav", "-o", out
    )
    assert code == 0, stderr
    assert sorted(server.filenames()) == ["interview.wav", "standup.wav", "talk.wav"]
    assert sorted(p.name for p in outputs(out)) == ["interview.txt", "standup.txt", "talk.txt"]


def test_a_quoted_recursive_glob_does_not_follow_directory_links(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import threading

    (recordings / "team" / "up").symlink_to(recordings)  # two ways back to an ancestor
    (recordings / "team" / "up again").symlink_to(recordings)
    box: dict[str, list[Input]] = {}
    pattern = f"{recordings}/**/*.wav"
    worker = threading.Thread(
        target=lambda: box.update(found=expand_inputs([pattern], print, print)),
        daemon=True,
    )
    worker.start()
    worker.join(10)
    found = box["found"]  # a KeyError: glob's walk is still growing
    assert sorted(str(item.audio.relative_to(recordings)) for item in found) == [  # type: ignore[union-attr]
        "interview.wav",
        "talk.wav",
        "team/standup.wav",
    ]


def test_an_explicitly_named_file_is_tried_whatever_its_suffix(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "recording.data"
    odd.write_bytes((recordings / "talk.wav").read_bytes())
    renamed_text = tmp_path / "fake.mp3"
    renamed_text.write_text("this is not audio at all, only text " * 20)

    code, stdout, stderr = run(capsys, "transcribe", odd, renamed_text, "-o", tmp_path / "out")

    assert code == 1
    assert stdout == ""
    assert (tmp_path / "out" / "recording.txt").read_text().strip() == " ".join(
        f"recording {n}" for n in range(2)
    )
    failures = [line for line in stderr.splitlines() if "failed:" in line]
    assert len(failures) == 1
    assert failures[0].startswith(f"voxtral: failed: {renamed_text}: ")
    assert not (tmp_path / "out" / "fake.txt").exists()


def test_clashing_stems_get_told_apart() -> None:
    def names(*items: Path | str) -> list[str]:
        inputs = [Input(item, str(item)) for item in items]
        return [str(name) for name in output_names(inputs)]

    assert names(Path("/r/a/talk.wav"), Path("/r/b/talk.wav"), Path("/r/c/other.wav")) == [
        "a/talk",
        "b/talk",
        "other",
    ]
    assert names(Path("/r/talk.mp3"), Path("/r/talk.wav")) == ["talk.mp3", "talk.wav"]
    assert names(Path("/r/Talk.wav"), Path("/r/x/talk.wav")) == ["Talk", "x/talk"]
    urls = names(
        "https://a.example/x/talk.mp3?sig=1", "https://b.example/y/talk.mp3", Path("/r/talk.wav")
    )
    assert urls[2] == "talk.wav"
    assert urls[0] != urls[1] and all(re.fullmatch(r"talk-[0-9a-f]{8}", u) for u in urls[:2])
    assert names("https://a.example/", "https://b.example/podcast%20one.mp3") == [
        "a.example",
        "podcast_one",
    ]
    assert output_names([Input(Path("/r/talk.wav"), "talk.wav")]) == [PurePosixPath("talk")]


def test_clashing_stems_end_up_in_subdirectories(
    server: SpeechServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_wav(tmp_path / "monday" / "call.wav", TRUTH["talk"], 6.0)
    second = write_wav(tmp_path / "tuesday" / "call.wav", TRUTH["standup"], 4.5)
    out = tmp_path / "out"
    code, _, stderr = run(capsys, "transcribe", first, second, "-o", out, "-f", "srt")
    assert code == 0, stderr
    assert_times(parse_output((out / "monday" / "call.srt").read_text(), "srt")[1], TRUTH["talk"])
    assert_times(
        parse_output((out / "tuesday" / "call.srt").read_text(), "srt")[1], TRUTH["standup"]
    )


def test_inputs_with_the_same_printable_name_are_numbered_in_input_order() -> None:
    import threading

    signed = ["https://cdn.example/talk.mp3?sig=AAA", "https://cdn.example/talk.mp3?sig=BBB"]
    inputs = expand_inputs([*signed, "https://cdn.example/talk.mp3"], print, print)
    assert [item.name for item in inputs] == ["https://cdn.example/talk.mp3"] * 3
    box: dict[str, list[PurePosixPath]] = {}
    worker = threading.Thread(target=lambda: box.update(names=output_names(inputs)), daemon=True)
    worker.start()
    worker.join(5)
    names = [str(name) for name in box["names"]]  # a KeyError: still looping
    assert re.fullmatch(r"talk-[0-9a-f]{8}", names[0])
    assert names[1:] == [f"{names[0]}-2", f"{names[0]}-3"]
    assert output_names(inputs) == box["names"]  # the same names on a re-run


def test_an_output_file_never_takes_the_place_of_a_directory() -> None:
    inputs = [
        Input(Path("/r/p.txt/talk.wav"), "p.txt/talk.wav"),
        Input(Path("/r/q/talk.wav"), "q/talk.wav"),
        Input(Path("/r/p.wav"), "p.wav"),
    ]
    paths = output_paths(inputs, Path("/out"), "txt")
    assert [str(path) for path in paths] == [
        "/out/p.txt/talk.txt",
        "/out/q/talk.txt",
        "/out/p-2.txt",
    ]
    assert [str(path) for path in output_paths(inputs, Path("/out"), "srt")] == [
        "/out/p.txt/talk.srt",
        "/out/q/talk.srt",
        "/out/p.srt",
    ]


def test_dot_names_stay_inside_the_output_dir_and_apart(
    server: SpeechServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = [
        write_wav(tmp_path / "a" / "..mp3", TRUTH["talk"], 6.0),
        write_wav(tmp_path / "b" / "..mp3", TRUTH["standup"], 4.5),
    ]
    out = tmp_path / "work" / "out"

    code, _, stderr = run(capsys, "transcribe", odd[0], "-o", out, "-q")
    assert code == 0, stderr
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["out"]
    assert [p.name for p in outputs(out)] == ["audio.txt"]

    code, _, stderr = run(capsys, "transcribe", *odd, "-o", tmp_path / "two", "-q")
    assert code == 0, stderr
    written = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.txt"))
    assert written == [Path("a/audio.txt"), Path("b/audio.txt")]
    texts = [(tmp_path / "two" / path).read_text().split() for path in written]
    assert len(texts[0]) == 2 * len(TRUTH["talk"]) and len(texts[1]) == 2 * len(TRUTH["standup"])


def test_a_url_is_sent_as_a_url_and_its_query_never_shown(
    server: SpeechServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "https://storage.example/audio/podcast.mp3?X-Amz-Signature=SECRETTOKEN"
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, "transcribe", url, "-o", out, "-f", "json")
    assert code == 0, stderr
    assert server.server.requests[0].fields["file_url"] == (url,)
    written = (out / "podcast.json").read_text()
    assert json.loads(written)["source"] == "https://storage.example/audio/podcast.mp3"
    assert "SECRETTOKEN" not in stdout + stderr + written


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["transcribe", "{tmp}/missing.wav"], "No such file or directory: '{tmp}/missing.wav'"),
        (["transcribe", "{tmp}/empty"], "'{tmp}/empty' contains no audio or video file"),
        (["transcribe", "{tmp}/only-text"], "'{tmp}/only-text' contains no audio or video file"),
        (["transcribe", "{tmp}/*.flac"], "'{tmp}/*.flac' matches no audio or video file"),
        (["transcribe", "s3://bucket/a.wav"], "only http(s) URLs"),
        (["transcribe", "{talk}", "-f", "srt", "--language", "en"], "--language cannot be used"),
        (["transcribe", "{talk}", "--diarize", "--language", "en"], "--diarize is set"),
        (["transcribe", "--context-bias", "{talk}", "{talk}"], "looks like an input"),
        (["transcribe", "{talk}", "--context-bias", "two words"], "(option --context-bias)"),
        (["transcribe", "{talk}", "--language", "english"], "(option --language)"),
        (
            ["transcribe", "{talk}", "--concurrency", "0"],
            "--concurrency: '0' is not a whole number",
        ),
        (["transcribe", "{talk}", "--max-chunk-seconds", "-3"], "is not a number of seconds > 0"),
        (["transcribe", "{talk}", "-f", "docx"], "invalid choice: 'docx'"),
        (["transcribe"], "the following arguments are required: PATH_OR_URL"),
        ([], "transcribe"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_sent(
    server: SpeechServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "only-text").mkdir()
    (tmp_path / "only-text" / "readme.md").write_text("# notes")
    values = {"tmp": str(tmp_path), "talk": str(recordings / "talk.wav")}
    code, stdout, stderr = run(capsys, *[arg.format(**values) for arg in argv])
    assert code == 2
    assert stdout == ""
    assert message.format(**values) in stderr
    assert server.request_count == 0


def test_context_bias_takes_one_comma_separated_value_and_never_an_input(
    server: SpeechServer, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    talk = recordings / "talk.wav"
    argv = ["transcribe", "--context-bias", "Voxtral", talk, "--context-bias", "Mistral_AI,vLLM,"]
    code, stdout, stderr = run(capsys, *argv)
    assert code == 0, stderr
    assert stdout.strip() == server.answered("talk.wav")["text"].strip()
    [request] = server.server.requests
    assert request.fields["context_bias"] == ("Voxtral", "Mistral_AI", "vLLM")


def test_no_key_is_a_usage_error_naming_the_variable(
    recordings: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    code, stdout, stderr = run(capsys, "transcribe", recordings / "talk.wav")
    assert code == 2
    assert stdout == ""
    assert "set the MISTRAL_API_KEY environment variable" in stderr


def test_help_documents_every_option_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(capsys, "transcribe", "--help")
    assert code == 0
    for flag in (
        "--output-dir", "--format", "--model", "--language", "--diarize", "--context-bias",
        "--timestamps", "--concurrency", "--max-chunk-seconds", "--backend", "--base-url",
        "--no-cache", "--cache-dir", "--progress", "--quiet", "examples:", "exit status",
    ):  # fmt: skip
        assert flag in stdout, flag


def test_python_dash_m_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "voxtral_integrations", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "MISTRAL_API_KEY": ""},
    )
    assert done.returncode == 0, done.stderr
    assert "voxtral transcribe" in done.stdout and "examples:" in done.stdout


# --------------------------------------------------------------------------- failures and resuming


def test_a_failing_file_is_named_the_others_are_kept_and_a_rerun_does_only_it(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail = lambda filename, attempt: filename == "standup.wav" and attempt == 1
    out = tmp_path / "out"

    code, stdout, stderr = run(capsys, "transcribe", recordings, "-o", out, "--concurrency", "1")

    assert code == 1
    assert stdout == ""
    assert sorted(p.name for p in outputs(out)) == ["interview.txt", "talk.txt"]
    failures = [line for line in stderr.splitlines() if "failed:" in line]
    assert failures == [
        f"voxtral: failed: {recordings / 'team' / 'standup.wav'}: POST /v1/audio/transcriptions "
        "failed with 400: Audio input could not be decoded (standup.wav) "
        f"[type invalid_request_error]{failures[0].split('invalid_request_error]', 1)[1]}"
    ]
    assert "1 done" not in stderr and "2 done, 1 failed" in stderr

    server.reset()
    code, _, stderr = run(capsys, "transcribe", recordings, "-o", out)

    assert code == 0, stderr
    assert server.filenames() == ["standup.wav"]
    assert "1 done, 0 failed, skipped 2 already done" in stderr
    assert (out / "standup.txt").read_text().strip() == server.answered("standup.wav")[
        "text"
    ].strip()


def test_overwrite_transcribes_again(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    (out).mkdir()
    (out / "talk.txt").write_text("stale")
    assert run(capsys, "transcribe", recordings / "talk.wav", "-o", out)[0] == 0
    assert server.request_count == 0
    assert run(capsys, "transcribe", recordings / "talk.wav", "-o", out, "--overwrite")[0] == 0
    assert (out / "talk.txt").read_text() == "talk 0 talk 1\n"


@pytest.mark.parametrize("output_format", ["json", "srt"])
def test_an_output_written_for_another_input_is_not_taken_as_done(
    server: SpeechServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], output_format: str
) -> None:
    first = write_wav(tmp_path / "x" / "talk.wav", TRUTH["talk"], 6.0)
    second = write_wav(tmp_path / "y" / "talk.wav", TRUTH["standup"], 4.5)
    out = tmp_path / "out"
    suffix = SUFFIXES[output_format]
    timed = ["-f", output_format, "--timestamps", "segment"]
    assert run(capsys, "transcribe", first, "-o", out, *timed)[0] == 0
    kept = (out / f"talk{suffix}").read_text()

    code, _, stderr = run(capsys, "transcribe", second, "-o", out, *timed)
    assert code == 0, stderr
    assert f"voxtral: warning: {str(out / f'talk{suffix}')!r} holds the output of " in stderr
    assert (out / f"talk{suffix}").read_text() == kept
    other = parse_output((out / f"talk-2{suffix}").read_text(), output_format)[1]
    assert_times(other, TRUTH["standup"])

    server.reset()
    for audio in (first, second):  # each finds its own output now
        code, _, stderr = run(capsys, "transcribe", audio, "-o", out, *timed)
        assert code == 0 and "skipped 1 already done" in stderr and "warning" not in stderr
    assert server.request_count == 0
    assert sorted(p.name for p in outputs(out)) == [f"talk-2{suffix}", f"talk{suffix}"]


def test_the_output_index_is_relative_and_an_absolute_one_still_reads(
    server: SpeechServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_wav(tmp_path / "x" / "talk.wav", TRUTH["talk"], 6.0)
    write_wav(tmp_path / "y" / "talk.wav", TRUTH["standup"], 4.5)
    out = tmp_path / "out"
    assert run(capsys, "transcribe", first, "-o", out)[0] == 0
    index = out / OUTPUT_INDEX
    assert json.loads(index.read_text()) == {"talk.txt": "../x/talk.wav"}

    moved = tmp_path / "moved"  # the inputs and outputs moved together keep their index
    moved.mkdir()
    for name in ("x", "y", "out"):
        (tmp_path / name).rename(moved / name)
    code, _, stderr = run(capsys, "transcribe", moved / "x" / "talk.wav", "-o", moved / "out")
    assert code == 0 and "skipped 1 already done" in stderr and "warning" not in stderr

    index = moved / "out" / OUTPUT_INDEX  # as an older version wrote it
    index.write_text(json.dumps({"talk.txt": str((moved / "x" / "talk.wav").resolve())}))
    code, _, stderr = run(capsys, "transcribe", moved / "x" / "talk.wav", "-o", moved / "out")
    assert code == 0 and "skipped 1 already done" in stderr and "warning" not in stderr
    code, _, stderr = run(capsys, "transcribe", moved / "y" / "talk.wav", "-o", moved / "out")
    assert code == 0 and "holds the output of" in stderr  # another input's output, still
    assert json.loads(index.read_text()) == {
        "talk.txt": "../x/talk.wav",
        "talk-2.txt": "../y/talk.wav",
    }
    assert server.request_count == 2


def test_outputs_get_the_umask_mode_or_the_mode_of_the_file_they_replace(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    previous = os.umask(0o027)
    try:
        assert run(capsys, "transcribe", recordings / "talk.wav", "-o", out, "-f", "srt")[0] == 0
        assert stat.S_IMODE((out / "talk.srt").stat().st_mode) == 0o640
        (out / "talk.srt").chmod(0o604)
        argv = ["transcribe", recordings / "talk.wav", "-o", out, "-f", "srt", "--overwrite"]
        assert run(capsys, *argv)[0] == 0
        assert stat.S_IMODE((out / "talk.srt").stat().st_mode) == 0o604
    finally:
        os.umask(previous)


def test_an_interrupted_run_keeps_what_finished_and_a_rerun_continues(
    server: SpeechServer,
    recordings: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = VoxtralClient.transcribe_many

    def interrupted_after_two(self: VoxtralClient, *args: Any, **kwargs: Any) -> Iterator[Any]:
        results = real(self, *args, **kwargs)
        try:
            for count, result in enumerate(results, start=1):
                yield result
                if count == 2:
                    raise KeyboardInterrupt
        finally:
            results.close()  # type: ignore[attr-defined]

    monkeypatch.setattr(VoxtralClient, "transcribe_many", interrupted_after_two)
    out = tmp_path / "out"
    argv = ["transcribe", recordings, "-o", out, "--no-cache"]  # only the outputs resume
    code, stdout, stderr = run(capsys, *argv, "--concurrency", "1")

    assert code == 130
    assert stdout == ""
    done = sorted(p.name for p in outputs(out))
    assert len(done) == 2
    assert "interrupted" in stderr and "2 finished output(s)" in stderr
    assert "run the same command again" in stderr
    [missing] = {"interview.txt", "standup.txt", "talk.txt"} - set(done)

    monkeypatch.setattr(VoxtralClient, "transcribe_many", real)
    server.reset()
    code, _, stderr = run(capsys, *argv)

    assert code == 0, stderr
    assert server.filenames() == [missing.replace(".txt", ".wav")]
    assert "skipped 2 already done" in stderr
    assert sorted(p.name for p in outputs(out)) == ["interview.txt", "standup.txt", "talk.txt"]


def test_ctrl_c_prints_what_finished_behind_an_input_still_in_flight(
    server: SpeechServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal
    import threading
    import time

    paths = [write_wav(tmp_path / f"{name}.wav", TRUTH["talk"], 6.0) for name in "abcd"]
    server.delay = lambda filename: 1.5 if filename == "a.wav" else 0.0

    def interrupt_once_the_rest_is_answered() -> None:
        deadline = time.monotonic() + 10
        while len(server.filenames()) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # b, c and d reach the command, held back behind a
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_the_rest_is_answered, daemon=True).start()
    code, stdout, stderr = run(capsys, "transcribe", *paths, "--no-cache", "--concurrency", "4")

    assert code == 130
    assert re.findall(r"==> (.+) <==", stdout) == [str(path) for path in paths[1:]]
    assert "b 0 b 1" in stdout
    assert "voxtral: finishing 1 request(s) in flight; press Ctrl-C again to abandon them" in stderr
    assert "interrupted" in stderr.splitlines()[-1]


def test_a_second_ctrl_c_abandons_the_requests_in_flight(
    server: SpeechServer, tmp_path: Path
) -> None:
    import signal
    import time

    audio = write_wav(tmp_path / "slow.wav", TRUTH["talk"], 6.0)
    server.delay = lambda filename: 20.0
    command = subprocess.Popen(
        [sys.executable, "-m", "voxtral_integrations", "transcribe", str(audio), "--no-cache"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 30
        while not server.filenames() and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        command.send_signal(signal.SIGINT)
        time.sleep(0.5)
        command.send_signal(signal.SIGINT)
        _, stderr = command.communicate(timeout=15)
    finally:
        command.kill()
    assert command.returncode == 130, stderr
    assert time.monotonic() - started < 10  # not the 20 s the request takes
    assert "finishing 1 request(s) in flight; press Ctrl-C again to abandon them" in stderr
    assert "abandoned the requests in flight" in stderr


def test_a_long_file_resumes_at_the_chunk_that_failed(
    server: SpeechServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = write_wav(tmp_path / "long.wav", LONG_REGIONS, 25.0)
    server.fail = lambda filename, attempt: filename == "long.part001.wav" and attempt == 1
    out = tmp_path / "out"
    argv = ["transcribe", long, "-o", out, "-f", "srt", "--max-chunk-seconds", "10"]

    code, _, stderr = run(capsys, *argv)

    assert code == 1
    assert sorted(server.filenames()) == [
        "long.part000.wav",
        "long.part001.wav",
        "long.part002.wav",
    ]
    [failure] = [line for line in stderr.splitlines() if "failed:" in line]
    assert failure.startswith(f"voxtral: failed: {long}: ")
    assert not out.exists() or not list(out.iterdir())

    server.reset()
    code, _, stderr = run(capsys, *argv)

    assert code == 0, stderr
    assert server.filenames() == ["long.part001.wav"]
    cues = parse_output((out / "long.srt").read_text(), "srt")[1]
    assert_times(cues, LONG_REGIONS)
    assert {text.split()[0] for *_, text in cues} == {f"long.part00{n}" for n in range(3)}


def test_the_summary_counts_replayed_chunks_apart_from_what_was_sent(
    server: SpeechServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = write_wav(tmp_path / "long.wav", LONG_REGIONS, 25.0)
    server.fail = lambda filename, attempt: filename == "long.part001.wav" and attempt == 1
    argv = ["transcribe", long, "-o", tmp_path / "out", "--max-chunk-seconds", "10"]
    assert run(capsys, *argv)[0] == 1
    cached = [server.answered(f"long.part00{n}.wav")["usage"] for n in (0, 2)]
    server.reset()

    code, _, stderr = run(capsys, *argv)

    assert code == 0, stderr
    [sent] = [answer.body["usage"] for answer in server.answers]  # only chunk 1 went out
    summary = stderr.strip().splitlines()[-1]
    tokens = sent["prompt_tokens"] + sent["completion_tokens"]
    assert f"{sent['prompt_audio_seconds'] / 60:.1f} min of audio; {tokens} tokens (" in summary
    replayed_seconds = sum(usage["prompt_audio_seconds"] for usage in cached)
    replayed = sum(usage["prompt_tokens"] + usage["completion_tokens"] for usage in cached)
    assert (
        "from the resume cache (paid for by an earlier run): "
        f"{replayed_seconds / 60:.1f} min of audio, {replayed} tokens;" in summary
    )


def test_the_cache_never_replays_another_servers_answers(
    server: SpeechServer, recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    talk = recordings / "talk.wav"
    assert run(capsys, "transcribe", talk)[0] == 0
    assert run(capsys, "transcribe", talk)[0] == 0
    assert server.request_count == 1  # the same server: replayed from the cache
    with SpeechServer() as other:
        code, _, stderr = run(capsys, "transcribe", talk, "--base-url", other.base_url)
        assert code == 0, stderr
        assert other.request_count == 1
    assert "from the resume cache" not in stderr


def test_no_cache_sends_every_chunk_again(
    server: SpeechServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = write_wav(tmp_path / "long.wav", LONG_REGIONS, 25.0)
    server.fail = lambda filename, attempt: filename == "long.part001.wav" and attempt == 1
    argv = ["transcribe", long, "--max-chunk-seconds", "10", "--no-cache"]
    assert run(capsys, *argv)[0] == 1
    server.reset()
    code, stdout, _ = run(capsys, *argv)
    assert code == 0
    assert sorted(server.filenames()) == [
        "long.part000.wav",
        "long.part001.wav",
        "long.part002.wav",
    ]
    assert stdout.split() == [
        word for n in range(3) for word in server.answered(f"long.part00{n}.wav")["text"].split()
    ]
    assert not (tmp_path / "xdg-cache").exists()


def test_the_cache_goes_where_it_is_told(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "transcribe", recordings / "talk.wav")[0] == 0
    assert list((tmp_path / "xdg-cache" / "voxtral-integrations").iterdir())
    assert (
        run(capsys, "transcribe", recordings / "talk.wav", "--cache-dir", tmp_path / "mine")[0] == 0
    )
    assert list((tmp_path / "mine").iterdir())


def test_cache_info_and_clear_see_only_the_caches_own_files(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "xdg-cache" / "voxtral-integrations"
    code, stdout, _ = run(capsys, "cache", "info")
    assert code == 0
    assert stdout.splitlines()[:2] == [
        f"location: {cache} (not created yet)",
        "entries: 0 finished chunk(s), 0 bytes",
    ]
    assert run(capsys, "transcribe", recordings / "talk.wav", recordings / "interview.wav")[0] == 0
    (cache / "notes.txt").write_text("not the cache's")
    size = sum(p.stat().st_size for p in cache.glob("*.json"))

    code, stdout, _ = run(capsys, "cache", "info")
    assert code == 0
    lines = stdout.splitlines()
    assert lines[:2] == [f"location: {cache}", f"entries: 2 finished chunk(s), {size} bytes"]
    assert re.fullmatch(r"written: \d{4}-\d\d-\d\d \d\d:\d\d UTC to .+ UTC", lines[2])
    assert lines[3].startswith("policy: entries older than 30 days are removed")

    code, _, stderr = run(capsys, "cache", "clear")
    assert code == 0
    assert f"voxtral: removed 2 cache entries ({size} bytes) from {str(cache)!r}" in stderr
    assert [p.name for p in cache.iterdir()] == ["notes.txt"]
    server.reset()
    assert run(capsys, "transcribe", recordings / "talk.wav")[0] == 0
    assert server.request_count == 1  # nothing left to replay

    mine = tmp_path / "mine"
    assert run(capsys, "transcribe", recordings / "talk.wav", "--cache-dir", mine)[0] == 0
    code, stdout, _ = run(capsys, "cache", "info", "--cache-dir", mine)
    assert code == 0 and "entries: 1 finished chunk(s)" in stdout


def test_cache_entries_past_the_age_bound_are_removed_when_transcribe_runs(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "xdg-cache" / "voxtral-integrations"
    assert run(capsys, "transcribe", recordings / "talk.wav", recordings / "interview.wav")[0] == 0
    old, recent = sorted(cache.glob("*.json"))
    foreign = cache / "notes.txt"
    foreign.write_text("not the cache's")
    long_ago = time.time() - (CLI_CACHE_MAX_AGE_DAYS + 1) * 86400
    for path in (old, foreign):
        os.utime(path, (long_ago, long_ago))

    assert run(capsys, "transcribe", recordings / "team" / "standup.wav", "--no-cache")[0] == 0
    assert old.exists()  # --no-cache leaves the cache alone
    assert run(capsys, "transcribe", recordings / "team" / "standup.wav")[0] == 0
    assert not old.exists() and recent.exists() and foreign.exists()


def test_the_key_is_never_shown_or_written(
    server: SpeechServer, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail = lambda filename, attempt: filename == "talk.wav"
    out = tmp_path / "out"
    for output_format in ("json", "jsonl", "srt", "vtt", "txt"):
        code, stdout, stderr = run(
            capsys, "transcribe", recordings, "-o", out, "-f", output_format, "--progress"
        )
        assert code == 1
        assert FAKE_API_KEY not in stdout + stderr
    code, stdout, stderr = run(capsys, "transcribe", recordings, "-f", "json")
    assert FAKE_API_KEY not in stdout + stderr
    files = [*out.rglob("*"), *(tmp_path / "xdg-cache").rglob("*")]
    assert len([p for p in files if p.is_file()]) >= 10
    for path in files:
        if path.is_file():
            assert FAKE_API_KEY.encode() not in path.read_bytes(), path


def test_vllm_backend_needs_no_key(
    server: SpeechServer,
    recordings: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY")
    talk = recordings / "talk.wav"
    code, _, stderr = run(
        capsys, "transcribe", talk, "--backend", "vllm", "--base-url", server.base_url,
        "--model", "served-voxtral",
    )  # fmt: skip
    # the server wants the key, so it answers 401: the vLLM backend never sent one
    assert code == _exits.EXIT_REFUSED
    assert "401" in stderr and "the vLLM server wants an API key" in stderr
    assert server.request_count == 1


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_wrong_key_stops_the_run_at_the_first_refusal(
    server: SpeechServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    concurrency: int,
) -> None:
    paths = [write_wav(tmp_path / f"call{n}.wav", TRUTH["talk"], 6.0) for n in range(10)]
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-not-the-right-key-000")
    out = tmp_path / "out"
    code, stdout, stderr = run(
        capsys, "transcribe", *paths, "-o", out, "--concurrency", str(concurrency)
    )
    assert code == _exits.EXIT_REFUSED == 3
    # a request is refused only once the ones beside it are out: none starts after it
    assert 1 <= server.request_count <= concurrency
    assert stdout == "" and not out.exists()
    assert "failed:" not in stderr and "retry them" not in stderr
    lines = stderr.strip().splitlines()
    assert lines[0].startswith("voxtral transcribe: error: POST /v1/audio/transcriptions failed")
    assert lines[1].startswith("voxtral: stopped at the first refusal (401: the key is wrong")
    assert "Set MISTRAL_API_KEY to a valid key" in lines[1]
    assert "sk-not-the-right-key" not in stderr


# --------------------------------------------------------------------------- batch

SIGNED_URL = "https://files.example.com/podcast.wav?sig=SECRET-TOKEN-123"
JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def batch_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, recordings: Path
) -> FakeBatchServer:
    """The Files and Batch APIs in memory, behind the command's one client factory."""
    fake = FakeBatchServer(url_audio={SIGNED_URL: (recordings / "talk.wav").read_bytes()})
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    real = _commands.make_client

    def client(backend: str, base_url: str | None) -> VoxtralClient:
        real(backend, base_url).close()  # the command's own checks (key, backend) still run
        http = httpx.Client(transport=httpx.MockTransport(fake))
        return VoxtralClient(http_client=http, max_retries=0)

    monkeypatch.setattr(_commands, "make_client", client)
    return fake


def submit(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    code, stdout, stderr = run(capsys, "batch", "submit", *argv)
    assert code == 0, stderr
    assert JOB_ID.fullmatch(stdout.strip()), stdout
    return stdout.strip()


def test_batch_submit_status_and_results_by_id_end_to_end(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    batch_server.script = ("QUEUED", "RUNNING", "RUNNING", "SUCCESS")
    long = write_wav(tmp_path / "long" / "lecture.wav", LONG_REGIONS, 25.0)
    out = tmp_path / "out"
    job_id = submit(
        capsys, recordings, long, SIGNED_URL, "-o", out, "-f", "srt", "--max-chunk-seconds", "10"
    )
    assert (out / f"{job_id}.voxtral-batch.json").is_file()

    code, stdout, _ = run(capsys, "batch", "status", job_id)
    assert code == 0
    assert stdout.splitlines()[0] == f"{job_id}  RUNNING"
    assert "requests: 3 of 7 done" in stdout  # 3 recordings, 3 chunks, 1 URL

    code, stdout, stderr = run(capsys, "batch", "results", job_id, "-o", out, "-f", "srt")
    assert code == 1
    assert "is RUNNING" in stderr and "--wait" in stderr
    assert not list(out.glob("*.srt"))

    code, stdout, stderr = run(
        capsys, "batch", "results", job_id, "-o", out, "-f", "srt", "--wait", "--poll-interval", "0"
    )
    assert code == 0, stderr
    assert stdout == ""
    written = sorted(p.name for p in out.glob("*.srt"))
    assert written == ["interview.srt", "lecture.srt", "podcast.srt", "standup.srt", "talk.srt"]
    for name, truth in {**TRUTH, "podcast": TRUTH["talk"], "lecture": LONG_REGIONS}.items():
        cues = parse_output((out / f"{name}.srt").read_text(), "srt")[1]
        assert_times(cues, truth)
    assert "5 done, 0 failed" in stderr
    everything = stdout + stderr + "".join(p.read_text() for p in out.iterdir())
    assert "SECRET-TOKEN" not in everything and FAKE_API_KEY not in everything
    assert set(batch_server.deleted) >= {
        line["body"]["file_id"]
        for job in batch_server.jobs.values()
        for line in job.lines
        if "file_id" in line["body"]
    }


def test_batch_submit_wait_writes_the_outputs_at_once(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run(
        capsys,
        "batch",
        "submit",
        recordings,
        "-o",
        out,
        "-f",
        "jsonl",
        "--wait",
        "--poll-interval",
        "0",
    )
    assert code == 0, stderr
    assert JOB_ID.fullmatch(stdout.strip())
    for name, truth in TRUTH.items():
        lines = [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
        assert_times([(line["start"], line["end"], line["text"]) for line in lines], truth)
        assert {line["source"] for line in lines} == {str(next(recordings.rglob(f"{name}.wav")))}


def test_batch_partial_failures_name_each_failed_input(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    batch_server.fail = lambda custom_id, body: 500 if custom_id == "1" else None
    out = tmp_path / "out"
    job_id = submit(capsys, recordings, "-o", out)  # 0 interview, 1 talk, 2 team/standup

    code, _stdout, stderr = run(
        capsys, "batch", "results", job_id, "-o", out, "--wait", "--poll-interval", "0"
    )

    assert code == 1
    assert sorted(p.name for p in out.glob("*.txt")) == ["interview.txt", "standup.txt"]
    failures = [line for line in stderr.splitlines() if "failed:" in line]
    assert len(failures) == 1
    assert failures[0].startswith(f"voxtral: failed: {recordings / 'talk.wav'}: ")
    assert "failed on purpose" in failures[0]


def test_a_job_that_ended_early_gives_what_it_finished(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    batch_server.script, batch_server.processed = ("QUEUED", "TIMEOUT_EXCEEDED"), 1
    out = tmp_path / "out"
    job_id = submit(capsys, recordings, "-o", out)

    code, _, stderr = run(
        capsys, "batch", "results", job_id, "-o", out, "--wait", "--poll-interval", "0"
    )

    assert code == 1
    assert (
        f"voxtral: batch job {job_id} ended TIMEOUT_EXCEEDED: 1 of 3 done, 1 succeeded, 0 failed"
        in stderr.splitlines()
    )
    assert sorted(p.name for p in out.glob("*.txt")) == ["interview.txt"]
    failed = [line for line in stderr.splitlines() if "failed:" in line]
    assert [line.split(": ")[2] for line in failed] == [
        str(recordings / "talk.wav"),
        str(recordings / "team" / "standup.wav"),
    ]
    assert all("TIMEOUT_EXCEEDED" in line for line in failed)


def test_expired_results_are_a_clear_failure(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    job_id = submit(capsys, recordings / "talk.wav", "-o", out, "--wait", "--poll-interval", "0")
    assert (out / "talk.txt").exists()
    batch_server.expire()

    code, stdout, stderr = run(
        capsys, "batch", "results", job_id, "-o", tmp_path / "again", "--manifest-dir", out
    )

    assert code == 1
    assert stdout == ""
    assert "have expired" in stderr and job_id in stderr
    assert stderr.startswith("voxtral batch results: error: ")


def test_cancel_and_status_as_json(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    job_id = submit(capsys, recordings, "-o", tmp_path / "out")
    code, stdout, _ = run(capsys, "batch", "cancel", job_id)
    assert code == 0
    assert stdout.splitlines()[0] == f"{job_id}  CANCELLATION_REQUESTED"
    code, stdout, _ = run(capsys, "batch", "status", job_id, "--json")
    assert code == 0
    job = json.loads(stdout)
    assert job["id"] == job_id and job["status"] == "CANCELLED"


def test_batch_results_skip_existing_outputs_unless_overwrite(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    job_id = submit(capsys, recordings, "-o", out, "--wait", "--keep-files")
    (out / "talk.txt").write_text("edited by hand\n")
    (out / "interview.txt").unlink()

    code, _, stderr = run(capsys, "batch", "results", job_id, "-o", out, "--keep-files")
    assert code == 0, stderr
    assert "1 done, 0 failed, skipped 2 already done" in stderr
    assert (out / "talk.txt").read_text() == "edited by hand\n"
    assert (out / "interview.txt").exists()

    code, _, stderr = run(capsys, "batch", "results", job_id, "-o", out, "--overwrite")
    assert code == 0, stderr
    assert (out / "talk.txt").read_text() != "edited by hand\n"
    _, help_text, _ = run(capsys, "batch", "results", "--help")
    assert "--overwrite" in help_text and "skipped" in help_text


def test_status_and_cancel_never_show_a_signed_url_the_job_reports(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    job_id = submit(capsys, recordings / "talk.wav", "-o", tmp_path / "out")
    message = f"Could not download {SIGNED_URL} (403)"
    batch_server.jobs[job_id].errors = [{"message": message, "count": 2}]
    shown = "Could not download https://files.example.com/podcast.wav?<redacted> (403)"

    code, stdout, stderr = run(capsys, "batch", "status", job_id)
    assert code == 0, stderr
    assert stdout.splitlines()[-1] == f"error: {shown} (2x)"
    code, stdout, stderr = run(capsys, "batch", "status", job_id, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["errors"] == [{"message": shown, "count": 2}]
    code, stdout, stderr = run(capsys, "batch", "cancel", job_id)
    assert code == 0, stderr
    assert stdout.splitlines()[-1] == f"error: {shown} (2x)"
    assert "SECRET-TOKEN" not in "".join(capsys.readouterr())


def test_an_upper_case_job_id_finds_its_manifest(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = iter(range(1, 100))  # ids with letters, for upper case to change them
    monkeypatch.setattr(batch_server, "new_id", lambda: f"abcdef00-0000-4000-8000-{next(ids):012x}")
    out = tmp_path / "out"
    job_id = submit(capsys, recordings / "talk.wav", "-o", out, "--wait")
    first = (out / "talk.txt").read_text()
    (out / "talk.txt").unlink()
    code, _, stderr = run(capsys, "batch", "results", job_id.upper(), "-o", out)
    assert code == 0, stderr
    assert (out / "talk.txt").read_text() == first
    code, stdout, stderr = run(capsys, "batch", "status", job_id.upper())
    assert code == 0, stderr
    assert stdout.startswith(f"{job_id}  SUCCESS")


@pytest.mark.parametrize("action", ["status", "cancel", "results"])
def test_a_malformed_job_id_is_a_usage_error(
    batch_server: FakeBatchServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    extra = ["-o", str(tmp_path)] if action == "results" else []
    code, stdout, stderr = run(capsys, "batch", action, "job-123", *extra)
    assert code == 2
    assert stdout == ""
    assert "'job-123' is not a batch job id" in stderr
    assert batch_server.operations == []


def test_results_need_the_manifest_and_the_timestamps_the_format_needs(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    job_id = submit(capsys, recordings / "talk.wav", "-o", out)  # txt: no timestamps
    sent = len(batch_server.operations)

    code, _, stderr = run(capsys, "batch", "results", job_id, "-o", out, "-f", "vtt")
    assert code == 2
    assert "submitted without timestamps" in stderr

    code, _, stderr = run(capsys, "batch", "results", job_id, "-o", tmp_path / "elsewhere")
    assert code == 2
    assert f"No manifest for batch job {job_id}" in stderr and "--manifest-dir" in stderr
    assert len(batch_server.operations) == sent

    elsewhere = tmp_path / "elsewhere"
    code, _, stderr = run(
        capsys, "batch", "results", job_id, "-o", elsewhere, "--manifest-dir", out, "--wait",
        "--poll-interval", "0",
    )  # fmt: skip
    assert code == 0, stderr
    assert (elsewhere / "talk.txt").read_text().strip() == "words 0 words 1"


def test_batch_results_default_to_the_format_given_at_submit(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    job_id = submit(capsys, recordings / "talk.wav", "-o", out, "-f", "srt")
    manifest = out / f"{job_id}.voxtral-batch.json"
    assert json.loads(manifest.read_text())["output_format"] == "srt"

    argv = ["batch", "results", job_id, "-o", out, "--wait", "--poll-interval", "0"]
    code, _, stderr = run(capsys, *argv, "--keep-files")
    assert code == 0, stderr
    assert [p.name for p in outputs(out) if p != manifest] == ["talk.srt"]
    assert_times(parse_output((out / "talk.srt").read_text(), "srt")[1], TRUTH["talk"])

    elsewhere = ["--manifest-dir", out, "--keep-files"]
    code, _, stderr = run(capsys, *argv, "-o", tmp_path / "json", "-f", "json", *elsewhere)
    assert code == 0, stderr  # an explicit --format wins
    assert [p.name for p in outputs(tmp_path / "json")] == ["talk.json"]

    document = json.loads(manifest.read_text())  # a manifest from before the field: txt
    del document["output_format"]
    manifest.write_text(json.dumps(document))
    code, _, stderr = run(capsys, *argv, "-o", tmp_path / "old", "--manifest-dir", out)
    assert code == 0, stderr
    assert [p.name for p in outputs(tmp_path / "old")] == ["talk.txt"]


def test_batch_submit_checks_before_uploading(
    batch_server: FakeBatchServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF but not really a wav file")
    for argv, message in [
        ([recordings, "-o", tmp_path, "-f", "srt", "--language", "en"], "--language cannot"),
        ([tmp_path / "missing.wav", "-o", tmp_path], "No such file or directory"),
        ([recordings, broken, "-o", tmp_path], str(broken)),
        ([recordings, "-o", tmp_path, "--timeout-hours", "500"], "--timeout-hours"),
    ]:
        code, stdout, stderr = run(capsys, "batch", "submit", *argv)
        assert code == 2, stderr
        assert stdout == ""
        assert message in stderr
    assert batch_server.operations == []
    code, _, stderr = run(capsys, "batch", "submit", "-o", tmp_path)
    assert code == 2 and "PATH_OR_URL" in stderr
    code, _, stderr = run(capsys, "batch")
    assert code == 2 and "ACTION" in stderr


def _denied_for(target: Path, real: Any) -> Any:
    """``real`` (``tempfile.mkdtemp``), raising EACCES in ``target`` as a non-root user gets."""

    def call(*args: Any, **kwargs: Any) -> Any:
        where = kwargs.get("dir", args[0] if args else None)
        if where is not None and Path(where) == target:
            raise PermissionError(13, "Permission denied", str(target))
        return real(*args, **kwargs)

    return call


def test_an_output_folder_that_cannot_be_written_is_refused_before_anything_is_sent(
    server: SpeechServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "read-only"
    monkeypatch.setattr(_outputs.tempfile, "mkdtemp", _denied_for(out, _outputs.tempfile.mkdtemp))
    out.mkdir()
    code, _, stderr = run(capsys, "transcribe", recordings / "talk.wav", "-o", out, "-q")
    assert code == _exits.EXIT_USAGE, stderr
    assert f"--output-dir {str(out)!r} cannot be written to (Permission denied)" in stderr
    assert "Traceback" not in stderr
    assert server.filenames() == []


def test_an_output_that_cannot_be_written_is_that_inputs_failure(
    server: SpeechServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out"
    real = _commands.write_atomically

    def disk_full_for_talk(path: Path, text: str) -> None:
        if path.stem == "talk":
            raise OSError(28, "No space left on device", str(path))
        real(path, text)

    monkeypatch.setattr(_commands, "write_atomically", disk_full_for_talk)
    code, _, stderr = run(
        capsys, "transcribe", recordings / "talk.wav", recordings / "interview.wav", "-o", out
    )
    assert code == _exits.EXIT_FAILED, stderr
    assert f"failed: {recordings / 'talk.wav'}: cannot write" in stderr
    assert "No space left on device" in stderr and "Traceback" not in stderr
    assert [path.name for path in outputs(out)] == ["interview.txt"]
    assert "1 done, 1 failed" in stderr


def test_a_cache_folder_that_cannot_be_made_warns_and_the_run_goes_on(
    server: SpeechServer,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = tmp_path / "no-home" / "cache"
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self == cache:
            raise PermissionError(13, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    code, stdout, stderr = run(capsys, "transcribe", recordings / "talk.wav", "--cache-dir", cache)
    assert code == _exits.EXIT_OK, stderr
    assert f"voxtral: warning: the resume cache {str(cache)!r} cannot be created" in stderr
    assert "going on without it" in stderr
    assert stdout.strip() and len(server.filenames()) == 1


def test_a_timed_format_the_backend_cannot_time_names_the_format_too(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, stderr = run(
        capsys,
        "transcribe",
        recordings / "talk.wav",
        "--backend",
        "vllm",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--format",
        "srt",
    )
    assert code == _exits.EXIT_USAGE, stderr
    assert "(option --timestamps (or a timed --format: jsonl, srt, vtt))" in stderr


def test_a_jsonl_line_of_a_speaker_linked_across_chunks_says_how() -> None:
    from voxtral_integrations._models import Segment
    from voxtral_integrations.cli._outputs import _segment_line

    segment = Segment(
        text=" hi ",
        start=61.0,
        end=62.5,
        speaker_id="speaker_3",
        speaker_local="speaker_1",
        chunk_index=1,
        speaker_confidence=0.97,
    )
    assert _segment_line(segment, "call.wav") == {
        "source": "call.wav",
        "start": 61.0,
        "end": 62.5,
        "speaker_id": "speaker_3",
        "speaker_local": "speaker_1",
        "chunk_index": 1,
        "speaker_confidence": 0.97,
        "text": "hi",
    }
    unlinked = _segment_line(Segment(text="hi", start=0.0, end=1.0, speaker_id="speaker_1"), "a")
    assert list(unlinked) == ["source", "start", "end", "speaker_id", "text"]


def test_the_summary_counts_audio_heard_twice_where_diarized_chunks_overlap() -> None:
    from voxtral_integrations._models import Chunk, Transcription
    from voxtral_integrations.cli._summary import Tally

    tally = Tally(done=1)
    chunks = [Chunk(index=0, start=0.0, end=70.0), Chunk(index=1, start=25.0, end=120.0)]
    tally.add_usage(Transcription(text="", model="m", chunks=chunks))  # no audio seconds reported
    summary = tally.summary(1.0)
    assert "2.8 min of audio (0.8 min heard twice, where diarized chunks overlap)" in summary
    plain = Tally(done=1)
    plain.add_usage(Transcription(text="", model="m", chunks=chunks[:1]))
    assert "1.2 min of audio;" in plain.summary(1.0)
