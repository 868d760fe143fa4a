// A batch's progress bar: live over the batch's WebSocket, polled while the socket is down.
(function () {
  "use strict";
  var box = document.getElementById("batch-progress");
  if (!box) return;
  var bar = document.getElementById("batch-bar");
  var outer = document.getElementById("batch-bar-outer");
  var text = document.getElementById("batch-progress-text");
  var status = document.getElementById("batch-status");
  var lastStatus = null;

  function show(p) {
    bar.style.width = p.percent + "%";
    outer.setAttribute("aria-valuenow", p.percent);
    text.textContent = p.done + " of " + p.total + " drafts done (" + p.percent + "%)";
    box.querySelectorAll("[data-count]").forEach(function (el) {
      var v = p[el.getAttribute("data-count")];
      if (v !== undefined) el.textContent = v;
    });
    if (p.status_display) status.textContent = p.status_display;
    // A change of state changes the buttons: reload the page once the batch settles.
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
