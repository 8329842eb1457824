"""The shared pace of one client: holds after a 429, a window that halves and grows back."""

from __future__ import annotations

import math

import pytest

from voxtral_integrations import _pacing
from voxtral_integrations._constants import PACE_POLL_SECONDS
from voxtral_integrations._pacing import Pace


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    moment = [100.0]
    monkeypatch.setattr(_pacing, "now", lambda: moment[0])
    return moment


def admit_all(pace: Pace, count: int) -> None:
    for _ in range(count):
        assert pace.admit() == 0.0


def test_nothing_waits_until_a_429(clock: list[float]) -> None:
    pace = Pace()
    admit_all(pace, 100)
    assert pace.window == math.inf


def test_a_429_holds_everyone_for_its_wait(clock: list[float]) -> None:
    pace = Pace()
    admit_all(pace, 4)
    pace.throttle(2.0)
    assert pace.admit() == pytest.approx(2.0)
    clock[0] += 1.5
    assert pace.admit() == pytest.approx(0.5)
    clock[0] += 0.5
    for _ in range(4):
        pace.release(succeeded=False, epoch=pace.epoch)
    assert pace.admit() == 0.0


def test_a_later_429_never_shortens_a_hold(clock: list[float]) -> None:
    pace = Pace()
    admit_all(pace, 2)
    pace.throttle(5.0)
    pace.throttle(1.0)
    assert pace.admit() == pytest.approx(5.0)


def test_one_burst_of_429s_halves_the_window_once(clock: list[float]) -> None:
    pace = Pace()
    admit_all(pace, 16)
    for _ in range(10):  # ten answers of the same burst
        pace.throttle(1.0)
        pace.release(succeeded=False, epoch=pace.epoch)
    assert pace.window == 8
    clock[0] += 1.0
    pace.throttle(1.0)  # a new burst, after the hold: halves again
    assert pace.window == 3  # half of the 6 still in flight


def test_the_window_binds_then_grows_back_until_it_no_longer_binds(clock: list[float]) -> None:
    pace = Pace()
    admit_all(pace, 8)
    pace.throttle(0.0)
    assert pace.window == 4
    for _ in range(8):
        pace.release(succeeded=True, epoch=pace.epoch)
    assert 4 < pace.window < 8
    admit_all(pace, math.ceil(pace.window))
    assert pace.admit() == PACE_POLL_SECONDS  # full: asked to look again shortly
    for _ in range(200):
        pace.release(succeeded=True, epoch=pace.epoch)
        assert pace.admit() == 0.0
    assert pace.window == math.inf  # grew past the most ever in flight (8)


def test_the_window_never_drops_below_one(clock: list[float]) -> None:
    pace = Pace()
    admit_all(pace, 1)
    pace.throttle(0.0)
    assert pace.window == 1
    pace.release(succeeded=False, epoch=pace.epoch)
    assert pace.admit() == 0.0


def test_successes_sent_before_a_cut_do_not_reopen_the_window(clock: list[float]) -> None:
    pace = Pace()
    admit_all(pace, 16)
    before = pace.epoch
    pace.throttle(1.0)  # 8 of the 16 get a 429; the other 8 succeed during the hold
    assert pace.window == 8
    for _ in range(8):
        pace.release(succeeded=True, epoch=before)
    assert pace.window == 8
    pace.release(succeeded=True, epoch=pace.epoch)
    assert pace.window == 8 + 1 / 8
