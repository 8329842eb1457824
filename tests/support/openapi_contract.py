"""Validate outgoing ``httpx.Request`` objects against Mistral's OpenAPI request schemas.

Why this exists: unit tests that only assert "the client sent *something*" let wire
bugs through (a ``timestamp_granularities[]`` field the API silently ignores, a
``diarize="True"``, a JSON body where multipart is required). This module checks a
request against the request side of Mistral's published OpenAPI document, copied
into ``mistral_openapi_subset.json`` next to this file (see its ``x-origin`` key and
README.md). Response schemas are never used: they declare
``additionalProperties: false`` and real responses carry extra keys.

Wire conventions the spec does not spell out, and that this module therefore has to
encode itself (each one is explained where it is implemented):

* The client's ``base_url`` ends in ``/v1`` and may sit behind any prefix, so a
  request matches a spec path when its URL path *ends with* that path.
* ``#stream`` pseudo-paths share the URL of their base path; the ``stream`` field
  of the body picks which schema applies.
* Multipart forms: repeated plain-name fields form an array, booleans travel as
  ``"true"``/``"false"``, numbers as decimal text, files as parts with a filename.

Known deviations between the spec and the documented API are listed in
``DOCUMENTED_ENUM_EXTENSIONS``; nothing else is loosened.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, quote

import httpx
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match, relevance
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from python_multipart import parse_form
from python_multipart.multipart import Field, File
from referencing import Registry
from referencing.jsonschema import DRAFT202012

if TYPE_CHECKING:
    from referencing._core import Resolver  # not re-exported by `referencing`

__all__ = [
    "DOCUMENTED_ENUM_EXTENSIONS",
    "SPEC_FILE",
    "load_spec",
    "validate_request",
]

SPEC_FILE: Final = Path(__file__).with_name("mistral_openapi_subset.json")
"""The request-only subset of Mistral's OpenAPI document used for validation."""

_SPEC_URI: Final = "urn:mistral-openapi-subset"

DOCUMENTED_ENUM_EXTENSIONS: Final[Mapping[str, tuple[str, ...]]] = {
    # DEVIATION (spec vs documented API): the spec's FilePurpose enum is
    # ["fine-tune", "batch", "ocr"], yet the same spec describes the uploaded file's
    # `purpose` as supporting "Audio/Transcription (`audio`)" (FileSchema,
    # CreateFileResponse, GetFileResponse), the audio docs upload with
    # `purpose="audio"`, and Mistral's Python/TypeScript SDKs generate FilePurpose as
    # an *open* enum. We therefore accept "audio" on top of the spec's values, and
    # nothing else. test_openapi_contract_selftest.py fails once a refreshed spec
    # lists "audio" itself, so this entry can then be deleted.
    "FilePurpose": ("audio",),
}
"""Values accepted in addition to a ``components/schemas`` enum, keyed by schema name."""

_BOOLEAN_WIRE_VALUES: Final = {"true": True, "false": False}
_INTEGER_RE: Final = re.compile(r"[+-]?\d+")
_NUMBER_RE: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_MAX_REPORTED: Final = 10

JSON = Any
"""A decoded JSON value (the spec and instances are plain dicts/lists/scalars)."""


# --------------------------------------------------------------------------- spec


def load_spec() -> dict[str, JSON]:
    """Return the spec subset with ``DOCUMENTED_ENUM_EXTENSIONS`` applied.

    The JSON file stays a verbatim copy of Mistral's document; deviations are
    applied here so that they are visible in code review next to their reasons.
    """
    spec: dict[str, JSON] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    for name, extra_values in DOCUMENTED_ENUM_EXTENSIONS.items():
        enum = schemas[name]["enum"]
        enum.extend(value for value in extra_values if value not in enum)
    return spec


def _is_discriminated_one_of(schema: Mapping[str, JSON]) -> bool:
    return "discriminator" in schema and "oneOf" in schema


