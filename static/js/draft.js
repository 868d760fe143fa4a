// Live view of a draft: follows the writer over a WebSocket, and resynchronises from the
// server's checkpoint (live.json) whenever it (re)connects or notices a gap, so a reload
// mid-generation shows what is written so far and keeps following. Model text is only ever
// assigned with textContent: it is untrusted.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var wsPath = document.getElementById("draft-status").dataset.wsPath;
  var liveUrl = live ? live.dataset.liveUrl : null;
  var sections = {};
  var initialStatus = document.getElementById("draft-status").dataset.status;
  var state = { total: 0, done: 0, tokens: 0 };

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function ensure(index, heading) {
    var s = sections[index];
    if (!s) {
      var art = el("article", "live-section");
      art.dataset.index = index;
      var h = el("h2", null, heading || "");
      var body = el("div", "live-text");
      art.appendChild(h);
      art.appendChild(body);
      var container = document.getElementById("live-sections");
      var after = null;
      Object.keys(sections).map(Number).sort(function (a, b) { return a - b; }).forEach(function (i) {
        if (i > index && after === null) after = sections[i].el;
      });
      container.insertBefore(art, after);
      s = sections[index] = { el: art, head: h, body: body, text: "" };
    }
    if (heading) s.head.textContent = heading;
    return s;
  }

  function setText(s, text) {
    s.text = text;
    s.body.textContent = text;
  }

  function setStep(step, status) {
    var li = document.querySelector('#steps [data-step="' + step + '"]');
    if (li) li.className = "step-" + status;
  }

  function progress(note) {
    var bar = document.getElementById("progress-bar");
    if (!bar) return;
    var pct = state.total ? Math.round((100 * state.done) / state.total) : 0;
    bar.style.width = pct + "%";
    var pb = document.getElementById("progress");
    pb.setAttribute("aria-valuenow", state.done);
    pb.setAttribute("aria-valuemax", state.total);
    var counts = state.done + " of " + state.total + " sections written · " + state.tokens + " tokens";
    document.getElementById("progress-text").textContent =
      note || (state.retryNote ? counts + " · " + state.retryNote : counts);
  }

  function applySnapshot(snap) {
    if (snap.status !== initialStatus) { location.reload(); return; }
    Object.keys(snap.steps || {}).forEach(function (k) { setStep(k, snap.steps[k].status); });
    (snap.sections || []).forEach(function (s) {
      var x = ensure(s.index, s.heading);
      if (s.text.length >= x.text.length || s.done) setText(x, s.text);
      x.el.classList.toggle("done", !!s.done);
    });
    state.total = snap.sections_total; state.done = snap.sections_done; state.tokens = Math.max(state.tokens, snap.tokens);
    progress();
  }

  var syncing = false;
  function resync() {
    if (!liveUrl || syncing) return;
    syncing = true;
    fetch(liveUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (snap) { if (snap) applySnapshot(snap); })
      .finally(function () { syncing = false; });
  }

  function notifyChanged() {
    if (document.getElementById("changed-note")) return;
    var note = el("div", "toast", "This draft was updated. ");
    note.id = "changed-note";
    note.setAttribute("role", "status");
    var a = el("a", null, "Reload");
    a.href = location.href;
    note.appendChild(a);
    document.body.appendChild(note);
  }

  function apply(ev) {
    if (ev.kind === "status") {
      if (ev.status === initialStatus) return;
      if (live) location.reload(); else notifyChanged();
      return;
    }
    if (ev.kind === "revision" || ev.kind === "delivery") { if (!live) notifyChanged(); return; }
    if (ev.kind !== "run" || !live) return;
    if (ev.step) setStep(ev.step, ev.status);
    if (ev.retrying_in) progress("Model error: " + ev.error + " — retrying in " + ev.retrying_in + " s");
    if (ev.section === undefined) return;
    var s = ensure(ev.section, ev.heading);
    if (ev.rejected) { // the acceptance check refused this try: the writer starts the section again
      setText(s, "");
      state.retryNote = "“" + (ev.heading || "a section") + "” was not usable (" +
        ev.rejected.join("; ") + "): writing it again, try " + (ev.try + 1);
      progress();
      return;
    }
    if (ev.done) state.retryNote = "";
    if (ev.reset) setText(s, "");
    if (ev.delta !== undefined) {
      var have = s.text.length;
      if (ev.offset > have) { resync(); return; } // missed a message: take the checkpoint
      var skip = have - ev.offset;
      if (skip < ev.delta.length) setText(s, s.text + ev.delta.slice(skip));
    }
    if (ev.done) { setText(s, ev.text); s.el.classList.add("done"); }
    if (ev.tokens !== undefined) state.tokens = ev.tokens;
    if (ev.sections_total) state.total = ev.sections_total;
    if (ev.sections_done !== undefined) state.done = ev.sections_done;
    progress();
  }

  var retryDelay = 500;
  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + wsPath);
    ws.onopen = function () {
      retryDelay = 500; resync(); // subscribed: now the checkpoint cannot miss text
      document.dispatchEvent(new CustomEvent("aios:draft-socket-open")); // regen: other panels resync too
    };
    ws.onmessage = function (m) {
      var ev = JSON.parse(m.data);
      apply(ev);
      document.dispatchEvent(new CustomEvent("aios:draft-event", { detail: ev })); // regen: static/js/regen.js
    };
    ws.onclose = function (e) {
      if (e.code === 4404) return; // no access: do not hammer the server
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    };
    window.aiosSocket = ws;
  }

  if (live) applySnapshot(JSON.parse(document.getElementById("live-data").textContent));
  connect();
})();
