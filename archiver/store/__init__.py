"""The archive's storage: the database (``db``, migrations, ``bulk`` writes, ``filing``,
``search_index``) and the OCFL vault (``vault``, ``ocfl``, ``fixity``).

``runs.recorded`` is every writing command's bookkeeping (``guard``'s writer lock and its row in
``runs``); ``worker.process_chunk`` is a worker's task, the stages then the vault. Modules whose
name starts with ``_`` are private to the package.
"""

__all__ = [
    "bulk",
    "db",
    "filing",
    "fixity",
    "guard",
    "ocfl",
    "runs",
    "search_index",
    "vault",
    "worker",
]
