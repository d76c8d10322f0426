"""The persistent index: groups, links verified by Jaccard, star clusters, pinning, PostgreSQL,
and the promise that night-by-night equals one run over everything."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from archiver import flow
from archiver.cli import main
from archiver.config import Config, FingerprintConfig
from archiver.errors import ParameterMismatch
from archiver.index import _buckets as buckets
from archiver.index import _stars as stars
from archiver.index import levels
from archiver.index import links as index
from archiver.index.indexer import Indexer
from archiver.records import NewParagraph
from archiver.store import bulk, db
from tests.conftest import make_config, near_alike_lines

# Real paragraphs, verbatim from the 2024 government work report
# (../shared/corpus/reports/state-council_2024_wikisource.txt; source in its MANIFEST.tsv).
P1 = (
    "——科技创新实现新的突破。国家实验室体系建设有力推进。关键核心技术攻关成果丰硕，航空发动机、燃气轮机、"
    "第四代核电机组等高端装备研制取得长足进展，人工智能、量子技术等前沿领域创新成果不断涌现。"
    "技术合同成交额增长28.6%。创新驱动发展能力持续提升。"
)
P2 = (
    "深化多双边和区域经济合作。推动落实已生效自贸协定，与更多国家和地区商签高标准自贸协定和投资协定。"
    "推进中国－东盟自贸区3.0版谈判，推动加入《数字经济伙伴关系协定》、《全面与进步跨太平洋伙伴关系协定》。"
    "全面深入参与世贸组织改革，推动建设开放型世界经济，让更多合作共赢成果惠及各国人民。"
)
P3 = (
    "充分发挥创新主导作用，以科技创新推动产业创新，加快推进新型工业化，提高全要素生产率，"
    "不断塑造发展新动能新优势，促进社会生产力实现新的跃升。"
)
P4 = (
    "大力发展绿色低碳经济。推进产业结构、能源结构、交通运输结构、城乡建设发展绿色转型。落实全面节约战略，"
    "加快重点领域节能节水改造。完善支持绿色发展的财税、金融、投资、价格政策和相关市场化机制，"
    "推动废弃物循环利用产业发展，促进节能降碳先进技术研发应用，加快形成绿色低碳供应链。"
    "建设美丽中国先行区，打造绿色低碳发展高地。"
)
P3_EDITED = P3.replace("新型工业化", "新型城镇化").replace("全要素", "综合要素")


def report(title: str, *paragraphs: str) -> str:
    return "\n".join(
        [title, "一、主要工作完成情况", *paragraphs, "二、下一步工作打算", "持续推进各项工作落实。"]
    )


def write_inbox(root: Path, files: dict[str, str]) -> Path:
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


INBOX = {
    "county/2020/report.txt": report("县政府2020年工作报告", P1, P2),
    "county/2021/report.txt": report("县政府2021年工作报告", P1, P3),
    "town-a/2021/report.txt": report("甲镇2021年工作报告", P3_EDITED, P4),
    "town-b/2021/report.txt": report("乙镇2021年工作报告", P4, P2),
    "town-b/2022/report.txt": report("乙镇2022年工作报告", P1),
}


def snapshot(
    config: Config,
) -> tuple[set[tuple[str, int, str, int, float]], dict[tuple[str, int], tuple[str, int]]]:
    """Pairs and clusters in path terms (ids differ between archives)."""
    engine = db.open_engine(config.database_url)
    me, other = aliased(db.PassageRow), aliased(db.PassageRow)
    sub_me, sub_other = aliased(db.Submission), aliased(db.Submission)
    with Session(engine) as session:
        from archiver.index.pairs import pairs_of

        where = {
            p.id: (s.relpath, p.idx)
            for p, s in session.execute(
                select(db.PassageRow, db.Submission).join(
                    db.Submission, db.Submission.id == db.PassageRow.submission_id
                )
            )
        }
        pairs = set()
        for sub_id in session.scalars(select(db.Submission.id).where(db.Submission.current.is_(True))):
            for pair in pairs_of(session, sub_id, earlier_only=False):
                pairs.add((*where[pair.passage_id], *where[pair.other_id], pair.similarity))
        clusters = {
            where[p_id]: where[c_id]
            for p_id, c_id in session.execute(
                select(me.id, me.canonical_id).where(me.canonical_id.is_not(None))
            )
        }
    del other, sub_me, sub_other
    engine.dispose()
    return pairs, clusters


def copied(config: Config) -> set[tuple[str, int, int, str, int, int]]:
    """Every copied span of every current submission (``spans.copied_of``) in path terms."""
    from archiver.index.spans import copied_of

    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        rows = session.execute(select(db.Submission.id, db.Submission.relpath))
        relpath: dict[int, str] = {i: r for i, r in rows}
        found = {
            (relpath[sub_id], c.start, c.end, relpath[c.other_submission_id], c.other_start, c.other_end)
            for sub_id in session.scalars(select(db.Submission.id).where(db.Submission.current.is_(True)))
            for c in copied_of(session, sub_id)
        }
    engine.dispose()
    return found


# Sentences of P1, P2 and P4 lifted into new paragraphs of other reports (a sentence mosaic),
# and P3 embedded whole in a longer one.
MOSAIC = (
    "今年以来，我局紧紧围绕县委县政府中心工作，认真谋划，狠抓落实，各项工作取得新成效。"
    "关键核心技术攻关成果丰硕，航空发动机、燃气轮机、第四代核电机组等高端装备研制取得长足进展，"
    "人工智能、量子技术等前沿领域创新成果不断涌现。干部职工精神面貌焕然一新。"
)
EMBEDDED = (
    "围绕高质量发展这一首要任务，我局召开专题会议研究部署，明确责任分工和时间节点。"
    + P3
    + "下一步将建立工作台账，实行清单化管理，逐项抓好落实，确保各项任务按期完成、取得实效。"
)
SENTENCES = {
    "county/2020/report.txt": report("县政府2020年工作报告", P1, P2),
    "town-a/2021/report.txt": report("甲镇2021年工作报告", MOSAIC, P4),
    "town-b/2021/report.txt": report("乙镇2021年工作报告", P3),
    "town-b/2022/report.txt": report("乙镇2022年工作报告", EMBEDDED),
}


def test_copied_sentences_and_embedded_paragraphs_are_spans_and_nights_equal_one_run(tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox", SENTENCES)
    whole = make_config(tmp_path / "whole")
    flow.run(whole, [inbox])
    found = copied(whole)
    text = (inbox / "town-a/2021/report.txt").read_text(encoding="utf-8")
    lifted = (
        "关键核心技术攻关成果丰硕，航空发动机、燃气轮机、第四代核电机组等高端装备研制取得长足进展，"
        "人工智能、量子技术等前沿领域创新成果不断涌现。"
    )
    start = text.index(lifted)
    assert ("town-a/2021/report.txt", start, start + len(lifted), "county/2020/report.txt") in {
        f[:4] for f in found
    }
    later = (inbox / "town-b/2022/report.txt").read_text(encoding="utf-8")
    start = later.index(P3)
    embedded = ("town-b/2022/report.txt", start, start + len(P3), "town-b/2021/report.txt")
    assert embedded in {f[:4] for f in found}
    # Neither is a paragraph match: the pairs stay out of `matches`.
    assert not any(p[0] == "town-b/2022/report.txt" for p in snapshot(whole)[0])

    nightly = make_config(tmp_path / "nightly", store={"recent_band_rows": 0})
    for year in ("2020", "2021", "2022"):
        files = {k: v for k, v in SENTENCES.items() if f"/{year}/" in k}
        night = write_inbox(tmp_path / "nights" / year, files)
        flow.run(nightly, [night])
    assert copied(nightly) == found


def test_spans_read_in_batches_are_those_read_one_by_one(tmp_path: Path) -> None:
    """``copied_of_many`` (the export's and the audit's batches) gives each submission exactly
    what ``copied_of`` gives it alone, whichever batch its sources fall in."""
    from archiver.index.spans import copied_of, copied_of_many

    config = make_config(tmp_path / "archive")
    flow.run(config, [write_inbox(tmp_path / "inbox", SENTENCES)])
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        ids = sorted(session.scalars(select(db.Submission.id).where(db.Submission.current.is_(True))))
        alone = {i: copied_of(session, i) for i in ids}
        assert sum(map(len, alone.values())) > 0
        for size in (1, 2, len(ids)):
            batched: dict[int, list[object]] = {}
            for start in range(0, len(ids), size):
                batched |= copied_of_many(session, ids[start : start + size])
            assert batched == alone, size
    engine.dispose()


def test_links_are_verified_and_clusters_are_stars(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    flow.run(config, [write_inbox(tmp_path / "inbox", INBOX)])
    pairs, clusters = snapshot(config)
    files = {(a, b) for a, _, b, _, _ in pairs}
    # P1 is in county 2020, county 2021 and town-b 2022: every pair of them, similarity 1.0.
    assert {
        ("county/2021/report.txt", "county/2020/report.txt"),
        ("town-b/2022/report.txt", "county/2020/report.txt"),
        ("town-b/2022/report.txt", "county/2021/report.txt"),
    } <= files
    edited = [s for a, _, b, _, s in pairs if {a, b} == {"town-a/2021/report.txt", "county/2021/report.txt"}]
    assert edited and all(0.5 <= s < 1.0 for s in edited)  # P3 and its edit, verified Jaccard
    # Unrelated paragraphs (P2 vs P4 in town-b) never link; headings never count as reuse.
    assert all(s >= 0.5 for *_, s in pairs)
    assert not any(idx in (1,) for _, idx, _, _, _ in pairs), "a heading was linked"
    # Star: the canonical of every P1 copy is the 2020 original.
    p1_positions = [k for k, v in clusters.items() if v == ("county/2020/report.txt", 2)]
    assert ("town-b/2022/report.txt", 2) in p1_positions and ("county/2021/report.txt", 2) in p1_positions


def canonicals(config: Config, *, recompute: bool = False) -> dict[int, int | None]:
    """passage id → canonical id; with ``recompute``, after ``assign_canonicals`` has been run
    over every group, the slow path with its link lookups."""
    engine = db.open_engine(config.database_url)
    passages = db.PassageRow
    with Session(engine) as session, session.begin():
        if recompute:
            groups = set(session.scalars(select(passages.rep_id).where(passages.rep_id.is_not(None))))
            stars.assign_canonicals(session, groups)
        found = {
            id_: canonical for id_, canonical in session.execute(select(passages.id, passages.canonical_id))
        }
    engine.dispose()
    return found


def test_a_new_unlinked_group_takes_its_earliest_year_as_canonical_within_one_batch(
    tmp_path: Path,
) -> None:
    # Listed first, the 2025 copy of P4 founds the group; the 2019 copy filed after it in the
    # same batch is still the canonical passage. P2 is in one file only: its own canonical.
    config = make_config(tmp_path)
    inbox = {
        "a-town/2025/report.txt": report("甲镇2025年工作报告", P4),
        "b-town/2019/report.txt": report("乙镇2019年工作报告", P4, P2),
    }
    flow.run(config, [write_inbox(tmp_path / "inbox", inbox)])
    _, clusters = snapshot(config)
    assert clusters[("a-town/2025/report.txt", 2)] == ("b-town/2019/report.txt", 2)
    assert clusters[("b-town/2019/report.txt", 2)] == ("b-town/2019/report.txt", 2)
    assert clusters[("b-town/2019/report.txt", 3)] == ("b-town/2019/report.txt", 3)


@pytest.mark.parametrize("nights", [1, 2], ids=["one batch", "two nights"])
def test_a_copy_of_unknown_year_is_never_canonical_before_a_dated_one(tmp_path: Path, nights: int) -> None:
    # The undated copy arrives first. In one batch the linker picks the canonical passage
    # (_seniority); filed a night apart, assign_canonicals does (_group_firsts, in SQL).
    config = make_config(tmp_path)
    undated = {"a-town/undated/report.txt": report("甲镇工作报告", P4)}
    dated = {"b-town/2025/report.txt": report("乙镇2025年工作报告", P4)}
    if nights == 1:
        flow.run(config, [write_inbox(tmp_path / "inbox", undated | dated)])
    else:
        flow.run(config, [write_inbox(tmp_path / "night1", undated)])
        flow.run(config, [write_inbox(tmp_path / "night2", dated)])
    _, clusters = snapshot(config)
    assert clusters[("a-town/undated/report.txt", 2)] == ("b-town/2025/report.txt", 2)
    assert clusters[("b-town/2025/report.txt", 2)] == ("b-town/2025/report.txt", 2)


def test_an_older_copy_filed_late_becomes_the_centre_of_its_neighbours_too(tmp_path: Path) -> None:
    # Night 1: the 2022 P4 and a 2023 edit of it (a group of its own, linked to the first).
    # Night 2: a 2019 copy of P4 joins the 2022 group as its most senior member; the 2023 edit,
    # which the batch does not touch, must move its centre to it as well (stars, not chains).
    config = make_config(tmp_path)
    edited = P4.replace("绿色低碳经济", "低碳循环经济").replace("美丽中国", "生态文明")
    flow.run(
        config,
        [
            write_inbox(
                tmp_path / "night1",
                {
                    "a-town/2022/report.txt": report("甲镇2022年工作报告", P4),
                    "b-town/2023/report.txt": report("乙镇2023年工作报告", edited),
                },
            )
        ],
    )
    _, before = snapshot(config)
    assert before[("b-town/2023/report.txt", 2)] == ("a-town/2022/report.txt", 2)
    flow.run(
        config,
        [write_inbox(tmp_path / "night2", {"c-town/2019/report.txt": report("丙镇2019年工作报告", P4)})],
    )
    _, after = snapshot(config)
    for position in [
        ("a-town/2022/report.txt", 2),
        ("b-town/2023/report.txt", 2),
        ("c-town/2019/report.txt", 2),
    ]:
        assert after[position] == ("c-town/2019/report.txt", 2)
    assert canonicals(config, recompute=True) == canonicals(config)


def test_canonicals_set_while_linking_equal_those_of_assign_canonicals(
    tmp_path: Path, bench_inbox: Path
) -> None:
    config = make_config(tmp_path)
    flow.run(config, [bench_inbox / "inbox"])
    written = canonicals(config)
    assert sum(c is not None for c in written.values()) > 1000
    assert canonicals(config, recompute=True) == written


def remembered_as_stored(session: Session, known: stars.Known) -> int:
    """Assert that every group ``known`` remembers has the most senior member and canonical
    passage the database's rows give it; returns how many it remembers."""
    firsts = {g: divmod(key, stars.ID_SPAN) for g, key in known.firsts.items()}
    centres = {g: divmod(key, stars.ID_SPAN) for g, key in known.canonicals.items()}
    assert stars._group_firsts(session, set(firsts)) == firsts
    assert stars._stored_canonicals(session, set(centres)) == centres
    return len(firsts) + len(centres)


