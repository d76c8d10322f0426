"""A worker's task: the pure per-submission stages over a chunk of files, then the chunk's object
versions in the vault as one group commit (``objects.store_all``), so the file store is written on
every core. The results go back to the coordinator (``flow.py``), which indexes them in the
database.
"""

from __future__ import annotations

from collections.abc import Sequence

from archiver.config import Config
from archiver.records import Stored, Unchanged
from archiver.stages import ingest
from archiver.stages.process import process_located
from archiver.store._objects import store_all


def process_chunk(
    tasks: Sequence[tuple[ingest.Located, str | None]], config: Config, *, durable: bool = True
) -> list[Stored | Unchanged]:
    """Process each (file, sha512 of its document's head or None), store the changed ones.
    ``durable=False``: the group commit's renames are made durable by the caller
    (``Vault.barrier()``), who runs on the same file system."""
    outcomes = [process_located(located, config, known) for located, known in tasks]
    stored = iter(store_all([o for o in outcomes if not isinstance(o, Unchanged)], config, durable=durable))
    return [o if isinstance(o, Unchanged) else next(stored) for o in outcomes]
