"""ocfl-py, the OCFL community's Python validator, run over the storage roots the tests write.

ocfl-py (a test dependency only) knows no layout 0004-hashed-n-tuple-storage-layout, and stops
at a storage root declaring an unknown layout (E071). ``Layout0004`` teaches it ours (sha256 of
the id, 3 tuples of 3, the whole digest as the object folder) so that it validates the root:
its declaration, the layout file and config, the ``extensions`` folder (E086: only folders),
the hierarchy (E072: files in a tuple folder, E073: empty folders) and every object with its
digests. It does not check that an object sits at the path its id maps to, nor other files in
the storage root itself; ``archiver verify`` does both.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import ocfl  # type: ignore[import-untyped]
from ocfl.layout_0003_hash_and_id_n_tuple import Layout_0003_Hash_And_Id_N_Tuple  # type: ignore[import-untyped]
from ocfl.layout_registry import add_layout  # type: ignore[import-untyped]
from ocfl.validator import Validator  # type: ignore[import-untyped]

LAYOUT = "0004-hashed-n-tuple-storage-layout"


class Layout0004(Layout_0003_Hash_And_Id_N_Tuple):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.NAME = LAYOUT
        self.DESCRIPTION = "Extension 0004: Hashed N-tuple Storage Layout"
        self.short_object_root = False
        self.PARAMS = {**self.PARAMS, "shortObjectRoot": self.check_short_object_root}

    def check_short_object_root(self, value: Any) -> None:
        self.short_object_root = bool(value)

    def identifier_to_path(self, identifier: str) -> str:
        digest = hashlib.new(self.digest_algorithm, identifier.encode("utf-8")).hexdigest()
        size, count = self.tuple_size, self.number_of_tuples
        tuples = [digest[i * size : (i + 1) * size] for i in range(count)]
        return "/".join([*tuples, digest[size * count :] if self.short_object_root else digest])


add_layout(LAYOUT, Layout0004)


def storage_roots(top: Path) -> list[Path]:
    """Every OCFL storage root under ``top`` (a folder holding ``0=ocfl_1.1``)."""
    return sorted(p.parent for p in top.rglob("0=ocfl_1.1"))


def errors(root: Path) -> list[str]:
    """ocfl-py's errors for a storage root and every object in it (warnings left out)."""
    logging.getLogger().setLevel(logging.WARNING)  # ocfl-py logs each object at INFO
    store = ocfl.StorageRoot(root=str(root))
    valid = store.validate(validate_objects=True, check_digests=True, log_warnings=False)
    found = [f"{root}: {message}" for message in store.log.messages]
    found += [f"{root}: {message}" for _path, message in store.errors]
    if not valid and not found:
        found.append(f"{root}: invalid ({store.good_objects} of {store.num_objects} objects good)")
    if store.good_objects != store.num_objects and not found:
        found.append(f"{root}: {store.num_objects - store.good_objects} objects invalid")
    return found


def object_errors(path: Path) -> list[str]:
    """ocfl-py's errors for one object folder."""
    validator = Validator(check_digests=True, log_warnings=False)
    return [] if validator.validate_object(str(path)) else [validator.status_str()]
