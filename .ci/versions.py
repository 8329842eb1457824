"""What CI's environments resolved, and whether pyproject.toml's floors are true.

    python .ci/versions.py table LABEL=PYTHON [LABEL=PYTHON ...]
        One row per package that decides most red runs, one column per environment.
    python .ci/versions.py floor PYTHON
        Every direct dependency (core, extras, test tools) installed in PYTHON's
        environment must be at the lower bound pyproject.toml declares: the floor
        environment is resolved with `--resolution lowest-direct`, so a version above
        the bound means a transitive requirement lifted it and the declared floor is
        never tested. Exits 1 naming each bound to raise.

Runs on the CI tool interpreter (3.11+, for tomllib); reads each environment by
running its own interpreter, so it works for any Python those environments have.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import tomllib

PACKAGES = ("httpx", "pydantic", "av", "langchain-core", "llama-index-core", "mypy", "ruff")
EXTRAS = ("langchain", "llamaindex", "test")
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def installed(python: str) -> dict[str, str]:
    """Every distribution in ``python``'s environment, by normalised name."""
    script = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    found = json.loads(subprocess.check_output([python, "-c", script], text=True))
    return {_normalised(name): version for name, version in found.items()}


def table(columns: list[tuple[str, str]]) -> str:
    versions = [(label, installed(python)) for label, python in columns]
    header = ["package", *(label for label, _ in versions)]
    rows = [header] + [
        [name, *(found.get(name, "-") for _, found in versions)] for name in PACKAGES
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    )


def false_floors(python: str) -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements += project["optional-dependencies"][extra]
    found = installed(python)
    problems = []
    for requirement in requirements:
        name, _, specifier = _REQUIREMENT.match(requirement).groups()  # type: ignore[union-attr]
        name = _normalised(name)
        if name == "voxtral-integrations":
            continue
        floor = next((part[2:] for part in specifier.split(",") if part.startswith(">=")), None)
        if floor is None:
            problems.append(f"{requirement!r} declares no lower bound: add one (>=X.Y)")
        elif name not in found:
            problems.append(f"{name} is not installed in the floor environment")
        elif _release(found[name]) != _release(floor):
            problems.append(
                f"{name}: pyproject.toml says >={floor} but the lowest resolvable version is "
                f"{found[name]}; raise the floor to >={found[name]}"
            )
    return problems


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _release(version: str) -> tuple[int, ...]:
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0])[:4]]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "table":
        print(table([tuple(column.split("=", 1)) for column in argv[1:]]))  # type: ignore[misc]
        return 0
    if len(argv) == 2 and argv[0] == "floor":
        problems = false_floors(argv[1])
        for problem in problems:
            print(f"ci: false floor: {problem}", file=sys.stderr)
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
