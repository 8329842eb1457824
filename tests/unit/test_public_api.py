"""The public surface is deliberate: pinned, documented, framework-free."""

from __future__ import annotations

import subprocess
import sys
import types

import voxtral_integrations


def test_all_is_sorted_and_complete() -> None:
    # the adapters and the command line are submodules, imported on demand
    public = sorted(
        (
            name
            for name, value in vars(voxtral_integrations).items()
            if not name.startswith("_") and not isinstance(value, types.ModuleType)
        ),
        key=str.casefold,
    )
    exported = [name for name in voxtral_integrations.__all__ if name != "__version__"]
    assert sorted(exported, key=str.casefold) == public


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
