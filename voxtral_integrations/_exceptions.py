"""The errors this library raises, all under one root.

```
VoxtralError
├── InvalidInputError (ValueError)     bad arguments, caught before anything is sent
│   ├── AudioError                     a local audio source that cannot be used
│   └── UnsupportedFeatureError        the selected backend cannot do what was asked
├── ConfigurationError (ValueError)    client settings (missing API key, bad base URL)
├── IncompleteTranscriptionError       chunks of a long recording failed; the rest are kept
├── LoadError                          one file of a multi-file load failed (cause chained)
├── BatchJobError                      a batch job not finished (in time), or its results expired
└── APIError                           anything that went wrong talking to the server
    ├── APIConnectionError             no usable response: DNS, refused, reset
    │   └── APITimeoutError            connect, read, write or pool timeout
    ├── APIResponseError               a 2xx whose body is not what the API documents
    │   └── IncompleteStreamError      a stream that ended before its final event
    └── APIStatusError                 a non-2xx response
        ├── BadRequestError            400
        ├── AuthenticationError        401
        ├── PermissionDeniedError      403
        ├── NotFoundError              404
        ├── RequestTooLargeError       413
        ├── UnprocessableEntityError   422
        ├── RateLimitError             429
        └── InternalServerError        5xx
```

Every message says what happened and what to do about it. None contains the API
key: the key only ever lives in the client's request headers, which no error
renders, and URLs in server messages have their query strings (signed-URL tokens)
redacted before they reach an exception.
"""

from __future__ import annotations

from typing import Any

from ._redaction import redact_url

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AudioError",
    "AuthenticationError",
    "BadRequestError",
    "BatchJobError",
    "ConfigurationError",
    "IncompleteStreamError",
    "IncompleteTranscriptionError",
    "InternalServerError",
    "InvalidInputError",
    "LoadError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "UnprocessableEntityError",
    "UnsupportedFeatureError",
    "VoxtralError",
]


class VoxtralError(Exception):
    """Base class of every error raised by voxtral-integrations."""


class InvalidInputError(VoxtralError, ValueError):
    """An argument is unusable; raised before any request is sent.

    ``argument`` names the offending parameter so callers (and adapters that
    re-raise in their own vocabulary) need not parse the message.
    """

    def __init__(self, message: str, *, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


class AudioError(InvalidInputError):
    """A local audio source cannot be used: missing, a directory, empty, unreadable.

    ``source`` is a printable name of the input (a path, or ``"<bytes>"``).
    """

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(message, argument="audio")
        self.source = source


class UnsupportedFeatureError(InvalidInputError):
    """The selected backend cannot do this (for example timestamps on vLLM).

    Raised instead of silently dropping the option.
    """


class ConfigurationError(VoxtralError, ValueError):
    """The client is configured in a way that cannot work (no API key, bad URL)."""


class IncompleteTranscriptionError(VoxtralError):
    """Chunks of a long recording still failed after their retries.

    ``failed`` maps each failed :class:`Chunk` (its time range in the recording) to
    its error; ``partial`` is the stitched transcription of the chunks that did
    finish (``None`` if none did). With ``cache_dir`` the finished chunks are also
    on disk, and a second run sends only the missing ones.
    """

    def __init__(
        self, message: str, *, source: str, failed: dict[Any, Exception], partial: Any
    ) -> None:
        super().__init__(message)
        self.source = source
        self.failed = failed
        self.partial = partial


class LoadError(VoxtralError):
    """A file of a multi-file load failed; ``source`` names it, ``__cause__`` says why.

    ``documents`` holds the Documents of the files loaded before it (a lazy load
    has yielded them already); loaders offer ``on_error="skip"`` to log such files
    and go on.
    """

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(message)
        self.source = source
        self.documents: list[Any] = []
        """Documents of the files loaded before it (set by every list-returning load)."""


class BatchJobError(VoxtralError):
    """A batch job cannot give what was asked of it.

    Its results were asked for before it finished, it did not finish within
    ``wait_for_batch``'s ``timeout``, its results expired (they are kept 24 hours),
    or it ended (failed, timed out, cancelled) before one of its requests ran.
    ``job_id`` names the job, to resume with; ``status`` is its last known status.
    """

    def __init__(self, message: str, *, job_id: str, status: str | None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.status = status


class APIError(VoxtralError):
    """Talking to the server failed. ``method`` and ``url`` say which request.

    ``url`` is kept without user info or query string, whoever raises the error: a
    ``base_url`` may carry a password, and a query string a token.
    """

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = redact_url(url)


class APIConnectionError(APIError):
    """No usable response arrived: DNS failure, connection refused or reset."""


class APITimeoutError(APIConnectionError):
    """The request timed out. Long audio needs a long read timeout: raise ``timeout``."""


class APIResponseError(APIError):
    """The server answered 2xx with a body that does not match the documented shape."""


class IncompleteStreamError(APIResponseError):
    """A stream closed before its final event; what arrived is in ``received``."""

    def __init__(self, message: str, *, method: str, url: str, received: list[Any]) -> None:
        super().__init__(message, method=method, url=url)
        self.received = received


class APIStatusError(APIError):
    """The server answered with a non-2xx status.

    Attributes mirror every error-body shape the API uses: ``status_code``, the
    server's ``message``, and where present its ``code``, ``type`` and ``param``,
    plus the ``request_id`` header to quote when contacting support, and the parsed
    ``body``. ``retry_after`` is the server's requested wait in seconds, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status_code: int,
        server_message: str,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status_code = status_code
        self.server_message = server_message
        self.code = code
        self.type = type
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = body


class BadRequestError(APIStatusError):
    """400: the server refused the request (undecodable audio, invalid model, ...)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but may not use this model or resource."""


class NotFoundError(APIStatusError):
    """404: unknown file id, model or endpoint (check ``base_url``)."""


class RequestTooLargeError(APIStatusError):
    """413: the upload is larger than the server accepts."""


class UnprocessableEntityError(APIStatusError):
    """422: a field failed the server's validation; ``param`` names it when known."""


class RateLimitError(APIStatusError):
    """429: too many requests; wait ``retry_after`` seconds or lower concurrency."""


class InternalServerError(APIStatusError):
    """5xx: the server failed. 500, 502, 503 and 504 are retried automatically and
    raised once retries ran out; the others (501 Not Implemented...) are raised at once."""
