// The draft page's proposal panel and outline editor (templates/editorial/_regen.html).
// Proposal text streams in over the draft's WebSocket (draft.js re-dispatches each message as an
// "aios:draft-event"); when a proposal starts, finishes or fails, or a message was missed, the panel is
// fetched again from the server, which renders the diff. Model text is only assigned with textContent.
(function () {
  "use strict";
  var statusEl = document.getElementById("draft-status");
  var draftUrl = "/drafts/" + statusEl.dataset.draftId + "/";
  var submitting = false;
  document.addEventListener("submit", function () { submitting = true; });
  // A form shown again with its errors (the answer to a POST, at …/outline/ or …/regenerate/): a reload
  // must fetch the draft page, never send the form a second time.
  if (location.pathname !== draftUrl) history.replaceState(null, "", draftUrl + location.hash);

  // --- proposals -------------------------------------------------------------------------------
  function panel() { return document.getElementById("proposals"); }

  var refreshing = null;
  function refresh() {
    var p = panel();
    if (!p || !window.htmx) return;
    clearTimeout(refreshing);
    refreshing = setTimeout(function () {
      var focusedId = document.activeElement && document.activeElement.closest && document.activeElement.closest("#proposals")
        ? (document.activeElement.closest("[data-proposal]") || {}).id : null;
      htmx.ajax("GET", panel().dataset.panelUrl, { target: "#proposals", swap: "outerHTML" }).then(function () {
        if (focusedId && document.getElementById(focusedId)) {
          var btn = document.querySelector("#" + focusedId + " button");
          if (btn) btn.focus();
        }
      });
    }, 120);
  }

  function stream(id) { return document.querySelector('[data-proposal-stream="' + id + '"]'); }

  function announce(text) {
    var live = document.getElementById("regen-live");
    if (!live) {
      live = document.createElement("div");
      live.id = "regen-live";
      live.className = "sr-only";
      live.setAttribute("role", "status");
      document.body.appendChild(live);
    }
    live.textContent = text;
  }

  document.addEventListener("aios:draft-event", function (e) {
    var ev = e.detail || {};
    if (ev.kind === "run" && ev.step === "regenerate" && ev.retrying_in) {
      var card = document.querySelector('[data-run="' + ev.run + '"] [data-proposal-note]');
      if (card) card.textContent = "Model error: " + ev.error + " — retrying in " + ev.retrying_in + " s";
      return;
    }
    if (ev.kind === "status" && document.getElementById("outline") && ev.status !== "outline_review") {
      if (!submitting) location.assign(draftUrl); // someone else approved it: show the draft being written
      return;
    }
    if (ev.kind !== "proposal") return;
    var box = stream(ev.proposal);
    if (ev.status) {
      if (ev.status === "pending") announce("A proposed rewrite is ready to review.");
      if (ev.status === "failed") announce("A proposed rewrite failed.");
      if (ev.status !== "running" || !box) refresh();
      if (ev.reset && box) box.textContent = "";
      return;
    }
    if (!box) { refresh(); return; } // started in another tab, or by someone else
    if (ev.delta !== undefined) {
      var have = box.textContent.length;
      if (ev.offset > have) { refresh(); return; } // missed a message: take the checkpoint
      var skip = have - ev.offset;
      if (skip < ev.delta.length) box.textContent = box.textContent + ev.delta.slice(skip);
    }
  });

  // (Re)connected: whatever streamed while the socket was down is in the checkpoint.
  document.addEventListener("aios:draft-socket-open", function () {
    if (document.querySelector("[data-proposal-stream]")) refresh();
  });

  // --- the rewrite form ------------------------------------------------------------------------
  document.querySelectorAll("[data-js-only]").forEach(function (n) { n.hidden = false; });

  // Shown again with errors: start at the first field that needs fixing.
  var invalid = document.querySelector('#outline [aria-invalid="true"], #regen-form [aria-invalid="true"]');
  if (invalid) { invalid.scrollIntoView({ block: "center" }); invalid.focus(); }

  var form = document.getElementById("regen-form");
  if (form) {
    var details = document.getElementById("regenerate");
    var instruction = form.elements.instruction;
    var select = form.elements.section;
    form.addEventListener("submit", function () {
      // A second click would send the same key anyway (the server starts one run); this saves the trip.
      var button = form.querySelector("button[type=submit]");
      setTimeout(function () { button.disabled = true; button.textContent = "Starting…"; }, 0);
    });
    instruction.addEventListener("keydown", function (e) {
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); form.requestSubmit(); }
    });
    form.querySelectorAll("[data-chip]").forEach(function (chip) {
      chip.addEventListener("click", function () {
        var word = chip.dataset.chip;
        var text = instruction.value.trim();
        if (text.toLowerCase().indexOf(word) === -1) instruction.value = text ? text.replace(/[.,;]?$/, ", ") + word : word;
        instruction.focus();
      });
    });

    // A "Rewrite" button after each section heading of the text, when they line up with the choices.
    var headings = document.querySelectorAll("#reading h2");
    if (headings.length && headings.length === select.options.length) {
      headings.forEach(function (h, i) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "rewrite-here";
        b.textContent = "Rewrite…";
        b.setAttribute("aria-label", "Rewrite the section “" + h.textContent + "” with an instruction");
        b.addEventListener("click", function () {
          details.open = true;
          select.selectedIndex = i;
          details.scrollIntoView({ block: "center" });
          instruction.focus();
        });
        h.appendChild(b);
      });
    }
  }

  // --- the outline editor ----------------------------------------------------------------------
  var outline = document.getElementById("outline-form");
  if (!outline) return;
  var list = document.getElementById("outline-rows");
  var addButton = document.getElementById("outline-add");
  var live = document.getElementById("outline-live");
  var max = parseInt(outline.dataset.maxSections, 10) || 20;
  var blank = list.querySelector("[data-blank]");
  if (blank) blank.remove(); // the Add button stands in for the empty row

  function rows() { return Array.prototype.slice.call(list.querySelectorAll(".outline-row")); }

  function renumber() {
    rows().forEach(function (row, i) {
      var n = i + 1;
      row.querySelector(".outline-num").textContent = n;
      var h = row.querySelector("input[name=heading]");
      var t = row.querySelector("textarea[name=instruction]");
      var labels = row.querySelectorAll("label");
      h.id = "outline-h-" + n; labels[0].htmlFor = h.id;
      t.id = "outline-i-" + n; labels[1].htmlFor = t.id;
      row.querySelectorAll("[data-nth]").forEach(function (s, k) { s.textContent = (k ? " for section " : "of section ") + n; });
      row.querySelector('[data-move="-1"]').setAttribute("aria-label", "Move section " + n + " up");
      row.querySelector('[data-move="1"]').setAttribute("aria-label", "Move section " + n + " down");
      row.querySelector("[data-remove]").setAttribute("aria-label", "Remove section " + n);
      row.querySelector('[data-move="-1"]').disabled = i === 0;
      row.querySelector('[data-move="1"]').disabled = i === rows().length - 1;
    });
    var count = document.getElementById("outline-count");
    if (count) count.textContent = rows().length + (rows().length === 1 ? " section" : " sections");
    addButton.disabled = rows().length >= max;
    addButton.title = addButton.disabled ? "An outline has at most " + max + " sections" : "";
  }

  function name(row) { return row.querySelector("input[name=heading]").value.trim() || "untitled section"; }

  function move(row, by, focusSelector) {
    var all = rows();
    var to = all.indexOf(row) + by;
    if (to < 0 || to >= all.length) return;
    if (by < 0) list.insertBefore(row, all[to]); else list.insertBefore(row, all[to].nextSibling);
    renumber();
    var target = row.querySelector(focusSelector) || row.querySelector("input");
    if (target.disabled) target = row.querySelector('[data-move="' + -by + '"]');
    target.focus();
    if (target.setSelectionRange && target.value !== undefined) target.setSelectionRange(target.value.length, target.value.length);
    live.textContent = "“" + name(row) + "” moved to position " + (to + 1) + " of " + all.length + ".";
  }

  function remove(row) {
    var all = rows();
    var i = all.indexOf(row);
    var label = name(row);
    row.remove();
    renumber();
    var next = rows()[Math.min(i, rows().length - 1)];
    (next ? next.querySelector("input") : addButton).focus();
    live.textContent = "Removed “" + label + "”. " + rows().length + " sections left.";
  }

  function add() {
    if (rows().length >= max) return;
    var tpl = document.getElementById("outline-row-template");
    var row = tpl.content.firstElementChild.cloneNode(true);
    row.querySelectorAll("[data-js-only]").forEach(function (n) { n.hidden = false; });
    list.appendChild(row);
    renumber();
    row.querySelector("input").focus();
    live.textContent = "Added section " + rows().length + ".";
  }

  list.addEventListener("click", function (e) {
    var button = e.target.closest("button");
    if (!button) return;
    var row = button.closest(".outline-row");
    if (button.hasAttribute("data-remove")) remove(row);
    else if (button.dataset.move) move(row, parseInt(button.dataset.move, 10), '[data-move="' + button.dataset.move + '"]');
  });
  // Alt + ↑/↓ moves the section being edited, keeping the focus in the field. Enter in a heading goes on
  // to its instruction rather than approving the whole outline by accident.
  list.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.ctrlKey && !e.metaKey && e.target.name === "heading") {
      e.preventDefault();
      e.target.closest(".outline-row").querySelector("textarea").focus();
      return;
    }
    if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
    var field = e.target.closest("input, textarea");
    if (!field) return;
    e.preventDefault();
    move(field.closest(".outline-row"), e.key === "ArrowUp" ? -1 : 1, field.tagName === "INPUT" ? "input" : "textarea");
  });
  addButton.addEventListener("click", add);
  renumber();
})();
