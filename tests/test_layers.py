"""The layers: each subpackage names its public modules (``__all__``), and the stages are pure:
nothing under ``archiver/stages`` imports the store, the index, the audit, a database driver or
an entry point, so the only I/O a stage does is reading its input file (a worker's writing to
the vault is ``store.worker``'s)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from tests.conftest import ROOT

STAGES = ROOT / "archiver" / "stages"
FORBIDDEN = (
    "archiver.store",
    "archiver.index",
    "archiver.audit",
    "archiver.flow",
    "archiver.cli",
    "archiver.reindex",
    "sqlalchemy",
)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_no_stage_imports_the_store_the_index_the_audit_or_an_entry_point() -> None:
    modules = sorted(STAGES.glob("*.py"))
    assert len(modules) > 10  # the stages are where this test looks for them
    offending = {
        f"{path.name}: {name}"
        for path in modules
        for name in imported(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not offending, sorted(offending)


def test_each_subpackage_names_its_public_modules_and_only_those() -> None:
    for package in ("audit", "index", "stages", "store"):
        folder = ROOT / "archiver" / package
        public = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
        named = importlib.import_module(f"archiver.{package}").__all__
        assert sorted(named) == sorted(public), package
        for name in named:
            importlib.import_module(f"archiver.{package}.{name}")
