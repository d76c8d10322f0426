// archiver audit report: sortable, filterable table and the source panel. No network.
(function () {
  "use strict";
  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-type") === "num";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[index];
      var value = cell.getAttribute("data-sort");
      if (value === null) { value = cell.textContent; }
      return numeric ? parseFloat(value) : value;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var c = numeric ? x - y : String(x).localeCompare(String(y), "zh");
      return ascending ? c : -c;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  function setUpTable(table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.addEventListener("click", function () { sortBy(table, th); });
    });
  }
  // The filter box looks at the row (file, authority, year…), the search box at the document's
  // cleaned text; a row shows when it passes both. The texts are a script of their own
  // (data-texts), loaded when the search box is first used: the page stays small.
  function setUpBoxes(table) {
    var filter = document.getElementById("filter");
    var search = document.getElementById("search");
    var count = document.getElementById("search-count");
    var loading = false;
    function texts() {
      if (window.archiverTexts || loading || !search || !search.dataset.texts) { return window.archiverTexts; }
      loading = true;
      if (count) { count.textContent = "载入全文… loading the texts…"; }
      var script = document.createElement("script");
      script.src = search.dataset.texts;
      script.onload = apply;
      script.onerror = function () {
        if (count) { count.textContent = "无法载入全文 cannot load " + search.dataset.texts; }
      };
      document.head.appendChild(script);
      return undefined;
    }
    function apply() {
      var f = filter ? filter.value.trim().toLowerCase() : "";
      var q = search ? search.value : "";
      var all = q === "" ? {} : texts();
      if (q !== "" && !all) { return; }  // apply() runs again once they are loaded
      var found = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = all[row.getAttribute("data-doc")] || "";
        var hit = q === "" || text.indexOf(q) >= 0;
        if (q !== "" && hit) { found += 1; }
        row.hidden = !hit || (f !== "" && row.textContent.toLowerCase().indexOf(f) < 0);
      });
      if (count) { count.textContent = q === "" ? "" : found + " 份文件包含 documents contain “" + q + "”"; }
    }
    if (filter) { filter.addEventListener("input", apply); }
    if (search) { search.addEventListener("input", apply); }
  }
  function setUpPanel() {
    var current = null;
    Array.prototype.forEach.call(document.querySelectorAll("a.reuse"), function (a) {
      function show() {
        var entry = document.getElementById("s" + (a.dataset.passage || a.id.slice(1)));
        if (!entry) { return; }
        if (current) { current.classList.remove("active"); }
        entry.classList.add("active");
        current = entry;
        var panel = entry.parentNode;
        panel.scrollTop = entry.offsetTop - panel.offsetTop;
      }
      a.addEventListener("mouseenter", show);
      a.addEventListener("focus", show);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("documents");
    if (table) { setUpTable(table); }
    if (table) { setUpBoxes(table); }
    setUpPanel();
  });
  // Printed, an expandable list shows all of itself (auditors send the pages on).
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
  });
})();
