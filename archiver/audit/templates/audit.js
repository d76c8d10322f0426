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
  function setUpFilter(input, table) {
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        row.hidden = q !== "" && row.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  }
  function setUpPanel() {
    var current = null;
    Array.prototype.forEach.call(document.querySelectorAll("a.reuse"), function (a) {
      function show() {
        var entry = document.getElementById("s" + a.id.slice(1));
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
    var input = document.getElementById("filter");
    if (input && table) { setUpFilter(input, table); }
    setUpPanel();
  });
})();
