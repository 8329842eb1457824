"""Mistral's Batch API for corpora: submit once, collect the transcripts later, from any process.

A batch job runs the transcription requests on Mistral's side, outside the
real-time rate limits, within ``timeout_hours``. Three steps, each a method of
:class:`VoxtralClient`:

1. :func:`submit`. Every option and every input is checked, and all local audio
   probed, before anything is uploaded. Local audio is prepared exactly as
   ``transcribe`` prepares it (converted where the API does not take the format,
   split where long) and each chunk is uploaded; an ``http(s)`` URL goes in as
   ``file_url`` and is not split, since the server fetches it and there is nothing
   local to cut. One JSONL line per request is uploaded and the job created.
   A manifest, ``<manifest_dir>/<job_id>.voxtral-batch.json``, records which line
   is which chunk of which input.
2. :func:`wait` polls the job, backing off, until it ends.
3. :func:`results` downloads the output and error lines and puts each input's
   chunks back together with absolute times (:func:`stitch`, as online), giving
   one :class:`TranscriptionResult` per input, in input order.

The manifest and the job id are all a later step needs, so a new process can
resume. The manifest holds no credential: sources are stored as
:func:`source_name` gives them (a URL without its query string, where signed-URL
tokens live). Parsing and assembling are pure functions; I/O goes through the
client's ``_send``, so retries, errors and redaction are the online path's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from tqdm.auto import tqdm

from ._audio import Payload
from ._bulk import TranscriptionResult, sources
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
from ._exceptions import (
    APIResponseError,
    BatchJobError,
    IncompleteTranscriptionError,
    InvalidInputError,
    NotFoundError,
    VoxtralError,
)
from ._models import BatchJob, Chunk, Transcription, UploadedFile
from ._protocol import (
    RequestSpec,
    TranscriptionOptions,
    files_upload_request,
    status_error,
    transcription_fields,
)
from ._records import clock, source_name
from ._redaction import redact_url, redact_urls
from ._sources import AudioFileId, AudioInput, AudioUpload, AudioURL, check_file_id, resolve_audio
from ._transcribe import materialised

if TYPE_CHECKING:
    from ._client import VoxtralClient

logger = logging.getLogger("voxtral_integrations")

MANIFEST_SUFFIX = ".voxtral-batch.json"
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_TRANSCRIPTIONS_PATH = "/audio/transcriptions"


# --------------------------------------------------------------------------- manifest


class BatchRequest(BaseModel):
    """One line of a job: which input it transcribes, and which stretch of it."""

    model_config = ConfigDict(frozen=True)

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


def manifest_path(directory: str | os.PathLike[str], job_id: str) -> Path:
    return Path(directory) / f"{job_id}{MANIFEST_SUFFIX}"


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    """Write atomically (temporary file, then rename): a reader never sees half of it."""
    path = manifest_path(directory, manifest.job_id)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(manifest.model_dump_json(indent=1))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def read_manifest(directory: str | os.PathLike[str], job_id: str) -> Manifest:
    path = manifest_path(directory, job_id)
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise InvalidInputError(
            f"No manifest for batch job {job_id} in {os.fspath(directory)!r} (looked for "
            f"{path.name}). Pass the `manifest_dir` the job was submitted with.",
            argument="manifest_dir",
        ) from None
    except (OSError, ValidationError) as exc:
        raise InvalidInputError(
            f"The manifest {os.fspath(path)!r} cannot be used ({type(exc).__name__}); it was "
            "changed or damaged since the job was submitted.",
            argument="manifest_dir",
        ) from exc
    if manifest.job_id != job_id:
        raise InvalidInputError(
            f"The manifest {os.fspath(path)!r} belongs to job {manifest.job_id}, not {job_id}.",
            argument="manifest_dir",
        )
    return manifest


def _manifest_directory(manifest_dir: object) -> Path:
    if not isinstance(manifest_dir, (str, os.PathLike)) or not os.fspath(manifest_dir):
        raise InvalidInputError(
            "`manifest_dir` must be a directory path: the job's manifest is written there, and "
            "`batch_results` reads it back (from any process) with the job id.",
            argument="manifest_dir",
        )
    directory = Path(manifest_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(
            f"Cannot create `manifest_dir` {os.fspath(directory)!r}: {exc.strerror or exc}.",
            argument="manifest_dir",
        ) from exc
    if not os.access(directory, os.W_OK):
        raise InvalidInputError(
            f"`manifest_dir` {os.fspath(directory)!r} is not writable.", argument="manifest_dir"
        )
    return directory


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


def batch_line(
    custom_id: str, source: AudioURL | AudioFileId, options: TranscriptionOptions
) -> dict[str, Any]:
    """One JSONL line: the same fields an online request sends, except the model.

    The model is the job's, set when the job is created.
    """
    reference = (
        {"file_url": source.url} if isinstance(source, AudioURL) else {"file_id": source.file_id}
    )
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


def poll_delays(poll_interval: float | None) -> Iterator[float]:
    """Seconds between polls: ``poll_interval`` when given, else 2 s growing to a minute."""
    delay = BATCH_POLL_INITIAL
    while True:
        yield delay if poll_interval is None else poll_interval
        delay = min(delay * BATCH_POLL_FACTOR, BATCH_POLL_MAX)


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
            results.append(TranscriptionResult(index, source, transcription=transcription))
        elif len(requests) == 1:
            results.append(TranscriptionResult(index, source, error=failed[requests[0].custom_id]))
        else:
            error = _incomplete(requests, done, failed, job)
            results.append(TranscriptionResult(index, source, error=error))
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


# --------------------------------------------------------------------------- I/O


@dataclass(frozen=True)
class _Planned:
    """One request to be: a reference the server resolves, or local audio to upload first."""

    index: int
    source: str
    chunk_count: int
    target: AudioURL | AudioFileId | Payload


def submit(
    client: VoxtralClient,
    audio: AudioInput | Iterable[AudioInput],
    *,
    manifest_dir: str | os.PathLike[str],
    options: TranscriptionOptions,
    max_chunk_seconds: float | None,
    timeout_hours: int,
    metadata: Mapping[str, str] | None,
    show_progress: bool,
) -> BatchJob:
    """Check everything, upload the audio and the JSONL, create the job, write the manifest.

    If anything fails before the job exists, the files uploaded so far are deleted
    and the error raised: a failed submission leaves nothing stored on the server.
    """
    client._dialect.check_files_supported()
    settings = job_settings(timeout_hours, metadata)
    directory = _manifest_directory(manifest_dir)
    planned = _plan(client, audio, options, max_chunk_seconds)
    uploaded: list[str] = []
    try:
        requests, lines = _upload_audio(client, planned, options, uploaded, show_progress)
        input_file = _upload(client, _jsonl_upload(jsonl(lines)), "batch")
        uploaded.append(input_file)
        spec = create_job_request(input_file, options.model, settings)
        job = client._parse(client._send(spec), BatchJob)
        if not _UUID.fullmatch(job.id):  # it names the manifest file: no path tricks
            raise APIResponseError(
                f"The batch job was created with id {job.id!r}, which is not a UUID as the API "
                "documents; refusing to name a file after it.",
                method="POST",
                url=redact_url(client.base_url + spec.path),
            )
    except BaseException:
        _delete_quietly(client, uploaded)
        raise
    manifest = Manifest(
        job_id=job.id,
        options=options,
        created_at=time.time(),
        input_file=input_file,
        requests=requests,
    )
    try:
        write_manifest(directory, manifest)
    except OSError as exc:
        with contextlib.suppress(VoxtralError):
            client._send(cancel_job_request(job.id))
        raise BatchJobError(
            f"Batch job {job.id} was created, but its manifest could not be written to "
            f"{os.fspath(directory)!r} ({exc.strerror or exc}); without it the results cannot "
            "be matched to the audio, so the job was cancelled. Submit again.",
            job_id=job.id,
            status="CANCELLATION_REQUESTED",
        ) from exc
    return job


def _plan(
    client: VoxtralClient,
    audio: AudioInput | Iterable[AudioInput],
    options: TranscriptionOptions,
    max_chunk_seconds: float | None,
) -> list[_Planned]:
    """Resolve every input and probe every local file: all local errors come out here."""
    planned: list[_Planned] = []
    for index, item in enumerate(sources(audio)):
        resolved = resolve_audio(item.resolve())
        if isinstance(resolved, AudioUpload):
            payloads = client._payloads(resolved, options, max_chunk_seconds)
            name = source_name(item.name)
            planned.extend(_Planned(index, name, len(payloads), p) for p in payloads)
        elif isinstance(resolved, AudioFileId):
            planned.append(_Planned(index, resolved.file_id, 1, resolved))
        else:
            planned.append(_Planned(index, source_name(item.name), 1, resolved))
    if len(planned) > MAX_BATCH_REQUESTS:
        raise InvalidInputError(
            f"This batch would hold {len(planned)} requests (one per input, one per chunk of "
            f"long audio); a job takes at most {MAX_BATCH_REQUESTS}. Submit the inputs in "
            "several batches.",
            argument="audio",
        )
    return planned


def _upload_audio(
    client: VoxtralClient,
    planned: list[_Planned],
    options: TranscriptionOptions,
    uploaded: list[str],
    show_progress: bool,
) -> tuple[list[BatchRequest], list[dict[str, Any]]]:
    """Upload local chunks (recording each id in ``uploaded`` at once); the lines to send."""
    requests: list[BatchRequest] = []
    lines: list[dict[str, Any]] = []
    local = sum(isinstance(item.target, Payload) for item in planned)
    with tqdm(
        total=local, desc="upload", unit="file", disable=not show_progress, leave=False
    ) as bar:
        for number, item in enumerate(planned):
            custom_id = str(number)
            if isinstance(item.target, Payload):
                payload = item.target
                upload = payload.upload if item.chunk_count == 1 else materialised(payload.upload)
                file_id = _upload(client, upload, "audio")
                uploaded.append(file_id)
                bar.update(1)
                reference: AudioURL | AudioFileId = AudioFileId(file_id)
                request = BatchRequest(
                    custom_id=custom_id,
                    index=item.index,
                    source=item.source,
                    chunk=payload.chunk,
                    chunk_count=item.chunk_count,
                    file_id=file_id,
                )
            else:
                reference = item.target
                request = BatchRequest(custom_id=custom_id, index=item.index, source=item.source)
            requests.append(request)
            lines.append(batch_line(custom_id, reference, options))
    return requests, lines


def _jsonl_upload(content: bytes) -> AudioUpload:
    return AudioUpload(
        "<batch input>",
        "voxtral-batch.jsonl",
        "application/jsonl",
        len(content),
        lambda: nullcontext(content),
    )


def _upload(client: VoxtralClient, upload: AudioUpload, purpose: str) -> str:
    spec = files_upload_request(upload, purpose=purpose)
    return check_file_id(client._parse(client._send(spec), UploadedFile).id)


def get(client: VoxtralClient, job_id: str) -> BatchJob:
    client._dialect.check_files_supported()
    return client._parse(client._send(get_job_request(job_id)), BatchJob)


def cancel(client: VoxtralClient, job_id: str) -> BatchJob:
    client._dialect.check_files_supported()
    return client._parse(client._send(cancel_job_request(job_id)), BatchJob)


def wait(
    client: VoxtralClient,
    job_id: str,
    *,
    poll_interval: float | None,
    timeout: float | None,
    show_progress: bool,
) -> BatchJob:
    """Poll until the job ends; raise :class:`BatchJobError` once ``timeout`` seconds passed."""
    client._dialect.check_files_supported()
    job_id = check_job_id(job_id)
    _check_seconds(poll_interval, "poll_interval")
    _check_seconds(timeout, "timeout")
    deadline = None if timeout is None else time.monotonic() + timeout
    delays = poll_delays(poll_interval)
    with tqdm(
        desc=f"batch {job_id[:8]}", unit="request", disable=not show_progress, leave=False
    ) as bar:
        while True:
            job = get(client, job_id)
            bar.total = job.total_requests or None
            bar.n = job.completed_requests
            bar.refresh()
            if job.done:
                return job
            delay = next(delays)
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BatchJobError(
                        f"Batch job {job_id} is still {job.status} after {timeout:g} s "
                        f"({job.completed_requests} of {job.total_requests} requests done). It "
                        "goes on running: wait again later (`wait_for_batch`), or cancel it "
                        "(`cancel_batch`).",
                        job_id=job_id,
                        status=job.status,
                    )
                delay = min(delay, remaining)
            time.sleep(delay)


def _check_seconds(value: object, argument: str) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0
    ):
        raise InvalidInputError(
            f"`{argument}`={value!r} must be a number of seconds >= 0, or None.",
            argument=argument,
        )


def results(
    client: VoxtralClient,
    job_id: str,
    *,
    manifest_dir: str | os.PathLike[str],
    delete_files: bool,
) -> list[TranscriptionResult]:
    """Download a finished job's lines and turn them into one result per input."""
    client._dialect.check_files_supported()
    job_id = check_job_id(job_id)
    manifest = read_manifest(manifest_dir, job_id)
    job = get(client, job_id)
    if not job.done:
        raise BatchJobError(
            f"Batch job {job_id} is {job.status} ({job.completed_requests} of "
            f"{job.total_requests} requests done); its results come once it ends. Wait for it "
            "with `wait_for_batch`, then ask again.",
            job_id=job_id,
            status=job.status,
        )
    lines: dict[str, Mapping[str, Any]] = {}
    for file_id in (job.output_file, job.error_file):
        if file_id:
            lines.update(result_lines(_download(client, job, file_id)))
    url = redact_url(client.base_url + _TRANSCRIPTIONS_PATH)
    parse = _parser(client, manifest.options)
    outcomes = {
        request.custom_id: line_outcome(line, request, parse=parse, url=url)
        for request in manifest.requests
        if (line := lines.get(request.custom_id)) is not None
    }
    assembled = assemble(manifest, outcomes, job)
    if (
        delete_files
        and not manifest.files_deleted
        and _delete_quietly(client, manifest.uploaded_files)
    ):
        try:
            write_manifest(Path(manifest_dir), manifest.model_copy(update={"files_deleted": True}))
        except OSError as exc:  # the files are gone all the same; a later call finds them gone
            logger.warning(
                "Could not record in the manifest of batch job %s that its uploaded files are "
                "deleted (%s); the results are returned all the same.",
                job_id,
                exc.strerror or type(exc).__name__,
            )
    return assembled