def _one_of_with_discriminator(
    validator: Validator, one_of: Sequence[JSON], instance: JSON, schema: Mapping[str, JSON]
) -> Iterator[ValidationError]:
    """``oneOf`` that honours OpenAPI's ``discriminator`` (JSON Schema ignores it).

    Why: chat messages are a ``oneOf`` discriminated by ``role`` and content parts by
    ``type``. Without the discriminator a bad role yields only "is not valid under
    any of the given schemas", and a part without ``type`` can match several
    branches because ``type`` has a default. The server (a tagged union) needs the
    tag, so the tag is required and selects exactly one branch.
    """
    if not _is_discriminated_one_of(schema) or not validator.is_type(instance, "object"):
        yield from Draft202012Validator.VALIDATORS["oneOf"](validator, one_of, instance, schema)
        return
    discriminator: Mapping[str, JSON] = schema["discriminator"]
    prop: str = discriminator["propertyName"]
    mapping: dict[str, str] = dict(discriminator.get("mapping") or {})
    if not mapping:  # implicit mapping: the component name is the tag value
        for branch in one_of:
            ref = branch.get("$ref", "")
            mapping[ref.rsplit("/", 1)[-1]] = ref
    allowed = sorted(mapping)
    if prop not in instance:
        yield ValidationError(
            f"{prop!r} is a required property (discriminator, one of {allowed})",
            validator="discriminator",
            validator_value=dict(discriminator),
            path=[prop],
        )
        return
    tag = instance[prop]
    if tag not in mapping:
        yield ValidationError(
            f"{tag!r} is not one of {allowed} (discriminator {prop!r})",
            validator="discriminator",
            validator_value=dict(discriminator),
            path=[prop],
        )
        return
    target = mapping[tag]
    for index, branch in enumerate(one_of):
        if branch.get("$ref") == target:
            yield from validator.descend(instance, branch, schema_path=index)
            return
    yield from validator.descend(instance, {"$ref": target}, schema_path="discriminator")


_OpenAPIValidator = extend(Draft202012Validator, {"oneOf": _one_of_with_discriminator})
"""JSON Schema 2020-12 (OpenAPI 3.1's dialect) plus OpenAPI discriminators.

Format checking stays off on purpose: ``format`` (uri, uuid, binary, date-time) is
an annotation in 2020-12 and our tests use placeholder ids; ``pattern``, ``enum``,
``const``, lengths, bounds, types and ``required`` are all enforced.
"""


def _escape_pointer_token(token: str) -> str:
    return quote(token.replace("~", "~0").replace("/", "~1"), safe="~")


def _pointer_ref(*tokens: str | int) -> str:
    """A ``$ref`` into the spec document, e.g. to a path's request body schema."""
    return "#/" + "/".join(_escape_pointer_token(str(t)) for t in tokens)


def _index_locations(node: JSON, pointer: str, into: dict[int, str]) -> None:
    """Map ``id(subschema)`` to its JSON pointer, to name the rule that failed."""
    if isinstance(node, dict):
        into[id(node)] = pointer or "#"
        for key, value in node.items():
            _index_locations(value, f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}", into)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _index_locations(value, f"{pointer}/{index}", into)


@dataclass(frozen=True)
class _Operation:
    """One (method, spec path) entry of the spec subset."""

    operation_id: str
    method: str
    spec_path: str
    definition: Mapping[str, JSON]
    path_regex: re.Pattern[str]
    literal_length: int
    """Number of literal characters, to prefer ``/files/{id}/url`` over ``/files/{id}``."""


@dataclass(frozen=True)
class _Contract:
    spec: Mapping[str, JSON]
    registry: Registry[JSON]
    resolver: Resolver[JSON]
    operations: tuple[_Operation, ...]
    stream_variants: Mapping[tuple[str, str], _Operation]
    """``(method, base path)`` -> the operation of ``<base path>#stream``."""
    locations: Mapping[int, str]


