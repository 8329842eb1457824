"""One request's attempts: every decision of the send loops, and none of their I/O.

The loops in ``_transport`` send, read and sleep; what comes next is decided here,
from what happened, once for both shells. The rules and why they hold are in
``_retry`` (retries) and ``_pacing`` (the pace); this is the table that applies them:

============================================================  =====================
what happened                                                 decision
============================================================  =====================
the turn: the pace holds for longer than ``max_retry_after``  ``RateLimitError``
                                                              (raised: not sent)
a 2xx whose body was read and parsed                          :class:`Done`
429, 500, 502, 503, 504, retries left                         :class:`Wait`: the
                                                              ``Retry-After``, else
                                                              the backoff
the same, ``Retry-After`` over ``max_retry_after``            :class:`Fail`
a first 404 of a Mistral transcription (upload or URL)        :class:`Wait`
any other status, or retries used up                          :class:`Fail`
a connection failure or timeout, retries left                 :class:`Wait`
the same, used up; a request httpx refuses to send            :class:`Fail`
a first 200 transcription whose JSON is cut short             :class:`Wait`
any other unusable 2xx body                                   :class:`Fail`
a stream that ends before its first event, retries left       :class:`Wait`
the same, used up (the error says after how many attempts)    :class:`Fail`
============================================================  =====================

The turn is given back to the pace once per attempt (:meth:`Attempt.release`), as
a success only when the body was read and parsed: a 200 found unusable is a
failure, so it neither widens a narrowed window nor makes another request's 429
free. A 429 holds and narrows the pace as soon as its headers arrive
(:meth:`Attempt.arrived`), before its body is read.

Pure: no I/O and no clock of its own (the pace keeps time); httpx is used for its
types only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx

from ._constants import MAX_FREE_RATE_LIMIT_RETRIES, MIN_SECRET_KEY_LENGTH
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseError,
    APITimeoutError,
    IncompleteStreamError,
    RateLimitError,
)
from ._pacing import Pace
from ._redaction import redact_url, redact_urls
from ._requests import RequestSpec
from ._responses import status_error
from ._retry import (
    RetryPolicy,
    json_cut_short,
    parse_quota,
    parse_remaining,
    parse_retry_after,
)

logger = logging.getLogger("voxtral_integrations")

_T = TypeVar("_T")


@dataclass(frozen=True)
class Wait:
    """Send the request again after ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Fail:
    """Raise ``error``: the request is not sent again."""

    error: APIError


@dataclass(frozen=True)
class Done(Generic[_T]):
    """The request succeeded with ``value`` (its body read and parsed)."""

    value: _T


Decision = Done[_T] | Wait | Fail
"""What comes after an attempt (:class:`Done`, :class:`Wait` or :class:`Fail`)."""


