// A batch's progress bar and rows table: live over the batch's WebSocket, polled while the socket is down.
// The feeder's progress message says nothing about single rows: when its figures move, the rows card
// (the page and filter being looked at) is fetched again, at most once every ROWS_GAP ms, so a batch
// finishing many drafts a second costs the browser one small request now and then.
(function () {
  "use strict";
  var box = document.getElementById("batch-progress");
  if (!box) return;
  var bar = document.getElementById("batch-bar");
  var outer = document.getElementById("batch-bar-outer");
  var text = document.getElementById("batch-progress-text");
  var status = document.getElementById("batch-status");
  var lastStatus = null;
  var ROWS_GAP = 1500;
  var FIGURES = ["status", "pending", "filed", "writing", "failed", "cancelled", "refused", "done"];
  var initial = document.getElementById("batch-counts-initial");
  var lastFigures = initial ? figures(JSON.parse(initial.textContent)) : null;
  var lastRowsAt = 0, rowsTimer = null, rowsStale = false;

  function figures(p) {
    return FIGURES.map(function (k) { return p[k]; }).join("|");
  }

  function refreshRows() {
    rowsTimer = null;
    if (document.hidden) { rowsStale = true; return; } // a background tab catches up when shown
    lastRowsAt = Date.now();
    if (window.htmx) window.htmx.trigger(document.body, "batch-rows-changed");
  }

  function rowsChanged() {
    if (rowsTimer) return; // one refresh is already due: it will show this change too
    rowsTimer = setTimeout(refreshRows, Math.max(0, lastRowsAt + ROWS_GAP - Date.now()));
  }

  // Every 30 s too, through the same gap: a person approving or publishing a draft after the batch
  // finished moves no figure the feeder pushes.
  setInterval(rowsChanged, 30000);

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && rowsStale) { rowsStale = false; rowsChanged(); }
  });

  // A swap of the rows card keeps the keyboard where it was: on the same tab, pager link or draft link,
  // else on the card's heading (the link pressed may be gone, e.g. "Next" on the last page).
  var focusKey = null;
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "batch-rows") return;
    var active = document.activeElement;
    focusKey = active && active.closest && active.closest("#batch-rows") ? (active.getAttribute("data-key") || "heading") : null;
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || focusKey === null) return;
    var card = document.getElementById("batch-rows");
    if (!card) return;
    var again = focusKey !== "heading" && card.querySelector('[data-key="' + focusKey + '"]');
    (again || document.getElementById("batch-rows-h")).focus({ preventScroll: true });
    focusKey = null;
  });

  function show(p) {
    bar.style.width = p.percent + "%";
    outer.setAttribute("aria-valuenow", p.percent);
    text.textContent = p.done + " of " + p.total + " drafts done (" + p.percent + "%)";
    box.querySelectorAll("[data-count]").forEach(function (el) {
      var v = p[el.getAttribute("data-count")];
      if (v !== undefined) el.textContent = v;
    });
    if (p.status_display) status.textContent = p.status_display;
    var now = figures(p);
    if (now !== lastFigures) rowsChanged();
    lastFigures = now;
    // A change of state changes the buttons: the actions card is fetched again while the batch moves
    // (started elsewhere, by its schedule, paused), and the page reloads once the batch settles.
    var actions = document.getElementById("batch-actions");
    if (actions && window.htmx && p.status && actions.getAttribute("data-status") !== p.status &&
        p.status !== "finished" && p.status !== "cancelled") {
      actions.setAttribute("data-status", p.status); // asked once per change
      window.htmx.ajax("GET", actions.getAttribute("data-actions-url"), { target: "#batch-actions", swap: "outerHTML" });
    }
    if (lastStatus && p.status !== lastStatus && (p.status === "finished" || p.status === "cancelled")) {
      setTimeout(function () { location.reload(); }, 800);
    }
    lastStatus = p.status;
  }

  bar.style.width = (bar.getAttribute("data-percent") || 0) + "%";
  var polling = null;
  function poll() {
    fetch(box.getAttribute("data-progress-url"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) { if (p) show(p); })
      .catch(function () {});
  }
  var retry = 500;
  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + box.getAttribute("data-ws-path"));
    ws.onopen = function () {
      retry = 500;
      if (polling) { clearInterval(polling); polling = null; }
      poll(); // subscribed: a fresh reading cannot miss a message
    };
    ws.onmessage = function (m) { show(JSON.parse(m.data)); };
    ws.onclose = function (e) {
      if (e.code === 4404) return;
      if (!polling) polling = setInterval(poll, 3000);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }
  connect();
})();
