"""The Batch API's bookkeeping, decided without I/O: manifest, requests, result lines, results.

A batch job runs transcription requests on Mistral's side; :mod:`._batch_flow`
uploads, polls and downloads, and everything it decides on the way is here:

* the :class:`Manifest` (which JSONL line is which chunk of which input) and its JSON;
* the job's request bodies (:func:`batch_line`, :func:`create_job_request`...) and
  the checks of what a caller passes (:func:`check_job_id`, :func:`job_settings`);
* when to poll next (:func:`poll_delays`, :func:`next_poll`);
* result lines read as transcriptions or typed errors (:func:`line_outcome`), and
  put back together per input with absolute times (:func:`assemble`).

The manifest holds no credential: sources are stored as :func:`source_name` gives
them (a URL without its query string, where signed-URL tokens live).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ._chunking import stitch
from ._constants import (
    BATCH_ENDPOINT,
    BATCH_POLL_FACTOR,
    BATCH_POLL_INITIAL,
    BATCH_POLL_MAX,
    BATCH_RESULTS_KEPT_HOURS,
    MAX_BATCH_REQUESTS,
    MAX_BATCH_TIMEOUT_HOURS,
)
from ._dialects import RequestSpec, transcription_fields
from ._exceptions import (
    APIResponseError,
    BatchJobError,
    IncompleteTranscriptionError,
    InvalidInputError,
    VoxtralError,
)
from ._models import Chunk, Transcription
from ._options import TranscriptionOptions
from ._outcomes import BatchJob, TranscriptionResult
from ._records import clock
from ._redaction import redact_urls
from ._responses import status_error

logger = logging.getLogger("voxtral_integrations")

MANIFEST_SUFFIX = ".voxtral-batch.json"
TRANSCRIPTIONS_PATH = "/audio/transcriptions"
"""The endpoint each line's request stands for, named in a failed line's error."""
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


# --------------------------------------------------------------------------- manifest


class BatchRequest(BaseModel):
    """One line of a job: which input it transcribes, and which stretch of it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    custom_id: str
    index: int
    """The input's position in what was submitted."""
    source: str
    """The input's name as results carry it (never a signed URL's query)."""
    chunk: Chunk | None = None
    """The stretch of the recording; ``None`` for a URL or file id, not examined locally."""
    chunk_count: int = 1
    file_id: str | None = None
    """The audio uploaded for this request, deleted with the job's files."""


class Manifest(BaseModel):
    """What a later process needs to turn a job's output lines into per-input results."""

    model_config = ConfigDict(defer_build=True)

    format: Literal[1] = 1
    job_id: str
    options: TranscriptionOptions
    created_at: float
    """Unix seconds, when the job was submitted."""
    input_file: str
    """The JSONL file of the job's requests."""
    requests: list[BatchRequest]
    files_deleted: bool = False
    output_format: str | None = None
    """The output format the submitter chose, for a later process to default to (the
    ``voxtral`` command records its ``--format`` here); the library does not read it."""

    @property
    def uploaded_files(self) -> list[str]:
        """Every file uploaded for the job: its audio and its JSONL."""
        return [r.file_id for r in self.requests if r.file_id] + [self.input_file]


def manifest_name(job_id: str) -> str:
    """The manifest's file name: the job id (a checked UUID, so no path tricks) and a suffix."""
    return f"{job_id}{MANIFEST_SUFFIX}"


def manifest_from_json(content: bytes, job_id: str, where: str) -> Manifest:
    """The manifest of job ``job_id`` in ``content`` (read from ``where``); raise naming
    the file if it was changed, damaged, or is another job's."""
    try:
        manifest = Manifest.model_validate_json(content)
    except ValidationError as exc:
        raise InvalidInputError(
            f"The manifest {where!r} cannot be used ({type(exc).__name__}); it was "
            "changed or damaged since the job was submitted.",
            argument="manifest_dir",
        ) from exc
    if manifest.job_id != job_id:
        raise InvalidInputError(
            f"The manifest {where!r} belongs to job {manifest.job_id}, not {job_id}.",
            argument="manifest_dir",
        )
    return manifest


# --------------------------------------------------------------------------- requests


def check_job_id(job_id: object) -> str:
    """A job id is a UUID, in lower case as the API spells it (and names its manifest);
    anything else is a typo, refused before it reaches a URL."""
    if not isinstance(job_id, str) or not _UUID.fullmatch(job_id):
        raise InvalidInputError(
            f"{job_id!r} is not a batch job id: use the `id` of the BatchJob that "
            "`submit_batch` returned (a UUID such as 'b6a4a1c2-0d0e-4f6a-9c57-3f2d2e1c9a10').",
            argument="job_id",
        )
    return job_id.lower()


def created_job(job: BatchJob, url: str) -> BatchJob:
    """The job the server created, if its id is a UUID: it names the manifest file."""
    if not _UUID.fullmatch(job.id):
        raise APIResponseError(
            f"The batch job was created with id {job.id!r}, which is not a UUID as the API "
            "documents; refusing to name a file after it.",
            method="POST",
            url=url,
        )
    return job


