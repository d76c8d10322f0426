"""A worker's task: the pure per-submission stages over a chunk of files, then the chunk's object
versions in the vault as one group commit (``objects.store_all``), so the file store is written on
every core. The results go back to the coordinator (``flow.py``), which indexes them in the
database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archiver.config import Config
from archiver.records import Result, Unchanged
from archiver.stages import ingest
from archiver.stages.process import process_located
from archiver.store._objects import stage_all, store_all
from archiver.store._vault_batch import Staged


@dataclass(frozen=True)
class Chunk:
    """What a task sends back: a result for each file, in order, and the group commit it staged
    and left to the caller to land (``Vault.land``), if any."""

    results: list[Result]
    staged: Staged | None = None


def process_chunk(
    tasks: Sequence[tuple[ingest.Located, str | None]], config: Config, *, land: bool = True
) -> Chunk:
    """Process each (file, sha512 of its document's head or None), store the changed ones.
    ``land=False``: the group commit is staged and handed over (``Chunk.staged``), for a caller on
    the same file system to land, so the task never waits for the disk's barriers."""
    outcomes = [process_located(located, config, known) for located, known in tasks]
    changed = [o for o in outcomes if not isinstance(o, Unchanged)]
    if land:
        stored, staged = store_all(changed, config), None
    else:
        stored, staged = stage_all(changed, config)
    versions = iter(stored)
    return Chunk([o if isinstance(o, Unchanged) else next(versions) for o in outcomes], staged)