class Attempt:
    """The attempts of one request (one call of a send loop), and what each one decides.

    ``retries`` counts the failed attempts that use up ``max_retries``. A 429 does
    not count when other requests of the client succeeded between the attempt that
    got it and the next one (``_pacing`` says why), at most
    ``MAX_FREE_RATE_LIMIT_RETRIES`` times per request.
    """

    def __init__(
        self,
        spec: RequestSpec,
        *,
        base_url: str,
        policy: RetryPolicy,
        pace: Pace,
        secret: str | None = None,
        resend_cut_short: bool = False,
    ) -> None:
        """``base_url`` is where ``spec`` goes (for messages); ``secret`` the key to blank
        from error bodies; ``resend_cut_short`` allows one more send of a 200 whose JSON
        is cut short (a transcription: repeating it creates nothing)."""
        self._spec = spec
        self._base_url = base_url
        self._url = base_url + spec.path
        self._policy = policy
        self._pace = pace
        self._secret = secret
        self._resend_cut_short = resend_cut_short
        self.retries = 0
        self._not_found = False  # an attempt got a 404 (retried once at most)
        self._cut_short = False  # an attempt got a 200 with its JSON cut short (same)
        self._free = 0  # 429s not counted against the retries
        self._throttled_at: int | None = None  # the pool's successes when a 429'd attempt went
        # this attempt's state: the turn held, the pace as it was when it was given, the hold
        self._holding = False
        self._succeeded = False
        self._epoch = 0
        self._successes = 0
        self._admitted = 0
        self._hold: float | None = None

    # ---- before sending

    def turn(self) -> float:
        """``0.0`` with the pace's turn taken (send now), else seconds to wait and ask again.

        A hold longer than ``max_retry_after`` (a 429 asked for an hour) is waited
        out by no request: each raises ``RateLimitError`` with what remains of it,
        as the request that got the 429 did, so no call sleeps for minutes unasked.
        """
        wait, ticket = self._pace.admit_ticket()
        if wait > self._policy.max_retry_after:
            raise RateLimitError(
                f"{self._spec.method} {httpx.URL(self._url).path} was not sent: the server's rate "
                f"limit (a 429, or its quota spent) holds this client {wait:.0f} s more, "
                f"longer than the "
                f"{self._policy.max_retry_after:.0f} s it waits unasked. Retry after that, "
                "or lower concurrency.",
                method=self._spec.method,
                url=redact_url(self._url),
                status_code=429,
                server_message="",
                retry_after=wait,
            )
        if ticket is None:
            return wait
        moved_on = self._throttled_at is not None and ticket.successes > self._throttled_at
        if moved_on and self._free < MAX_FREE_RATE_LIMIT_RETRIES:
            self.retries, self._free = self.retries - 1, self._free + 1  # the pool's limit
        self._holding, self._succeeded, self._hold = True, False, None
        self._epoch, self._admitted, self._successes = ticket
        return 0.0

    # ---- after sending

    def arrived(self, response: httpx.Response, seconds: float) -> None:
        """The headers of ``response`` arrived after ``seconds``: a 429 holds every request
        of the client from now on, for its ``Retry-After`` (else a backoff), and any
        answer's ``X-RateLimit-Remaining`` or per-minute quota paces the requests sent
        after this one."""
        logger.debug(
            "%s %s -> %d in %.3f s",
            self._spec.method,
            self._spec.path,
            response.status_code,
            seconds,
        )
        if (remaining := parse_remaining(response.headers)) is not None:
            self._pace.remaining(remaining, sent_ago=seconds)
        if (quota := parse_quota(response.headers)) is not None:
            self._pace.quota(*quota, admitted=self._admitted)
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers)
            self._hold = (
                retry_after if retry_after is not None else self._policy.backoff(self.retries)
            )
            self._pace.throttle(self._hold, sent_ago=seconds)

    def done(self, value: _T) -> Done[_T]:
        """The body was read and parsed into ``value``: the attempt is a success."""
        self._succeeded = True
        return Done(value)

    def after_status(self, response: httpx.Response) -> Wait | Fail:
        """A non-2xx ``response``, its body read. A 429's wait is the hold it imposed."""
        status_code = response.status_code
        not_found_is_transient = self._spec.transient_not_found and not self._not_found
        self._not_found = self._not_found or status_code == 404
        error = status_error(
            method=self._spec.method,
            url=redact_url(str(response.request.url)),
            status_code=status_code,
            headers=response.headers,
            content=without_key(response.content, self._secret),
        )
        delay = self._policy.delay_after_status(
            self.retries,
            status_code,
            self._hold if self._hold is not None else error.retry_after,
            not_found_is_transient=not_found_is_transient,
        )
        return Fail(error) if delay is None else self._again(delay, f"status {status_code}")

    def after_transport_error(self, exc: httpx.RequestError) -> Wait | Fail:
        """No usable response: only network faults are sent again.

        A request httpx refuses to build or send (bad header, unsupported protocol,
        redirect loop) fails the same way again.
        """
        transient = isinstance(exc, httpx.TransportError) and not isinstance(
            exc, (httpx.LocalProtocolError, httpx.UnsupportedProtocol)
        )
        delay = self._policy.delay_after_transport_error(self.retries) if transient else None
        if delay is None:
            return Fail(_caused(self._transport_error(exc), exc))
        return self._again(delay, type(exc).__name__)

    def after_body(self, problem: APIResponseError, response: httpx.Response) -> Wait | Fail:
        """A 2xx ``response`` whose body (or first event) could not be used.

        A stream that ended before its first event is sent again like a connection
        that failed: nothing of it reached the caller. A transcription whose JSON is
        cut short is sent again once. Anything else is what the server meant to send.
        """
        if isinstance(problem, IncompleteStreamError):  # the first event never came
            delay = self._policy.delay_after_transport_error(self.retries)
            if delay is not None:
                return self._again(delay, "stream ended before its first event")
            if not self.retries:
                return Fail(problem)
            gave_up = IncompleteStreamError(
                f"Gave up after {self.retries + 1} attempts; the last stream ended before its "
                f"first event: {problem}",
                method=problem.method,
                url=problem.url,
                received=problem.received,
            )
            return Fail(_caused(gave_up, problem))
        delay = None
        if self._resend_cut_short and not self._cut_short and json_cut_short(response.content):
            delay = self._policy.delay_after_transport_error(self.retries)
        self._cut_short = self._cut_short or self._resend_cut_short
        if delay is None:
            return Fail(problem)
        return self._again(delay, "a 200 whose JSON is cut short")

    def release(self) -> None:
        """Give the turn back to the pace, once: a success only after :meth:`done`."""
        if self._holding:
            self._holding = False
            self._pace.release(succeeded=self._succeeded, epoch=self._epoch)

    # ---- helpers

    def _again(self, delay: float, reason: str) -> Wait:
        logger.debug(
            "%s %s: %s; retry %d of %d in %.2f s",
            self._spec.method,
            self._spec.path,
            reason,
            self.retries + 1,
            self._policy.max_retries,
            delay,
        )
        self.retries += 1
        self._throttled_at = self._successes if self._hold is not None else None
        return Wait(delay)

    def _transport_error(self, exc: httpx.RequestError) -> APIError:
        url = redact_url(self._url)
        path = httpx.URL(url).path
        method = self._spec.method
        attempts = f"{self.retries + 1} attempt{'s' if self.retries else ''}"
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"{method} {path} timed out ({type(exc).__name__}) after {attempts}. "
                "Long audio needs a long read timeout: raise `timeout=`.",
                method=method,
                url=url,
            )
        return APIConnectionError(
            f"{method} {path} failed after {attempts}: {type(exc).__name__}: "
            f"{redact_urls(str(exc))}. "
            f"Check the network and `base_url` ({redact_url(self._base_url)}).",
            method=method,
            url=url,
        )


def without_key(content: bytes, key: str | None) -> bytes:
    """``content`` with ``key`` blanked out: a proxy may echo request headers.

    A short key (a vLLM placeholder such as ``EMPTY``) is no secret, and blanking
    it would mangle the words that contain it.
    """
    if not key or len(key) < MIN_SECRET_KEY_LENGTH:
        return content
    for shown in {key, json.dumps(key)[1:-1]}:  # raw, and as it appears in JSON
        content = content.replace(shown.encode(), b"<redacted>")
    return content


def _caused(error: APIError, cause: BaseException) -> APIError:
    """``error`` raised ``from cause`` by whichever loop raises it."""
    error.__cause__ = cause
    return error
