"""The import rules of docs/architecture.md: each package imports only from the layers below it,
and a ``_name`` module only from inside its own package. Every import counts, a lazy one inside a
function and one for a type annotation too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "archiver"
VOCABULARY = {"errors", "config", "records", "runlog", "__version__"}
# What each package may import from archiver besides itself (docs/architecture.md, "The
# packages"); the entry points (cli, flow, reindex, notes, history, preflight) may import anything.
MAY_IMPORT: dict[str, set[str]] = {
    "errors": set(),
    "config": {"errors"},
    "runlog": {"errors", "config"},
    "records": {"runlog", "stages"},  # stages.ingest.Located, for a type annotation only
    "stages": {"errors", "config", "records"},
    "store": VOCABULARY | {"stages"},
    "index": VOCABULARY | {"stages", "store"},
    "audit": VOCABULARY | {"stages", "store", "index"},
}
EXCEPTIONS: set[tuple[str, str]] = set()  # (module, import) pairs allowed against the table: none


def package_of(path: Path) -> str:
    """A subpackage's name, or a top-level module's own."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else path.stem


def archiver_imports() -> Iterator[tuple[str, str, list[str]]]:
    """(module path, its package, the imported name under ``archiver`` split at dots)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("archiver."):
                    yield str(path.relative_to(ROOT)), package_of(path), name.split(".")[1:]


def test_each_package_imports_only_the_layers_below_it() -> None:
    broken = sorted(
        f"{path}: archiver.{'.'.join(name)}"
        for path, mine, name in archiver_imports()
        if mine in MAY_IMPORT
        and name[0] not in MAY_IMPORT[mine] | {mine}
        and (path, ".".join(name[:2])) not in EXCEPTIONS
    )
    assert not broken, "imports against docs/architecture.md's table:\n" + "\n".join(broken)


def test_private_modules_are_imported_only_inside_their_package() -> None:
    imports = list(archiver_imports())
    broken = sorted(
        f"{path}: archiver.{'.'.join(name)}"
        for path, mine, name in imports
        if len(name) > 1 and name[1].startswith("_") and not name[1].startswith("__") and mine != name[0]
    )
    assert not broken, broken
    seen = {".".join(name[:2]) for _, _, name in imports}
    assert {"stages._detect", "store._vault_batch", "records.Submission"} <= seen  # the scan sees them
