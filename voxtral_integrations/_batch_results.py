"""The Batch API's results, decided without I/O: output lines read back into per-input results.

A finished job's output and error files are JSONL, one line per request. What
:mod:`._batch_flow` downloads is read here: each line as a transcription or as the
typed error the online request would have raised (:func:`line_outcome`), then put
back together per input with absolute times (:func:`assemble`), by the
:class:`~._batch.Manifest` :mod:`._batch` wrote when the job was submitted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ._batch import BatchRequest, Manifest
from ._chunking import stitch
from ._exceptions import (
    APIResponseError,
    BatchJobError,
    IncompleteTranscriptionError,
    VoxtralError,
)
from ._models import Transcription
from ._outcomes import BatchJob, TranscriptionResult
from ._records import clock
from ._redaction import redact_urls
from ._responses import status_error

logger = logging.getLogger("voxtral_integrations")


def result_lines(content: bytes) -> dict[str, Mapping[str, Any]]:
    """The lines of an output or error file by ``custom_id``.

    A line that is not a JSON object with a ``custom_id`` is skipped with a warning:
    its request then counts as without a result, and every other line still counts.
    """
    lines: dict[str, Mapping[str, Any]] = {}
    for number, text in enumerate(content.decode("utf-8", errors="replace").splitlines(), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            line = None
        if not isinstance(line, Mapping) or not isinstance(line.get("custom_id"), str):
            logger.warning("Batch result line %d is not a result line; skipped", number)
            continue
        lines[line["custom_id"]] = line
    return lines


def outcomes(
    manifest: Manifest,
    lines: Mapping[str, Mapping[str, Any]],
    *,
    parse: Callable[[bytes], Transcription],
    url: str,
) -> dict[str, Transcription | VoxtralError]:
    """Each request's :func:`line_outcome`, by ``custom_id``, for the requests with a line."""
    return {
        request.custom_id: line_outcome(line, request, parse=parse, url=url)
        for request in manifest.requests
        if (line := lines.get(request.custom_id)) is not None
    }


def line_outcome(
    line: Mapping[str, Any],
    request: BatchRequest,
    *,
    parse: Callable[[bytes], Transcription],
    url: str,
) -> Transcription | VoxtralError:
    """A result line as a transcription, or as the typed error the online request would raise.

    ``parse(content) -> Transcription`` is the dialect's parser. A failed line has
    a non-2xx ``response.status_code`` with an error body, or an ``error`` object.
    """
    response = line.get("response")
    if not isinstance(response, Mapping):
        response = {}
    status, body, error = response.get("status_code"), response.get("body"), line.get("error")
    what = f"Batch request {request.custom_id} ({_describe(request)})"
    if not error and isinstance(status, int) and 200 <= status < 300:
        try:
            return parse(json.dumps(body).encode())
        except ValueError as exc:
            return APIResponseError(
                f"{what} succeeded, but its result is not a transcription ({exc}).",
                method="POST",
                url=url,
            )
    if isinstance(status, int) and status >= 400:
        code, detail = status, body if body is not None else error
    else:
        code, detail = _status_of(error), error
    api_error = status_error(
        method="POST",
        url=url,
        status_code=code,
        headers={},
        content=_error_content(detail),
    )
    api_error.args = (f"{what}: {api_error}",)  # name the input, as an online error would
    return api_error


def _error_content(detail: object) -> bytes:
    if detail is None:
        return b""
    return detail.encode() if isinstance(detail, str) else json.dumps(detail).encode()


def _status_of(error: object) -> int:
    """An ``error`` object's HTTP status where it gives one; a server failure otherwise."""
    code = error.get("code") if isinstance(error, Mapping) else None
    return code if isinstance(code, int) and 400 <= code < 600 else 500


def _describe(request: BatchRequest) -> str:
    if request.chunk is None or request.chunk_count == 1:
        return repr(request.source)
    chunk = request.chunk
    return (
        f"{request.source!r} chunk {chunk.index + 1} of {request.chunk_count}, "
        f"{clock(chunk.start)}-{clock(chunk.end)}"
    )


def assemble(
    manifest: Manifest, outcomes: Mapping[str, Transcription | VoxtralError], job: BatchJob
) -> list[TranscriptionResult]:
    """One result per input, in input order, its chunks stitched with absolute times.

    A request without an outcome (the job ended before it ran, or its line is
    missing) gets a :class:`BatchJobError` naming the job's status. An input whose
    only request failed carries that request's error; one with failed chunks an
    :class:`IncompleteTranscriptionError` whose ``partial`` is its good chunks stitched.
    """
    by_input: dict[int, list[BatchRequest]] = {}
    for request in manifest.requests:
        by_input.setdefault(request.index, []).append(request)
    results = []
    for index, requests in sorted(by_input.items()):
        source = requests[0].source
        done: dict[str, Transcription] = {}
        failed: dict[str, VoxtralError] = {}
        for request in requests:
            outcome = outcomes.get(request.custom_id)
            if outcome is None:
                outcome = _missing(request, job)
            if isinstance(outcome, Transcription):
                done[request.custom_id] = outcome
            else:
                failed[request.custom_id] = outcome
        if not failed:
            transcription = _stitched(requests, done)
            results.append(
                TranscriptionResult(index, source, transcription=transcription, batch=True)
            )
        elif len(requests) == 1:
            results.append(
                TranscriptionResult(index, source, error=failed[requests[0].custom_id], batch=True)
            )
        else:
            error = _incomplete(requests, done, failed, job)
            results.append(TranscriptionResult(index, source, error=error, batch=True))
    return results


def _stitched(requests: list[BatchRequest], done: Mapping[str, Transcription]) -> Transcription:
    """The transcriptions of ``done`` requests, in chunk order, as one."""
    finished = [r for r in requests if r.custom_id in done]
    transcriptions = [done[r.custom_id] for r in finished]
    chunks = [r.chunk for r in finished if r.chunk is not None]
    if not chunks:  # a URL or file id: the server's answer as it is, as online
        return transcriptions[0]
    return stitch(chunks, transcriptions)


def _incomplete(
    requests: list[BatchRequest],
    done: Mapping[str, Transcription],
    failed: Mapping[str, VoxtralError],
    job: BatchJob,
) -> IncompleteTranscriptionError:
    first = next(failed[r.custom_id] for r in requests if r.custom_id in failed)
    error = IncompleteTranscriptionError(
        f"{requests[0].source!r}: {len(failed)} of {len(requests)} chunks failed in batch job "
        f"{job.id}; first: {first} The {len(done)} finished chunks are stitched in this "
        "error's `partial`; submit the audio again for a whole transcript.",
        source=requests[0].source,
        failed={r.chunk: failed[r.custom_id] for r in requests if r.custom_id in failed},
        partial=_stitched(requests, done) if done else None,
    )
    error.__cause__ = first
    return error


def _missing(request: BatchRequest, job: BatchJob) -> BatchJobError:
    what = f"Batch request {request.custom_id} ({_describe(request)})"
    if job.status == "SUCCESS":
        message = (
            f"{what} has no result in the output of job {job.id}, though the job succeeded; "
            "submit that audio again."
        )
    else:
        reported = "; ".join(f"{p.message} (x{p.count})" for p in job.errors)
        message = (
            f"{what} was not transcribed: batch job {job.id} ended {job.status} before it ran"
            + (f" (the job reported: {redact_urls(reported)})" if reported else "")
            + ". Submit that audio again."
        )
    return BatchJobError(message, job_id=job.id, status=job.status)
