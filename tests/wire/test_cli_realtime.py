"""``voxtral transcribe --realtime`` and ``voxtral listen`` end to end, in process through
``main([...])``, against the strict realtime fake (both dialects).

The fake hears the tones ``tone_speech`` makes, so every turn printed or written is
checked against the script spoken (text, speaker, times within 30 ms). The microphone
is replaced at its one seam (``_live.open_microphone``) by the same speech; Ctrl-C is a
real SIGINT to this process. Files are sent without pacing, so a test takes a second.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.support.audio_factory import encode, tone_speech, utterance
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_realtime import FakeRealtimeServer
from tests.wire.test_cli import parse_output
from voxtral_integrations.cli import _live, main

V3 = "voxtral-mini-transcribe-realtime-3"
VLLM_MODEL = "mistralai/Voxtral-Mini-4B-Realtime-2602"
TURNS = [
    utterance(["alpha", "bravo", "charlie"], 0.5),
    utterance(["delta", "echo"], 3.0, speaker=2),
]
DURATION = 5.0
PCM = tone_speech([word for turn in TURNS for word in turn], DURATION)
EXPECTED = [
    (" ".join(word[2] for word in turn), turn[0][0], turn[-1][1], f"speaker_{turn[0][3]}")
    for turn in TURNS
]
LINE = re.compile(
    r"^\[(\d\d):(\d\d):(\d\d\.\d)\s->\s(\d\d):(\d\d):(\d\d\.\d)\]\s(?:(\w+):\s)?(.*)$"
)


@pytest.fixture(params=["mistral", "vllm"])
def server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeRealtimeServer]:
    with FakeRealtimeServer(request.param) as running:
        monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
        monkeypatch.delenv("MISTRAL_BASE_URL", raising=False)
        yield running


@pytest.fixture
def mistral(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRealtimeServer]:
    with FakeRealtimeServer() as running:
        monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
        yield running


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "call.wav"
    path.write_bytes(encode(PCM, "wav"))
    return path


def server_flags(server: FakeRealtimeServer, *, diarize: bool = True) -> list[str]:
    """Realtime 3 with speakers on Mistral; the served model on vLLM (no speakers)."""
    if server.dialect == "vllm":
        return ["--backend", "vllm", "--base-url", server.base_url, "--model", VLLM_MODEL]
    return ["--base-url", server.base_url, "--model", V3, *(["--diarize"] if diarize else [])]


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    assert FAKE_API_KEY not in captured.out + captured.err
    return code, captured.out, captured.err


def parse_lines(text: str) -> list[tuple[str, float, float, str | None]]:
    """The printed turns: (text, start, end, speaker); every line must be one."""
    turns = []
    for line in text.splitlines():
        match = LINE.match(line)
        assert match, line
        h1, m1, s1, h2, m2, s2, speaker, said = match.groups()
        start = int(h1) * 3600 + int(m1) * 60 + float(s1)
        end = int(h2) * 3600 + int(m2) * 60 + float(s2)
        turns.append((said, start, end, speaker))
    return turns


def assert_turns(
    turns: list[tuple[str, float, float, str | None]], dialect: str, tolerance: float = 0.06
) -> None:
    """The script's turns, in order, once, at their times (tenths of a second printed)."""
    assert [said for said, *_ in turns] == [said for said, *_ in EXPECTED]
    for (_, start, end, speaker), (_, true_start, true_end, true_speaker) in zip(
        turns, EXPECTED, strict=True
    ):
        assert start == pytest.approx(true_start, abs=tolerance)
        assert end == pytest.approx(true_end, abs=tolerance)
        assert speaker == (None if dialect == "vllm" else true_speaker)


# --------------------------------------------------------------------------- transcribe --realtime


