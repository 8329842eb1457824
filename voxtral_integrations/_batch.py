"""The Batch API's bookkeeping, decided without I/O: manifest, requests, waiting.

A batch job runs transcription requests on Mistral's side; :mod:`._batch_flow`
uploads, polls and downloads, and everything it decides on the way is here:

* the :class:`Manifest` (which JSONL line is which chunk of which input) and its JSON;
* the job's request bodies (:func:`batch_line`, :func:`create_job_request`...) and
  the checks of what a caller passes (:func:`check_job_id`, :func:`job_settings`);
* when to poll next (:func:`poll_delays`, :func:`next_poll`).

Reading the job's output lines back into results, by the manifest, is
:mod:`._batch_results`'s.

The manifest holds no credential: sources are stored as :func:`source_name` gives
them (a URL without its query string, where signed-URL tokens live).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ._constants import (
    BATCH_ENDPOINT,
    BATCH_POLL_FACTOR,
    BATCH_POLL_INITIAL,
    BATCH_POLL_MAX,
    BATCH_RESULTS_KEPT_HOURS,
    MAX_BATCH_REQUESTS,
    MAX_BATCH_TIMEOUT_HOURS,
)
from ._dialects import transcription_fields
from ._exceptions import (
    APIResponseError,
    BatchJobError,
    InvalidInputError,
)
from ._models import Chunk
from ._options import TranscriptionOptions
from ._outcomes import BatchJob
from ._requests import RequestSpec

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
