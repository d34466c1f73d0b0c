"""The layout keeps the architecture: the one-way flow, the interfaces' one door, the sizes.

Read from the source with :mod:`ast`, imports inside functions included, so a lazy import
cannot hide a dependency that points the wrong way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "aggregator"

LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names.split())
    for names in (
        # Shared by every stage: plain data, the error tree, the names a person types (item
        # types, did-you-mean), text and URL rules, file writes, `with` for what must be closed.
        "(root) closing errors models names urls sanitize plaintext bounds atomic dedupe",
        "fetch",
        "process",
        "parse",
        "workers",
        "store",
        "search index postings",  # index and postings: old import paths Whoosh pickled
        "rank",
        "render",
        "deliver",
        "config",
        "app",
        "cli web __main__",
    )
)
"""The flow, lowest first: a module may import its own layer and those below, never above."""

INTERFACES = {"cli", "web"}
INTERFACE_DOOR = {"app", "models", "errors", "(root)"}
"""What the interfaces may import besides themselves (``(root)`` holds ``__version__``)."""

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    """The top-level part of ``aggregator`` a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def _layer(part: str) -> int:
    return next(n for n, layer in enumerate(LAYERS) if part in layer)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "aggregator":
                for alias in node.names:
                    is_module = (PACKAGE / alias.name).is_dir() or (
                        PACKAGE / f"{alias.name}.py"
                    ).is_file()
                    yield node.lineno, f"aggregator.{alias.name}" if is_module else "aggregator"
            elif node.module.startswith("aggregator."):
                yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("aggregator"):
                    yield node.lineno, alias.name


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_part_of_the_package_has_a_layer() -> None:
    assert len(SOURCES) > 50, f"found {len(SOURCES)} modules under {PACKAGE}"
    parts = {_part(_module(path)) for path in SOURCES}
    placed = set().union(*LAYERS)
    assert parts <= placed, f"parts without a layer in LAYERS: {sorted(parts - placed)}"


def test_no_module_imports_a_later_stage() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
        for path in SOURCES
        for line, target in _imports(path)
        if _layer(_part(target)) > _layer(_part(_module(path)))
    ]
    assert not wrong, "\n".join(wrong)


def test_the_interfaces_go_through_the_application() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
        for path in SOURCES
        if _part(_module(path)) in INTERFACES
        for line, target in _imports(path)
        if _part(target) not in INTERFACE_DOOR | INTERFACES
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.name}: split it by responsibility"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.name}: {', '.join(long)}"


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The import reader sees a lazy import inside a function."""
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from aggregator.app import Application\n", encoding="utf-8")
    assert list(_imports(module)) == [(2, "aggregator.app")]
    assert _layer("app") > _layer("store")
