"""Each subpackage names its public modules (``__all__``): every module without a leading
underscore, and only those. (What each package may import: ``test_architecture.py``.)"""

from __future__ import annotations

import importlib

from tests.conftest import ROOT


def test_each_subpackage_names_its_public_modules_and_only_those() -> None:
    for package in ("audit", "index", "stages", "store"):
        folder = ROOT / "archiver" / package
        public = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
        named = importlib.import_module(f"archiver.{package}").__all__
        assert sorted(named) == sorted(public), package
        for name in named:
            importlib.import_module(f"archiver.{package}.{name}")
