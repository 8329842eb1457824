"""The runs of ``voxtral transcribe`` and ``voxtral batch ...``.

Every command gets its client from :func:`make_client` (the one place tests
replace). ``transcribe`` and ``batch results`` write one output per input as it
finishes, through the same :func:`_handle`, and end with the same summary. The
``cache`` commands are in :mod:`._cache`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from .._batch import check_job_id
from .._batch_flow import manifest_path, read_manifest, write_manifest
from .._client import VoxtralClient
from .._constants import API_KEY_ENV, RETRYABLE_STATUS_CODES
from .._dialects import dialect
from .._exceptions import (
    APIError,
    APIStatusError,
    ConfigurationError,
    IncompleteTranscriptionError,
)
from .._outcomes import BatchJob, TranscriptionResult
from .._redaction import redact_urls, redact_urls_in
from ._cache import _usable_cache, prune_cache
from ._cost import dry_run_or_budget
from ._exits import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    PROG,
    UsageError,
    _Abandoned,
    counted,
    one_line,
)
from ._inputs import _URL, Input, expand_inputs
from ._options import transcription_kwargs
from ._outputs import (
    DEFAULT_FORMAT,
    SUFFIXES,
    TIMED_FORMATS,
    _check_writable,
    _OutputIndex,
    output_paths,
    plan_outputs,
    render,
    source_key,
    write_atomically,
)
from ._screen import _denier, _interruptible, _sayer, _warner, _Writer
from ._summary import Tally


def make_client(backend: str, base_url: str | None) -> VoxtralClient:
    """The client every subcommand uses (the one place tests may replace).

    The key comes from ``MISTRAL_API_KEY`` only; the message for a missing key
    speaks of the variable, since there is no argument to pass it.
    """
    if dialect(backend).requires_key and not os.environ.get(API_KEY_ENV):
        raise UsageError(
            f"No API key: set the {API_KEY_ENV} environment variable (create a key at "
            "https://console.mistral.ai/api-keys). There is no --api-key flag: a key on "
            "the command line would stay in the shell history."
        )
    try:
        return VoxtralClient(base_url=base_url, backend=backend)  # type: ignore[arg-type]
    except ConfigurationError as error:
        raise UsageError(str(error)) from error


def _show_progress(args: argparse.Namespace, err: TextIO) -> bool:
    return err.isatty() if args.progress is None else bool(args.progress)


def run_transcribe(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    started = time.monotonic()
    say = _sayer(err)
    options = transcription_kwargs(args)
    resume_cache = _usable_cache(args, say)
    if resume_cache is not None and not args.dry_run:
        prune_cache(resume_cache)
    warn = _warner(say)
    denied: list[Path] = []
    inputs = expand_inputs(args.audio, warn, _denier(say, denied))
    output_dir: Path | None = args.output_dir
    if output_dir is None and args.format in ("srt", "vtt") and len(inputs) > 1:
        raise UsageError(
            f"--format {args.format} writes one file per input: with {len(inputs)} inputs, "
            "pass --output-dir DIR."
        )
    if output_dir is not None:
        _check_writable(output_dir)
    targets: list[Path | None] = (
        list(output_paths(inputs, output_dir, args.format))  # list: invariant element type
        if output_dir is not None
        else [None] * len(inputs)
    )
    tally = Tally()
    index = _OutputIndex(output_dir) if output_dir is not None else None
    targets, todo = plan_outputs(
        inputs, targets, index, args.format, overwrite=args.overwrite, warn=warn
    )
    tally.skipped = len(inputs) - len(todo)
    if todo and dry_run_or_budget(args, [inputs[i] for i in todo], options, out, say, batch=False):
        return EXIT_OK
    if todo and not args.dry_run:
        with make_client(args.backend, args.base_url) as client:
            results = client.transcribe_many(  # checks every option before sending anything
                [inputs[index].audio for index in todo],
                **options,
                concurrency=args.concurrency,
                upload_codec=args.upload_codec,
                cache_dir=resume_cache,
                show_progress=_show_progress(args, err),
            )
            writer = _Writer(args.format, out, several=len(inputs) > 1)

            def finishing() -> None:
                in_flight: int | None = getattr(results, "in_flight", None)  # BulkResults'
                if in_flight == 0:
                    say(f"{PROG}: stopping; no request is in flight")
                    return
                say(
                    f"{PROG}: finishing {'the' if in_flight is None else in_flight} request(s) "
                    "in flight; press Ctrl-C again to abandon them"
                )

            try:
                with _interruptible(finishing):
                    try:
                        for result in results:
                            position = todo[result.index]
                            _handle(
                                result,
                                inputs[position],
                                targets[position],
                                writer,
                                tally,
                                say,
                                index,
                            )
                    finally:
                        _close(results)  # nothing more is sent; requests in flight are awaited
            except KeyboardInterrupt as interrupt:
                writer.flush_finished()  # held back for input order: printed all the same
                say(_interrupted(tally, output_dir, args.no_cache))
                if isinstance(interrupt, _Abandoned):
                    raise
                return EXIT_INTERRUPTED
            finally:
                writer.flush_ready()
                if index is not None:
                    index.save()
    tally.failed += len(denied)
    if tally.failed:
        say(f"{PROG}: {_failures(tally, skipping=output_dir is not None)}.")
    return _finish(tally, args.quiet, started, say)


def _failures(tally: Tally, *, skipping: bool) -> str:
    """What failed, and whether running the command again can help: it cannot for audio
    that is not audio, or a request the server refuses as it is."""
    failed, transient = tally.failed, tally.transient
    said = f"{counted(failed, 'input')} failed (named above); "
    if not transient:
        return said + "the same inputs would fail again: fix or remove them"
    retry = "run the same command again to retry " + (
        "them" if transient == failed else f"the {transient} the server or the network failed"
    )
    return said + retry + (" (finished outputs are skipped)" if skipping else "")


def _may_pass_again(error: Exception) -> bool:
    """Whether a failure was the server's or the network's, not the input's."""
    if isinstance(error, APIStatusError):
        return error.status_code in RETRYABLE_STATUS_CODES
    return isinstance(error, (APIError, IncompleteTranscriptionError))


