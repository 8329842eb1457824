"""One client's pace: a 429 slows every request down, not only the one that got it.

A rate limit belongs to the API key, so to the client, not to one request. Left
alone, sixteen requests in flight that meet a 429 each retry on their own clock
and keep the server saying no. :class:`Pace` is shared by every request a client
sends (across threads or tasks):

- after a 429, nobody sends until its wait (``Retry-After``, else the backoff) is
  over, and
- the number of requests allowed in flight drops to half of what was in flight,
  then grows back by one for every window's worth of successes (additive increase,
  multiplicative decrease, as TCP does), until the limit no longer binds, and
- a 429 does not use up a request's retries when other requests succeeded between
  the attempt that got it and the next one: that is the pool running at the limit
  and making progress. A 429 with no success in between counts, and so does
  every 429 after ``MAX_FREE_RATE_LIMIT_RETRIES`` free ones, so a request the
  server never lets through still ends.

Until the first 429 nothing waits: admission costs one uncontended lock. The
sync and async clients share this object and differ only in how they sleep:
:meth:`Pace.admit` answers how long to wait, never blocks.
"""

from __future__ import annotations

import math
import threading
import time

from ._constants import PACE_POLL_SECONDS


def now() -> float:
    """The clock every :class:`Pace` reads (one place for tests to move time)."""
    return time.monotonic()


class Pace:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resume_at = 0.0
        self._window = math.inf
        self._in_flight = 0
        self._peak = 0
        self._successes = 0
        self._epoch = 0

    @property
    def window(self) -> float:
        """Requests allowed in flight (``inf`` until a 429 is met)."""
        return self._window

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
        with self._lock:
            if (wait := self._resume_at - now()) > 0:
                return wait
            if self._in_flight >= self._window:
                return PACE_POLL_SECONDS
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
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

    def throttle(self, wait: float) -> None:
        """A 429 asked for ``wait`` seconds: hold everyone, and narrow the window once.

        The 429s of one burst arrive together; only the first (the one that finds
        no hold in force) halves the window.
        """
        with self._lock:
            moment = now()
            if moment >= self._resume_at:
                self._window = max(1.0, min(self._window, self._in_flight) // 2)
                self._epoch += 1
            self._resume_at = max(self._resume_at, moment + wait)
