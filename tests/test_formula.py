"""Formula set apart from substantive reuse, and resubmissions, on small real and Chinese examples."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from archiver import flow
from archiver.audit import formula
from archiver.audit import reuse as audit
from archiver.config import Config
from archiver.errors import ConfigError
from archiver.store import db
from tests.conftest import make_config
from tests.test_index import write_inbox
from tests.test_search import LINES
from tests.test_structure import report

DATA = Path(__file__).parent / "data" / "formula"
OPENING_2022 = (DATA / "state-council_2022_opening.txt").read_text(encoding="utf-8")
OPENING_2024 = (DATA / "state-council_2024_opening.txt").read_text(encoding="utf-8")
MANDATED = "现在，我代表国务院，向大会报告政府工作，请予审议，并请全国政协委员提出意见。"
COPIED = OPENING_2022.splitlines()[8]  # a paragraph of the 2022 review, planted in 2024's


def run_audit(config: Config) -> audit.Report:
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        rules = formula.rules(session, config)
        report = audit.audit(
            session,
            audit.load(session),
            config.match.match_at,
            rules=rules,
            resubmission_at=config.audit.resubmission_at,
        )
    engine.dispose()
    return report


def texts_of(report: audit.Report, file: str) -> tuple[set[str], dict[str, str]]:
    """(texts of its substantive reused passages, text → formula reason) of ``file``."""
    (m,) = [m for m in report.documents if m.doc.file == file]
    paras = report.snapshot.paras
    return {paras[p].text for p in m.reused_passages}, {paras[p].text: why for p, why in m.formula}


def test_the_mandated_opening_and_the_date_line_are_never_substantive(tmp_path: Path) -> None:
    assert MANDATED in OPENING_2022 and MANDATED in OPENING_2024
    inbox = write_inbox(
        tmp_path / "in",
        {
            "guowuyuan/2022/report.txt": OPENING_2022,
            "guowuyuan/2024/report.txt": OPENING_2024 + "\n" + COPIED + "\n",
        },
    )
    config = make_config(tmp_path)
    flow.run(config, [inbox])
    report = run_audit(config)
    substantive, formulaic = texts_of(report, "guowuyuan/2024/report.txt")
    # The real copy is still reuse, and so is 2022's sentence of statistics with 2024's figures
    # (reuse is counted in characters: that sentence, not the rest of its paragraph).
    (stats,) = [line for line in OPENING_2024.splitlines() if line.endswith("国际收支基本平衡。")]
    sentence = stats[stats.index("城镇新增就业") :]
    assert substantive == {COPIED, stats}
    assert formulaic.get(MANDATED) == "set_phrase"  # matched, and set apart
    for line in OPENING_2024.splitlines():
        if line.startswith("——2024年") or line.startswith("现在，我代表"):
            assert line not in substantive
    (m,) = [m for m in report.documents if m.doc.file == "guowuyuan/2024/report.txt"]
    as_json = audit.document_json(m, report.snapshot.docs)
    assert as_json["formula_share"] == round(m.formula_chars / m.chars, 4) > 0
    assert as_json["reused_share"] == round((len(COPIED) + len(sentence)) / m.chars, 4)
    assert as_json["new_share"] == round(1 - as_json["reused_share"] - as_json["formula_share"], 4)


SHARED = LINES[30]  # a long real paragraph (> formula_max_chars)


def five_authorities(count: int) -> dict[str, str]:
    return {
        f"county{i}/2024/report.txt": f"第{i}县2024年工作总结\n{SHARED}\n{LINES[40 + i]}\n"
        for i in range(count)
    }


@pytest.mark.parametrize(("count", "formulaic"), [(5, True), (4, False)])
def test_a_passage_of_many_authorities_is_formula(tmp_path: Path, count: int, formulaic: bool) -> None:
    assert len(SHARED) > 50
    config = make_config(tmp_path)
    flow.run(config, [write_inbox(tmp_path / "in", five_authorities(count))])
    report = run_audit(config)
    substantive, formula_texts = texts_of(report, "county0/2024/report.txt")
    if formulaic:
        assert formula_texts == {SHARED: "authorities"} and substantive == set()
    else:
        assert formula_texts == {} and substantive == {SHARED}


def test_a_template_file_takes_its_passages_out_of_substantive_reuse(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    flow.run(config, [write_inbox(tmp_path / "in", five_authorities(2))])
    assert texts_of(run_audit(config), "county1/2024/report.txt")[0] == {SHARED}
    templates = tmp_path / "formats"
    (templates / "sub").mkdir(parents=True)
    (templates / "sub" / "format.txt").write_text(
        "规定格式\n" + SHARED.replace("。", "，", 1) + "\n", encoding="utf-8"
    )
    with_template = make_config(tmp_path, audit={"templates": [str(templates)]})
    substantive, formula_texts = texts_of(run_audit(with_template), "county1/2024/report.txt")
    assert substantive == set() and formula_texts == {SHARED: "template"}


def test_templates_that_do_not_exist_stop_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[audit\].*does not exist"):
        make_config(tmp_path, audit={"templates": ["no-such-folder"]})
    with pytest.raises(ConfigError, match="formula_authorities"):
        make_config(tmp_path, audit={"formula_authorities": 1})
    with pytest.raises(ConfigError, match="resubmission_at"):
        make_config(tmp_path, audit={"resubmission_at": 0})


REPORT_2024 = ["甲县2024年第一季度工作报告", LINES[50], LINES[51], LINES[52], LINES[53]]
CORRECTED = [
    REPORT_2024[0] + "（更正）",
    LINES[50],
    LINES[51].replace("2023", "2024", 1),
    LINES[52],
    LINES[53],
]


def test_a_corrected_report_filed_again_is_a_resubmission_not_a_copy(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    night1 = {
        "jia/2024/q1.txt": "\n".join(REPORT_2024),
        "jia/2024/plan.txt": "甲县2024年工作计划\n" + "\n".join(LINES[60:64]),  # same place, other text
    }
    flow.run(config, [write_inbox(tmp_path / "n1", night1)])
    night2 = {
        **night1,
        "jia/2024/q1-corrected.txt": "\n".join(CORRECTED),
        "yi/2025/copy.txt": "乙县2025年工作报告\n" + LINES[50] + "\n" + LINES[70],
    }
    flow.run(config, [write_inbox(tmp_path / "n2", night2)])
    report = run_audit(config)
    by_file = {m.doc.file: m for m in report.documents}
    docs = report.snapshot.docs
    resubmitted = by_file["jia/2024/q1-corrected.txt"]
    assert (
        resubmitted.resubmission_of is not None
        and docs[resubmitted.resubmission_of].file == "jia/2024/q1.txt"
    )
    assert by_file["jia/2024/q1.txt"].resubmission_of is None
    assert by_file["jia/2024/plan.txt"].resubmission_of is None
    original = by_file["jia/2024/q1.txt"]
    assert original.reused_chars == 0 and original.most_from is None  # never a copy of the later one
    copy = by_file["yi/2025/copy.txt"]
    assert copy.most_from is not None and docs[copy.most_from].file == "jia/2024/q1.txt"
    assert all(link.other_submission_id != resubmitted.doc.id for link in copy.links)
    trends = {t["authority"]: t for t in audit.authority_trends(report.documents)}
    assert trends["jia"]["documents"] == 2  # q1 and plan: the resubmission is not counted twice
    as_json = audit.document_json(resubmitted, docs)
    assert as_json["resubmission_of"] == "jia/2024/q1.txt"


def test_a_document_sharing_only_part_of_an_earlier_one_is_no_resubmission(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    flow.run(config, [write_inbox(tmp_path / "n1", {"jia/2024/a.txt": "\n".join(REPORT_2024)})])
    half = [REPORT_2024[0], LINES[50], LINES[51], LINES[65], LINES[66]]
    flow.run(config, [write_inbox(tmp_path / "n2", {"jia/2024/b.txt": "\n".join(half)})])
    report = run_audit(config)
    assert all(m.resubmission_of is None for m in report.documents)


def portal_copy(year: int, session: int) -> str:
    """A real NPC resolution as copied from a portal page: buttons, breadcrumb, 原文链接, 发布机构
    above it, the site's URL and share buttons below."""
    return (
        "下载 打印 全屏 收藏 【字号：大 中 小】\n首页 > 信息公开 > 决议决定\n"
        f"原文链接：http://www.npc.gov.cn/zgrdw/npc/xinwen/{year}-03/14/content_15{session}4736.htm\n"
        "发布机构：全国人民代表大会\n"
        f"第十一届全国人民代表大会第{'三四'[session - 3]}次会议关于政府工作报告的决议\n"
        + report(f"npc-resolution-on-gwr_{year}_wikisource.txt")
        + "\nhttp://www.npc.gov.cn/\n分享到：微信 微博 QQ空间\n【打印本页】 【关闭窗口】\n"
    )


