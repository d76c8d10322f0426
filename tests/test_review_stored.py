"""The clerk's review of an archived document, rebuilt from what the archive stores (the original
bytes, the archived text and provenance.json's changes in the vault; the passages in the
database): the same page ``archiver clean --html`` draws from the file itself, or, when the
records do not give back the archived text, a page saying so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archiver import config as config_mod
from archiver import flow
from archiver.audit.review import NotRebuilt, review_html, stored_outcome, stored_review_html
from archiver.records import Processed
from archiver.stages import ingest
from archiver.stages.process import process_submission
from archiver.store import db
from archiver.store.db import PassageRow
from archiver.store.db import Submission as SubmissionRow
from archiver.store.vault import Vault
from tests.conftest import samples_folder


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = samples_folder(tmp_path_factory.mktemp("stored"))
    flow.run(config_mod.load(base / "config.toml"), [base / "inbox"])
    return base


@pytest.fixture
def opened(built: Path) -> Iterator[tuple[config_mod.Config, Session, Vault]]:
    config = config_mod.load(built / "config.toml")
    engine = db.open_engine(config.database_url, create=False)
    with Session(engine) as session:
        yield config, session, Vault(config.resolve(config.store.vault), create=False)
    engine.dispose()


def test_every_archived_review_is_the_page_clean_draws_from_the_file(
    built: Path, opened: tuple[config_mod.Config, Session, Vault]
) -> None:
    config, session, vault = opened
    rows = session.scalars(select(SubmissionRow).where(SubmissionRow.status == "archived")).all()
    assert len(rows) == 8
    for row in rows:
        path = built / "inbox" / row.relpath
        fresh = process_submission(
            ingest.submission_of(path.read_bytes(), path, row.relpath, config.ingest), config
        )
        assert isinstance(fresh, Processed)
        stored = stored_outcome(session, vault, row.id, config.decode)
        assert stored.text == fresh.text and stored.decoded.text == fresh.decoded.text
        assert review_html(stored, f"{row.id}.html") == review_html(fresh, f"{row.id}.html"), row.relpath
    seed = next(r for r in rows if r.relpath.startswith("shuangqiao-xiang/"))
    page = stored_review_html(session, vault, seed.id, config.decode)
    assert page.count('class="chg pinyin"') == 575  # 574 marks and the legend's
    assert page.count('<tr id="r') == len(
        session.scalars(select(PassageRow).where(PassageRow.submission_id == seed.id)).all()
    )


def test_records_that_do_not_give_back_the_archived_text_are_said_so(
    opened: tuple[config_mod.Config, Session, Vault],
) -> None:
    config, session, vault = opened
    seed = session.scalars(
        select(SubmissionRow).where(SubmissionRow.relpath.startswith("shuangqiao-xiang/"))
    ).one()
    first = session.scalars(
        select(PassageRow).where(PassageRow.submission_id == seed.id, PassageRow.removed.is_(False))
    ).first()
    assert first is not None
    session.execute(update(PassageRow).where(PassageRow.id == first.id).values(text="改过的段落"))
    with pytest.raises(NotRebuilt, match="passages recorded in the database"):
        stored_outcome(session, vault, seed.id, config.decode)
    page = stored_review_html(session, vault, seed.id, config.decode)
    assert "无法从存档记录准确重建" in page and "passages recorded in the database" in page
    session.rollback()