def _finish(tally: Tally, quiet: bool, started: float, say: Callable[[str], None]) -> int:
    if not quiet:
        say(tally.summary(time.monotonic() - started))
    return EXIT_FAILED if tally.failed else EXIT_OK


def _handle(
    result: TranscriptionResult,
    item: Input,
    target: Path | None,
    writer: _Writer,
    tally: Tally,
    say: Callable[[str], None],
    index: _OutputIndex | None,
) -> None:
    """Write (or queue for stdout) one finished input, or name its failure on stderr."""
    if result.error is not None:
        tally.failed += 1
        error = result.error
        tally.transient += _may_pass_again(error)
        if isinstance(error, IncompleteTranscriptionError) and error.partial is not None:
            tally.add_usage(error.partial)
        writer.skip(result.index)
        say(f"{PROG}: failed: {item.name}: {one_line(error)}")
        return
    transcription = result.unwrap()
    tally.done += 1
    tally.add_usage(transcription)
    if target is not None:
        try:
            write_atomically(target, render(transcription, item.name, writer.format, compact=False))
        except OSError as error:  # the folder was checked; a full disk or a change since
            tally.done -= 1
            tally.failed += 1
            tally.transient += 1  # a full disk, a folder changed since: may be mended
            say(f"{PROG}: failed: {item.name}: cannot write {str(target)!r}: {error.strerror}")
            return
        if index is not None:
            index.record(target, source_key(item))
    else:
        writer.add(result.index, item.name, transcription)


def _close(results: Iterator[TranscriptionResult]) -> None:
    close = getattr(results, "close", None)
    if close is not None:
        close()


def _interrupted(tally: Tally, output_dir: Path | None, no_cache: bool) -> str:
    kept = (
        f"{tally.done} finished output(s) in {str(output_dir)!r} are kept and will be skipped; "
        if output_dir is not None
        else ""
    )
    cached = "" if no_cache else " (finished chunks of long files come from the cache)"
    return f"{PROG}: interrupted. {kept}run the same command again to transcribe the rest{cached}."


def run_batch_submit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.output_dir is None and not args.dry_run:
        raise UsageError(
            "batch submit needs -o/--output-dir DIR: the job's manifest, which maps its "
            "requests back to the inputs, is written there (only --dry-run goes without)."
        )
    say = _sayer(err)
    options = transcription_kwargs(args)
    denied: list[Path] = []
    inputs = expand_inputs(args.audio, _warner(say), _denier(say, denied))
    if denied:  # a job is submitted whole or not at all
        raise UsageError(
            f"{len(denied)} input(s) may not be read (named above); nothing was submitted."
        )
    if dry_run_or_budget(args, inputs, options, out, say, batch=True):
        return EXIT_OK
    with make_client(args.backend, args.base_url) as client:
        job = client.submit_batch(
            [item.audio for item in inputs],
            manifest_dir=args.output_dir,
            **options,
            timeout_hours=args.timeout_hours,
            show_progress=_show_progress(args, err),
        )
        _record_format(args.output_dir, job.id, args.format, _warner(say))
        out.write(job.id + "\n")
        out.flush()
        say(
            f"{PROG}: submitted batch job {job.id} ({len(inputs)} input(s)); its manifest is "
            f"{str(manifest_path(args.output_dir, job.id))!r}"
        )
        if not args.wait:
            say(
                f"{PROG}: see how it goes with `voxtral batch status {job.id}`, collect it with "
                f"`voxtral batch results {job.id} -o {args.output_dir} --wait`"
            )
            return EXIT_OK
        return _collect(client, job.id, args, args.output_dir, out, err)


