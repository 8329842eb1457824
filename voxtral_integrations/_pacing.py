"""One client's pace: a 429 slows every request down, not only the one that got it.

A rate limit belongs to the API key, so to the client, not to one request. Left
alone, sixteen requests in flight that meet a 429 each retry on their own clock
and keep the server saying no. :class:`Pace` is shared by every request a client
sends (across threads or tasks, across the files and chunks of a bulk run):

- after a 429, nobody sends until its wait (``Retry-After``, else the backoff) is
  over, and
- the pace learns the rate the server sustains, and sends at it instead of probing
  above it again and again (each probe costs a whole ``Retry-After``, often a
  second, during which nobody sends). A 429 means the limiter was found empty, so
  the requests it accepted before say what it sustains: over any stretch of ``d``
  seconds ending at the 429, ``accepted <= burst + rate * d``, with ``burst`` what
  it lets through at once (the accepted part of the first wave that met a 429,
  counted whole: the server takes a wave in the order it arrives, not the order
  it was let out in). The largest ``(accepted - burst) / d`` over stretches of at
  least ``RATE_SPAN_SECONDS`` (since the rate was last learnt, and not across a
  hold, during which the limiter refilled to its top) is therefore a rate the
  server did sustain. Sharper: replaying the sends since the limiter was last found
  empty through a bucket of ``burst`` tokens gives the lowest rate that lets every
  accepted one through (it knows where the bucket overflowed, while a window grew
  or a hold ran, which a stretch's sum does not), and the highest at which the
  refused one would still have been refused. Within ``RATE_TIGHT`` of each other,
  the rate is known: the pace sends at ``RATE_BACKOFF`` of it through a token
  bucket of one token fewer than ``burst`` (kept against the jitter between our
  clock and the server's), and lets it grow by ``RATE_GROWTH`` of it per second of
  sending while no 429 comes (additive increase): a limit that rose is found again,
  one that dropped is measured anew at its first 429, and a 429 too soon after a
  hold to measure anything cuts the rate. Far apart (a clump of answers let out
  together drained the bucket, not the rate), the lower is a floor: sent at, and
  searched above, compounding by ``RATE_SEARCH_GROWTH`` a second, where a 429 costs
  nothing (its hold over before the bucket has refilled its burst);
- ``X-RateLimit-Remaining``, the one rate-limit header Mistral documents besides
  ``Retry-After``, is read when a server sends it: ``0`` on a success tells what a
  429 tells at no cost (the rate is learnt from it, with no hold), and more than
  the requests sent since is room the pace may spend at once. Without it the pace
  works from successes and 429s alone;
- a per-minute quota, as ``api.mistral.ai`` states it on its answers
  (``x-ratelimit-limit-req-minute`` and ``-remaining-req-minute``), is a second bucket:
  ``limit`` requests, refilled at ``limit`` a minute, its level set anew by every
  answer (what was left once the server counted that request, less what the pace
  let out since). A short run still goes out at once; a long one is not sent past
  the quota to be refused (each refused upload is bytes sent for nothing), and
  waits for the quota to refill instead. The bucket is refilled from the moment
  the quota was last seen, not from when the server's window resets (no header
  says when), so a fixed window is still found empty by a 429 whose
  ``Retry-After`` then holds everyone;
- a 429 that no rate explains (a burst: every request it follows went at once) cuts
  the number of requests allowed in flight to half of what was in flight, which
  then grows back by one for every window's worth of successes (additive increase,
  multiplicative decrease, as TCP does), until the limit no longer binds; once a
  rate explains a 429, the window no longer binds: the rate's bucket paces the sends
  (a window kept from the first wave's cut, half of it, held a pool whose answers
  take seconds far under the rate). The first burst's cut stops at
  what the server let through at once: a first wave still being prepared when its
  429 comes back (11 of 16 sent) would otherwise leave fewer in flight than the
  server just accepted;
- a 429 does not use up a request's retries when other requests succeeded between
  the attempt that got it and the next one: that is the pool running at the limit
  and making progress. A 429 with no success in between counts, and so does
  every 429 after ``MAX_FREE_RATE_LIMIT_RETRIES`` free ones, so a request the
  server never lets through still ends.

Until the first 429 nothing waits: admission costs one uncontended
lock. The sync and async clients drive it alike (each client has its own) and
differ only in how they sleep: :meth:`Pace.admit` answers how long to wait, never
blocks.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from ._constants import (
    BURST_SPAN_SECONDS,
    PACE_POLL_SECONDS,
    RATE_BACKOFF,
    RATE_GROWTH,
    RATE_HISTORY_SECONDS,
    RATE_SEARCH_GROWTH,
    RATE_SPAN_SECONDS,
    RATE_TIGHT,
)


def now() -> float:
    """The clock every :class:`Pace` reads (one place for tests to move time)."""
    return time.monotonic()


class Ticket(NamedTuple):
    """What a slot was taken under: the window's ``epoch``, the request's number among
    those let out (``admitted``), and the ``successes`` so far."""

    epoch: int
    admitted: int
    successes: int


class Pace:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resume_at = 0.0
        self._window = math.inf
        self._in_flight = 0
        self._peak = 0
        self._successes = 0
        self._epoch = 0
        # the rate: learnt at a 429, spent through a token bucket of ``_burst`` tokens
        self._rate = math.inf
        self._step = 0.0  # what the rate grows by per second of sending
        self._compounding = False  # the step a share of the rate (a floor searched above)
        self._burst = 1.0
        self._tokens = 0.0
        self._filled_at = 0.0
        self._sends: deque[float] = deque()  # when each admitted request went
        self._refused: list[float] = []  # when each request that got a 429 went
        self._since = -math.inf  # sends before this (the last rate learnt) are not measured
        self._empty_at = -math.inf  # when the limiter was last found empty, by any means
        # when the limiter was found empty (and whether by a 429), the rate still to learn
        self._found_empty: tuple[float, bool] | None = None
        self._holds: list[tuple[float, float]] = []  # when the recent holds began and ended
        self._admitted = 0  # requests let out so far
        self._quota = _Quota()

    @property
    def window(self) -> float:
        """Requests allowed in flight (``inf`` until a 429 no rate explains)."""
        return self._window

    @property
    def rate(self) -> float:
        """Requests per second the pace sends at (``inf`` until a rate is learnt)."""
        return self._rate

    @property
    def burst(self) -> float:
        """Requests the server was seen to accept at once (the pace's bucket size)."""
        return self._burst

    @property
    def _top(self) -> float:
        """What the pace lets out at once: a token under the server's burst, so that a
        request our clock sends on time but the server counts a little early still
        finds one (right after a hold, the whole burst going at once, it would not)."""
        return max(1.0, self._burst - 1.0)

    @property
    def admitted(self) -> int:
        """Requests let out so far; a request notes it when admitted, to say which it is."""
        return self._admitted

    @property
    def successes(self) -> int:
        """Requests that succeeded so far (the client's retry accounting reads it)."""
        return self._successes

    @property
    def epoch(self) -> int:
        """How many times the window was cut; a request notes it when admitted."""
        return self._epoch

    def admit(self) -> float:
        """``0.0`` with a slot taken, or the seconds to wait before asking again."""
        return self.admit_ticket()[0]

    def admit_ticket(self) -> tuple[float, Ticket | None]:
        """:meth:`admit`, and with a slot taken what it was taken under, read in the same
        turn of the lock: another thread's 429 or send in between would mislabel it."""
        with self._lock:
            if (wait := self._admit()) > 0:
                return wait, None
            return 0.0, Ticket(self._epoch, self._admitted, self._successes)

    def _admit(self) -> float:
        moment = now()
        if (wait := self._resume_at - moment) > 0:
            return wait
        if self._found_empty is not None:
            self._learn(*self._found_empty, moment)
        if self._in_flight >= self._window:
            return PACE_POLL_SECONDS
        if self._rate != math.inf:
            elapsed = max(0.0, moment - self._filled_at)
            self._tokens = min(self._top, self._tokens + elapsed * self._rate)
            self._filled_at = moment
            if self._tokens < 1.0 - 1e-9:  # not a rounding error of the wait it asked
                return (1.0 - self._tokens) / self._rate
        if (wait := self._quota.wait(moment)) > 0:
            return wait
        if self._rate != math.inf:
            self._tokens -= 1.0
            self._rate += self._step if self._compounding else self._step / self._rate
        self._quota.tokens -= 1.0  # a level no answer has set yet is never read
        self._admitted += 1
        self._in_flight += 1
        self._peak = max(self._peak, self._in_flight)
        self._sends.append(moment)
        while self._sends[0] < moment - RATE_HISTORY_SECONDS:
            self._sends.popleft()
        return 0.0

    def release(self, *, succeeded: bool, epoch: int) -> None:
        """Give back a slot taken by :meth:`admit` in ``epoch``.

        A success widens a narrowed window only if the request was admitted after
        the last cut: successes of requests sent before it say nothing about the
        narrower window (counting them re-opened it while the hold still ran).
        """
        with self._lock:
            self._in_flight -= 1
            self._successes += succeeded
            if succeeded and epoch == self._epoch and self._window != math.inf:
                self._window += 1.0 / self._window
                if self._window > self._peak:
                    self._window = math.inf

    def throttle(self, wait: float, *, sent_ago: float = 0.0) -> None:
        """A 429 asked for ``wait`` seconds: hold everyone, and narrow the window once.

        ``sent_ago`` is how long ago the request that got it went. The 429s of one
        burst arrive together; only the first (the one that finds no hold in force)
        narrows the window and marks the moment the limiter was found empty. The
        rate is learnt from it when the hold ends, once the burst's other 429s are in.
        """
        with self._lock:
            moment = now()
            bisect.insort(self._refused, moment - sent_ago)
            del self._refused[: bisect.bisect_left(self._refused, moment - RATE_HISTORY_SECONDS)]
            if moment >= self._resume_at:
                self._window = max(1.0, min(self._window, self._in_flight) // 2)
                self._epoch += 1
                self._found_empty = (moment - sent_ago, True)
                self._holds.append((moment, moment))
                while self._holds[0][1] < moment - RATE_HISTORY_SECONDS:
                    del self._holds[0]
            self._resume_at = max(self._resume_at, moment + wait)
            self._holds[-1] = (self._holds[-1][0], self._resume_at)

    def remaining(self, count: int, *, sent_ago: float = 0.0) -> None:
        """A response said ``X-RateLimit-Remaining: count``; its request went ``sent_ago``
        seconds ago (the server counted it then).

        ``0`` tells what a 429 tells, the limiter found empty, at no cost: the rate is
        learnt from it in the same way, with no hold and no cut of the window. More
        than the requests sent since is room the pace may use at once: a rate learnt
        too low is spent faster, until the limiter is found empty again.
        """
        with self._lock:
            sent = now() - sent_ago
            self._burst = max(self._burst, count + 1.0)
            if count == 0 and self._found_empty is None and sent > self._empty_at:
                self._found_empty = (sent, False)  # an older answer's news is no news
            elif self._rate != math.inf:  # the server has at least this much to spare now
                spare = count - (len(self._sends) - bisect.bisect_right(self._sends, sent))
                self._tokens = max(self._tokens, min(self._burst, float(spare)))

    def quota(self, remaining: int, limit: int, seconds: float, *, admitted: int) -> None:
        """An answer said ``remaining`` of ``limit`` requests per ``seconds`` were left once
        its request, the ``admitted``-th let out, was counted.

        The level is set from the newest request answered only: an older one's
        answer, arriving late, counted fewer of the requests sent before it.
        """
        with self._lock:
            if admitted >= self._quota.seen:
                self._quota.seen = admitted
                spare = remaining - (self._admitted - admitted)
                self._quota.set(float(limit), limit / seconds, spare, now())

    def _learn(self, empty_at: float, refused: bool, moment: float) -> None:
        """The limiter was found empty at ``empty_at`` (by a 429 if ``refused``), and the
        hold is over at ``moment``: what did it accept before that?"""
        self._found_empty = None
        previous, self._empty_at = self._empty_at, empty_at
        sends = [sent for sent in self._sends if self._since <= sent <= empty_at]
        refusals = [sent for sent in self._refused if self._since <= sent <= empty_at]
        lowest, highest = self._replayed(sends, refusals, previous, empty_at, refused)
        # during a hold nobody sends and the limiter refills, up to its top: a stretch
        # across holds may have had ``burst`` more for each, and sent for less time
        holds = [(begun, ended) for begun, ended in self._holds if ended <= empty_at]
        # what a limiter lets through at once shows in the first burst that meets it; later
        # bursts mix in requests that only bunched up (answers come back in clumps)
        first = refused and len(self._holds) == 1 and self._rate == math.inf
        if first:
            self._burst = max(self._burst, self._first_wave(empty_at))
        crossed, held = 0, 0.0
        accepted = 0  # requests accepted from sends[i] up to the 429, going backwards
        best = -math.inf
        for index in range(len(sends) - 1, -1, -1):
            sent = sends[index]
            while refusals and refusals[-1] >= sent:
                refusals.pop()
                accepted -= 1
            accepted += 1
            while holds and holds[-1][0] >= sent:
                begun, ended = holds.pop()
                crossed, held = crossed + 1, held + ended - begun
            span, sending = empty_at - sent, empty_at - sent - held
            if span >= RATE_SPAN_SECONDS:  # whatever the holds, it refilled at most this
                best = max(best, (accepted - self._burst) / span)
            if crossed and sending >= RATE_SPAN_SECONDS:  # holds that let it refill to the top
                best = max(best, (accepted - self._burst * (1 + crossed)) / sending)
        best = max(best, lowest)
        if not refused and any(0 <= empty_at - end < RATE_SPAN_SECONDS for _, end in self._holds):
            return  # found empty by the burst a hold let out: what it was meant to do
        # a stretch across a hold gives a loose bound: one 429 cuts the rate by a fifth at
        # most, and an empty limiter that refused nothing does not cut it at all
        floor = 0.0 if self._rate == math.inf else self._rate * RATE_BACKOFF ** (4 * refused)
        if best <= 0 and not floor:  # a burst: no stretch long enough to measure a rate over
            if first:  # as many in flight as it let through at once were not what it refused
                self._window = max(self._window, self._burst)
            return
        self._since = empty_at
        self._refused = [sent for sent in self._refused if sent > empty_at]
        # a 429 that pins the rate down is sent a little under; one that says only how
        # low it is not (a clump drained the bucket) is sent at that floor and searched
        # above, compounding, faster where a 429 costs nothing: a hold no longer than the
        # limiter takes to refill its burst loses no request it would have accepted
        known = highest <= RATE_TIGHT * best
        self._rate = max((RATE_BACKOFF if known else 1.0) * best, floor)
        begun, ended = self._holds[-1] if self._holds else (0.0, 0.0)
        free = ended - begun <= self._burst / self._rate
        self._compounding = free and not known
        self._step = RATE_SEARCH_GROWTH if self._compounding else RATE_GROWTH * self._rate
        self._tokens = self._level_since(empty_at, moment)
        self._filled_at = moment
        self._window = math.inf  # the rate explains the 429: its bucket paces, not a window

    def _level_since(self, empty_at: float, moment: float) -> float:
        """What the server's bucket, found empty at ``empty_at``, holds at ``moment`` at the
        rate learnt: each request sent since took a token refilled before it (never more
        than the bucket's top at once), except those refused (:attr:`_refused` holds just
        them now). Below 0 if they went faster than the rate: the pace owes it."""
        level, at = 0.0, empty_at
        for sent in itertools.islice(self._sends, bisect.bisect_right(self._sends, empty_at), None):
            level, at = min(self._top, level + (sent - at) * self._rate) - 1.0, sent
        return min(self._top, level + (moment - at) * self._rate + len(self._refused))

    def _first_wave(self, empty_at: float) -> float:
        """How many of the requests sent at once around ``empty_at``, until the 429 came
        back and held them, the limiter accepted.

        The first refused is not the last sent before the rest were accepted: the
        server counts them in the order they reach it, not the order the client let
        them out in, so the wave is counted whole, on both sides of it.
        """
        began, held = empty_at - BURST_SPAN_SECONDS, self._holds[0][0]
        sent = bisect.bisect_right(self._sends, held) - bisect.bisect_right(self._sends, began)
        refused = sum(1 for moment in self._refused if began < moment <= held)
        return float(sent - refused)

    def _replayed(
        self,
        sends: list[float],
        refusals: list[float],
        previous: float,
        empty_at: float,
        refused: bool,
    ) -> tuple[float, float]:
        """What a bucket of ``burst`` must refill at to have let through the requests it
        accepted and refused those it refused (found empty by a success: one more then),
        since the limiter was last found empty (it held under a token then) or, before
        that, since the first send kept (it held ``burst`` at most): ``(0.0, inf)``
        over a stretch too short to tell.

        Each stretch's ``(accepted - burst) / d`` supposes the bucket full where the
        stretch starts; replaying the sends through it knows where it was full and
        where it overflowed (a window still growing, a hold), so such a stretch does
        not pass for a low rate.
        """
        if previous > -math.inf:
            start, level = previous, 1.0
        elif sends:
            start, level = sends[0], self._burst
        else:
            return 0.0, math.inf
        if empty_at - start < RATE_SPAN_SECONDS:
            return 0.0, math.inf
        accepted = [True] * len(sends)
        index = len(sends) - 1
        for refusal in reversed(refusals):  # each 429 was the latest send before it came
            while index >= 0 and sends[index] > refusal:
                index -= 1
            if index >= 0:
                accepted[index] = False
                index -= 1
        timeline = [
            (sent, ok)
            for sent, ok in zip(sends, accepted, strict=True)
            if sent > start or previous == -math.inf
        ]
        if not refused:  # found empty by a success: one more then would have been refused
            timeline.append((empty_at, False))
        return rate_bounds(timeline, start=start, level=level, burst=self._burst)


def rate_bounds(
    timeline: list[tuple[float, bool]],
    *,
    start: float,
    level: float,
    burst: float,
    least: float = 0.0,
) -> tuple[float, float]:
    """The rates at which a token bucket of ``burst`` tokens, holding between ``least``
    and ``level`` at ``start``, treats the requests of ``timeline`` (send time,
    accepted) as it did: at least the first, so it let through each one it accepted,
    and under the second, so it had less than a token for one it refused (``inf``
    when any rate would, as when a clump drained it at once). ``(0.0, inf)`` when no
    rate does both.

    The bucket holds more at every moment the faster it refills, so each bound is
    where a test turns, found by halving.
    """

    def replay(rate: float, tokens: float) -> tuple[bool, bool]:
        """(every accepted one had a token, some refused one had a token)"""
        at, passed, refused_passed = start, True, False
        for sent, accepted in timeline:
            tokens, at = min(burst, tokens + (sent - at) * rate), sent
            if not accepted:
                refused_passed = refused_passed or tokens >= 1.0
            else:  # it took a token, if need be one the bucket did not have at this rate
                passed = passed and tokens >= 1.0 - 1e-9
                tokens -= 1.0
        return passed, refused_passed

    def turn(test: Callable[[float], bool]) -> float:
        """The lowest rate that passes ``test`` (``inf`` if even a huge one fails)."""
        high = 1.0
        while not test(high):
            high *= 2.0
            if high > 1e6:
                return math.inf
        low = 0.0
        for _ in range(40):
            middle = (low + high) / 2.0
            low, high = (low, middle) if test(middle) else (middle, high)
        return high

    low = 0.0 if replay(0.0, level)[0] else turn(lambda rate: replay(rate, level)[0])
    high = turn(lambda rate: replay(rate, least)[1])
    if math.isinf(low) or low > high:  # no such bucket did this (its burst is larger, or
        return 0.0, math.inf  # the clock jumped)
    return low, high


class _Quota:
    """A bucket of ``size`` requests refilled at ``rate`` a second: a quota the server
    states (``rate`` 0 until it does, when nothing waits on it)."""

    def __init__(self) -> None:
        self.size, self.rate, self.tokens, self.filled_at = 0.0, 0.0, 0.0, 0.0
        self.seen = 0  # the request whose answer set the level

    def set(self, size: float, rate: float, tokens: float, moment: float) -> None:
        """The server's count, less what went since; requests sent beyond it will be
        refused, not counted, so it is never below 0."""
        self.size, self.rate, self.filled_at = size, rate, moment
        self.tokens = min(size, max(0.0, tokens))

    def wait(self, moment: float) -> float:
        """Seconds until a request fits, refilled up to ``moment`` (``0.0`` now)."""
        if not self.rate:
            return 0.0
        self.tokens = min(self.size, self.tokens + (moment - self.filled_at) * self.rate)
        self.filled_at = moment
        return 0.0 if self.tokens >= 1.0 - 1e-9 else (1.0 - self.tokens) / self.rate
