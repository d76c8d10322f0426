"""The audit as a static, self-contained site: ``write_site(report, DIR)``.

DIR/index.html      the documents table (sortable, filterable) and the reuse chart by year
DIR/docs/<id>.html  one per document (submission id): its cleaned text, each reused passage a
                    highlight ``<a class="reuse" data-kind="earlier|other|inside">`` linking to the
                    earlier occurrence (``docs/<m>.html#p<passage id>``), the sources beside it
DIR/clusters.html   the clusters with their keywords and occurrences

No network: CSS and JS (``templates/``) are inlined, the chart is inline SVG. Every piece of
submitted text (file names, authorities, titles, passages, headings) goes through ``esc``.
"""

from __future__ import annotations

from html import escape
from importlib import resources
from pathlib import Path

from archiver.audit.chart import chart_svg
from archiver.audit.reuse import Cluster, DocumentReuse, Link, Para, Report, authority_trends

KIND_LABEL = {
    "earlier": "本单位往年 earlier year",
    "other": "其他单位 other authority",
    "inside": "本文重复 inside",
}
MAX_SOURCES = 6  # linked passages listed per highlight in the side panel


def esc(text: object) -> str:
    return escape("" if text is None else str(text), quote=True)


def _asset(name: str) -> str:
    return (resources.files("archiver.audit") / "templates" / name).read_text(encoding="utf-8")


def page(title: str, body: str) -> str:
    """A complete HTML page with the CSS and JS inlined (no external request of any kind)."""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{_asset('audit.css')}</style></head>\n"
        f"<body>\n{body}\n<script>{_asset('audit.js')}</script></body></html>\n"
    )


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _share_cell(share: float, bar: bool = False) -> str:
    width = f'<span class="bar" style="width:{share * 4:.2f}rem"></span>' if bar else ""
    return f'<td class="num" data-sort="{share:.6f}">{pct(share)}{width}</td>'


COLUMNS = (
    ("file", "文件 file", ""),
    ("authority", "单位 authority", ""),
    ("year", "年度 year", "num"),
    ("chars", "字数 chars", "num"),
    ("reused_share", "复用 reused", "num"),
    ("from_earlier_years", "往年 earlier years", "num"),
    ("from_other_authorities", "其他单位 other authorities", "num"),
    ("repeated_inside", "本文重复 inside", "num"),
    ("new_share", "新内容 new", "num"),
    ("most", "主要来源 most reused from", ""),
)


