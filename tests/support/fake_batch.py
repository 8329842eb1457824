"""An in-process stand-in for Mistral's Files and Batch APIs that really transcribes.

Use it as an ``httpx.MockTransport`` handler. Every request is first validated
against the OpenAPI contract (``tests/contract``), and so is every line of an
uploaded JSONL batch file (its body, with the job's model, against the
transcription request schema). A job moves through a scripted list of statuses,
one step per ``GET``; when it reaches its end, its requests are "run": each
uploaded audio file is decoded and answered like ``FakeVoxtral`` answers it (one
segment per non-silent region, with ``speech_regions``), so times are real, or by
``answer`` (e.g. the fake diarizer's).

Faults on demand: ``fail(custom_id, body)`` returns a status code to fail one
request with (written to the error file, in the ``response`` shape or, with
``error_style="error"``, as an ``error`` object); ``processed`` limits how many
requests run before a job ends FAILED / TIMEOUT_EXCEEDED / CANCELLED;
``expire()`` makes every result file answer 404, as after the 24 hours.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.support.fake_voxtral import multipart, speech_regions
from tests.support.openapi_contract import load_spec, validate_request

TERMINAL = {"SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"}
CREATED_AT = 1_763_700_000


def _line_validator() -> tuple[Draft202012Validator, set[str]]:
    spec = load_spec()
    registry: Registry[Any] = Registry().with_resource(
        "urn:spec", DRAFT202012.create_resource(spec)
    )
    schema = {"$ref": "urn:spec#/components/schemas/AudioTranscriptionRequest"}
    properties = set(spec["components"]["schemas"]["AudioTranscriptionRequest"]["properties"])
    return Draft202012Validator(schema, registry=registry), properties


LINE_VALIDATOR, LINE_FIELDS = _line_validator()


def check_line(line: Any, model: str) -> None:
    """One JSONL line as Mistral documents it: a ``custom_id`` and a transcription body."""
    assert isinstance(line, dict) and set(line) == {"custom_id", "body"}, line
    assert isinstance(line["custom_id"], str)
    body = line["body"]
    assert "model" not in body and "stream" not in body, "the model is set on the job"
    assert set(body) <= LINE_FIELDS, f"undeclared fields {set(body) - LINE_FIELDS}"
    assert ("file_id" in body) != ("file_url" in body), body
    errors = [error.message for error in LINE_VALIDATOR.iter_errors({**body, "model": model})]
    assert not errors, errors


@dataclass
class StoredFile:
    filename: str
    purpose: str
    content: bytes


@dataclass
class FakeJob:
    id: str
    model: str
    input_file: str
    metadata: dict[str, str] | None
    timeout_hours: int
    lines: list[dict[str, Any]]
    script: list[str]
    status: str = "QUEUED"
    completed: int = 0
    succeeded: int = 0
    failed: int = 0
    output_file: str | None = None
    error_file: str | None = None
    completed_at: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    """What the job reports in ``errors`` (set by a test); a timed-out job reports its own."""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "batch",
            "input_files": [self.input_file],
            "metadata": self.metadata,
            "endpoint": "/v1/audio/transcriptions",
            "model": self.model,
            "agent_id": None,
            "output_file": self.output_file,
            "error_file": self.error_file,
            "errors": self.errors
            or (
                [{"message": "Job timed out", "count": 1}]
                if self.status == "TIMEOUT_EXCEEDED"
                else []
            ),
            "outputs": None,
            "status": self.status,
            "created_at": CREATED_AT,
            "total_requests": len(self.lines),
            "completed_requests": self.completed,
            "succeeded_requests": self.succeeded,
            "failed_requests": self.failed,
            "started_at": CREATED_AT + 5 if self.status != "QUEUED" else None,
            "completed_at": self.completed_at,
        }


@dataclass
class FakeBatchServer:
    """Files and batch jobs in memory; see the module docstring."""

    script: Sequence[str] = ("QUEUED", "RUNNING", "SUCCESS")
    fail: Callable[[str, dict[str, Any]], int | None] = lambda custom_id, body: None
    error_style: Literal["response", "error"] = "response"
    processed: int | None = None
    url_audio: dict[str, bytes] = field(default_factory=dict)
    answer: Callable[[bytes, str, dict[str, Any]], dict[str, Any]] = lambda audio, model, body: (
        transcription_body(audio, model, bool(body.get("timestamp_granularities")))
    )
    """The transcription a request gets: its audio, the job's model, the line's body."""
    files: dict[str, StoredFile] = field(default_factory=dict)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    operations: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    expired: bool = False
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        operation = validate_request(request)
        self.operations.append(operation)
        file_id = request.url.path.split("/files/")[-1].split("/")[0]
        job_id = request.url.path.split("/batch/jobs/")[-1].split("/")[0]
        if operation == "files_api_routes_upload_file":
            return self._upload(request)
        if operation == "files_api_routes_download_file":
            if self.expired or file_id not in self.files:
                return _not_found("File")
            return httpx.Response(
                200,
                content=self.files[file_id].content,
                headers={"content-type": "application/octet-stream"},
            )
        if operation == "files_api_routes_delete_file":
            if self.files.pop(file_id, None) is None:
                return _not_found("File")
            self.deleted.append(file_id)
            return httpx.Response(200, json={"id": file_id, "object": "file", "deleted": True})
        if operation == "jobs_api_routes_batch_create_batch_job":
            return self._create(json.loads(request.content))
        if job_id not in self.jobs:
            return _not_found("Batch job")
        job = self.jobs[job_id]
        if operation == "jobs_api_routes_batch_cancel_batch_job":
            if job.status not in TERMINAL:
                job.status, job.script = "CANCELLATION_REQUESTED", ["CANCELLED"]
            return httpx.Response(200, json=job.as_json())
        assert operation == "jobs_api_routes_batch_get_batch_job", operation
        self._advance(job)
        return httpx.Response(200, json=job.as_json())

    # ---- files

    def new_id(self) -> str:
        return str(uuid.UUID(int=next(self._ids) + 1))

    def _upload(self, request: httpx.Request) -> httpx.Response:
        fields, upload = multipart(request)
        assert upload is not None, "an upload has a file part"
        filename, content = upload
        file_id = self.new_id()
        purpose = fields.get("purpose", [""])[0]
        self.files[file_id] = StoredFile(filename, purpose, content)
        lines = content.count(b"\n") if purpose == "batch" else None
        return httpx.Response(
            200,
            json={
                "id": file_id,
                "object": "file",
                "bytes": len(content),
                "created_at": CREATED_AT,
                "filename": filename,
                "purpose": purpose,
                "sample_type": "batch_request" if purpose == "batch" else "audio",
                "source": "upload",
                "num_lines": lines,
                "mimetype": None,
                "signature": None,
            },
        )

    def expire(self) -> None:
        self.expired = True

    # ---- jobs

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        assert body["endpoint"] == "/v1/audio/transcriptions"
        (input_file,) = body["input_files"]
        stored = self.files.get(input_file)
        if stored is None or stored.purpose != "batch":
            return _not_found("Input file")
        lines = [json.loads(text) for text in stored.content.decode().splitlines()]
        for line in lines:
            check_line(line, body["model"])
        job = FakeJob(
            id=self.new_id(),
            model=body["model"],
            input_file=input_file,
            metadata=body.get("metadata"),
            timeout_hours=body.get("timeout_hours", 24),
            lines=lines,
            script=list(self.script),
        )
        job.status = job.script.pop(0)
        self.jobs[job.id] = job
        return httpx.Response(200, json=job.as_json())

    def _advance(self, job: FakeJob) -> None:
        if job.status in TERMINAL or not job.script:
            return
        job.status = job.script.pop(0)
        if job.status == "RUNNING":
            job.completed = len(job.lines) // 2
        if job.status in TERMINAL:
            self._run(job)

    def _run(self, job: FakeJob) -> None:
        count = len(job.lines) if job.status == "SUCCESS" else (self.processed or 0)
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for line in job.lines[:count]:
            answer = self._answer(job, line)
            succeeded = answer["response"] and answer["response"]["status_code"] == 200
            (output if succeeded else errors).append(answer)
        job.completed, job.succeeded, job.failed = count, len(output), len(errors)
        job.completed_at = CREATED_AT + 60
        if output:
            job.output_file = self._store(job, "output", output)
        if errors:
            job.error_file = self._store(job, "error", errors)

    def _store(self, job: FakeJob, kind: str, lines: list[dict[str, Any]]) -> str:
        file_id = self.new_id()
        content = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.files[file_id] = StoredFile(f"{job.id}-{kind}.jsonl", "batch_result", content)
        return file_id

    def _answer(self, job: FakeJob, line: dict[str, Any]) -> dict[str, Any]:
        custom_id, body = line["custom_id"], line["body"]
        answer: dict[str, Any] = {"id": f"batch-{job.id[:8]}-{custom_id}", "custom_id": custom_id}
        status = self.fail(custom_id, body)
        if status is None and "file_url" in body and body["file_url"] not in self.url_audio:
            status = 400
        if status is not None:
            error = {
                "object": "error",
                "message": f"request {custom_id} failed on purpose",
                "type": "invalid_request_error",
                "param": None,
                "code": status,
            }
            if self.error_style == "error":
                return {**answer, "response": None, "error": error}
            return {**answer, "response": {"status_code": status, "body": error}, "error": None}
        if "file_id" in body:
            audio = self.files[body["file_id"]].content
        else:
            audio = self.url_audio[body["file_url"]]
        transcription = self.answer(audio, job.model, body)
        return {
            **answer,
            "response": {"status_code": 200, "body": {**transcription, "finish_reason": None}},
            "error": None,
        }


def transcription_body(audio: bytes, model: str, timestamps: bool) -> dict[str, Any]:
    """What ``FakeVoxtral`` answers for ``audio``: one segment per non-silent region."""
    regions = speech_regions(audio)
    segments = [
        {"text": f"words {index}", "start": round(s, 3), "end": round(e, 3)}
        for index, (s, e) in enumerate(regions)
    ]
    return {
        "model": model,
        "text": " ".join(f"words {index}" for index in range(len(regions))),
        "language": "en",
        "segments": segments if timestamps else [],
        "usage": {
            "prompt_tokens": 1,
            "completion_tokens": len(segments),
            "total_tokens": 1 + len(segments),
        },
    }


def _not_found(what: str) -> httpx.Response:
    return httpx.Response(
        404,
        json={
            "object": "error",
            "message": f"{what} not found",
            "type": "invalid_request_error",
            "param": None,
            "code": "not_found",
        },
    )
