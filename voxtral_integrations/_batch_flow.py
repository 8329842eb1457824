"""Mistral's Batch API for corpora, the I/O half: submit once, collect the results later.

A batch job runs the transcription requests on Mistral's side, outside the
real-time rate limits, within ``timeout_hours``. Three steps, each a method of
:class:`VoxtralClient` and of :class:`AsyncVoxtralClient`:

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
   chunks back together with absolute times, giving one
   :class:`TranscriptionResult` per input, in input order.

The manifest and the job id are all a later step needs, so a new process can resume.

Each step is written once, as a :data:`._flow.Flow` that the sync client runs
(:func:`._flow.run`) and the async client awaits (:func:`._flow.arun`) over the
host it hands in: sending goes through the client's own retries, pace, errors and
redaction, and this module imports no client. What can be decided without I/O is
in :mod:`._batch` and :mod:`._batch_results`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._audio import Payload
from ._batch import (
    TRANSCRIPTIONS_PATH,
    BatchRequest,
    Manifest,
    batch_line,
    cancel_job_request,
    check_ended,
    check_job_id,
    check_request_count,
    check_seconds,
    create_job_request,
    created_job,
    expired,
    get_job_request,
    job_settings,
    jsonl,
    manifest_from_json,
    manifest_name,
    next_poll,
    poll_delays,
)
from ._batch_results import assemble, outcomes, result_lines
from ._bulk import Source, sources
from ._exceptions import BatchJobError, InvalidInputError, NotFoundError, VoxtralError
from ._flow import AnyHost, Dialect, Flow, blocking, payloads, send, sent, sleep
from ._models import DeletedFile, Transcription, UploadedFile
from ._options import TranscriptionOptions
from ._outcomes import BatchJob, TranscriptionResult
from ._progress import progress_bar
from ._records import source_name
from ._redaction import redact_url
from ._requests import delete_file_request, file_content_request, files_upload_request
from ._sources import (
    AudioFileId,
    AudioInput,
    AudioSource,
    AudioUpload,
    AudioURL,
    check_file_id,
    resolve_audio,
)
from ._transcribe import materialised

logger = logging.getLogger("voxtral_integrations")


# --------------------------------------------------------------------------- manifest on disk


def manifest_path(directory: str | os.PathLike[str], job_id: str) -> Path:
    return Path(directory) / manifest_name(job_id)


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
        content = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(
            f"No manifest for batch job {job_id} in {os.fspath(directory)!r} (looked for "
            f"{path.name}). Pass the `manifest_dir` the job was submitted with.",
            argument="manifest_dir",
        ) from None
    except OSError as exc:
        raise InvalidInputError(
            f"The manifest {os.fspath(path)!r} cannot be used ({type(exc).__name__}); it was "
            "changed or damaged since the job was submitted.",
            argument="manifest_dir",
        ) from exc
    return manifest_from_json(content, job_id, os.fspath(path))


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


# --------------------------------------------------------------------------- the steps


@dataclass(frozen=True)
class _Planned:
    """One request to be: a reference the server resolves, or local audio to upload first."""

    index: int
    source: str
    chunk_count: int
    target: AudioURL | AudioFileId | Payload


def submit(
    host: AnyHost,
    audio: AudioInput | Iterable[AudioInput],
    *,
    manifest_dir: str | os.PathLike[str],
    options: TranscriptionOptions,
    max_chunk_seconds: float | None,
    timeout_hours: int,
    metadata: Mapping[str, str] | None,
    show_progress: bool,
) -> Flow[BatchJob]:
    """Check everything, upload the audio and the JSONL, create the job, write the manifest.

    If anything fails before the job exists, the files uploaded so far are deleted
    and the error raised: a failed submission leaves nothing stored on the server.
    """
    host.dialect.check_files_supported()
    settings = job_settings(timeout_hours, metadata)
    directory = yield from blocking(_manifest_directory, manifest_dir)
    planned = yield from _plan(audio, options, max_chunk_seconds)
    uploaded: list[str] = []
    try:
        requests, lines = yield from _upload_audio(planned, options, uploaded, show_progress)
        input_file = yield from _upload(_jsonl_upload(jsonl(lines)), "batch")
        uploaded.append(input_file)
        spec = create_job_request(input_file, options.model, settings)
        job = created_job((yield from sent(spec, BatchJob)), redact_url(host.base_url + spec.path))
    except GeneratorExit:  # closed unfinished, its driver gone: nothing more may be yielded
        raise
    except BaseException:
        yield from _delete_quietly(uploaded)
        raise
    manifest = Manifest(
        job_id=job.id,
        options=options,
        created_at=time.time(),
        input_file=input_file,
        requests=requests,
    )
    try:
        yield from blocking(write_manifest, directory, manifest)
    except OSError as exc:
        with contextlib.suppress(VoxtralError):
            yield from send(cancel_job_request(job.id))
        raise BatchJobError(
            f"Batch job {job.id} was created, but its manifest could not be written to "
            f"{os.fspath(directory)!r} ({exc.strerror or exc}); without it the results cannot "
            "be matched to the audio, so the job was cancelled. Submit again.",
            job_id=job.id,
            status="CANCELLATION_REQUESTED",
        ) from exc
    return job


def _resolved(item: Source) -> AudioSource:
    return resolve_audio(item.resolve())


def _plan(
    audio: AudioInput | Iterable[AudioInput],
    options: TranscriptionOptions,
    max_chunk_seconds: float | None,
) -> Flow[list[_Planned]]:
    """Resolve every input and probe every local file: all local errors come out here."""
    planned: list[_Planned] = []
    for index, item in enumerate(sources(audio)):
        resolved = yield from blocking(_resolved, item)  # an fsspec file is read here
        if isinstance(resolved, AudioUpload):
            prepared = yield from payloads(resolved, options, max_chunk_seconds)
            name = source_name(item.name)
            planned.extend(_Planned(index, name, len(prepared), p) for p in prepared)
        elif isinstance(resolved, AudioFileId):
            planned.append(_Planned(index, resolved.file_id, 1, resolved))
        else:
            planned.append(_Planned(index, source_name(item.name), 1, resolved))
    check_request_count(len(planned))
    return planned


def _upload_audio(
    planned: list[_Planned],
    options: TranscriptionOptions,
    uploaded: list[str],
    show_progress: bool,
) -> Flow[tuple[list[BatchRequest], list[dict[str, Any]]]]:
    """Upload local chunks (recording each id in ``uploaded`` at once); the lines to send."""
    requests: list[BatchRequest] = []
    lines: list[dict[str, Any]] = []
    local = sum(isinstance(item.target, Payload) for item in planned)
    with progress_bar(
        total=local, desc="upload", unit="file", disable=not show_progress, leave=False
    ) as bar:
        for number, item in enumerate(planned):
            custom_id = str(number)
            target = item.target
            if isinstance(target, Payload):
                upload = target.upload
                if item.chunk_count > 1:  # encoded once, so that a retry resends the bytes
                    upload = yield from blocking(materialised, upload)
                file_id = yield from _upload(upload, "audio")
                uploaded.append(file_id)
                bar.update(1)
                request = BatchRequest(
                    custom_id=custom_id,
                    index=item.index,
                    source=item.source,
                    chunk=target.chunk,
                    chunk_count=item.chunk_count,
                    file_id=file_id,
                )
                line = batch_line(custom_id, options, file_id=file_id)
            else:
                request = BatchRequest(custom_id=custom_id, index=item.index, source=item.source)
                line = (
                    batch_line(custom_id, options, file_url=target.url)
                    if isinstance(target, AudioURL)
                    else batch_line(custom_id, options, file_id=target.file_id)
                )
            requests.append(request)
            lines.append(line)
    return requests, lines


def _jsonl_upload(content: bytes) -> AudioUpload:
    return AudioUpload(
        "<batch input>",
        "voxtral-batch.jsonl",
        "application/jsonl",
        len(content),
        lambda: nullcontext(content),
    )


def _upload(upload: AudioUpload, purpose: str) -> Flow[str]:
    uploaded = yield from sent(files_upload_request(upload, purpose=purpose), UploadedFile)
    return check_file_id(uploaded.id)


def get(host: AnyHost, job_id: str) -> Flow[BatchJob]:
    """The job's status and request counts."""
    host.dialect.check_files_supported()
    return (yield from sent(get_job_request(job_id), BatchJob))


