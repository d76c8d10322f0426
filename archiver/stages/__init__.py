"""Pure stages over typed records (``archiver.records``): read one file, return what it holds.

``ingest`` lists and reads the files; ``decode`` → ``clean`` → ``split`` → ``fingerprint`` →
``repeats`` → ``checks`` (and ``script_checks``, ``risky``) each take records and return records,
chained by ``process`` (``process_submission``); ``origin`` maps offsets back to the submitted
file; ``report`` is the clerk's report of the result; ``shingle`` (the shingles and their hashes)
and ``align`` (two texts' common character regions) serve the index too, as ``verify`` does (judging
the index's candidate pairs: a task of the run's workers). Modules whose name
starts with ``_`` are helpers of these, private to the package. Nothing here imports the store,
the index or the audit (``tests/test_layers.py``): a worker's writing is ``store.worker``'s.
"""

__all__ = [
    "align",
    "checks",
    "clean",
    "decode",
    "fingerprint",
    "ingest",
    "origin",
    "process",
    "repeats",
    "report",
    "risky",
    "script_checks",
    "shingle",
    "split",
    "verify",
]
