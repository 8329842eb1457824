"""The public surface is deliberate: pinned, documented, framework-free."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import voxtral_integrations
from voxtral_integrations import _HOMES


def test_all_is_sorted_and_complete() -> None:
    exported = [name for name in voxtral_integrations.__all__ if name != "__version__"]
    assert sorted(exported, key=str.casefold) == sorted(_HOMES, key=str.casefold)
    for name, home in _HOMES.items():  # each resolves, to the object its home defines
        assert getattr(voxtral_integrations, name) is getattr(
            importlib.import_module(home, "voxtral_integrations"), name
        )
    # the adapters and the command line are submodules, imported on demand
    public = sorted(
        (
            name
            for name, value in vars(voxtral_integrations).items()
            if not name.startswith("_") and not isinstance(value, types.ModuleType)
        ),
        key=str.casefold,
    )
    assert sorted(exported, key=str.casefold) == public


def test_the_lazy_table_names_what_type_checkers_see() -> None:
    """The imports under ``TYPE_CHECKING`` (what mypy and editors read) are the table's."""
    tree = ast.parse(Path(voxtral_integrations.__file__).read_text())
    (checked,) = [node for node in tree.body if isinstance(node, ast.If)]
    seen = {
        alias.name: f".{node.module}"
        for node in checked.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == _HOMES


def test_the_bare_import_loads_no_submodule() -> None:
    code = (
        "import sys, voxtral_integrations; "
        "print(sorted(m for m in sys.modules if m.startswith('voxtral_integrations.')))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.stdout.strip() == "['voxtral_integrations._version']", completed.stderr
    assert not hasattr(voxtral_integrations, "NoSuchName")


def test_every_export_is_documented() -> None:
    undocumented = [
        name
        for name in voxtral_integrations.__all__
        if isinstance(obj := getattr(voxtral_integrations, name), type) and not obj.__doc__
    ]
    assert undocumented == []


def test_import_needs_no_framework() -> None:
    code = (
        "import sys, voxtral_integrations; "
        "loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core', 'langchain', 'llama_index')]; "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