def _record_format(
    manifest_dir: Path, job_id: str, output_format: str, warn: Callable[[str], None]
) -> None:
    """Keep ``--format`` in the job's manifest: ``batch results`` defaults to it."""
    manifest = read_manifest(manifest_dir, job_id)
    try:
        write_manifest(manifest_dir, manifest.model_copy(update={"output_format": output_format}))
    except OSError as error:  # the job and its manifest stand; only the default is lost
        warn(
            f"could not record --format in the manifest ({error.strerror or error}): pass "
            f"--format {output_format} to `voxtral batch results`"
        )


def run_batch_results(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    job_id = check_job_id(args.job_id)
    manifest_dir = args.manifest_dir or args.output_dir
    manifest = read_manifest(manifest_dir, job_id)  # before anything is asked
    options = manifest.options
    if args.format is None:  # an explicit --format wins
        recorded = manifest.output_format
        args.format = recorded if recorded in SUFFIXES else DEFAULT_FORMAT
    if args.format in TIMED_FORMATS and not options.timestamp_granularities:
        raise UsageError(
            f"Job {job_id} was submitted without timestamps, so it has no segments for "
            f"--format {args.format}: use --format txt or json, or submit again with "
            f"--format {args.format}."
        )
    with make_client(args.backend, args.base_url) as client:
        return _collect(client, job_id, args, manifest_dir, out, err)


def _collect(
    client: VoxtralClient,
    job_id: str,
    args: argparse.Namespace,
    manifest_dir: Path,
    out: TextIO,
    err: TextIO,
) -> int:
    """Wait for the job if asked, then write one output per input (the ``transcribe`` way)."""
    started = time.monotonic()
    say = _sayer(err)
    try:
        job = (
            client.wait_for_batch(
                job_id, poll_interval=args.poll_interval, show_progress=_show_progress(args, err)
            )
            if args.wait
            else client.get_batch(job_id)
        )
    except KeyboardInterrupt:
        say(
            f"{PROG}: stopped waiting; job {job_id} goes on. Collect it later with "
            f"`voxtral batch results {job_id} -o {args.output_dir} --wait`."
        )
        return EXIT_INTERRUPTED
    if not job.done:
        say(
            f"{PROG}: batch job {job_id} is {job.status} ({_counts(job)}); its results come "
            "once it ends: add --wait, or check it with `voxtral batch status`."
        )
        return EXIT_FAILED
    if job.status != "SUCCESS":
        say(f"{PROG}: batch job {job_id} ended {job.status}: {_counts(job)}")
    results = client.batch_results(
        job_id, manifest_dir=manifest_dir, delete_files=not args.keep_files
    )
    inputs = [
        Input(result.source if _URL.match(result.source) else Path(result.source), result.source)
        for result in results
    ]
    index = _OutputIndex(args.output_dir)
    targets, todo = plan_outputs(
        inputs,
        output_paths(inputs, args.output_dir, args.format),
        index,
        args.format,
        overwrite=args.overwrite,
        warn=_warner(say),
    )
    writer = _Writer(args.format, out, several=True)
    tally = Tally(skipped=len(inputs) - len(todo), batch=True)
    try:
        for position in todo:
            _handle(
                results[position], inputs[position], targets[position], writer, tally, say, index
            )
    finally:
        index.save()
    if tally.failed:
        say(
            f"{PROG}: {tally.failed} input(s) failed (named above); transcribe them again "
            "with `voxtral transcribe` or a new batch."
        )
    return _finish(tally, args.quiet, started, say)


def run_batch_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    job_id = check_job_id(args.job_id)
    with make_client(args.backend, args.base_url) as client:
        job = client.get_batch(job_id)
    if args.json:  # server messages may echo a signed URL: a credential
        out.write(json.dumps(redact_urls_in(job.model_dump(mode="json")), indent=2) + "\n")
    else:
        out.write(_describe_job(job))
    return EXIT_OK


def run_batch_cancel(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    job_id = check_job_id(args.job_id)
    with make_client(args.backend, args.base_url) as client:
        job = client.cancel_batch(job_id)
    out.write(_describe_job(job))
    return EXIT_OK


def _describe_job(job: BatchJob) -> str:
    lines = [f"{job.id}  {job.status}", f"requests: {_counts(job)}"]
    lines.extend(
        f"error: {one_line(Exception(redact_urls(p.message)))} ({p.count}x)" for p in job.errors
    )
    return "\n".join(lines) + "\n"


def _counts(job: BatchJob) -> str:
    return (
        f"{job.completed_requests} of {job.total_requests} done, "
        f"{job.succeeded_requests} succeeded, {job.failed_requests} failed"
    )