def remembering(monkeypatch: pytest.MonkeyPatch, limit: int) -> tuple[list[int], list[stars.Known]]:
    """``links.canonical_updates`` checking ``remembered_as_stored`` at each batch, before its
    own rows are written, with ``Known`` at most ``limit`` groups; (how many it remembered each
    time, the ``Known`` it was given)."""
    checked: list[int] = []
    given: list[stars.Known] = []
    real = index.canonical_updates

    def checking(session: Session, changes: stars.StarChanges, known: stars.Known | None = None) -> object:
        assert known is not None
        known.limit = limit
        given.append(known)
        checked.append(remembered_as_stored(session, known))
        return real(session, changes, known)

    monkeypatch.setattr(index, "canonical_updates", checking)
    return checked, given


def test_what_the_coordinator_remembers_of_the_stars_is_what_the_database_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One file a batch: the 2022 P4, a 2023 edit of it linked to it, then a 2019 copy that moves
    # the centre of both remembered groups, then a 2024 copy, whose batch finds them moved.
    edited = P4.replace("绿色低碳经济", "低碳循环经济").replace("美丽中国", "生态文明")
    inbox = {
        "a-town/2022/report.txt": report("甲镇2022年工作报告", P4),
        "b-town/2023/report.txt": report("乙镇2023年工作报告", edited),
        "c-town/2019/report.txt": report("丙镇2019年工作报告", P4, P2),
        "d-town/2024/report.txt": report("丁镇2024年工作报告", P4, edited),
    }
    checked, given = remembering(monkeypatch, stars.KNOWN_GROUPS)
    config = make_config(tmp_path, run={"batch_size": 1, "workers": 1})
    flow.run(config, [write_inbox(tmp_path / "inbox", inbox)])
    assert len(checked) == 4 and checked[-1] >= 4
    _, clusters = snapshot(config)
    assert clusters[("b-town/2023/report.txt", 2)] == ("c-town/2019/report.txt", 2)
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        assert remembered_as_stored(session, given[-1]) >= 4
    engine.dispose()
    assert canonicals(config, recompute=True) == canonicals(config)