def cancel(host: AnyHost, job_id: str) -> Flow[BatchJob]:
    """Ask the server to stop the job."""
    host.dialect.check_files_supported()
    return (yield from sent(cancel_job_request(job_id), BatchJob))


def wait(
    host: AnyHost,
    job_id: str,
    *,
    poll_interval: float | None,
    timeout: float | None,
    show_progress: bool,
) -> Flow[BatchJob]:
    """Poll until the job ends; raise :class:`BatchJobError` once ``timeout`` seconds passed."""
    host.dialect.check_files_supported()
    job_id = check_job_id(job_id)
    check_seconds(poll_interval, "poll_interval")
    check_seconds(timeout, "timeout")
    deadline = None if timeout is None else time.monotonic() + timeout
    delays = poll_delays(poll_interval)
    with progress_bar(
        desc=f"batch {job_id[:8]}", unit="request", disable=not show_progress, leave=False
    ) as bar:
        while True:
            job = yield from sent(get_job_request(job_id), BatchJob)
            bar.total = job.total_requests or None
            bar.n = job.completed_requests
            bar.refresh()
            if job.done:
                return job
            remaining = None if deadline is None else deadline - time.monotonic()
            yield from sleep(next_poll(job, next(delays), remaining, timeout))


def results(
    host: AnyHost,
    job_id: str,
    *,
    manifest_dir: str | os.PathLike[str],
    delete_files: bool,
) -> Flow[list[TranscriptionResult]]:
    """Download a finished job's lines and turn them into one result per input."""
    dialect = host.dialect
    dialect.check_files_supported()
    job_id = check_job_id(job_id)
    manifest = yield from blocking(read_manifest, manifest_dir, job_id)
    job = yield from sent(get_job_request(job_id), BatchJob)
    check_ended(job)
    lines: dict[str, Mapping[str, Any]] = {}
    for file_id in (job.output_file, job.error_file):
        if file_id:
            lines.update(result_lines((yield from _download(job, file_id))))
    assembled = _assembled(manifest, lines, job, dialect, host.base_url)
    if (
        delete_files
        and not manifest.files_deleted
        and (yield from _delete_quietly(manifest.uploaded_files))
    ):
        try:
            deleted = manifest.model_copy(update={"files_deleted": True})
            yield from blocking(write_manifest, Path(manifest_dir), deleted)
        except OSError as exc:  # the files are gone all the same; a later call finds them gone
            logger.warning(
                "Could not record in the manifest of batch job %s that its uploaded files are "
                "deleted (%s); the results are returned all the same.",
                job_id,
                exc.strerror or type(exc).__name__,
            )
    return assembled


def _assembled(
    manifest: Manifest,
    lines: Mapping[str, Mapping[str, Any]],
    job: BatchJob,
    dialect: Dialect,
    base_url: str,
) -> list[TranscriptionResult]:
    """The results of :func:`assemble`, each line read by the dialect's own parser."""

    def parse(content: bytes) -> Transcription:
        return dialect.parse_transcription(content, manifest.options)

    url = redact_url(base_url + TRANSCRIPTIONS_PATH)
    return assemble(manifest, outcomes(manifest, lines, parse=parse, url=url), job)


def _download(job: BatchJob, file_id: str) -> Flow[bytes]:
    try:
        response = yield from send(file_content_request(check_file_id(file_id)))
    except NotFoundError as exc:
        raise expired(job, file_id) from exc
    return response.content


def _delete_quietly(file_ids: Iterable[str]) -> Flow[bool]:
    """Delete uploaded files; whether all are gone. A failure is logged, never raised:
    it must not cost the caller the results (or the error) already in hand."""
    all_gone = True
    for file_id in file_ids:
        try:
            yield from sent(delete_file_request(check_file_id(file_id)), DeletedFile)
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
