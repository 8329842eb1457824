"""The shared pace of one client: holds after a 429, a window that halves and grows back,
and a rate it learns and sends at (against a token bucket on a fake clock)."""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
    for _ in range(8):  # all eight refused: the server let nothing through
        pace.throttle(1.0)
        pace.release(succeeded=False, epoch=0)
    assert pace.window == 4
    clock[0] += 1.0
    admit_all(pace, 4)
    assert pace.admit() == PACE_POLL_SECONDS
    for _ in range(4):
        pace.release(succeeded=True, epoch=pace.epoch)
    assert 4 < pace.window < 8
    admit_all(pace, math.ceil(pace.window))
    assert pace.admit() == PACE_POLL_SECONDS  # full: asked to look again shortly
    for _ in range(200):
        pace.release(succeeded=True, epoch=pace.epoch)
        assert pace.admit() == 0.0
    assert pace.window == math.inf  # grew past the most ever in flight (8)


def test_the_first_bursts_cut_stops_at_what_the_server_let_through(
    clock: list[float],
) -> None:
    """Eleven of a first wave went before its 429 came back: 8 accepted, 3 refused. Half
    of eleven in flight would be 5, fewer than the 8 the server just let through."""
    pace = Pace()
    admit_all(pace, 11)
    for _ in range(3):
        pace.throttle(0.042, sent_ago=0.0)
        pace.release(succeeded=False, epoch=0)
    assert pace.window == 5
    clock[0] += 0.042
    assert pace.admit() == PACE_POLL_SECONDS  # the hold is over: 8 in flight, a window of 8
    assert pace.burst == 8 and pace.window == 8
    pace.release(succeeded=True, epoch=0)
    assert pace.admit() == 0.0


def test_the_first_wave_is_counted_whole_in_the_order_the_server_took_it(
    clock: list[float],
) -> None:
    """A real first wave: 13 let out over 18 ms, the server refused the third one it got
    and four later ones, so 8 were accepted though only 2 went before the first refused."""
    pace, start = Pace(), clock[0]
    sends = [0.0, 1, 3, 4, 6, 7, 7, 8, 9, 10, 15, 15, 18]
    refused = [3, 9, 10, 15, 18]
    for sent in sends:
        clock[0] = start + sent / 1000
        assert pace.admit() == 0.0
    clock[0] = start + 0.019
    for sent in refused:
        pace.throttle(1.0, sent_ago=0.019 - sent / 1000)
        pace.release(succeeded=False, epoch=0)
    clock[0] += 1.0
    pace.admit()
    assert pace.burst == 8 and pace.window == 8


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


def test_a_ticket_says_what_its_slot_was_taken_under(clock: list[float]) -> None:
    """Read with the slot, under one lock: a cut or a send by another thread right after
    cannot relabel it (read after ``admit`` returned, the epoch could be the new one)."""
    pace = Pace()
    admit_all(pace, 15)
    wait, ticket = pace.admit_ticket()
    pace.throttle(1.0)  # another thread's 429, before this request was even sent
    held = pace.admit_ticket()
    assert wait == 0.0 and ticket == _pacing.Ticket(epoch=0, admitted=16, successes=0)
    assert pace.epoch == 1 and held[1] is None  # held: no slot, no ticket
    pace.release(succeeded=True, epoch=ticket.epoch)
    assert pace.window == 8  # sent before the cut: it does not widen the cut window


# --------------------------------------------------------------------------- the rate


@dataclass
class Limiter:
    """A server's token bucket: ``limit(t)`` requests per second, ``burst`` at once."""

    limit: Callable[[float], float]
    burst: float = 8.0
    whole_seconds: bool = True  # ``Retry-After: 1``, else to the millisecond
    tokens: float = 8.0
    updated: float = 0.0

    def take(self, moment: float) -> float | None:
        """``None`` if accepted, else the ``Retry-After`` it answers."""
        self.tokens = min(self.burst, self.tokens + (moment - self.updated) * self.limit(moment))
        self.updated = moment
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        wait = (1.0 - self.tokens) / self.limit(moment)
        if self.whole_seconds:
            return float(max(1, math.ceil(wait)))
        return math.ceil(wait * 1000) / 1000

    def left(self) -> int:
        return int(self.tokens)


