"""When to try a request again, and how long to wait first. Pure: no I/O, no clock.

Retried: 429, 500, 502, 503 and 504 (Mistral's documented retryable set), and
connection failures and timeouts. Everything else (400, 401, 403, 404, 413, 422,
501 Not Implemented and the rarer 5xx) is a property of the request or the server
and fails the same way every time, so it is raised at once, with one exception:

A 404 from Mistral's transcription endpoint for an uploaded file or a ``file_url``
is retried once. That endpoint always exists and Mistral answers a bad model with
400, so such a 404 names nothing missing: it is a routing glitch (the seed notebook
saw 3 of 8 chunk uploads fail this way, each fine when sent again). Repeating it is
safe: a transcription creates nothing on the server, and a 404 means it was not
done. A second 404 is taken at its word (a wrong ``base_url``, a proxy), and so is a
404 for a ``file_id`` (the file may really be gone), or from a vLLM server (its 404
means the model is not served), or from any other endpoint (a file, a batch job).

A stream that ends before its first event counts as a failed connection: nothing
of it reached the caller, so sending it again repeats nothing. A stream cut after
its first event is not retried (the caller may hold part of it already).

A 200 transcription whose JSON body is cut short (an object whose end is missing)
is sent again once, within ``max_retries``. A body delimited by the end of
the connection (HTTP/1.0, some proxies) has no length to be checked against, so a
connection lost mid-answer arrives as a clean 200 with half a JSON object: a
network fault, not an answer. A transcription creates nothing, so repeating it is
safe. Any other malformed 200 (valid JSON of the wrong shape, an HTML page) is
what the server or a proxy meant to send and is raised at once; so is a second
cut body.

The wait is exponential backoff with jitter, unless the server said how long to
wait: a ``Retry-After`` (delta-seconds or an HTTP date) is honoured exactly, never
undercut. A ``Retry-After`` longer than ``max_retry_after`` is not waited out; the
error is raised carrying it, so a call never sleeps for minutes unasked.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import NamedTuple

from pydantic_core import from_json

from ._constants import (
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    RETRYABLE_STATUS_CODES,
)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    initial_delay: float = INITIAL_RETRY_DELAY
    max_delay: float = MAX_RETRY_DELAY
    max_retry_after: float = MAX_RETRY_AFTER

    def delay_after_status(
        self,
        retries_done: int,
        status_code: int,
        retry_after: float | None,
        *,
        not_found_is_transient: bool = False,
    ) -> float | None:
        """Seconds to wait before retrying a response with ``status_code``, or ``None``.

        ``not_found_is_transient`` makes a 404 retryable (the module docstring says when).
        """
        retryable = status_code in RETRYABLE_STATUS_CODES or (
            status_code == 404 and not_found_is_transient
        )
        if not retryable or retries_done >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return self.backoff(retries_done)

    def delay_after_transport_error(self, retries_done: int) -> float | None:
        """Seconds to wait before retrying after a connection failure or timeout."""
        return None if retries_done >= self.max_retries else self.backoff(retries_done)

    def backoff(self, retries_done: int, *, rng: random.Random | None = None) -> float:
        """Exponential backoff, capped, with up to 25% jitter taken off.

        Jitter spreads the retries of many concurrent requests that failed together.
        """
        base = min(self.initial_delay * 2.0 ** min(retries_done, 32), self.max_delay)
        return base * (1.0 - 0.25 * (rng or random).random())


def json_cut_short(content: bytes) -> bool:
    """Whether ``content`` is the start of a JSON object whose end never arrived.

    That is, the parser ran out of input inside the object, as opposed to finding
    something that is not JSON, or something after it.
    """
    if not content.lstrip().startswith(b"{"):
        return False
    try:
        from_json(content)
    except ValueError as exc:
        return str(exc).startswith("EOF while parsing")
    return False


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After`` or ``retry-after-ms``."""
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_remaining(headers: Mapping[str, str]) -> int | None:
    """Requests the server will still accept now, from ``X-RateLimit-Remaining``.

    Mistral documents this header next to ``Retry-After``; anything but a
    non-negative whole number (absent, a proxy's garbage) is ``None``.
    """
    return _count(headers.get("x-ratelimit-remaining"))


class Quota(NamedTuple):
    """A window's worth of requests: ``limit`` per ``seconds``, ``remaining`` of them left
    once the answered request was counted."""

    remaining: int
    limit: int
    seconds: float


def parse_quota(headers: Mapping[str, str]) -> Quota | None:
    """The per-minute request quota Mistral's API states on its answers, if it does.

    What ``api.mistral.ai`` sends (the window is in the names, and no reset time)::

        x-ratelimit-limit-req-minute: 720
        x-ratelimit-remaining-req-minute: 717

    Both are needed, whole and non-negative, with a limit above 0 (an account with
    no quota gets ``0``: its 429 says the rest). The tokens-per-minute pair beside
    them is not read: what an audio request costs in tokens is known only after it.
    """
    remaining = _count(headers.get("x-ratelimit-remaining-req-minute"))
    limit = _count(headers.get("x-ratelimit-limit-req-minute"))
    if remaining is None or not limit:
        return None
    return Quota(min(remaining, limit), limit, 60.0)


def _count(value: str | None) -> int | None:
    """A whole, non-negative number, or ``None`` for anything else."""
    if value is None or not value.strip().isdecimal():  # int() takes these, not "²"
        return None
    return int(value.strip())


def _seconds(value: str | None) -> float | None:
    """A finite, non-negative number of seconds, or ``None`` for anything else."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None
