// The desk queue: keyboard moves (j/k/o/x, "/" to search, "?" for help), ticks and the current row kept
// across live refreshes, a count of ticked rows for the bulk bar, and a WebSocket that asks for fresh
// rows when an item of the user's brands changes hands (the rows also refresh every 15 s, which is
// what catches status changes and new items).
(function () {
  "use strict";
  var current = null; // id of the highlighted draft

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue-rows tbody tr[data-draft]"));
  }

  function highlight(row) {
    rows().forEach(function (r) {
      r.classList.toggle("is-current", r === row);
      r.removeAttribute("aria-current");
    });
    if (!row) return;
    row.setAttribute("aria-current", "true");
    current = row.dataset.draft;
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var list = rows();
    if (!list.length) return;
    var index = list.findIndex(function (r) { return r.dataset.draft === current; });
    index = index < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(Math.max(index + step, 0), list.length - 1);
    highlight(list[index]);
  }

  function currentRow() {
    return rows().find(function (r) { return r.dataset.draft === current; }) || null;
  }

  var overlay = document.getElementById("shortcuts");
  function toggleHelp(show) {
    if (!overlay) return;
    overlay.hidden = show === undefined ? !overlay.hidden : !show;
    if (!overlay.hidden) overlay.querySelector("[data-shortcuts-close]").focus();
  }

  function typing(target) {
    return target.closest && target.closest("input, textarea, select, [contenteditable='true']");
  }

  document.addEventListener("keydown", function (event) {
    if (event.metaKey || event.ctrlKey || event.altKey) return;
    if (event.key === "Escape") { toggleHelp(false); return; }
    if (typing(event.target)) return;
    var row;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o":
      case "Enter":
        row = currentRow();
        if (!row || (event.key === "Enter" && event.target.closest("a, button"))) return;
        window.location.href = row.querySelector("[data-open]").href;
        break;
      case "x":
        row = currentRow();
        if (!row) return;
        var box = row.querySelector("input[name=ids]");
        box.checked = !box.checked;
        updateCount();
        break;
      case "/":
        var search = document.querySelector(".filters input[name=q]");
        if (search) search.focus();
        break;
      case "?": toggleHelp(); break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-shortcuts-open]")) toggleHelp(true);
    else if (event.target.closest("[data-shortcuts-close]") || event.target === overlay) toggleHelp(false);
    var row = event.target.closest("#queue-rows tbody tr[data-draft]");
    if (row) highlight(row);
  });

  // Ticks: "select all", and the count in the bulk bar.
  function updateCount() {
    var n = document.querySelectorAll("#queue-rows input[name=ids]:checked").length;
    var label = document.querySelector("[data-selected-count]");
    if (label) label.textContent = n ? n + " selected" : "None selected";
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      document.querySelectorAll("#queue-rows input[name=ids]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
    if (event.target.matches("[data-bulk-action]")) showBulkFields();
    updateCount();
  });

  function showBulkFields() {
    var select = document.querySelector("[data-bulk-action]");
    if (!select) return;
    document.querySelectorAll("[data-bulk-for]").forEach(function (el) {
      el.hidden = el.dataset.bulkFor !== select.value;
    });
  }
  showBulkFields();

  // A refresh replaces the rows: keep what the person ticked and where they were.
  var ticked = [];
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "queue-rows") {
      ticked = Array.prototype.map.call(
        document.querySelectorAll("#queue-rows input[name=ids]:checked"), function (box) { return box.value; });
    }
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    if (!document.getElementById("queue-rows")) return;
    ticked.forEach(function (id) {
      var box = document.querySelector('#queue-rows input[name=ids][value="' + id + '"]');
      if (box) box.checked = true;
    });
    var row = currentRow();
    if (row) row.classList.add("is-current");
    updateCount();
  });

  // Live: any claim or assignment in the user's brands asks for fresh rows.
  var rowsEl = document.getElementById("queue-rows");
  if (rowsEl && window.WebSocket && window.htmx) {
    var delay = 1000;
    var connect = function () {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + rowsEl.dataset.wsPath);
      socket.onopen = function () { delay = 1000; };
      socket.onmessage = function () { htmx.trigger(document.body, "queue-changed"); };
      socket.onclose = function (event) {
        if (event.code === 4403) return; // not a member of any brand: nothing to follow
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    };
    connect();
  }
})();
