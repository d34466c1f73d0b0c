"""pyproject.toml declares what the code imports, drops what it does not, and bounds each version
to what this suite has run against."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = [Requirement(text) for text in PYPROJECT["project"]["dependencies"]]
TEST = [Requirement(text) for text in PYPROJECT["project"]["optional-dependencies"]["test"]]

NOT_IMPORTED = {
    "python-multipart": "Starlette imports it to read forms (Request.form)",
    "ruff": "a command (ruff check, ruff format), never imported",
    "mypy": "a command (.ci/run type-checks the package), never imported",
    "httpx2": "starlette.testclient imports it (with httpx alone it warns, an error in this suite)",
}
"""Declared distributions no module imports by name, and why each is still needed."""


FIRST_PARTY = {"aggregator", "tests", "feedfarm", "benchmarks"}


def imported_distributions(*folders: str) -> set[str]:
    """The third-party distributions the modules under ``folders`` import, by canonical name."""
    owners = metadata.packages_distributions()
    found: set[str] = set()
    for folder in folders:
        local = {path.stem for path in (ROOT / folder).glob("*.py")}  # benchmarks import siblings
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "attr", "") == "importorskip"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    names = [str(node.args[0].value)]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top in sys.stdlib_module_names or top in local | FIRST_PARTY:
                        continue
                    found.update(canonicalize_name(d) for d in owners.get(top, [top]))
    return found


def names(requirements: list[Requirement]) -> set[str]:
    return {canonicalize_name(requirement.name) for requirement in requirements}


def test_the_package_declares_every_distribution_it_imports_and_nothing_else() -> None:
    imported = imported_distributions("aggregator")
    declared = names(RUNTIME)
    assert imported - declared == set(), "imported but not declared"
    assert declared - imported - set(NOT_IMPORTED) == set(), "declared but never imported"


def test_the_test_extra_holds_what_tests_and_benchmarks_import_beyond_the_package() -> None:
    imported = imported_distributions("tests", "benchmarks")
    declared = names(RUNTIME) | names(TEST)
    assert imported - declared == set(), "imported by tests but not declared"
    assert names(TEST) - imported - set(NOT_IMPORTED) == set(), "test extra never imported"


def test_every_version_has_an_upper_bound_and_the_installed_one_is_admitted() -> None:
    for requirement in RUNTIME + TEST:
        operators = {spec.operator for spec in requirement.specifier}
        assert "<" in operators, f"{requirement}: no upper bound"
        installed = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), (
            f"{requirement}: the installed {installed} is outside the bounds"
        )


LIGHT_INSTALLS = {
    "ralph-malph": {
        # xAPI 1.0.3 statement models (tests/integration/test_xapi.py), without its LRS
        # server extras: pydantic and small pure-Python helpers, about 15 MB installed.
        "annotated-types",
        "importlib-metadata",
        "langcodes",
        "pydantic",
        "pydantic-core",
        "pydantic-settings",
        "python-dotenv",
        "rfc3987",
        "typing-extensions",
        "typing-inspection",
        "zipp",
    },
}
"""Test-extra distributions that bring others along, with everything they bring: a new
version that pulls in a web server or a database driver shows here before it lands."""


def _installs(name: str) -> set[str]:
    """What installing ``name`` (no extras) brings along, as this machine's metadata says."""
    found: set[str] = set()
    todo = [canonicalize_name(name)]
    while todo:
        for text in metadata.requires(todo.pop()) or []:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            wanted = canonicalize_name(requirement.name)
            if wanted not in found:
                found.add(wanted)
                todo.append(wanted)
    return found


def test_the_test_extra_s_model_library_stays_a_light_install() -> None:
    for name, expected in LIGHT_INSTALLS.items():
        assert canonicalize_name(name) in names(TEST)
        assert _installs(name) == expected, name
