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
from archiver.store._vault_batch import Staged, Writer, writer_of


@dataclass(frozen=True)
class Chunk:
    """What a task sends back: a result for each file, in order, and the group commit it staged
    and left to the caller to land (``Vault.land``), if any."""

    results: list[Result]
    staged: Staged | None = None


def process_chunk(
    tasks: Sequence[tuple[ingest.Located, str | None]], config: Config, *, lander: Writer | None = None
) -> Chunk:
    """Process each (file, sha512 of its document's head or None), store the changed ones.
    ``lander``: the caller's ``Vault.writer()``. When this process writes the vault through the
    same kernel into the same file system, the group commit is only staged and handed over
    (``Chunk.staged``), for the caller to land, so the task never waits for the disk's barriers;
    otherwise (None, or a worker on another machine) it lands here."""
    outcomes = [process_located(located, config, known) for located, known in tasks]
    changed = [o for o in outcomes if not isinstance(o, Unchanged)]
    if lander is not None and lander == writer_of(config.resolve(config.store.vault)):
        stored, staged = stage_all(changed, config)
    else:
        stored, staged = store_all(changed, config), None
    versions = iter(stored)
    return Chunk([o if isinstance(o, Unchanged) else next(versions) for o in outcomes], staged)