def test_what_is_remembered_holds_when_groups_are_forgotten(
    tmp_path: Path, bench_inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, _ = remembering(monkeypatch, 60)
    config = make_config(tmp_path, run={"batch_size": 10, "workers": 1})
    flow.run(config, [bench_inbox / "inbox"])
    assert len(checked) > 5 and min(checked[1:]) > 0 and max(checked) <= 120
    assert canonicals(config, recompute=True) == canonicals(config)


def test_a_rolled_back_batch_leaves_nothing_remembered(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        indexer = Indexer(session, config)
        indexer.known.remember({1: (2020, 1)}, {1: (2020, 1)})
        with pytest.raises(RuntimeError), session.begin():
            raise RuntimeError("the batch failed")
        assert not indexer.known.firsts and not indexer.known.canonicals
    engine.dispose()


def band_rows(config: Config) -> tuple[int, int]:
    """Rows in each level of the band index: (main, blocks)."""
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        counted = levels.main_rows(session), levels.recent_rows(session)
    engine.dispose()
    return counted


def every_band_row(session: Session) -> list[tuple[int, int, int]]:
    """(band, key, passage id) of every row of the band index, both levels, sorted."""
    rows = [
        tuple(r)
        for r in session.execute(select(db.PassageBand.band, db.PassageBand.key, db.PassageBand.passage_id))
    ]
    for band, data in session.execute(select(db.BandBlock.band, db.BandBlock.data)):
        rows += [(band, key, passage) for key, passage in levels.decode(data).tolist()]
    return sorted(rows)


def test_incremental_nights_equal_one_run_over_everything(tmp_path: Path, bench_inbox: Path) -> None:
    whole = make_config(tmp_path / "whole")  # one run: every band row stays in the blocks
    flow.run(whole, [bench_inbox / "inbox"])
    # recent_band_rows = 0: each batch's rows are merged into the main level right after it, so
    # every night looks up all that came before it there.
    nightly = make_config(tmp_path / "nightly", store={"recent_band_rows": 0})
    years = sorted({p.parent.name for p in (bench_inbox / "inbox").glob("*/*/*")})
    for year in years:  # one night per year: the year's files only
        night = tmp_path / "nights" / year
        for path in (bench_inbox / "inbox").glob(f"*/{year}/*"):
            target = night / path.relative_to(bench_inbox / "inbox")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        flow.run(nightly, [night])
    whole_pairs, whole_clusters = snapshot(whole)
    night_pairs, night_clusters = snapshot(nightly)
    assert len(whole_pairs) > 500
    assert night_pairs == whole_pairs
    assert night_clusters == whole_clusters
    assert copied(nightly) == copied(whole)
    assert band_rows(whole) == (0, band_rows(nightly)[0])
    assert band_rows(nightly)[0] > 10_000 and band_rows(nightly)[1] == 0


def test_compaction_moves_the_blocks_and_later_runs_find_them(
    tmp_path: Path, runner: CliRunner, write_config: Callable[..., Path]
) -> None:
    config_file = write_config()  # the archive of make_config(tmp_path)
    config = make_config(tmp_path)
    early = {k: v for k, v in INBOX.items() if k != "town-b/2022/report.txt"}
    flow.run(config, [write_inbox(tmp_path / "early", early)])
    main_rows, run_rows = band_rows(config)
    assert main_rows == 0 and run_rows > 0  # the run's own rows wait for the next
    merged = runner.invoke(main, ["--config", str(config_file), "compact"], catch_exceptions=False)
    assert merged.exit_code == 0, merged.output
    assert f"merged {run_rows} band rows" in merged.output
    assert band_rows(config) == (run_rows, 0)
    # The 2022 report repeats P1: its candidates are now all in the main level.
    flow.run(config, [write_inbox(tmp_path / "early", INBOX)])
    whole = make_config(tmp_path / "whole")
    flow.run(whole, [write_inbox(tmp_path / "all", INBOX)])
    assert snapshot(config) == snapshot(whole)
    assert band_rows(config)[0] == run_rows and sum(band_rows(config)) == sum(band_rows(whole))


def test_the_first_passage_ids_filing_gives_the_linker_are_the_databases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each submission's first passage (a title or heading, never linked) is where the lookup
    stops excluding its own passages: filing's answer (given before the batch's passage rows are
    written) must be what the database says once they are."""
    given: list[tuple[dict[int, int], list[NewParagraph]]] = []
    night_rows = index._night_rows

    def noting(session: Session, paragraphs: list[NewParagraph], *args: object) -> object:
        firsts = args[1]
        assert isinstance(firsts, dict)
        given.append((dict(firsts), list(paragraphs)))
        return night_rows(session, paragraphs, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(index, "_night_rows", noting)
    config = make_config(tmp_path, run={"batch_size": 2, "workers": 1})
    flow.run(config, [write_inbox(tmp_path / "inbox", INBOX)])
    assert sum(1 for _, paragraphs in given if paragraphs) > 1
    later: list[bool] = []  # whether a submission's first indexed paragraph comes after its first passage
    with Session(db.open_engine(config.database_url)) as session:
        for firsts, paragraphs in given:
            stored = index._first_passage_ids(session, {p.submission_id for p in paragraphs})
            assert {sub: firsts[sub] for sub in stored} == stored
            assert len(stored) == len({p.submission_id for p in paragraphs})
            later.extend(
                min(p.id for p in paragraphs if p.submission_id == sub) > stored[sub] for sub in stored
            )
    assert any(later)  # the paragraphs alone would not tell


def test_a_run_leaves_its_blocks_for_the_next_run_to_find_and_merge(tmp_path: Path) -> None:
    config = make_config(tmp_path, run={"batch_size": 1, "workers": 1})
    early = {k: v for k, v in INBOX.items() if k != "town-b/2022/report.txt"}
    flow.run(config, [write_inbox(tmp_path / "early", early)])
    main_rows, run_rows = band_rows(config)
    assert main_rows == 0 and run_rows > 0  # every batch wrote blocks
    # The 2022 report repeats P1, whose band rows are only in the blocks.
    flow.run(config, [write_inbox(tmp_path / "early", INBOX)])
    whole = make_config(tmp_path / "whole")
    flow.run(whole, [write_inbox(tmp_path / "all", INBOX)])
    assert snapshot(config) == snapshot(whole)
    # Within the limit, nothing was merged. The 2022 report starts no new group: no rows of its
    # own. (A run that stops early leaves its blocks the same way.)
    assert band_rows(config) == (0, run_rows) and band_rows(whole) == (0, run_rows)


def test_a_run_compacts_when_the_blocks_are_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts merges because when the levels move is the mechanism; the results must not differ."""
    merges: list[int] = []  # rows moved by each merge
    compact_if_full = levels.compact_if_full

    def counting(session: Session, limit: int) -> int:
        merges.append(compact_if_full(session, limit))
        return merges[-1]

    monkeypatch.setattr(levels, "compact_if_full", counting)
    # A batch per file: the blocks of more than 100 // 4 rows a run added are merged after their batch.
    small = make_config(tmp_path, store={"recent_band_rows": 100}, run={"batch_size": 1})
    summary = flow.run(small, [write_inbox(tmp_path / "inbox", INBOX)])
    main_rows, recent_rows = band_rows(small)
    assert summary.compacted == main_rows > 0 and recent_rows > 0  # bands, not all
    assert "compact" in summary.stage_seconds
    assert len([rows for rows in merges if rows]) > 1  # merged during the run, not only at its start
    merges.clear()
    whole = make_config(tmp_path / "whole", run={"batch_size": 1})
    flow.run(whole, [write_inbox(tmp_path / "inbox", INBOX)])
    # A run within the default limit merges once, at its start, what the last run left (here
    # nothing). Its own blocks wait for the next run.
    assert merges == [0] and band_rows(whole)[1] > 0
    assert snapshot(small) == snapshot(whole) and sum(band_rows(small)) == sum(band_rows(whole))


def test_a_run_merges_what_the_last_run_left_before_it_links_its_first_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pins the order because its point is when the work runs; where a row sits changes no result (tested)."""
    early = {k: v for k, v in INBOX.items() if k != "town-b/2022/report.txt"}
    flow.run(make_config(tmp_path), [write_inbox(tmp_path / "early", early)])
    main_rows, run_rows = band_rows(make_config(tmp_path))
    assert main_rows == 0 and run_rows > 0
    calls: list[str] = []

    def recorded(module: object, name: str) -> object:
        original = getattr(module, name)

        def call(*args: object) -> object:
            calls.append(name)
            return original(*args)

        return call

    for module, name in ((levels, "compact_if_full"), (index, "link")):
        monkeypatch.setattr(module, name, recorded(module, name))
    # The last run's blocks are over this limit: the merge comes first, while the workers
    # process the first batch, and not after the last.
    over = make_config(tmp_path, store={"recent_band_rows": run_rows - 1})
    summary = flow.run(over, [write_inbox(tmp_path / "early", INBOX)])
    assert calls[0] == "compact_if_full" and "link" in calls
    assert calls.count("compact_if_full") == 1
    merged, left = band_rows(over)
    assert summary.compacted == merged > 0 and left <= run_rows - 1  # whole bands, the fullest
    assert merged + left == run_rows  # the 2022 report starts no new group
    # A run with nothing to process still merges what the last one left.
    (tmp_path / "empty").mkdir()
    drained = flow.run(make_config(tmp_path, store={"recent_band_rows": 0}), [tmp_path / "empty"])
    assert drained.compacted == left and band_rows(over) == (merged + left, 0)
    whole = make_config(tmp_path / "whole")
    flow.run(whole, [write_inbox(tmp_path / "all", INBOX)])
    assert snapshot(over) == snapshot(whole)


@settings(max_examples=25, deadline=None)
@given(
    per_band=st.dictionaries(st.integers(0, 31), st.integers(1, 40), max_size=12),
    limit=st.integers(0, 300),
    batches=st.integers(1, 3),
)
def test_compaction_merges_the_fullest_whole_bands_until_the_blocks_fit(
    per_band: dict[int, int], limit: int, batches: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = db.open_engine(f"sqlite:///{Path(folder) / 'archive.sqlite3'}")
        rows = [(band, key, 1 + key % batches) for band, n in per_band.items() for key in range(n)]
        with Session(engine) as session, session.begin():
            for batch in range(1, batches + 1):  # a block per band and batch
                written = sorted(row for row in rows if row[2] == batch)
                levels.write_blocks(session.connection(), np.array(written, dtype=np.int64).reshape(-1, 3))
            moved = levels.compact_if_full(session, limit)
        with Session(engine) as session:
            main_rows = Counter(session.scalars(select(db.PassageBand.band)))
            recent: Counter[int] = Counter()
            for band, held in session.execute(select(db.BandBlock.band, db.BandBlock.rows)):
                recent[band] += held
            assert sorted(every_band_row(session)) == sorted(rows)
        engine.dispose()
    merged = {band: per_band[band] for band in main_rows}
    assert moved == sum(merged.values()) and main_rows == merged  # whole bands only
    assert sum(recent.values()) <= limit  # the recent level fits…
    assert sum(recent.values()) + sum(main_rows.values()) == len(rows)
    if merged:  # …with no band merged that did not have to be: the fullest went first
        assert min(merged.values()) >= max(recent.values(), default=0)
        assert sum(recent.values()) + min(merged.values()) > limit


def test_changed_fingerprint_settings_refuse_until_reindex(
    tmp_path: Path, runner: CliRunner, write_config: Callable[..., Path]
) -> None:
    inbox = write_inbox(tmp_path / "inbox", INBOX)
    flow.run(make_config(tmp_path), [inbox])
    before = snapshot(make_config(tmp_path))
    changed = make_config(tmp_path, fingerprint={"num_perm": 64, "bands": 16, "rows": 4})
    with pytest.raises(ParameterMismatch, match="archiver reindex"):
        flow.run(changed, [inbox])
    config_file = write_config(fingerprint={"num_perm": 64, "bands": 16, "rows": 4})
    refused = runner.invoke(main, ["--config", str(config_file), "run", str(inbox)], catch_exceptions=False)
    assert refused.exit_code == 1 and "archiver reindex" in refused.output
    done = runner.invoke(main, ["--config", str(config_file), "reindex"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    again = runner.invoke(main, ["--config", str(config_file), "run", str(inbox)], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert snapshot(changed)[0] == before[0]  # these pairs are far from the threshold: same links
    main_rows, recent_rows = band_rows(changed)
    assert main_rows > 0 and recent_rows == 0  # reindex ends compacted; the rerun added nothing


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("ARCHIVER_TEST_POSTGRES_URL"), reason="set ARCHIVER_TEST_POSTGRES_URL")
def test_the_same_index_code_runs_on_postgresql(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    url = os.environ["ARCHIVER_TEST_POSTGRES_URL"]
    with create_engine(url).begin() as connection:  # a clean schema for this test
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    inbox = write_inbox(tmp_path / "inbox", INBOX)
    # recent_band_rows = 0: the run also compacts (INSERT … SELECT in key order) on PostgreSQL.
    on_pg = make_config(tmp_path / "pg", store={"database": url, "recent_band_rows": 0})
    on_sqlite = make_config(tmp_path / "sqlite")
    first = flow.run(on_pg, [inbox])
    flow.run(on_sqlite, [inbox])
    assert first.links > 0
    assert first.compacted == sum(band_rows(on_sqlite)) > 0 and band_rows(on_pg) == (first.compacted, 0)
    assert snapshot(on_pg) == snapshot(on_sqlite)
    assert copied(on_pg) == copied(on_sqlite)
    assert flow.run(on_pg, [inbox]).unchanged == len(INBOX)


def test_buckets_and_candidates_stay_bounded_on_alike_lines(tmp_path: Path) -> None:
    config = make_config(tmp_path, match={"max_candidates": 10})
    lines = near_alike_lines(400, seed=5, varying=6)
    inbox = write_inbox(
        tmp_path / "inbox",
        {"a/2020/log.txt": "\n".join(lines[:200]), "b/2021/log.txt": "\n".join(lines[200:])},
    )
    summary = flow.run(config, [inbox])
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        biggest = Counter((band, key) for band, key, _ in every_band_row(session)).values()
        rows = session.execute(select(db.PassageRow.id, db.PassageRow.submission_id)).all()
        submission_of = {passage: submission for passage, submission in rows}
        links = session.execute(
            select(db.MatchRow.passage_id, db.MatchRow.other_id).where(db.MatchRow.kind == "cross")
        ).all()
    engine.dispose()
    assert max(biggest) <= 10  # unbounded, the template's buckets hold hundreds
    assert summary.links == len(links) > 0  # the two logs are still linked
    per_passage: dict[int, int] = {}
    for new, other in links:
        assert submission_of[new] != submission_of[other]
        per_passage[new] = per_passage.get(new, 0) + 1
    assert max(per_passage.values()) <= 10


BUCKET = st.tuples(st.integers(0, 3), st.integers(-3, 3))  # (band, key): few, so buckets collide


def sorted_rows(members: list[tuple[int, int]]) -> np.ndarray:
    """(band, key, id) rows in index order, row i in bucket ``members[i]``."""
    return np.array(sorted((b, k, i) for i, (b, k) in enumerate(members)), dtype=np.int64).reshape(-1, 3)


def rows_the_tasks_add(
    url: str, stored: list[tuple[int, int, int]], rows: np.ndarray, cap: int, per_task: int
) -> tuple[int, list[tuple[int, int, int]]]:
    """What a batch of ``rows`` (band, key, passage id; one passage a submission) adds to the index
    at ``url`` holding ``stored`` (spread over both levels, a block a row): each lookup task judges
    its passages' rows (``links.look_up``), the coordinator appends them (``links._add_bands``).
    Returns the count it reports and the batch's rows in blocks, in the order written; rolled
    back."""
    engine = db.open_engine(url)
    session = Session(engine)
    try:
        session.begin()
        connection = session.connection()
        for i, row in enumerate(stored):
            if i % 2:
                levels.write_blocks(connection, np.array([row], dtype=np.int64))
            else:
                bulk.insert_tuples(connection, db.table(db.PassageBand), [row])
        night = np.column_stack([rows, rows[:, 2], buckets.rank(rows)]).astype(np.int64)
        ids = sorted(set(rows[:, 2].tolist()))
        indexed = [NewParagraph(pid, pid, "", None, "", None, b"") for pid in ids]
        saved, index.TASK_PASSAGES = index.TASK_PASSAGES, per_task
        try:
            tasks = index.placed_lookups(night, indexed, uuid.uuid4().hex)  # a session of its own
        finally:
            index.TASK_PASSAGES = saved
        fitting = [index.look_up(task, connection, cap)[0] for task, _ in tasks]
        found = [index.Found((), 0, f, 0.0) for f in fitting]
        count = index._add_bands(connection, night, [at for _, at in tasks], found)
        blocks = select(db.BandBlock.band, db.BandBlock.data).where(db.BandBlock.first_passage >= NIGHT_IDS)
        added = [
            (band, key, passage)
            for band, data in connection.execute(blocks.order_by(db.BandBlock.id))
            for key, passage in levels.decode(data).tolist()
        ]
        return count, added
    finally:
        session.rollback()
        session.close()
        engine.dispose()


NIGHT_IDS = 1000  # the batch's passages; the index holds earlier ones


POSTGRES_URL = os.environ.get("ARCHIVER_TEST_POSTGRES_URL", "")
ON_POSTGRES = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="set ARCHIVER_TEST_POSTGRES_URL"),
]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=ON_POSTGRES)])
@settings(max_examples=60, deadline=None)
@given(
    members=st.lists(BUCKET, max_size=60),
    held=st.dictionaries(BUCKET, st.integers(0, 6)),
    cap=st.integers(1, 5),
    per_task=st.integers(1, 7),
)
def test_the_rows_added_to_the_index_are_the_earliest_of_each_bucket_up_to_the_cap(
    backend: str, members: list[tuple[int, int]], held: dict[tuple[int, int], int], cap: int, per_task: int
) -> None:
    rows = sorted_rows(members)
    rows[:, 2] += NIGHT_IDS
    filled = dict(held)
    expected = []
    for band, key, passage in rows.tolist():  # the rule, row by row
        if filled.get((band, key), 0) < cap:
            expected.append((band, key, passage))
            filled[(band, key)] = filled.get((band, key), 0) + 1
    stored = [(band, key, 10 * n + 1) for (band, key), count in held.items() for n in range(count)]
    if backend == "postgresql":
        count, added = rows_the_tasks_add(POSTGRES_URL, stored, rows, cap, per_task)
    else:
        with tempfile.TemporaryDirectory() as folder:
            count, added = rows_the_tasks_add(
                f"sqlite:///{Path(folder) / 'archive.sqlite3'}", stored, rows, cap, per_task
            )
    assert added == expected  # in index order
    assert count == len(expected)


ROW = st.tuples(st.integers(0, 3), st.integers(-3, 3), st.integers(1, 40))  # band, key, passage id


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(ROW, max_size=60, unique=True),
    levels_of=st.lists(st.integers(0, 3), min_size=60, max_size=60),
    wanted=st.lists(BUCKET, min_size=1, max_size=28, unique=True),
    before=st.integers(1, 41),
    limit=st.integers(0, 10),  # below the blocks' rows, mostly: a merge drops blocks held
)
def test_the_rows_held_are_those_of_both_levels_in_the_buckets_asked_for(
    rows: list[tuple[int, int, int]],
    levels_of: list[int],
    wanted: list[tuple[int, int]],
    before: int,
    limit: int,
) -> None:
    """Each row goes to the main level (0) or to one of three batches' blocks; the rows held are
    read again, by the same process for the same session, after a merge and a batch more."""

    def expected(every: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        return sorted(r for r in every if (r[0], r[1]) in set(wanted) and r[2] < before)

    def held() -> list[tuple[int, int, int]]:
        keys = np.array(wanted, dtype=np.int64)
        found = index.held_rows(session.connection(), keys, before, scope)
        return sorted((b, k, p) for b, k, p in found.tolist())

    scope = uuid.uuid4().hex  # a writing session of its own
    placed = list(zip(rows, levels_of, strict=False))
    with tempfile.TemporaryDirectory() as folder:
        engine = db.open_engine(f"sqlite:///{Path(folder) / 'archive.sqlite3'}")
        with Session(engine) as session, session.begin():
            connection = session.connection()
            bulk.insert_tuples(connection, db.table(db.PassageBand), [r for r, level in placed if level == 0])
            for batch in (1, 2):
                written = sorted(r for r, level in placed if level == batch)
                levels.write_blocks(connection, np.array(written, dtype=np.int64).reshape(-1, 3))
            assert (
                held()
                == expected(every_band_row(session))
                == expected([r for r, level in placed if level < 3])
            )
            levels.compact_if_full(session, limit)
            last = sorted(r for r, level in placed if level == 3)
            levels.write_blocks(connection, np.array(last, dtype=np.int64).reshape(-1, 3))
            assert held() == expected(every_band_row(session)) == expected(rows)
        engine.dispose()


@settings(max_examples=80, deadline=None)
@given(
    passages=st.dictionaries(
        st.integers(1, 10_000),
        st.lists(st.integers(0, 2), min_size=8, max_size=8),  # few values: many equal keys
        max_size=30,
    ),
    bands=st.sampled_from([(4, 2), (8, 1), (2, 4)]),
)
def test_band_rows_are_the_plain_lexsort_of_every_row(
    passages: dict[int, list[int]], bands: tuple[int, int]
) -> None:
    config = FingerprintConfig(num_perm=8, bands=bands[0], rows=bands[1])
    signed = [(pid, np.array(values, dtype="<u4").tobytes()) for pid, values in passages.items()]
    fast = buckets.band_rows(signed, config)
    assert fast.dtype == np.int64 and fast.shape == (len(signed) * bands[0], 3)
    assert fast.tolist() == buckets._plain_band_rows(signed, config).tolist()


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 5) | st.integers(0, 2**32 - 1)), max_size=60)
)
def test_anchor_rows_are_the_plain_lexsort_of_every_row(rows: list[tuple[int, int]]) -> None:
    config = FingerprintConfig()
    ids = np.array([pid for pid, _ in rows], dtype=np.int64)
    hashes = np.array([h for _, h in rows], dtype=np.uint32)
    fast = buckets._anchor_rows(hashes, ids, config)
    assert fast.shape == (len(rows), 3)
    assert fast.tolist() == buckets._plain_anchor_rows(hashes, ids, config).tolist()


@settings(max_examples=100, deadline=None)
@given(
    ids=st.lists(st.integers(0, 2**31), min_size=1, max_size=40, unique=True)
    | st.lists(st.integers(10_000, 10_100), min_size=1, max_size=40, unique=True),
    picks=st.lists(st.integers(0, 10_000), max_size=80),
)
def test_positions_are_those_binary_search_gives(ids: list[int], picks: list[int]) -> None:
    given_ids = np.array(ids, dtype=np.int64)
    values = given_ids[[p % len(ids) for p in picks]] if picks else np.empty(0, np.int64)
    found = index.positions(given_ids, values)
    assert found.tolist() == index._plain_positions(given_ids, values).tolist()
    assert given_ids[found].tolist() == values.tolist()
