"""``voxtral transcribe --dry-run`` and ``--max-cost`` against a real local server,
``voxtral batch submit``'s held to the Batch API's price, and the billed minutes and
cost on the summary line after a run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.audio_factory import encode, speech_pcm
from tests.support.cli_server import SpeechServer
from tests.support.constants import FAKE_API_KEY
from tests.support.fake_batch import FakeBatchServer
from tests.wire import test_cli
from tests.wire.test_cli import run
from voxtral_integrations import model_info
from voxtral_integrations.cli import _exits

REGIONS = [(0.5, 3.0), (4.0, 7.5), (9.0, 12.0), (13.0, 15.5), (16.3, 19.0), (20.0, 23.9)]
PRICE = model_info("voxtral-mini-latest").price


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two WAVs (25 s, 22 s) and a 12 s MP3: different audio, so no chunk comes from the cache."""
    folder = tmp_path / "audio"
    folder.mkdir()
    for name, fmt, duration in (("a", "wav", 25.0), ("b", "wav", 22.0), ("c", "mp3", 12.0)):
        regions = [region for region in REGIONS if region[1] < duration]
        (folder / f"{name}.{fmt}").write_bytes(encode(speech_pcm(regions, duration), fmt))
    return folder


server = test_cli.server
"""The command's local server, the environment pointed at it (``test_cli``'s fixture)."""


def total_row(table: str) -> list[str]:
    [row] = [line for line in table.splitlines() if line.startswith("total (")]
    return row.split(")", 1)[1].split()