def _path_regex(spec_path: str) -> re.Pattern[str]:
    pattern = ""
    for part in re.split(r"(\{[^}/]+\})", spec_path):
        if part.startswith("{") and part.endswith("}"):
            pattern += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            pattern += re.escape(part)
    # Anything (including nothing) may precede the spec path: base_url may carry a
    # prefix such as a proxy mount point. Spec paths start with "/", so a match
    # always starts at a segment boundary ("/xv1/files" does not match "/v1/files").
    return re.compile(rf".*{pattern}")


@functools.cache
def _contract() -> _Contract:
    spec = load_spec()
    resource = DRAFT202012.create_resource(spec)
    registry: Registry[JSON] = Registry().with_resource(_SPEC_URI, resource)
    operations: list[_Operation] = []
    stream_variants: dict[tuple[str, str], _Operation] = {}
    for spec_path, path_item in spec["paths"].items():
        for method, definition in path_item.items():
            base_path, _, fragment = spec_path.partition("#")
            for parameter in definition.get("parameters", []):
                if parameter["in"] not in {"path", "query"}:
                    raise NotImplementedError(
                        f"{definition['operationId']}: {parameter['in']} parameters are not "
                        "validated yet; extend openapi_contract.py before relying on them"
                    )
            operation = _Operation(
                operation_id=definition["operationId"],
                method=method.upper(),
                spec_path=spec_path,
                definition=definition,
                path_regex=_path_regex(base_path),
                literal_length=len(re.sub(r"\{[^}]*\}", "", base_path)),
            )
            if fragment == "stream":
                stream_variants[(operation.method, base_path)] = operation
            elif fragment:
                raise NotImplementedError(f"unknown pseudo-path fragment in {spec_path!r}")
            else:
                operations.append(operation)
    locations: dict[int, str] = {}
    _index_locations(spec, "#", locations)
    return _Contract(
        spec=spec,
        registry=registry,
        resolver=registry.resolver(base_uri=_SPEC_URI),
        operations=tuple(operations),
        stream_variants=stream_variants,
        locations=locations,
    )


@functools.cache
def _validator(schema_ref: str) -> Validator:
    """A validator whose root is a ``$ref`` into the spec, so inner refs resolve."""
    return _OpenAPIValidator({"$ref": f"{_SPEC_URI}{schema_ref}"}, registry=_contract().registry)