def test_final_turns_are_printed_one_per_line_with_their_times(
    server: FakeRealtimeServer, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "transcribe", "--realtime", wav, "--no-pace", *server_flags(server)
    )

    assert code == 0, err
    assert "\r" not in out and "\x1b" not in out  # not a terminal: only the final turns
    assert_turns(parse_lines(out), server.dialect)
    assert server.connections == 1
    assert re.search(r"1 done, 0 failed; 2 turn\(s\)", err)


def test_the_realtime_model_is_the_default(
    mistral: FakeRealtimeServer, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "transcribe", "--realtime", wav, "--no-pace", "--base-url", mistral.base_url
    )
    assert code == 0, err
    assert [record.model for record in mistral.records] == ["voxtral-mini-transcribe-realtime-2602"]
    turns = parse_lines(out)
    assert [said for said, *_ in turns] == [said for said, *_ in EXPECTED]
    assert [speaker for *_, speaker in turns] == [None, None]  # 2602 has no speakers


def test_a_file_is_paced_at_the_speed_of_speech_unless_no_pace(
    mistral: FakeRealtimeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "short.wav"
    short.write_bytes(encode(tone_speech(utterance(["golf"], 0.2), 1.2), "wav"))
    took = []
    for pace in ([], ["--no-pace"]):
        started = time.monotonic()
        code, out, err = run(
            capsys, "transcribe", "--realtime", short, *pace, *server_flags(mistral)
        )
        took.append(time.monotonic() - started)
        assert code == 0, err
        assert [said for said, *_ in parse_lines(out)] == ["golf"]
    assert took[0] >= 1.0  # 1.2 s of audio, paced: it cannot all be sent in less
    assert took[1] < took[0]


def test_the_delay_and_the_terms_reach_the_session(
    mistral: FakeRealtimeServer, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys,
        "transcribe",
        "--realtime",
        wav,
        "--no-pace",
        *server_flags(mistral, diarize=False),
        "--delay",
        "480",
        "--context-bias",
        "Voxtral,Mistral_AI",
        "--language",
        "en",
    )
    assert code == 0, err
    update = next(f for f in mistral.frames[0] if f.get("type") == "session.update")
    session = update["session"]
    assert session["target_streaming_delay_ms"] == 480
    assert session["context_bias"] == ["Voxtral", "Mistral_AI"]
    assert session["language"] == "en"


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def screen(raw: str) -> list[str]:
    """The lines a terminal shows: within a line, what follows its last erase."""
    return [line.rsplit("\r\x1b[K", 1)[-1] for line in raw.split("\n")]


def test_on_a_terminal_the_open_turn_is_rewritten_in_place(
    server: FakeRealtimeServer, wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    code = main(["transcribe", "--realtime", str(wav), "--no-pace", *server_flags(server)])
    raw = terminal.getvalue()

    assert code == 0
    partials = re.findall(r"\r\x1b\[K… ([^\r\n]*)", raw)
    assert "alpha" in partials and "alpha bravo" in partials  # grows word by word
    assert partials.index("alpha") < partials.index("alpha bravo")
    shown = screen(raw)
    assert shown[-1] == ""  # the partial line is erased once its turn is final
    assert_turns(parse_lines("\n".join(shown[:-1])), server.dialect)


@pytest.mark.parametrize("output_format", ["txt", "json", "jsonl", "srt", "vtt"])
def test_every_format_is_written_from_the_turns(
    server: FakeRealtimeServer,
    wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    output_format: str,
) -> None:
    out = tmp_path / "out"
    code, stdout, err = run(
        capsys,
        "transcribe",
        "--realtime",
        wav,
        "--no-pace",
        *server_flags(server),
        "-o",
        out,
        "-f",
        output_format,
    )

    assert code == 0, err
    assert_turns(parse_lines(stdout), server.dialect)  # the live view stays on stdout
    assert sorted(p.name for p in out.iterdir()) == [f"call.{output_format}"]  # no temp file
    text, segments = parse_output((out / f"call.{output_format}").read_text(), output_format)
    said = [said for said, *_ in EXPECTED]
    if text is not None:
        assert text == " ".join(said)
    if output_format in ("srt", "vtt"):  # the cue carries the speaker, as subtitles do
        prefix = "" if server.dialect == "vllm" else "speaker_{}: "
        said = [prefix.format(n) + text for n, text in zip((1, 2), said, strict=True)]
    if output_format != "txt":
        assert [text for *_, text in segments] == said
        for (start, end, _), (_, true_start, true_end, _) in zip(segments, EXPECTED, strict=True):
            assert start == pytest.approx(true_start, abs=0.03)
            assert end == pytest.approx(true_end, abs=0.03)
    if output_format == "json":
        document = json.loads((out / "call.json").read_text())
        assert document["source"] == str(wav)
        speakers = [segment["speaker_id"] for segment in document["segments"]]
        assert speakers == (
            [None, None] if server.dialect == "vllm" else ["speaker_1", "speaker_2"]
        )


def test_a_format_without_an_output_dir_goes_to_stdout(
    mistral: FakeRealtimeServer, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "transcribe", "--realtime", wav, "--no-pace", *server_flags(mistral), "-f", "jsonl"
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["text"], line["speaker_id"]) for line in lines] == [
        (said, speaker) for said, _, _, speaker in EXPECTED
    ]
    assert all(line["source"] == str(wav) for line in lines)


def test_several_files_go_one_session_after_another(
    mistral: FakeRealtimeServer, wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.wav"
    other.write_bytes(encode(tone_speech(utterance(["golf", "hotel"], 0.4), 2.0), "wav"))
    code, out, err = run(
        capsys, "transcribe", "--realtime", wav, other, "--no-pace", *server_flags(mistral)
    )

    assert code == 0, err
    first, second = out.split("\n\n")
    assert first.splitlines()[0] == f"==> {wav} <=="
    assert_turns(parse_lines("\n".join(first.splitlines()[1:])), "mistral")
    assert second.splitlines()[0] == f"==> {other} <=="
    assert [said for said, *_ in parse_lines("\n".join(second.splitlines()[1:]))] == ["golf hotel"]
    assert mistral.connections == 2
    assert "2 done, 0 failed; 3 turn(s)" in err


def test_a_failed_file_is_named_and_the_next_one_still_runs(
    mistral: FakeRealtimeServer, wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF, but not audio at all" * 20)
    code, out, err = run(
        capsys, "transcribe", "--realtime", broken, wav, "--no-pace", *server_flags(mistral)
    )
    assert code == 1
    assert f"voxtral: failed: {broken}:" in err
    assert_turns(parse_lines(out.split("\n\n")[1].split("\n", 1)[1]), "mistral")
    assert "1 done, 1 failed" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--timestamps", "word"], "--timestamps cannot be used with --realtime"),
        (["--temperature", "0.2"], "--temperature cannot be used with --realtime"),
        (["--max-chunk-seconds", "60"], "--max-chunk-seconds cannot be used with --realtime"),
        (["--no-cache"], "--no-cache cannot be used with --realtime"),
        (["--concurrency", "2"], "--concurrency cannot be used with --realtime"),
        (["--no-progress"], "--progress/--no-progress cannot be used with --realtime"),
        (["--language", "en"], "(option --language)"),  # the 2602 model takes none
        (["--delay", "5"], "(option --delay)"),  # below the model's range
    ],
)
def test_a_flag_the_realtime_run_cannot_honour_is_a_usage_error(
    mistral: FakeRealtimeServer,
    wav: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    code, out, err = run(
        capsys, "transcribe", "--realtime", wav, "--base-url", mistral.base_url, *flags
    )
    assert code == 2
    assert message in err
    assert out == ""
    assert mistral.connections == 0


@pytest.mark.parametrize("flags", [["--delay", "480"], ["--no-pace"]])
def test_realtime_flags_without_realtime_are_a_usage_error(
    wav: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    code, _, err = run(capsys, "transcribe", wav, *flags)
    assert code == 2
    assert f"{flags[0]} is an option of --realtime" in err


def test_a_url_several_subtitles_on_stdout_and_no_key_are_usage_errors(
    mistral: FakeRealtimeServer,
    wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = ["transcribe", "--realtime", "--base-url", mistral.base_url]
    code, _, err = run(capsys, *base, "https://example.com/talk.mp3")
    assert (code, "is a URL: download it first" in err) == (2, True)
    other = tmp_path / "other.wav"
    other.write_bytes(wav.read_bytes())
    code, _, err = run(capsys, *base, wav, other, "-f", "srt")
    assert (code, "pass --output-dir DIR" in err) == (2, True)
    monkeypatch.delenv("MISTRAL_API_KEY")
    code, _, err = run(capsys, *base, wav)
    assert (code, "No API key" in err) == (2, True)
    assert mistral.connections == 0


def test_a_refused_key_stops_with_exit_3_and_is_never_shown(
    wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other_file = tmp_path / "other.wav"
    other_file.write_bytes(wav.read_bytes())
    with FakeRealtimeServer(api_key="sk-another-key") as other:
        monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
        code, out, err = run(
            capsys,
            "transcribe",
            "--realtime",
            wav,
            other_file,
            "--no-pace",
            "--base-url",
            other.base_url,
        )
        refused = len(other.rejected)
    assert code == 3
    assert "Set MISTRAL_API_KEY to a valid key" in err
    assert out.count("==>") == 1 and refused == 1  # stopped at the first refusal


# --------------------------------------------------------------------------- listen


def fake_microphone(
    after: Callable[[], None] | None = None, interrupts: int = 1
) -> Callable[[str | None], Callable[[threading.Event], AsyncIterator[bytes]]]:
    """A microphone that says :data:`PCM` a little faster than speech, then sends
    ``interrupts`` Ctrl-Cs (real SIGINTs) and silence until the session stops it."""

    def opened(device: str | None) -> Callable[[threading.Event], AsyncIterator[bytes]]:
        async def chunks(stop: threading.Event) -> AsyncIterator[bytes]:
            step = 3200  # 0.1 s
            for start in range(0, len(PCM), step):
                yield PCM[start : start + step]
                await asyncio.sleep(0.005)
            for _ in range(interrupts):
                os.kill(os.getpid(), signal.SIGINT)
                await asyncio.sleep(0.05)
            while not stop.is_set():
                yield bytes(step)
                await asyncio.sleep(0.01)

        return chunks

    return opened


def test_listen_prints_the_turns_and_a_ctrl_c_ends_it_cleanly(
    server: FakeRealtimeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_live, "open_microphone", fake_microphone())
    target = tmp_path / "meeting.srt"
    code, out, err = run(
        capsys, "listen", *server_flags(server), "--format", "srt", "--output", target
    )

    assert code == 0, err
    assert "stopping: waiting for the final turns" in err
    assert_turns(parse_lines(out), server.dialect)
    _, cues = parse_output(target.read_text(), "srt")
    assert [text.split(": ")[-1] for *_, text in cues] == [said for said, *_ in EXPECTED]


def test_a_second_ctrl_c_abandons_the_session_with_exit_130(
    mistral: FakeRealtimeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_live, "open_microphone", fake_microphone(interrupts=2))
    code, _, err = run(capsys, "listen", *server_flags(mistral))
    assert code == 130
    assert "abandoned the session" in err


def test_listen_without_the_extra_names_it(
    mistral: FakeRealtimeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import sounddevice fails
    code, out, err = run(capsys, "listen", "--base-url", mistral.base_url)
    assert code == 2
    assert "pip install 'voxtral-integrations[listen]'" in err
    assert out == ""
    assert mistral.connections == 0


def test_listen_output_needs_a_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "listen", "--output", tmp_path / "x.txt")
    assert code == 2
    assert "needs --format" in err
