"""Another authority's place and organisation names in text copied from it are flagged."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from archiver import flow
from archiver.audit import reuse as audit
from archiver.audit._places import names
from archiver.audit.html import document_html
from archiver.store import db
from tests.conftest import make_config
from tests.test_index import write_inbox

# 江宁区's hydrology paragraph, with its river, its townships and its water bureau.
HYDROLOGY = (
    "加强秦淮河流域防洪工程建设，江宁区水务局牵头完成禄口街道、横溪街道河道疏浚，"
    "新建排涝泵站三座，加固堤防十二公里，汛期未发生重大险情，城乡防洪排涝能力明显提升。"
)
JIANGNING = {
    "jiangning/2024/report.txt": "江宁区2024年工作总结\n"
    + HYDROLOGY
    + "\n江宁区全年完成固定资产投资一千亿元，同比增长百分之六。",
}
LISHUI = {
    # 溧水区 copies the paragraph whole, 江宁区's names included; its own text names only itself.
    "lishui/2025/report.txt": "溧水区2025年工作总结\n"
    + HYDROLOGY
    + "\n溧水区石湫街道、洪蓝街道完成人居环境整治，新建农村公路三十公里，群众满意度持续提高。",
    # 高淳区 copies it too, but 禄口街道 is also in its own text (a real shared border, say).
    "gaochun/2025/report.txt": "高淳区2025年工作总结\n"
    + HYDROLOGY
    + "\n高淳区与禄口街道共建产业园区，新引进项目二十个，完成招商引资五十亿元，就业持续扩大。",
}


def foreign(tmp_path: Path) -> dict[str, set[str]]:
    config = make_config(tmp_path)
    flow.run(config, [write_inbox(tmp_path / "n1", JIANGNING)])
    flow.run(config, [write_inbox(tmp_path / "n2", {**JIANGNING, **LISHUI})])
    engine = db.open_engine(config.database_url)
    with Session(engine) as session:
        report = audit.audit(session, audit.load(session), config.match.match_at)
    engine.dispose()
    out = {m.doc.file: {n.name for n in m.foreign_names} for m in report.documents}
    (lishui,) = [m for m in report.documents if m.doc.file == "lishui/2025/report.txt"]
    as_json = audit.document_json(lishui, report.snapshot.docs)
    assert {n["source"] for n in as_json["foreign_names"]} == {"jiangning/2024/report.txt"}
    for n in lishui.foreign_names:  # offsets point at the name in the passage
        assert report.snapshot.paras[n.passage_id].text[n.start : n.start + len(n.name)] == n.name
    page = document_html(lishui, report)  # highlighted in the text, and listed
    assert page.count('<mark class="foreign" title=') == len(lishui.foreign_names)
    assert '<mark class="foreign">秦淮河</mark>' in page
    return out


def test_the_source_authoritys_names_are_flagged_in_the_copy(tmp_path: Path) -> None:
    flagged = foreign(tmp_path)
    assert {"秦淮河", "江宁区", "禄口", "横溪"} <= flagged["lishui/2025/report.txt"]
    assert "溧水区" not in flagged["lishui/2025/report.txt"]
    # A name the copier's own text also uses is its own too.
    assert "禄口" not in flagged["gaochun/2025/report.txt"]
    assert "秦淮河" in flagged["gaochun/2025/report.txt"]
    assert flagged["jiangning/2024/report.txt"] == set()  # the source itself copied nothing


def test_names_gives_places_and_organisations_with_offsets() -> None:
    text = "湖南省人民政府要求长沙市、株洲市加快发展。"
    found = list(names(text))
    assert ("长沙市", "ns", text.index("长沙市")) in found
    assert any(tag == "nt" for _, tag, _ in found)
    assert all(text[start : start + len(name)] == name for name, _, start in found)