def _resolve(schema: JSON) -> JSON:
    """Follow ``$ref`` chains (all refs point into the spec document)."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema:
        schema = _contract().resolver.lookup(schema["$ref"]).contents
        seen += 1
        if seen > 32:
            raise RecursionError("$ref cycle in the spec subset")
    return schema


def _branches(schema: JSON) -> Iterator[Mapping[str, JSON]]:
    """Yield ``schema`` and every ``anyOf``/``oneOf``/``allOf`` member, refs followed.

    Used only to decide how to convert form and query strings; the actual
    validation is jsonschema's.
    """
    schema = _resolve(schema)
    if not isinstance(schema, dict):
        return
    yield schema
    for keyword in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(keyword, []):
            yield from _branches(member)


def _declared_types(schema: JSON) -> set[str]:
    types: set[str] = set()
    for branch in _branches(schema):
        declared = branch.get("type")
        if isinstance(declared, str):
            types.add(declared)
        elif isinstance(declared, list):
            types.update(declared)
    return types


def _array_items(schema: JSON) -> JSON | None:
    """The ``items`` schema if ``schema`` admits an array, else ``None``."""
    for branch in _branches(schema):
        if branch.get("type") == "array":
            return branch.get("items", {})
    return None


def _is_binary(schema: JSON) -> bool:
    return any(
        branch.get("format") == "binary" or "contentMediaType" in branch
        for branch in _branches(schema)
    )


def _object_properties(schema: JSON) -> dict[str, JSON]:
    properties: dict[str, JSON] = {}
    for branch in _branches(schema):
        properties.update(branch.get("properties", {}))
    return properties


# ----------------------------------------------------------------------- failures


@dataclass(frozen=True)
class _Violation:
    field: str
    problem: str
    rule: str


class _Failure(Exception):
    """Raised internally; turned into one AssertionError with the full context."""

    def __init__(self, violations: Sequence[_Violation]) -> None:
        super().__init__(violations)
        self.violations = list(violations)


def _fail(field: str, problem: str, rule: str) -> _Failure:
    return _Failure([_Violation(field, problem, rule)])


def _format_path(root: str, path: Iterable[str | int]) -> str:
    text = root
    for token in path:
        if isinstance(token, int):
            text += f"[{token}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token):
            text += f".{token}"
        else:
            text += f"[{token!r}]"
    return text


def _short(value: JSON, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _violation_from_error(root: str, error: ValidationError) -> _Violation:
    path: list[str | int] = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [name for name in error.validator_value if name not in instance]
        path += missing[:1]
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        declared = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extras = [name for name in instance if name not in declared]
        path += extras[:1]
    location = _contract().locations.get(id(error.schema), "<generated>")
    keyword = str(error.validator)
    problem = error.message
    if keyword == "discriminator":
        value = f" propertyName {error.validator_value['propertyName']!r}"
    elif keyword in {"properties", "items", "allOf"}:
        value = ""  # the value is a whole sub-schema; the location says enough
    else:
        value = f" {_short(error.validator_value)}"
    if keyword in {"anyOf", "oneOf"} and error.context:
        # best_match() stops here when no branch is clearly closer (e.g. the value
        # fails `integer` and `null` alike), so spell out why each branch failed.
        reasons = dict.fromkeys(
            sub.message.replace(repr(error.instance), "it", 1)
            for sub in error.context
            if not sub.path
        )
        problem += " (" + "; ".join(list(reasons)[:4]) + ")"
    title = error.schema.get("title") if isinstance(error.schema, dict) else None
    titled = f" in {title!r}" if title else ""
    return _Violation(
        field=_format_path(root, path),
        problem=problem,
        rule=f"{keyword}{value}{titled} at {location}/{keyword}",
    )


def _schema_violations(root: str, schema_ref: str, instance: JSON) -> list[_Violation]:
    """All violations, best first (jsonschema's relevance, descending into anyOf)."""
    errors = list(_validator(schema_ref).iter_errors(instance))
    ranked = sorted(errors, key=relevance, reverse=True)
    violations: list[_Violation] = []
    for error in ranked:
        best = best_match([error]) or error
        violations.append(_violation_from_error(root, best))
    return violations


# ------------------------------------------------------------------ request parts


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _request_body(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:
        pass
    if not isinstance(request.stream, Iterable):  # an async-only stream
        raise _fail(
            "body",
            "the request body is an async-only stream; "
            "call `await request.aread()` before validate_request()",
            "validator precondition",
        )
    return request.read()


@dataclass(frozen=True)
class _FormPart:
    name: str
    value: str
    filename: str | None
    size: int
    content_type: str | None


def _parse_multipart(content_type: str, body: bytes) -> list[_FormPart]:
    """Parse with python-multipart, the parser FastAPI/Starlette use server-side.

    A part with a ``filename`` is a file; a part without one is a plain field even
    if sent through httpx ``files=`` as ``(None, value)`` -- exactly how the server
    sees it.
    """
    parts: list[_FormPart] = []
    files: list[File] = []

    def on_field(field: Field) -> None:
        raw = field.value or b""
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(
                f"body.{(field.field_name or b'').decode('latin-1')}",
                "form field value is not valid UTF-8",
                "multipart/form-data text fields are UTF-8",
            ) from exc
        parts.append(
            _FormPart((field.field_name or b"").decode("utf-8"), value, None, len(raw), None)
        )

    def on_file(file: File) -> None:
        size = file.size  # closed after parsing: older python-multipart still uses it here
        files.append(file)
        parts.append(
            _FormPart(
                (file.field_name or b"").decode("utf-8"),
                "",
                (file.file_name or b"").decode("utf-8", "replace"),
                size,
                file.content_type,
            )
        )

    headers = {
        "Content-Type": content_type.encode("latin-1"),
        "Content-Length": str(len(body)).encode("ascii"),
    }
    try:
        parse_form(headers, BytesIO(body), on_field, on_file)
    except _Failure:
        raise
    except Exception as exc:  # python-multipart raises several unrelated types
        raise _fail("body", f"malformed multipart body: {exc}", "multipart/form-data") from exc
    finally:
        for file in files:  # a large part is spooled to a temporary file
            file.close()
    return parts


def _coerce_text(text: str, schema: JSON) -> JSON:
    """Convert one wire string to the JSON type the schema expects.

    Values that do not convert are returned unchanged so that jsonschema reports
    the type mismatch with the field's path (e.g. ``'yes' is not of type 'boolean'``).
    A schema that admits strings keeps the string: that is what the server does.
    """
    types = _declared_types(schema) - {"null"}
    if not types or "string" in types:
        return text
    if "boolean" in types and text in _BOOLEAN_WIRE_VALUES:
        return _BOOLEAN_WIRE_VALUES[text]
    if "integer" in types and _INTEGER_RE.fullmatch(text):
        return int(text)
    if "number" in types and _NUMBER_RE.fullmatch(text):
        return int(text) if _INTEGER_RE.fullmatch(text) else float(text)
    return text


def _collect_values(
    root: str, name: str, values: list[str], schema: JSON | None
) -> tuple[JSON, list[_Violation]]:
    """Shape the repeated occurrences of one field (form or query) into a JSON value.

    Why: the API takes lists as repeated plain-name fields (``context_bias=a``,
    ``context_bias=b``), and a single occurrence of an array field is still a list.
    A scalar field sent more than once is reported here, more clearly than
    jsonschema's "[...] is not of type 'string'".
    """
    if schema is None:  # undeclared: keep the raw shape, jsonschema decides
        return (values[0] if len(values) == 1 else values), []
    items = _array_items(schema)
    scalar_types = _declared_types(schema) - {"array", "null"}
    if items is not None and (len(values) > 1 or not scalar_types):
        return [_coerce_text(value, items) for value in values], []
    if len(values) > 1:
        return values, [
            _Violation(
                f"{root}.{name}",
                f"sent {len(values)} times ({_short(values)}) "
                "but the schema does not admit an array",
                f"type {_short(sorted(_declared_types(schema)))}",
            )
        ]
    return _coerce_text(values[0], schema), []


# ----------------------------------------------------------------- body validators


def _body_schema_ref(operation: _Operation, media_type: str) -> str:
    method = operation.method.lower()
    return _pointer_ref(
        "paths", operation.spec_path, method, "requestBody", "content", media_type, "schema"
    )


def _validate_multipart(
    operation: _Operation, media_type: str, parts: list[_FormPart]
) -> list[_Violation]:
    schema_ref = _body_schema_ref(operation, media_type)
    schema = _contract().resolver.lookup(schema_ref).contents
    properties = _object_properties(schema)
    violations: list[_Violation] = []
    grouped: dict[str, list[_FormPart]] = {}
    for part in parts:
        grouped.setdefault(part.name, []).append(part)

    instance: dict[str, JSON] = {}
    for name, occurrences in grouped.items():
        field = f"body.{name}"
        prop_schema = properties.get(name)
        if name.endswith("[]") and name[:-2] in properties:
            # Why: OpenAI-style clients (and vLLM) use `name[]`; Mistral's spec has no
            # multipart `encoding` for arrays and the API reads plain repeated
            # names. The schema allows unknown fields, so the server would silently
            # drop this one; flag it even though it is not a schema violation.
            violations.append(
                _Violation(
                    field,
                    f"array field sent as {name!r}; send repeated {name[:-2]!r} fields instead",
                    "wire convention: lists are repeated plain-name form fields",
                )
            )
        if prop_schema is not None and _is_binary(prop_schema):
            for part in occurrences:
                if part.filename is None:
                    violations.append(
                        _Violation(
                            field,
                            "binary field sent as a plain text part (no filename); "
                            "the server would see a string, not an upload",
                            "format binary: a multipart file part with a filename",
                        )
                    )
                elif part.size == 0:
                    violations.append(
                        _Violation(field, "file part is empty (0 bytes)", "format binary")
                    )
            placeholders = [
                f"<file {part.filename!r}, {part.size} bytes, {part.content_type}>"
                for part in occurrences
            ]
            value, shape_violations = _collect_values("body", name, placeholders, prop_schema)
            instance[name] = value
            violations += shape_violations
            continue
        for part in occurrences:
            if part.filename is not None:
                violations.append(
                    _Violation(
                        field,
                        f"file part (filename {part.filename!r}) sent for a field whose "
                        "schema is not binary",
                        "only format-binary fields take file parts",
                    )
                )
        texts = [part.value for part in occurrences]
        value, shape_violations = _collect_values("body", name, texts, prop_schema)
        instance[name] = value
        violations += shape_violations
    return violations + _schema_violations("body", schema_ref, instance)


def _validate_json(operation: _Operation, media_type: str, body: bytes) -> list[_Violation]:
    try:
        instance = json.loads(body)
    except ValueError as exc:
        raise _fail("body", f"body is not valid JSON: {exc}", f"content type {media_type}") from exc
    return _schema_violations("body", _body_schema_ref(operation, media_type), instance)


def _validate_parameters(
    operation: _Operation, request: httpx.Request, path_values: Mapping[str, str]
) -> list[_Violation]:
    """Check path and query parameters; unknown query parameters are failures.

    Why strict: an unknown query parameter is ignored by the server, which hides
    typos (``expires=`` for ``expiry=``). Query strings use the same conversion
    and repetition rules as form fields (OpenAPI's default ``form``/``explode``).
    """
    violations: list[_Violation] = []
    parameters: list[Mapping[str, JSON]] = list(operation.definition.get("parameters", []))
    method = operation.method.lower()
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True):
        query.setdefault(key, []).append(value)

    declared_query = {p["name"] for p in parameters if p["in"] == "query"}
    for given in query:
        if given not in declared_query:
            violations.append(
                _Violation(
                    f"query.{given}",
                    f"unknown query parameter {given!r} (declared: {sorted(declared_query)})",
                    "query parameters must be declared in the operation's `parameters`",
                )
            )
    for index, parameter in enumerate(parameters):
        name: str = parameter["name"]
        location: str = parameter["in"]
        raw_values = query.get(name) if location == "query" else None
        if location == "path":
            raw_values = [path_values[name]] if name in path_values else None
        if raw_values is None:
            if parameter.get("required", False):
                violations.append(
                    _Violation(
                        f"{location}.{name}",
                        f"required {location} parameter is missing",
                        "required",
                    )
                )
            continue
        schema = parameter.get("schema", {})
        value, shape_violations = _collect_values(location, name, raw_values, schema)
        violations += shape_violations
        ref = _pointer_ref("paths", operation.spec_path, method, "parameters", index, "schema")
        violations += _schema_violations(f"{location}.{name}", ref, value)
    return violations


# ----------------------------------------------------------------------- matching


def _match_operation(request: httpx.Request) -> tuple[_Operation, dict[str, str]]:
    path = request.url.path
    method = request.method.upper()
    candidates: list[tuple[_Operation, dict[str, str]]] = []
    same_path_methods: set[str] = set()
    for operation in _contract().operations:
        match = operation.path_regex.fullmatch(path)
        if match is None:
            continue
        if operation.method != method:
            same_path_methods.add(operation.method)
            continue
        candidates.append((operation, match.groupdict()))
    if not candidates:
        if same_path_methods:
            raise _fail(
                "request",
                f"{method} {path}: method not in the spec subset for this path "
                f"(allowed: {sorted(same_path_methods)})",
                "operation lookup",
            )
        known = sorted({f"{op.method} {op.spec_path}" for op in _contract().operations})
        raise _fail(
            "request",
            f"{method} {path}: no operation in the spec subset ends this path; known: {known}",
            "operation lookup",
        )
    return max(candidates, key=lambda candidate: candidate[0].literal_length)


def _is_stream_request(media_type: str, body: bytes, parts: list[_FormPart] | None) -> bool:
    """Does the body ask for streaming? Decides ``<path>`` vs ``<path>#stream``.

    Only the exact wire value ``true`` (form) or JSON ``true`` selects the stream
    schema; anything else keeps the non-stream schema, whose ``stream`` is
    ``const: false``, so a malformed value is reported against it.
    """
    if parts is not None:
        return [part.value for part in parts if part.name == "stream"] == ["true"]
    if media_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            return False
        return isinstance(decoded, dict) and decoded.get("stream") is True
    return False


# --------------------------------------------------------------------- public API


def validate_request(request: httpx.Request) -> str:
    """Check ``request`` against the spec subset and return its operation id.

    Raises ``AssertionError`` listing every violation: the operation, the JSON path
    of the field (``body.context_bias[1]``, ``query.expiry``), what is wrong, and
    the schema rule with its location in ``mistral_openapi_subset.json``.
    """
    operation: _Operation | None = None
    media_type = ""
    try:
        operation, path_values = _match_operation(request)
        body = _request_body(request)
        media_type = _media_type(request.headers.get("content-type"))
        parts: list[_FormPart] | None = None
        if media_type == "multipart/form-data" and body:
            parts = _parse_multipart(request.headers["content-type"], body)
        stream_variant = _contract().stream_variants.get((operation.method, operation.spec_path))
        if stream_variant is not None and _is_stream_request(media_type, body, parts):
            operation = stream_variant

        violations = _validate_parameters(operation, request, path_values)
        request_body = operation.definition.get("requestBody")
        if request_body is None:
            if body:
                violations.append(
                    _Violation(
                        "body",
                        f"operation takes no request body but {len(body)} bytes were sent",
                        "no requestBody",
                    )
                )
        elif not body:
            if request_body.get("required", False):
                violations.append(
                    _Violation("body", "request body is missing", "requestBody.required")
                )
        elif media_type not in request_body["content"]:
            raise _fail(
                "body",
                f"content type {media_type or '(none)'!r} is not accepted; "
                f"the operation takes {sorted(request_body['content'])}",
                "requestBody.content",
            )
        elif parts is not None:
            violations += _validate_multipart(operation, media_type, parts)
        elif media_type == "application/json" or media_type.endswith("+json"):
            violations += _validate_json(operation, media_type, body)
        else:
            raise NotImplementedError(f"no body validator for {media_type!r}")
        if violations:
            raise _Failure(violations)
    except _Failure as failure:
        raise AssertionError(_render(request, operation, media_type, failure.violations)) from None
    return operation.operation_id


def _render(
    request: httpx.Request,
    operation: _Operation | None,
    media_type: str,
    violations: Sequence[_Violation],
) -> str:
    if operation is None:
        head = f"{request.method} {request.url} matches no operation of Mistral's OpenAPI subset"
    else:
        kind = f", {media_type}" if media_type else ""
        head = (
            f"{request.method} {request.url} violates Mistral's OpenAPI contract for "
            f"{operation.operation_id} ({operation.method} {operation.spec_path}{kind}):"
        )
    lines = [head]
    for violation in violations[:_MAX_REPORTED]:
        lines.append(f"  - {violation.field}: {violation.problem}")
        lines.append(f"      rule: {violation.rule}")
    if len(violations) > _MAX_REPORTED:
        lines.append(f"  ... and {len(violations) - _MAX_REPORTED} more")
    return "\n".join(lines)
