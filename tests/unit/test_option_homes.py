"""A new transcription option has four homes, and the code is held to them.

Adding a transcription option (say ``speaker_count``) touches:

1. ``_options.py``: a field of ``TranscriptionOptions`` (``TRANSCRIPTION_OPTIONS``,
   the table, is its field names) and its check in ``transcription_options``;
2. ``_dialects.py``: how each backend sends it (``transcription_fields``) or refuses it;
3. the CLI table: its flag, in ``_FLAGS`` and ``transcription_kwargs``;
4. the docs (README, docs/).

The public signatures that offer it (the clients' transcription methods, the
LangChain loader and parser, ``VoxtralReader``'s fields) stay explicit, as httpx's
do: there it is one declared parameter and one docstring line, and nothing more. Its
value is taken from the signature by the table (``_options.given``), so no line
forwards it by hand (``x=x``), and the loaders carry it without a field of their own
(``LoadOptions.transcription``).

The tests below walk the package's code: only the homes name the option set in a
call or a dict (an enumeration: at least four of its names, where a tool that
exposes two of them chooses rather than enumerates); only the public-signature
modules declare it; and no signature forwards an option by hand.
"""

from __future__ import annotations

import ast
from pathlib import Path

import voxtral_integrations
from voxtral_integrations._options import TRANSCRIPTION_OPTIONS

PACKAGE = Path(voxtral_integrations.__file__).parent
OPTIONS = frozenset(TRANSCRIPTION_OPTIONS)
ENUMERATES = 4
"""Names of the option set that make a call, dict or signature an enumeration of it."""

HOMES = {"_options.py", "_dialects.py", "cli.py", "cli/_options.py", "_realtime_protocol.py"}
"""Where the option set may be spelled out in code (the CLI table: before and after
the CLI became a package; ``_realtime_protocol`` is the home of the realtime options,
which share four of these names)."""
CHECKERS = {"_options.py", "_realtime_protocol.py"}
"""The checkers: each turns the checked arguments into its value (the realtime one
checks the realtime option set, which shares four names with this one)."""
SIGNATURES = {
    *CHECKERS,
    "_client.py",
    "_async_client.py",
    "_realtime_loading.py",
    "langchain/document_loaders.py",
    "llama_index/readers.py",
}
"""Where the option set is declared: the checker and the public signatures
(``_realtime_loading.RealtimeFields``: the realtime tool's and reader's fields)."""


def _names(node: ast.AST) -> tuple[str, frozenset[str]] | None:
    """What kind of enumeration ``node`` is and the option names it spells, if any."""
    if isinstance(node, ast.Call):
        return "call", frozenset(kw.arg for kw in node.keywords if kw.arg) & OPTIONS
    if isinstance(node, ast.Dict):
        keys = (key.value for key in node.keys if isinstance(key, ast.Constant))
        return "dict", frozenset(key for key in keys if isinstance(key, str)) & OPTIONS
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        declared = node.args.args + node.args.kwonlyargs
        return "signature", frozenset(arg.arg for arg in declared) & OPTIONS
    if isinstance(node, ast.ClassDef):
        fields = (s.target for s in node.body if isinstance(s, ast.AnnAssign))
        names = (target.id for target in fields if isinstance(target, ast.Name))
        return "signature", frozenset(names) & OPTIONS
    return None


def enumerations(tree: ast.AST) -> list[tuple[str, int]]:
    """Each call, dict and signature of ``tree`` that spells out the option set."""
    found = []
    for node in ast.walk(tree):
        named = _names(node)
        if named is not None and len(named[1]) >= ENUMERATES:
            found.append((named[0], node.lineno))  # type: ignore[attr-defined]
    return sorted(found, key=lambda item: item[1])


def forwarded_by_hand(tree: ast.AST) -> list[tuple[str, int]]:
    """Options a transcription signature of ``tree`` passes on by hand (``x=x``)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        named = _names(node)
        if named is None or len(named[1]) < ENUMERATES:
            continue
        for call in ast.walk(node):
            if isinstance(call, ast.Call):
                found.extend(
                    (kw.arg, kw.lineno)
                    for kw in call.keywords
                    if kw.arg in OPTIONS and isinstance(kw.value, ast.Name)
                    if kw.value.id == kw.arg
                )
    return found


def _modules() -> dict[str, ast.AST]:
    return {
        path.relative_to(PACKAGE).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_the_table_is_the_option_set() -> None:
    assert {
        "model",
        "language",
        "temperature",
        "timestamp_granularities",
        "diarize",
        "context_bias",
    } == OPTIONS


def test_only_the_homes_spell_out_the_option_set_in_code() -> None:
    outside = {
        module: [line for kind, line in found if kind != "signature"]
        for module, tree in _modules().items()
        if module not in HOMES and (found := enumerations(tree))
    }
    assert {module: lines for module, lines in outside.items() if lines} == {}


def test_only_the_public_signatures_declare_the_option_set() -> None:
    declaring = {
        module
        for module, tree in _modules().items()
        if any(kind == "signature" for kind, _ in enumerations(tree))
    }
    assert declaring == SIGNATURES


def test_no_signature_forwards_an_option_by_hand() -> None:
    """Outside the checker, which turns the checked arguments into the value."""
    found = {
        module: lines
        for module, tree in _modules().items()
        if module not in CHECKERS and (lines := forwarded_by_hand(tree))
    }
    assert found == {}


def test_the_walk_finds_hand_plumbing() -> None:
    """The checks above are not vacuous: the old shape of a client method is caught."""
    old = ast.parse(
        "def transcribe(audio, *, model, language, temperature, diarize, context_bias):\n"
        "    return send(audio, model=model, language=language, diarize=diarize,\n"
        "                temperature=temperature, context_bias=context_bias)\n"
        "fields = {'model': 1, 'language': 2, 'diarize': 3, 'context_bias': 4}\n"
        "tool = {'model': 1, 'diarize': 2}\n"
    )
    assert enumerations(old) == [("signature", 1), ("call", 2), ("dict", 4)]
    assert [name for name, _ in forwarded_by_hand(old)] == [
        "model",
        "language",
        "diarize",
        "temperature",
        "context_bias",
    ]
