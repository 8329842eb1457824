"""The async shells stay twins of the sync ones: no branch in one that the other lacks.

httpcore generates its sync code from the async code (``unasync``) and checks it in
CI. Here the twins are written by hand, so this test does the check: each async
function is normalised (``async``/``await`` removed, ``async for`` and ``async with``
made plain, ``aclose`` -> ``close``, ``AsyncStream`` -> ``Stream``, ``anyio`` ->
``time``, an ``a``-prefixed name -> its sync twin's name; docstrings, annotations and
``for x in y: yield x`` -> ``yield from y``) and must then be the sync twin, node for
node. Pure: reads source, imports nothing it checks.
"""

from __future__ import annotations

import ast
import difflib
import inspect
from collections.abc import Iterable

import pytest

from voxtral_integrations import _async_client, _client, _operations, _transport

FIXED = {"anyio": "time", "StopAsyncIteration": "StopIteration", "__anext__": "__next__"}

CLIENT_DIFFERENCES = {
    "__init__": "the sync client closes its own pool from a finalizer; asyncio cannot",
    "close": "an async pool is closed by awaiting it, never from a finalizer",
}
"""Methods of the clients that differ on purpose: closing a pool."""
ASYNC_ONLY = {"realtime": "a live session is async; the sync client has no event loop to hold it"}
"""Methods only the async client has."""

OPERATIONS_DIFFERENCES = {
    "_transcribe_source": "the async shell builds the chunk cache in a worker thread",
    "payloads": "the async shell answers a short WAV on the loop, the rest in a worker thread",
    "stream_transcription": "the async shell encodes converted audio in a worker thread",
    "chat": "the async shell converts inline audio in a worker thread",
    "_long_events": "the async shell materialises each chunk in a worker thread",
    "stream_realtime": "the sync shell runs the session's event loop in a thread",
    "estimate": "the async shell probes the inputs in a worker thread",
}
"""Methods of the operations that differ on purpose: work kept off the event loop."""