def test_a_dry_run_prints_the_table_and_sends_nothing_without_a_key(
    server: SpeechServer,
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY")
    argv = ["transcribe", folder, "--dry-run", "--diarize", "--max-chunk-seconds", "10"]
    code, stdout, stderr = run(capsys, *argv)

    assert code == _exits.EXIT_OK, stderr
    assert server.request_count == 0
    header = stdout.splitlines()[0].split()
    assert header[:4] == ["file", "minutes", "chunks", "requests"]
    assert "online $" in stdout.splitlines()[0] and "batch $" in stdout.splitlines()[0]
    minutes, chunks, requests, megabytes, overlap, online, batch = total_row(stdout)
    assert float(minutes) == pytest.approx(59 / 60, abs=0.01)
    assert int(chunks) == int(requests) >= 7  # 25 s in 10 s chunks: at least 3 each
    assert float(overlap) > 0  # diarized chunks overlap
    billed = (float(minutes) + float(overlap)) * 60
    assert PRICE.online is not None and PRICE.batch is not None
    assert float(online) == pytest.approx(PRICE.online * billed / 60, abs=1e-4)
    assert float(batch) == pytest.approx(PRICE.batch * billed / 60, abs=1e-4)
    # sliced, not converted: the bytes sent are the files' own, overlaps sent twice
    sizes = sum(path.stat().st_size for path in folder.iterdir()) / 1e6
    plain = total_row(run(capsys, *argv[:3], "--max-chunk-seconds", "10")[1])
    assert float(plain[3]) == pytest.approx(sizes, rel=0.02)
    assert float(megabytes) > float(plain[3]) and float(plain[4]) == 0
    assert "voxtral-mini-latest (= voxtral-mini-2602)" in stdout and "unverified" in stdout
    assert len(re.findall(r"^\S*(a|b)\.wav\s", stdout, re.MULTILINE)) == 2

    # the same run for real sends exactly the requests counted
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    code, _, stderr = run(
        capsys, *argv[:2], "--diarize", "--max-chunk-seconds", "10", "-o", folder.parent / "out"
    )
    assert code == 0, stderr
    assert server.request_count == int(requests)


def test_max_cost_refuses_a_run_over_budget_before_sending(
    server: SpeechServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = run(capsys, "transcribe", folder, "--max-cost", "0.0001")
    assert code == _exits.EXIT_USAGE
    assert server.request_count == 0 and stdout == ""
    assert "over --max-cost $0.0001" in stderr and "nothing was sent" in stderr

    code, stdout, stderr = run(capsys, "transcribe", folder, "--max-cost", "1")
    assert code == _exits.EXIT_OK, stderr
    assert server.request_count == 3


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (["--model", "my-fine-tune"], "no price is known for model 'my-fine-tune'"),
        (["https://example.com/talk.mp3"], "cannot be measured locally"),
    ],
)
def test_max_cost_refuses_what_it_cannot_price(
    extra: list[str],
    why: str,
    server: SpeechServer,
    folder: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inputs = [folder, *(item for item in extra if item.startswith("https:"))]
    flags = [item for item in extra if not item.startswith("https:")]
    code, _, stderr = run(capsys, "transcribe", *inputs, "--max-cost", "100", *flags)
    assert code == _exits.EXIT_USAGE
    assert why in stderr
    assert server.request_count == 0


def test_a_dry_run_names_what_it_could_not_estimate(
    server: SpeechServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{server.base_url}/files/talk.mp3"
    code, stdout, _ = run(capsys, "transcribe", folder, url, "--dry-run", "--model", "x-new")
    assert code == 0
    assert server.request_count == 0
    assert total_row(stdout)[-2:] == ["unknown", "unknown"]
    assert "not estimated: 1 input (" in stdout and "the server fetches it" in stdout
    assert "no known price" in stdout


def test_a_dry_run_with_a_budget_says_whether_the_run_would_go_ahead(
    server: SpeechServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = folder / "broken.mp3"
    broken.write_bytes(b"definitely not audio" * 50)  # refused before its upload: costs nothing
    code, table, _ = run(capsys, "transcribe", folder, "--dry-run")
    assert code == 0 and "broken.mp3): a run would refuse these too" in table
    online = float(total_row(table)[-2])
    code, stdout, stderr = run(capsys, "transcribe", folder, "--dry-run", "--max-cost", "100")
    assert code == 0 and stdout == table
    assert "within --max-cost $100.0000: the run would go ahead" in stderr
    assert "would fail: 'broken.mp3' is not audio" in stderr.replace(str(folder) + "/", "")
    below = f"{online / 2:.4f}"
    code, stdout, stderr = run(capsys, "transcribe", folder, "--dry-run", "--max-cost", below)
    assert code == _exits.EXIT_USAGE and stdout == table
    assert f"over --max-cost ${below}: nothing was sent" in stderr
    assert server.request_count == 0


def test_dry_run_and_max_cost_are_http_only(
    server: SpeechServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for flag in (["--dry-run"], ["--max-cost", "1"]):
        code, _, stderr = run(capsys, "transcribe", "--realtime", folder / "a.wav", *flag)
        assert code == _exits.EXIT_USAGE
        assert f"{flag[0]} cannot be used with --realtime" in stderr
    code, _, stderr = run(capsys, "transcribe", folder, "--max-cost", "-1")
    assert code == _exits.EXIT_USAGE and "US dollars" in stderr
    assert server.request_count == 0


batch_server = test_cli.batch_server
"""The Files and Batch APIs in memory, behind the command's client (``test_cli``'s fixture)."""
recordings = test_cli.recordings


def test_batch_submit_is_estimated_and_held_to_the_batch_price(
    server: SpeechServer,
    batch_server: FakeBatchServer,
    folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = ["--diarize", "--max-chunk-seconds", "10"]
    submit = ["batch", "submit", folder, "-o", tmp_path / "out", *options]
    monkeypatch.delenv("MISTRAL_API_KEY")
    code, table, stderr = run(capsys, *submit, "--dry-run")
    assert code == _exits.EXIT_OK, stderr
    assert table == run(capsys, "transcribe", folder, *options, "--dry-run")[1]
    assert run(capsys, "batch", "submit", folder, *options, "--dry-run")[1] == table  # no -o
    code, _, stderr = run(capsys, "batch", "submit", folder, *options)
    assert code == _exits.EXIT_USAGE and "needs -o/--output-dir DIR" in stderr
    assert batch_server.operations == [] and server.request_count == 0
    *_, requests, _, _, online, batch = total_row(table)
    assert 0 < float(batch) < float(online)

    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_API_KEY)
    between = f"{(float(batch) + float(online)) / 2:.4f}"  # the run online is over it
    code, stdout, stderr = run(capsys, "transcribe", folder, *options, "--max-cost", between)
    assert code == _exits.EXIT_USAGE and "over --max-cost" in stderr
    code, stdout, stderr = run(capsys, *submit, "--max-cost", between)
    assert code == _exits.EXIT_OK, stderr
    [job] = batch_server.jobs.values()
    assert stdout.strip() == job.id and len(job.lines) == int(requests)

    below = f"{float(batch) / 2:.4f}"
    code, stdout, stderr = run(capsys, *submit, "--max-cost", below)
    assert code == _exits.EXIT_USAGE and stdout == ""
    assert f"${float(batch):.4f} via the Batch API" in stderr
    assert f"over --max-cost ${below}" in stderr and "nothing was sent" in stderr
    code, _, stderr = run(capsys, *submit, "--max-cost", "100", "--model", "x-new")
    assert code == _exits.EXIT_USAGE
    assert "no Batch API price is known for model 'x-new'" in stderr
    with_url = [*submit[:3], test_cli.SIGNED_URL, *submit[3:]]
    code, _, stderr = run(capsys, *with_url, "--max-cost", "100")
    assert code == _exits.EXIT_USAGE and "cannot be measured locally" in stderr
    assert len(batch_server.jobs) == 1 and server.request_count == 0


def test_the_summary_line_gives_billed_minutes_and_cost(
    server: SpeechServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, stderr = run(capsys, "transcribe", folder, "-o", folder.parent / "out")
    assert code == 0, stderr
    billed = sum(answer.body["usage"]["prompt_audio_seconds"] for answer in server.answers)
    summary = stderr.strip().splitlines()[-1]
    assert PRICE.online is not None
    assert f"billed {billed / 60:.1f} min, about ${PRICE.online * billed / 60:.4f}" in summary

    code, _, stderr = run(
        capsys, "transcribe", folder, "-o", folder.parent / "other", "--model", "x-new"
    )
    assert code == 0, stderr
    assert f"billed {billed / 60:.1f} min, cost unknown" in stderr.strip().splitlines()[-1]
