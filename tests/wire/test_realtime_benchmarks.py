"""The realtime benchmarks run: each one's smoke mode, end to end (no timing asserted).

A smoke run checks what does not depend on the machine's speed: every measured event
pairs with the frame the fake sent (latency), and every session's utterances arrive
complete, once each (scale). Timing targets are the benchmarks' own business.
"""

from __future__ import annotations

import pytest

from benchmarks import realtime_latency, realtime_scale


def test_the_latency_benchmark_runs_both_dialects(capsys: pytest.CaptureFixture[str]) -> None:
    assert realtime_latency.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    for dialect in ("mistral", "vllm"):
        assert f"{dialect} (ms)" in out
    assert out.count("library added: socket -> async for") == 2
    assert "smoke run: targets not checked" in out


def test_the_scale_benchmark_completes_every_session(capsys: pytest.CaptureFixture[str]) -> None:
    assert realtime_scale.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "smoke run: every session complete" in out
    assert " 2/2 " in out