def _identifiers(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        for field in ("id", "attr", "name", "arg"):
            value = getattr(node, field, None)
            if isinstance(value, str):
                names.add(value)
    return names


def _sync_name(name: str, sync_names: set[str]) -> str:
    if name in FIXED:
        return FIXED[name]
    if name in sync_names:
        return name
    for prefix, replacement in (
        ("Async", "Sync"),
        ("Async", ""),
        ("__a", "__"),
        ("_a", "_"),
        ("a", ""),
    ):
        if name.startswith(prefix) and replacement + name[len(prefix) :] in sync_names:
            return replacement + name[len(prefix) :]
    return name


class _Unasync(ast.NodeTransformer):
    """Rewrites an async tree as its sync twin would be written (``sync_names`` says
    which names the sync twin has)."""

    def __init__(self, sync_names: set[str]) -> None:
        self.sync_names = sync_names

    def rename(self, name: str) -> str:
        return _sync_name(name, self.sync_names)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self.visit(ast.FunctionDef(**{f: getattr(node, f) for f in node._fields}))

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.AST:
        return self.visit(ast.For(**{f: getattr(node, f) for f in node._fields}))

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.AST:
        return self.visit(ast.With(**{f: getattr(node, f) for f in node._fields}))

    def visit_Await(self, node: ast.Await) -> ast.AST:
        return self.visit(node.value)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.rename(node.id)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        node.attr = self.rename(node.attr)
        return self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> ast.AST:  # an import made where it is used
        node.name = self.rename(node.name)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self.rename(node.name)
        return self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self.rename(node.name)
        return self.generic_visit(node)


class _Plain(ast.NodeTransformer):
    """What neither twin's logic depends on: docstrings, annotations, the spelling of
    re-yielding (an async generator cannot ``yield from``)."""

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.returns = None
        node.decorator_list = []
        return self._body(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._body(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        if node.value is None:
            return None
        return ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)

    def visit_For(self, node: ast.For) -> ast.AST:
        self.generic_visit(node)
        match node.body:
            case [ast.Expr(value=ast.Yield(value=ast.Name(id=name)))] if (
                isinstance(node.target, ast.Name) and node.target.id == name and not node.orelse
            ):
                return ast.Expr(value=ast.YieldFrom(value=node.iter))
        return node

    def _body(self, node: ast.FunctionDef | ast.ClassDef) -> ast.AST:
        node.body = [
            statement
            for statement in node.body
            if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
        ] or [ast.Pass()]
        return self.generic_visit(node)


def normalised(node: ast.AST, sync_names: set[str] | None = None) -> str:
    """``node`` as source, made sync (when ``sync_names`` is given) and plain."""
    tree = ast.parse(ast.unparse(node))  # a copy
    if sync_names is not None:
        tree = _Unasync(sync_names).visit(tree)
    return ast.unparse(ast.fix_missing_locations(_Plain().visit(tree)))


def twins_of(module_tree: ast.Module) -> Iterable[tuple[str, ast.AST, ast.AST]]:
    """Each async class or async function of a module, with its sync twin."""
    defined = {
        node.name: node
        for node in module_tree.body
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    }
    names = set(defined)
    for name, node in defined.items():
        is_async_class = isinstance(node, ast.ClassDef) and name.startswith("Async")
        if is_async_class or isinstance(node, ast.AsyncFunctionDef):
            twin = _sync_name(name, names - {name})
            if twin != name and twin in defined:
                yield name, node, defined[twin]
            elif isinstance(node, ast.AsyncFunctionDef):
                pytest.fail(f"{name} has no sync twin")


def difference(async_node: ast.AST, sync_node: ast.AST) -> str:
    """A diff of the two twins after normalising; empty when they are twins."""
    theirs = normalised(sync_node)
    ours = normalised(async_node, _identifiers(sync_node))
    return "\n".join(
        difflib.unified_diff(theirs.splitlines(), ours.splitlines(), "sync", "async", lineterm="")
    )


def _module(module: object) -> ast.Module:
    return ast.parse(inspect.getsource(module))  # type: ignore[arg-type]


def test_the_transport_twins_are_twins() -> None:
    pairs = list(twins_of(_module(_transport)))
    assert {name for name, _, _ in pairs} == {"AsyncTransport", "_aprepended", "_aread_or_close"}
    for name, async_node, sync_node in pairs:
        assert not difference(async_node, sync_node), (
            f"{name}:\n{difference(async_node, sync_node)}"
        )


def _methods(node: ast.ClassDef) -> dict[str, list[ast.AST]]:
    methods: dict[str, list[ast.AST]] = {}
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            methods.setdefault(item.name, []).append(item)
    return methods


@pytest.mark.parametrize(
    ("modules", "sync_class", "allowed", "at_least"),
    [
        pytest.param(
            (_client, _async_client), "VoxtralClient", CLIENT_DIFFERENCES, 15, id="clients"
        ),
        pytest.param((_operations,), "Operations", OPERATIONS_DIFFERENCES, 7, id="operations"),
    ],
)
def test_the_shells_are_twins_but_for_work_kept_off_the_loop(
    modules: tuple[object, ...], sync_class: str, allowed: dict[str, str], at_least: int
) -> None:
    classes = {
        node.name: node
        for module in modules
        for node in _module(module).body
        if isinstance(node, ast.ClassDef)
    }
    sync, async_ = _methods(classes[sync_class]), _methods(classes[f"Async{sync_class}"])
    names = _identifiers(classes[sync_class])
    checked = []
    for name, overloads in async_.items():
        if name in ASYNC_ONLY:
            continue
        twin = _sync_name(name, names)
        assert twin in sync, f"Async{sync_class}.{name} has no sync twin"
        if twin in allowed:
            continue
        assert len(overloads) == len(sync[twin]), name
        for async_node, sync_node in zip(overloads, sync[twin], strict=True):
            assert not difference(async_node, sync_node), (
                f"{name}:\n{difference(async_node, sync_node)}"
            )
        checked.append(name)
    assert len(checked) >= at_least  # the allowlist stays short
    twins = {_sync_name(name, names) for name in async_ if name not in ASYNC_ONLY}
    assert set(allowed) <= twins
    assert set(sync) <= twins, "a sync method without an async twin"


@pytest.mark.parametrize(
    ("sync_source", "async_source", "twins"),
    [
        pytest.param(
            "def f(r):\n    for x in r.iter_bytes():\n        yield x\n    r.close()",
            "async def af(r):\n    async for x in r.aiter_bytes():\n        yield x\n"
            "    await r.aclose()",
            True,
            id="twins",
        ),
        pytest.param(
            "def f(r):\n    r.close()",
            "async def af(r):\n    if r.stream:\n        return\n    await r.aclose()",
            False,
            id="a-branch-only-the-async-twin-has",
        ),
        pytest.param(
            "def f(r, sleep):\n    sleep(1)",
            "async def af(r, sleep):\n    await sleep(2)",
            False,
            id="a-different-value",
        ),
    ],
)
def test_the_check_sees_a_branch_one_twin_lacks(
    sync_source: str, async_source: str, twins: bool
) -> None:
    (pair,) = twins_of(ast.parse(f"{sync_source}\n\n{async_source}\n"))
    assert (difference(pair[1], pair[2]) == "") is twins
