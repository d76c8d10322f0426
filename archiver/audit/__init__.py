"""Reading the archive for people: reuse figures (``reuse``, ``formula``, ``docpairs``), the
export (``export``), search (``search``, ``find``), the HTML report (``html``, ``templates/``)
and the clerk's review page (``review``). Modules whose name starts with ``_`` are private to the
package.
"""

__all__ = ["docpairs", "export", "find", "formula", "html", "reuse", "review", "search"]
