"""The cross-submission near-duplicate index, in the database.

``indexer.Indexer`` is how the commands that write (``run``, ``reindex``, ``compact``) change it;
``links`` groups exact copies and links near ones, ``levels`` keeps the band index's levels;
``lookup`` asks it about a text without writing, ``pairs`` reads the links back for the audit and
``spans`` the copied character spans.
``_buckets`` and ``_stars`` are helpers of ``links``.
"""

__all__ = ["indexer", "levels", "links", "lookup", "pairs", "spans"]