def _row(m: DocumentReuse, report: Report) -> str:
    doc, chars = m.doc, m.chars
    source = report.snapshot.docs.get(m.most_from) if m.most_from is not None else None
    base = chars + m.removed_chars
    cells = [
        f'<td><a href="docs/{doc.id}.html">{esc(doc.file)}</a></td>',
        f"<td>{esc(doc.authority)}</td>",
        f'<td class="num" data-sort="{doc.year or 0}">{esc(doc.year)}</td>',
        f'<td class="num" data-sort="{chars}">{chars}</td>',
        _share_cell(m.share(m.reused_chars), bar=True),
        _share_cell(m.share(m.earlier_chars)),
        _share_cell(m.share(m.other_chars)),
        _share_cell((m.inside_chars + m.removed_chars) / base if base else 0.0),
        _share_cell(1.0 - m.share(m.reused_chars)),
        f'<td><a href="docs/{source.id}.html">{esc(source.file)}</a></td>' if source else "<td></td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def index_html(report: Report) -> str:
    heads = "".join(
        f'<th data-key="{key}"' + (' data-type="num"' if t else "") + f">{esc(label)}</th>"
        for key, label, t in COLUMNS
    )
    rows = "\n".join(_row(m, report) for m in report.documents)
    f = report.filters
    given = (("authority", f.authority), ("year", f.year), ("since", f.since), ("min-share", f.min_share))
    chosen = ", ".join(f"{k}={v}" for k, v in given if v is not None)
    return page(
        "复用审计 Reuse audit",
        f"""<h1>复用审计 Reuse audit</h1>
<nav><a href="clusters.html">复用段落聚类 Clusters ({len(report.clusters)})</a></nav>
<p class="muted">{len(report.documents)} documents; match threshold {report.match_at};
filters: {esc(chosen or "none")}. Shares are of each document's cleaned characters (newlines excluded);
“inside” is of the submitted text, repeats removed by cleaning included.</p>
<h2>按年度的复用比例 Reuse share by year</h2>
{chart_svg(authority_trends(report.documents))}
<h2>文件 Documents</h2>
<input id="filter" type="search" placeholder="筛选 filter: 文件、单位、年度…" aria-label="filter">
<table id="documents"><thead><tr>{heads}</tr></thead>
<tbody>
{rows}
</tbody></table>""",
    )


def _target(links: list[Link], report: Report) -> Link:
    """The earlier occurrence a highlight leads to: most similar, then earliest."""
    docs = report.snapshot.docs
    return min(links, key=lambda k: (-k.similarity, docs[k.other_submission_id].year or 0, k.other_id))


def _passage_html(para: Para, links: list[Link], report: Report) -> str:
    if not links:
        return f'<span id="p{para.id}">{esc(para.text)}</span>'
    kinds = {k.kind for k in links}
    kind = next(k for k in ("earlier", "other", "inside") if k in kinds)
    chosen = [k for k in links if k.kind == kind]
    target = _target(chosen, report)
    return (
        f'<a class="reuse" data-kind="{kind}" id="p{para.id}" '
        f'href="{target.other_submission_id}.html#p{target.other_id}" '
        f'title="{esc(KIND_LABEL[kind])} {target.similarity:.2f}">{esc(para.text)}</a>'
    )


def _text_html(m: DocumentReuse, report: Report, by_passage: dict[int, list[Link]]) -> str:
    """The cleaned text, one <p> per line, each passage a span or a highlight."""
    snap = report.snapshot
    kept = sorted(
        (snap.paras[i] for i in snap.by_doc.get(m.doc.id, ()) if snap.paras[i].start is not None),
        key=lambda p: p.start or 0,
    )
    text, out, pos = m.doc.text, [], 0
    for para in kept:
        start, end = para.start or 0, para.end or 0
        out.append(esc(text[pos:start]).replace("\n", "</p>\n<p>"))
        out.append(_passage_html(para, by_passage.get(para.id, []), report))
        pos = end
    out.append(esc(text[pos:]).replace("\n", "</p>\n<p>"))
    return "<p>" + "".join(out) + "</p>"


def _sources_html(para: Para, links: list[Link], report: Report) -> str:
    snap = report.snapshot
    kind = next(k for k in ("earlier", "other", "inside") if k in {x.kind for x in links})
    ordered = sorted(links, key=lambda k: (k.kind != kind, -k.similarity, k.other_id))
    items = []
    for link in ordered[:MAX_SOURCES]:
        other, doc = snap.paras[link.other_id], snap.docs[link.other_submission_id]
        items.append(
            f'<p><span class="key {link.kind}"></span>{esc(KIND_LABEL[link.kind])} · '
            f'<a href="{doc.id}.html#p{other.id}">{esc(doc.file)}</a> · {esc(doc.year)} · '
            f"相似度 similarity {link.similarity:.2f}"
            + (f'<br><span class="muted">{esc(other.heading)}</span>' if other.heading else "")
            + f"</p><blockquote>{esc(other.text)}</blockquote>"
        )
    more = len(ordered) - MAX_SOURCES
    tail = f'<p class="muted">… {more} more</p>' if more > 0 else ""
    return (
        f'<section class="source {kind}" id="s{para.id}"><p class="muted">§ {esc(para.text[:40])}…</p>'
        + "".join(items)
        + tail
        + "</section>"
    )


def document_html(m: DocumentReuse, report: Report) -> str:
    snap = report.snapshot
    by_passage: dict[int, list[Link]] = {}
    for link in m.links:
        by_passage.setdefault(link.passage_id, []).append(link)
    ordered = sorted(by_passage, key=lambda i: snap.paras[i].start or 0)
    panel = "".join(_sources_html(snap.paras[i], by_passage[i], report) for i in ordered)
    removed = [snap.paras[i] for i in snap.by_doc.get(m.doc.id, ()) if snap.paras[i].removed]
    removed_html = "".join(f"<p>{esc(p.text)}</p>" for p in removed)
    removed_part = f'<section class="removed"><h2>已删除的重复 Removed repeats</h2>{removed_html}</section>'

    base = m.chars + m.removed_chars
    inside = (m.inside_chars + m.removed_chars) / base if base else 0.0
    return page(
        m.doc.file,
        f"""<nav><a href="../index.html">← 全部文件 all documents</a> ·
<a href="../clusters.html">聚类 clusters</a></nav>
<h1>{esc(m.doc.title or m.doc.file)}</h1>
<p class="muted">{esc(m.doc.file)} · {esc(m.doc.authority)} · {esc(m.doc.year)} · {m.chars} chars ·
reused {pct(m.share(m.reused_chars))} (earlier years {pct(m.share(m.earlier_chars))}, other authorities
{pct(m.share(m.other_chars))}) · inside {pct(inside)} · new {pct(1 - m.share(m.reused_chars))}</p>
<p class="legend"><span><span class="key earlier"></span>{esc(KIND_LABEL["earlier"])}</span>
<span><span class="key other"></span>{esc(KIND_LABEL["other"])}</span>
<span><span class="key inside"></span>{esc(KIND_LABEL["inside"])}</span></p>
<div class="split"><article class="text">{_text_html(m, report, by_passage)}</article>
<aside class="panel"><h2>来源 Sources</h2>{panel or '<p class="muted">none</p>'}</aside></div>
{removed_part if removed else ""}""",
    )


def _cluster_html(c: Cluster) -> str:
    years = c.years
    span = f"{years[0]}–{years[-1]}" if years else "?"
    rows = "".join(
        f'<tr><td><a href="docs/{o.submission_id}.html#p{o.passage_id}">{esc(o.file)}</a></td>'
        f'<td>{esc(o.authority)}</td><td class="num">{esc(o.year)}</td><td>{esc(o.heading)}</td>'
        f'<td class="num">{"" if o.similarity is None else f"{o.similarity:.2f}"}</td></tr>'
        for o in c.occurrences
    )
    tags = "".join(f"<span>{esc(t)}</span>" for t in c.keywords)
    return (
        f'<section class="cluster" id="c{c.canonical.id}"><p class="tags">{tags}</p>'
        f'<p class="muted">{span} · {c.authorities} authorities · {len(c.occurrences)} occurrences</p>'
        f"<blockquote>{esc(c.canonical.text)}</blockquote>"
        f"<details><summary>occurrences</summary><table><thead><tr><th>file</th><th>authority</th>"
        f"<th>year</th><th>section</th><th>similarity</th></tr></thead><tbody>{rows}</tbody></table>"
        "</details></section>"
    )


def clusters_html(report: Report) -> str:
    body = "\n".join(_cluster_html(c) for c in report.clusters)
    return page(
        "复用段落聚类 Clusters",
        f"""<nav><a href="index.html">← 全部文件 all documents</a></nav>
<h1>复用段落聚类 Clusters of reused passages</h1>
<p class="muted">{len(report.clusters)} clusters seen in two or more documents, widest first; the quoted text
is the canonical (earliest) passage; keywords by jieba TF-IDF.</p>
{body or '<p class="muted">none</p>'}""",
    )


def pages_needed(report: Report) -> list[int]:
    """Documents that get a page: the selected ones and every one they or the clusters link to."""
    ids = {m.doc.id for m in report.documents}
    ids |= {k.other_submission_id for m in report.documents for k in m.links}
    ids |= {o.submission_id for c in report.clusters for o in c.occurrences}
    return sorted(ids)


def write_site(report: Report, out: Path) -> list[Path]:
    """Write the site under ``out``; returns the files written."""
    (out / "docs").mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, str]] = [
        (out / "index.html", index_html(report)),
        (out / "clusters.html", clusters_html(report)),
    ]
    written += [
        (out / "docs" / f"{i}.html", document_html(report.measured[i], report)) for i in pages_needed(report)
    ]
    for path, text in written:
        path.write_text(text, encoding="utf-8")
    return [path for path, _ in written]