def test_page_leftovers_of_real_reports_are_never_reuse_nor_formula(tmp_path: Path) -> None:
    """The 原文链接, 发布机构 and URL lines of two real reports match each other's, and the two
    resolutions share real phrases: only the phrases count, substantive or formula."""
    files = {
        "npc/2010/resolution.txt": portal_copy(2010, 3),
        "npc/2011/resolution.txt": portal_copy(2011, 4),
        "npc-site/2011/resolution.txt": portal_copy(2011, 4).replace("npc.gov.cn/zgrdw", "gov.cn/xinwen"),
    }
    config = make_config(tmp_path)
    flow.run(config, [write_inbox(tmp_path / "in", files)])
    report_ = run_audit(config)
    paras = report_.snapshot.paras
    chrome = {p.id for p in paras.values() if p.kind == "chrome"}
    assert len(chrome) == 3 * 7  # the four lines above and three below each text, all kept
    measured = list(report_.measured.values())
    assert sum(m.reused_chars for m in measured) > 0  # the resolutions' shared phrases are reuse
    for m in measured:
        assert chrome.isdisjoint(r.copied.passage_id for r in m.spans)
        assert chrome.isdisjoint(p for p, _ in m.formula)
        assert chrome.isdisjoint(c.passage_id for c in m.shared)
        assert chrome.isdisjoint(link.passage_id for link in m.links)