@dataclass
class MinuteWindow:
    """A server's fixed per-minute quota: ``limit`` requests in each minute of its clock,
    refused until the next minute with a ``Retry-After`` to it in whole seconds."""

    limit: int
    used: int = 0
    minute: int = 0

    def take(self, moment: float) -> float | None:
        if int(moment // 60) != self.minute:
            self.minute, self.used = int(moment // 60), 0
        if self.used < self.limit:
            self.used += 1
            return None
        return float(math.ceil((self.minute + 1) * 60 - moment))

    def left(self) -> int:
        return self.limit - self.used


@dataclass
class Run:
    wall: float
    rate: float
    holds: list[tuple[float, float]]  # (429 arrived, its Retry-After)
    sends: list[float]
    refused: int = 0

    def early(self) -> int:
        return sum(1 for at, wait in self.holds for sent in self.sends if at < sent < at + wait)

    def bursts(self) -> int:
        """Separate holds (the 429s of one burst arrive together and make one)."""
        ends: list[float] = []
        for at, wait in sorted(self.holds):
            if not ends or at >= ends[-1]:
                ends.append(at + wait)
        return len(ends)


def simulate(
    clock: list[float],
    limiter: Limiter | MinuteWindow,
    *,
    requests: int = 200,
    concurrency: int = 16,
    latency: tuple[float, float] = (0.4, 0.6),
    refusal_latency: float = 0.001,
    remaining_header: bool = False,
    quota_header: int | None = None,
    stagger: float = 0.0,
    seed: int = 7,
) -> Run:
    """``requests`` sent through one :class:`Pace` by ``concurrency`` workers, as the send
    loops drive it, against ``limiter``: events in the order of a fake clock.

    A 429 arrives ``refusal_latency`` after its request went (an upload's time, when
    the server reads it first). ``quota_header`` is the per-minute limit every answer
    states, with what ``limiter`` has left, as Mistral's API does. Worker ``i`` first
    asks for its turn at ``i * stagger`` (its request still being prepared before);
    ``seed`` draws the latencies."""
    rng = random.Random(seed)
    pace, events, todo = Pace(), list[tuple[float, int, str, tuple[Any, ...]]](), requests
    holds: list[tuple[float, float]] = []
    sends: list[float] = []
    start = clock[0] = 0.0

    def push(moment: float, kind: str, *args: Any) -> None:
        heapq.heappush(events, (moment, len(sends) + len(holds) + len(events), kind, args))

    for worker in range(min(concurrency, requests)):
        push(worker * stagger, "turn")
        todo -= 1
    while events:
        clock[0], _, kind, args = heapq.heappop(events)
        moment = clock[0]
        if kind == "turn":
            if (wait := pace.admit()) > 0:
                push(moment + wait, "turn")
                continue
            sends.append(moment)
            refused = limiter.take(moment)
            left, admitted = limiter.left(), pace.admitted
            if refused is None:
                push(moment + rng.uniform(*latency), "ok", pace.epoch, moment, left, admitted)
            else:
                push(moment + refusal_latency, "429", pace.epoch, moment, refused, admitted)
        elif kind == "ok":
            epoch, sent, left, admitted = args
            if remaining_header:
                pace.remaining(left, sent_ago=moment - sent)
            if quota_header:
                pace.quota(left, quota_header, 60.0, admitted=admitted)
            pace.release(succeeded=True, epoch=epoch)
            if todo:
                todo -= 1
                push(moment, "turn")
        else:
            epoch, sent, wait, admitted = args
            holds.append((moment, wait))
            if remaining_header:
                pace.remaining(0, sent_ago=moment - sent)
            if quota_header:
                pace.quota(0, quota_header, 60.0, admitted=admitted)
            pace.throttle(wait, sent_ago=moment - sent)
            pace.release(succeeded=False, epoch=epoch)
            push(moment + wait, "turn")
    return Run(clock[0] - start, pace.rate, holds, sends, len(holds))


BOUND = (200 - 8) / 24 + 0.6
"""No client sends 200 requests sooner under 24 req/s with a burst of 8 (the slowest
answer last): the benchmark's bound."""


@pytest.mark.parametrize(
    "stagger",
    [
        pytest.param(0.0, id="all-at-once"),
        # the first 429 is back before every request of the first wave went (real threads)
        pytest.param(0.001, id="stagger-1ms"),
        pytest.param(0.002, id="stagger-2ms"),
    ],
)
@pytest.mark.parametrize(
    ("whole_seconds", "most_wall", "most_bursts"),
    [
        # one hold for the first wave (unavoidable), one to measure the rate: each a second
        pytest.param(True, BOUND + 2.0, 2, id="Retry-After-whole-seconds"),
        pytest.param(False, BOUND / 0.9, 10, id="retry-after-ms"),
    ],
)
def test_a_steady_limit_is_learnt_and_sent_at(
    clock: list[float], whole_seconds: bool, most_wall: float, most_bursts: int, stagger: float
) -> None:
    limiter = Limiter(lambda _: 24.0, whole_seconds=whole_seconds)
    run = simulate(clock, limiter, stagger=stagger)
    assert run.early() == 0
    assert run.wall <= most_wall
    assert run.bursts() <= most_bursts
    assert 0.9 * 24 <= run.rate <= 1.1 * 24


def test_whole_second_holds_cost_little_more_than_the_two_no_client_avoids(
    clock: list[float],
) -> None:
    """Over 36 runs (6 latency draws, the first wave 0-5 ms apart): the first wave's hold
    and the one that measures the rate cost 1 - 8 / 24 s each, and the rest of the run
    loses under a second to them (the window that grows back, the rate sent under)."""
    walls = [
        simulate(clock, Limiter(lambda _: 24.0), stagger=stagger / 1000, seed=seed).wall
        for seed in range(6)
        for stagger in range(6)
    ]
    floor = BOUND + 2 * (1 - 8 / 24)
    assert sum(walls) / len(walls) <= floor + 0.9
    assert max(walls) <= floor + 1.8


def test_every_retry_after_is_honoured_exactly(clock: list[float]) -> None:
    """Nothing goes inside a hold, and the pace does not wait past one either: the first
    send after each burst's hold is at its very end (the rate allowing)."""
    run = simulate(clock, Limiter(lambda _: 24.0))
    assert run.holds and run.early() == 0
    ends = sorted({at + wait for at, wait in run.holds})
    for end in ends:
        after = [sent for sent in run.sends if sent >= end]
        assert after and after[0] == pytest.approx(end, abs=1e-6)


@pytest.mark.parametrize(
    ("limit", "requests", "lowest", "highest"),
    [
        pytest.param(lambda t: 24.0 if t < 5 else 12.0, 400, 0.7 * 12, 1.1 * 12, id="drops"),
        pytest.param(lambda t: 12.0 if t < 5 else 24.0, 800, 1.5 * 12, 1.1 * 24, id="rises"),
    ],
)
def test_a_limit_that_moves_is_followed(
    clock: list[float],
    limit: Callable[[float], float],
    requests: int,
    lowest: float,
    highest: float,
) -> None:
    run = simulate(clock, Limiter(limit), requests=requests)
    assert run.early() == 0
    assert lowest <= run.rate <= highest


def test_with_no_429_nothing_is_learnt_and_nothing_waits(clock: list[float]) -> None:
    run = simulate(clock, Limiter(lambda _: 1000.0, burst=1000.0, tokens=1000.0))
    assert run.holds == [] and run.rate == math.inf
    assert run.wall <= 0.6 * math.ceil(200 / 16)


def test_remaining_zero_teaches_the_rate_without_a_hold(clock: list[float]) -> None:
    """``X-RateLimit-Remaining: 0`` on a success: the limiter is empty, nobody is held."""
    pace = Pace()
    for _ in range(40):  # 40 requests over 2 s, the last one's answer says 0 left
        assert pace.admit() == 0.0
        pace.release(succeeded=True, epoch=pace.epoch)
        clock[0] += 0.05
    pace.remaining(7, sent_ago=1.95)  # an early one: 7 left then
    pace.remaining(0, sent_ago=0.05)
    wait = pace.admit()
    # a bucket full at the start (8) needed (40 - 8) / 1.95 a second to let all 40 through;
    # one empty at the start would have let a 41st through at (40 + 1) / 1.95: too loose to
    # send under, so the pace sends at that floor
    assert pace.burst == 8 and pace.rate == pytest.approx((40 - 8) / 1.95, rel=0.01)
    assert 0 < wait < 1 / pace.rate  # no hold: the rate spaces the sends
    assert pace.window == math.inf


def test_remaining_room_is_spent_at_once(clock: list[float]) -> None:
    """More left than was sent since: room the learnt rate would not have given."""
    pace = Pace()
    for _ in range(30):
        pace.admit()
        pace.release(succeeded=True, epoch=pace.epoch)
        clock[0] += 0.05
    pace.throttle(0.0, sent_ago=0.0)
    assert pace.admit() > 0 and pace.rate != math.inf  # found empty: the rate spaces sends
    pace.remaining(5, sent_ago=0.0)
    assert [pace.admit() for _ in range(5)] == [0.0] * 5
    assert pace.admit() > 0


def test_no_header_at_all_still_learns(clock: list[float]) -> None:
    with_header = simulate(clock, Limiter(lambda _: 24.0), remaining_header=True)
    without = simulate(clock, Limiter(lambda _: 24.0))
    assert without.early() == with_header.early() == 0
    assert without.rate != math.inf and with_header.rate != math.inf
    assert with_header.wall <= without.wall + 0.5


def test_a_quota_is_spent_at_once_then_at_its_rate(clock: list[float]) -> None:
    """A quota with room lets a short run out at once; spent, it refills at its rate."""
    pace = Pace()
    assert pace.admit() == 0.0
    pace.quota(3, 60, 60.0, admitted=pace.admitted)  # 1 a second, 3 left
    admit_all(pace, 3)
    assert pace.admit() == pytest.approx(1.0)
    clock[0] += 0.5
    assert pace.admit() == pytest.approx(0.5)
    clock[0] += 0.5
    admit_all(pace, 1)


def test_a_quota_counts_what_went_since_and_reads_the_newest_answer(
    clock: list[float],
) -> None:
    pace = Pace()
    admit_all(pace, 1)
    first = pace.admitted
    admit_all(pace, 4)
    newest = pace.admitted
    pace.quota(2, 60, 60.0, admitted=newest)  # 2 left once the fifth was counted
    pace.quota(40, 60, 60.0, admitted=first)  # the first one's answer, late: stale
    admit_all(pace, 2)
    assert pace.admit() > 0
    pace.quota(5, 60, 60.0, admitted=first + 1)  # still older than the newest
    assert pace.admit() > 0
    pace.quota(4, 60, 60.0, admitted=newest)  # the same request said more: 4 - 2 sent since
    admit_all(pace, 2)
    assert pace.admit() > 0


def test_a_quota_overspent_is_not_owed(clock: list[float]) -> None:
    """Requests sent past the quota will be refused, not counted: the level is 0."""
    pace = Pace()
    admit_all(pace, 10)
    pace.quota(0, 60, 60.0, admitted=1)  # nine went after the one that emptied it
    assert pace.admit() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("limiter", "most_refused_with", "least_refused_without"),
    [
        # a fixed window is found empty by one 429 a minute, whose Retry-After holds all
        pytest.param(lambda: MinuteWindow(120), 4, 20, id="fixed-minute"),
        # a window that slides (a bucket of 120 at 2 a second) is never sent past
        pytest.param(lambda: Limiter(lambda _: 2.0, burst=120.0, tokens=120.0), 0, 5, id="sliding"),
    ],
)
def test_a_stated_quota_spares_uploads_the_server_would_refuse(
    clock: list[float],
    limiter: Callable[[], Limiter | MinuteWindow],
    most_refused_with: int,
    least_refused_without: int,
) -> None:
    """120 requests a minute, stated on every answer as Mistral states it; uploads that
    take 0.3 s before a 429 can come. Without the quota the pool keeps sending past it
    until the first 429 is in; with it, it stops at the quota and waits at its rate."""
    common: dict[str, Any] = {"requests": 400, "refusal_latency": 0.3}
    with_quota = simulate(clock, limiter(), quota_header=120, **common)
    without = simulate(clock, limiter(), **common)
    assert with_quota.early() == without.early() == 0
    assert with_quota.refused <= most_refused_with
    assert without.refused >= least_refused_without
    assert with_quota.wall <= without.wall + 1.0


def replayed(limiter: Limiter, sends: list[float]) -> list[tuple[float, bool]]:
    """``sends`` through ``limiter``, up to and with its first refusal: (sent, accepted)."""
    timeline = []
    for sent in sends:
        timeline.append((sent, limiter.take(sent) is None))
        if not timeline[-1][1]:
            break
    return timeline


def steady(per_second: float, start: float, end: float) -> list[float]:
    return [start + index / per_second for index in range(round((end - start) * per_second))]


@pytest.mark.parametrize(
    ("sends", "tight"),
    [
        # from a full bucket, 32 a second drain it at 8 a second: refused at 1 s
        pytest.param(steady(32.0, 0.0, 3.0), True, id="steady-drain"),
        # 12 a second for 2 s (the bucket full, overflowing), then 40: a stretch that
        # began with the slow part would pass for about 16 a second
        pytest.param(steady(12.0, 0.0, 2.0) + steady(40.0, 2.0, 5.0), True, id="overflow"),
        # a second of nothing, then 9 at once: the ninth is refused whatever the rate
        pytest.param([0.0] + [1.0] * 9, False, id="clump"),
    ],
)
def test_rate_bounds_hold_the_limiters_rate(sends: list[float], tight: bool) -> None:
    """The bounds found from what a 24-a-second bucket of 8 did: 24 is between them, and
    they are close unless a clump, not the rate, drained it."""
    timeline = replayed(Limiter(lambda _: 24.0), sends)
    low, high = _pacing.rate_bounds(timeline, start=0.0, level=8.0, burst=8.0, least=8.0)
    assert low <= 24.0 < high
    assert (high <= 1.1 * low) is tight
    if tight:  # where the stretch estimate, from a full bucket, falls short
        assert low >= 23.0


@pytest.mark.parametrize(
    "timeline",
    [
        # a clump of 10 accepted at once by what was taken for a bucket of 8: no rate does it
        pytest.param([(0.0, True)] + [(1.0, True)] * 10 + [(1.0, False)], id="refused"),
        pytest.param([(0.0, True)] + [(1.0, True)] * 10, id="accepted"),
    ],
)
def test_rate_bounds_no_bucket_explains_are_open(timeline: list[tuple[float, bool]]) -> None:
    assert _pacing.rate_bounds(timeline, start=0.0, level=8.0, burst=8.0) == (0.0, math.inf)


def test_a_pool_whose_answers_take_seconds_reaches_the_rate(clock: list[float]) -> None:
    """96 in flight, answers after 2-4 s: the first wave's cut window (48 in flight, 16 a
    second) stops binding once a rate explains a 429, and a floor learnt from the burst
    after the first hold (8 a second) is left within seconds."""
    run = simulate(clock, Limiter(lambda _: 24.0), requests=1000, concurrency=96, latency=(2, 4))
    assert run.early() == 0
    assert run.wall <= 1.25 * ((1000 - 8) / 24 + 4)  # 62.3 s before, the bound 45.3 s


def test_a_late_remaining_zero_does_not_stall_the_pace(clock: list[float]) -> None:
    """Answers that take 5-15 s: a ``Remaining: 0`` arrives long after its request went,
    with hundreds sent since. Counting those against a level capped at the burst owed
    the limiter seconds it never asked for (a 16 s wait, with every Retry-After 1 s)."""
    slow: dict[str, Any] = {"requests": 1000, "concurrency": 256, "latency": (5.0, 15.0)}
    told = simulate(clock, Limiter(lambda _: 24.0), remaining_header=True, **slow)
    blind = simulate(clock, Limiter(lambda _: 24.0), **slow)
    assert told.early() == blind.early() == 0
    assert told.wall <= blind.wall + 1.0


def test_a_token_is_kept_back_from_the_burst_after_a_hold(clock: list[float]) -> None:
    """Once the rate is learnt, a hold's end lets out one fewer than the limiter's burst:
    a request the server counts a little before our clock does still finds a token."""
    run = simulate(clock, Limiter(lambda _: 24.0))
    last_end = max(at + wait for at, wait in run.holds)
    at_once = [sent for sent in run.sends if last_end <= sent <= last_end + 1e-6]
    assert run.rate != math.inf and len(at_once) == 8 - 1