def _parser(
    client: VoxtralClient, options: TranscriptionOptions
) -> Callable[[bytes], Transcription]:
    return lambda content: client._dialect.parse_transcription(content, options)


def _download(client: VoxtralClient, job: BatchJob, file_id: str) -> bytes:
    try:
        return client.download_file(file_id)
    except NotFoundError as exc:
        ended = ""
        if job.completed_at:
            moment = datetime.fromtimestamp(job.completed_at, tz=timezone.utc)
            ended = f" (this one ended {moment:%Y-%m-%d %H:%M} UTC)"
        raise BatchJobError(
            f"The results of batch job {job.id} have expired: its file {file_id} is gone. "
            f"Mistral keeps batch results for {BATCH_RESULTS_KEPT_HOURS} hours after a job "
            f"ends{ended}; submit the audio again.",
            job_id=job.id,
            status=job.status,
        ) from exc


def _delete_quietly(client: VoxtralClient, file_ids: Iterable[str]) -> bool:
    """Delete uploaded files; whether all are gone. A failure is logged, never raised:
    it must not cost the caller the results (or the error) already in hand."""
    all_gone = True
    for file_id in file_ids:
        try:
            client.delete_file(file_id)
        except NotFoundError:
            continue  # already deleted
        except VoxtralError as exc:
            all_gone = False
            logger.warning(
                "Could not delete uploaded file %s (%s); the Files API keeps it for 30 days "
                "unless deleted with client.delete_file(%r).",
                file_id,
                type(exc).__name__,
                file_id,
            )
    return all_gone