def job_settings(timeout_hours: object, metadata: object) -> dict[str, Any]:
    """``timeout_hours`` and ``metadata`` as the API takes them; raise naming the bad one."""
    if (
        isinstance(timeout_hours, bool)
        or not isinstance(timeout_hours, int)
        or not 1 <= timeout_hours <= MAX_BATCH_TIMEOUT_HOURS
    ):
        raise InvalidInputError(
            f"`timeout_hours`={timeout_hours!r} must be a whole number of hours from 1 to "
            f"{MAX_BATCH_TIMEOUT_HOURS}.",
            argument="timeout_hours",
        )
    settings: dict[str, Any] = {"timeout_hours": timeout_hours}
    if metadata is None:
        return settings
    if not isinstance(metadata, Mapping) or not all(
        isinstance(key, str)
        and isinstance(value, str)
        and 1 <= len(key) <= 32
        and 1 <= len(value) <= 512
        for key, value in metadata.items()
    ):
        raise InvalidInputError(
            f"`metadata` must map keys of 1-32 characters to string values of 1-512 "
            f"characters, e.g. {{'corpus': 'interviews-2026'}}; got {metadata!r}.",
            argument="metadata",
        )
    settings["metadata"] = dict(metadata)
    return settings


def check_request_count(count: int) -> None:
    """A job takes at most :data:`MAX_BATCH_REQUESTS` lines; raise before any upload."""
    if count > MAX_BATCH_REQUESTS:
        raise InvalidInputError(
            f"This batch would hold {count} requests (one per input, one per chunk of "
            f"long audio); a job takes at most {MAX_BATCH_REQUESTS}. Submit the inputs in "
            "several batches.",
            argument="audio",
        )


def batch_line(
    custom_id: str,
    options: TranscriptionOptions,
    *,
    file_id: str | None = None,
    file_url: str | None = None,
) -> dict[str, Any]:
    """One JSONL line for the audio at ``file_url`` or stored as ``file_id``: the same
    fields an online request sends, except the model (the job's, set when it is created)."""
    reference = {"file_url": file_url} if file_url is not None else {"file_id": file_id}
    return {"custom_id": custom_id, "body": {**reference, **transcription_fields(options)}}


def jsonl(lines: Iterable[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def create_job_request(input_file: str, model: str, settings: Mapping[str, Any]) -> RequestSpec:
    body = {"input_files": [input_file], "endpoint": BATCH_ENDPOINT, "model": model, **settings}
    return RequestSpec("POST", "/batch/jobs", json=body)


def get_job_request(job_id: str) -> RequestSpec:
    return RequestSpec("GET", f"/batch/jobs/{check_job_id(job_id)}")


def cancel_job_request(job_id: str) -> RequestSpec:
    return RequestSpec("POST", f"/batch/jobs/{check_job_id(job_id)}/cancel")


# --------------------------------------------------------------------------- waiting


def check_seconds(value: object, argument: str) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0
    ):
        raise InvalidInputError(
            f"`{argument}`={value!r} must be a number of seconds >= 0, or None.",
            argument=argument,
        )


def poll_delays(poll_interval: float | None) -> Iterator[float]:
    """Seconds between polls: ``poll_interval`` when given, else 2 s growing to a minute."""
    delay = BATCH_POLL_INITIAL
    while True:
        yield delay if poll_interval is None else poll_interval
        delay = min(delay * BATCH_POLL_FACTOR, BATCH_POLL_MAX)


def next_poll(job: BatchJob, delay: float, remaining: float | None, timeout: float | None) -> float:
    """How long to sleep before polling the unfinished ``job`` again: ``delay``, cut to
    the ``remaining`` seconds of the caller's ``timeout``; once none remain, raise
    :class:`BatchJobError` (the job goes on running)."""
    if remaining is None:
        return delay
    if remaining <= 0:
        raise BatchJobError(
            f"Batch job {job.id} is still {job.status} after {timeout:g} s "
            f"({job.completed_requests} of {job.total_requests} requests done). It "
            "goes on running: wait again later (`wait_for_batch`), or cancel it "
            "(`cancel_batch`).",
            job_id=job.id,
            status=job.status,
        )
    return min(delay, remaining)


def check_ended(job: BatchJob) -> None:
    """Results come once a job has ended; before, raise saying to wait."""
    if not job.done:
        raise BatchJobError(
            f"Batch job {job.id} is {job.status} ({job.completed_requests} of "
            f"{job.total_requests} requests done); its results come once it ends. Wait for it "
            "with `wait_for_batch`, then ask again.",
            job_id=job.id,
            status=job.status,
        )


def expired(job: BatchJob, file_id: str) -> BatchJobError:
    """The error for a result file that is gone (404): results are kept for a day."""
    ended = ""
    if job.completed_at:
        moment = datetime.fromtimestamp(job.completed_at, tz=timezone.utc)
        ended = f" (this one ended {moment:%Y-%m-%d %H:%M} UTC)"
    return BatchJobError(
        f"The results of batch job {job.id} have expired: its file {file_id} is gone. "
        f"Mistral keeps batch results for {BATCH_RESULTS_KEPT_HOURS} hours after a job "
        f"ends{ended}; submit the audio again.",
        job_id=job.id,
        status=job.status,
    )


# --------------------------------------------------------------------------- results


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
