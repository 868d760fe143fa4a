// The campaign grid: follows every variant being written over its draft's WebSocket (the same
// events the draft page gets: section progress, status changes), refreshes the grid from the server
// when a status changes (the grid also refreshes every 15 s), keeps ticked variants across refreshes,
// and counts them for the bulk bar.
(function () {
  "use strict";
  var sockets = {}; // draft id -> WebSocket
  var MAX_SOCKETS = 40; // beyond this the 15 s refresh is enough
  var refreshTimer = null;

  function setBar(cell, done, total) {
    var bar = cell.querySelector(".progress .bar");
    var text = cell.querySelector("[data-progress-text]");
    var percent = total ? Math.round(100 * done / total) : 0;
    if (bar) {
      bar.style.width = percent + "%";
      bar.parentNode.setAttribute("aria-valuenow", String(done));
      bar.parentNode.setAttribute("aria-valuemax", String(total));
    }
    if (text) text.textContent = done + "/" + (total || "…") + " sections";
  }

  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      document.body.dispatchEvent(new CustomEvent("campaign-refresh"));
    }, 400);
  }

  function follow(cell) {
    var id = cell.dataset.variantDraft;
    if (sockets[id] || cell.dataset.status !== "generating" || Object.keys(sockets).length >= MAX_SOCKETS) return;
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/drafts/" + id + "/");
    sockets[id] = ws;
    ws.onmessage = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      var current = document.querySelector('[data-variant-draft="' + id + '"]');
      if (!current) return;
      if (data.sections_total) setBar(current, data.sections_done || 0, data.sections_total);
      if (data.kind === "status" && data.status) {
        current.dataset.status = data.status;
        refreshSoon();
      }
    };
    ws.onclose = function () { delete sockets[id]; };
  }

  function bind() {
    document.querySelectorAll(".progress .bar[data-percent]").forEach(function (bar) {
      bar.style.width = bar.dataset.percent + "%";
    });
    document.querySelectorAll("[data-variant-draft]").forEach(follow);
    Object.keys(sockets).forEach(function (id) {
      var cell = document.querySelector('[data-variant-draft="' + id + '"]');
      if (!cell || cell.dataset.status !== "generating") sockets[id].close();
    });
    updateCount();
  }

  function updateCount() {
    var n = document.querySelectorAll('#grid input[name="ids"]:checked').length;
    var out = document.getElementById("ticked");
    if (out) out.textContent = n + " ticked";
  }

  var ticked = [];
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "grid") {
      ticked = Array.prototype.map.call(document.querySelectorAll('#grid input[name="ids"]:checked'),
        function (box) { return box.value; });
    }
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    ticked.forEach(function (value) {
      var box = document.querySelector('#grid input[name="ids"][value="' + value + '"]');
      if (box) box.checked = true;
    });
    bind();
  });
  document.addEventListener("change", function (event) {
    if (event.target.name === "ids") updateCount();
  });
  bind();
})();
