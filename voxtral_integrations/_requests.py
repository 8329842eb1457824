"""The request value every API call is built as, and the Files API's requests.

Every request, whichever module builds it, is a :class:`RequestSpec`: what one
call sends, without I/O and the same for the sync and the async client, which
turn it into an ``httpx.Request`` once per attempt (an upload is re-opened each
time). It stands apart from :mod:`._dialects` so that the transport, the retry
decisions and the batch flow take requests without knowing any backend. The
Files API's requests have one shape (only Mistral serves them: a dialect's
``check_files_supported`` says where), so no dialect builds them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ._exceptions import InvalidInputError
from ._sources import AudioUpload


@dataclass(frozen=True)
class RequestSpec:
    """Everything needed to send one API call, independent of sync or async I/O."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, str] | None = None
    form: Mapping[str, str | list[str]] | None = None
    upload: AudioUpload | None = None
    stream: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    transient_not_found: bool = False
    """A 404 here is a routing glitch, not a missing resource: retry it once (``_retry``)."""

    @contextmanager
    def body(self) -> Iterator[dict[str, Any]]:
        """``httpx.build_request`` keyword arguments for one attempt, upload opened.

        A form is always sent as multipart, even without a file part: httpx would
        otherwise url-encode it, and the API accepts only multipart/form-data.
        """
        if self.form is None:
            yield {"json": self.json, "params": self.params}
        elif self.upload is None:
            fields = [
                (name, (None, item))
                for name, value in self.form.items()
                for item in (value if isinstance(value, list) else [value])
            ]
            yield {"files": fields, "params": self.params}
        else:
            with self.upload.open() as content:
                upload = (self.upload.filename, content, self.upload.mime_type)
                yield {"data": self.form, "files": {"file": upload}, "params": self.params}


def files_upload_request(upload: AudioUpload, *, purpose: str) -> RequestSpec:
    return RequestSpec("POST", "/files", form={"purpose": purpose}, upload=upload)


def signed_url_request(file_id: str, *, expiry_hours: int) -> RequestSpec:
    if isinstance(expiry_hours, bool) or not isinstance(expiry_hours, int) or expiry_hours < 1:
        raise InvalidInputError(
            f"`expiry`={expiry_hours!r} must be a whole number of hours >= 1.", argument="expiry"
        )
    return RequestSpec(
        "GET", f"/files/{quote(file_id, safe='')}/url", params={"expiry": str(expiry_hours)}
    )


def delete_file_request(file_id: str) -> RequestSpec:
    return RequestSpec("DELETE", f"/files/{quote(file_id, safe='')}")


def file_content_request(file_id: str) -> RequestSpec:
    return RequestSpec("GET", f"/files/{quote(file_id, safe='')}/content")
