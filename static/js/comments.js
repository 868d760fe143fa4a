// Comments on the draft page. Selecting text in the reading view offers a "Comment" button (or press
// c) that opens the comment form with that text quoted; the quote is anchored by its offset in the
// revision's Markdown source, which the server checks. Quotes of open threads that still match the
// current text are marked in the reading view. The panel itself is htmx: posting swaps it whole.
(function () {
  "use strict";
  var reading = document.getElementById("reading");
  var sourceEl = document.getElementById("current-content");
  var source = sourceEl ? JSON.parse(sourceEl.textContent) : "";
  var floating = null;

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  // --- text of the reading view as one string, with the text nodes it came from ---
  function flatten() {
    var nodes = [], text = "";
    if (!reading) return { nodes: nodes, text: text };
    var walker = document.createTreeWalker(reading, NodeFilter.SHOW_TEXT, null);
    var n;
    while ((n = walker.nextNode())) {
      nodes.push({ node: n, start: text.length });
      text += n.nodeValue;
    }
    return { nodes: nodes, text: text };
  }

  function occurrences(hay, needle, before) {
    var out = [], at = hay.indexOf(needle);
    while (at !== -1 && (before === undefined || at < before)) { out.push(at); at = hay.indexOf(needle, at + 1); }
    return out;
  }

  // --- marking quotes of open threads ---
  function unmark() {
    if (!reading) return;
    reading.querySelectorAll("mark.comment-mark").forEach(function (m) {
      var parent = m.parentNode;
      while (m.firstChild) parent.insertBefore(m.firstChild, m);
      parent.removeChild(m);
      parent.normalize();
    });
  }

  function wrap(flat, from, to, threadId) {
    // Wrap [from, to) of the flattened text, one <mark> per text node it crosses.
    flat.nodes.slice().forEach(function (entry) {
      var s = Math.max(from, entry.start), e = Math.min(to, entry.start + entry.node.nodeValue.length);
      if (s >= e) return;
      var node = entry.node;
      var range = document.createRange();
      range.setStart(node, s - entry.start);
      range.setEnd(node, e - entry.start);
      var mark = document.createElement("mark");
      mark.className = "comment-mark";
      mark.dataset.thread = threadId;
      mark.title = "Commented — open the thread";
      range.surroundContents(mark);
    });
  }

  function markQuotes() {
    unmark();
    var data = document.getElementById("comment-marks");
    if (!reading || !data) return;
    JSON.parse(data.textContent).forEach(function (m) {
      var flat = flatten(); // re-read: each wrap splits text nodes
      var found = occurrences(flat.text, m.quote);
      if (!found.length) return; // the quote crosses formatting the page does not show verbatim
      var at = found[Math.min(m.occurrence || 0, found.length - 1)];
      wrap(flat, at, at + m.quote.length, m.thread);
    });
  }

  // --- from a selection to an anchor in the Markdown source ---
  function selectionInReading() {
    var sel = window.getSelection();
    if (!reading || !sel || sel.isCollapsed || !sel.rangeCount) return null;
    var range = sel.getRangeAt(0);
    if (!reading.contains(range.commonAncestorContainer)) return null;
    return range;
  }

  function sectionOf(node) {
    // A heading's own words, without controls added to it (e.g. regen.js's "Rewrite…" button).
    function headingText(h) {
      var copy = h.cloneNode(true);
      copy.querySelectorAll("button, .rewrite-here").forEach(function (b) { b.remove(); });
      return copy.textContent.trim();
    }
    var el = node.nodeType === 1 ? node : node.parentElement, heading = "";
    var blocks = reading.querySelectorAll("h1, h2, h3, h4, h5, h6");
    blocks.forEach(function (h) {
      if (h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING || h.contains(el)) heading = headingText(h);
    });
    return heading;
  }

  function anchorFor(range) {
    var raw = range.toString();
    var lead = raw.length - raw.replace(/^\s+/, "").length;
    var quote = raw.trim();
    if (!quote) return null;
    var before = document.createRange();
    before.setStart(reading, 0);
    before.setEnd(range.startContainer, range.startOffset);
    var index = occurrences(flatten().text, quote, before.toString().length + lead + 1).length - 1;
    var inSource = occurrences(source, quote);
    var section = sectionOf(range.startContainer);
    if (!inSource.length) return { section: section, note: "The selection crosses formatting, so the comment is about its section instead." };
    return { quote: quote, start: inSource[Math.max(0, Math.min(index, inSource.length - 1))], section: section };
  }

  // --- the form ---
  function openForm(anchor) {
    var form = document.getElementById("new-thread");
    if (!form) return;
    var quote = document.getElementById("nt-quote"), start = document.getElementById("nt-quote-start");
    var preview = document.getElementById("nt-quote-preview"), text = document.getElementById("nt-quote-text");
    var section = document.getElementById("nt-section");
    var status = document.getElementById("comments-status");
    if (anchor && anchor.quote) {
      quote.value = anchor.quote; start.value = anchor.start;
      text.textContent = anchor.quote; preview.hidden = false;
      form.classList.add("has-quote");
      section.value = "";
      if (status) status.textContent = "Quoting: " + anchor.quote.slice(0, 120);
    } else {
      clearQuote();
      if (anchor && anchor.section !== undefined) {
        section.value = anchor.section;
        if (section.value !== anchor.section) section.value = "";
      }
    }
    var note = document.getElementById("nt-note");
    if (note) { note.textContent = (anchor && anchor.note) || ""; note.hidden = !note.textContent; }
    hideFloating();
    var body = document.getElementById("nt-body");
    form.scrollIntoView({ block: "center", behavior: "instant" });
    body.focus();
  }

  function clearQuote() {
    var form = document.getElementById("new-thread");
    if (!form) return;
    document.getElementById("nt-quote").value = "";
    document.getElementById("nt-quote-start").value = "";
    document.getElementById("nt-quote-preview").hidden = true;
    var note = document.getElementById("nt-note");
    if (note) note.hidden = true;
    form.classList.remove("has-quote");
  }

  // --- the floating "Comment" button beside a selection ---
  function hideFloating() { if (floating) floating.hidden = true; }

  function showFloating(range) {
    if (!document.getElementById("new-thread")) return;
    if (!floating) {
      floating = document.createElement("button");
      floating.type = "button";
      floating.className = "btn primary comment-float";
      floating.setAttribute("aria-keyshortcuts", "c");
      floating.innerHTML = "Comment <kbd>c</kbd>";
      floating.addEventListener("mousedown", function (e) { e.preventDefault(); }); // keep the selection
      floating.addEventListener("click", function () {
        var r = selectionInReading();
        openForm(r ? anchorFor(r) : null);
      });
      document.body.appendChild(floating);
    }
    var rect = range.getBoundingClientRect();
    floating.style.top = (window.scrollY + rect.top - 44) + "px";
    floating.style.left = (window.scrollX + rect.left + rect.width / 2 - 50) + "px";
    floating.hidden = false;
  }

  var pending = null;
  document.addEventListener("selectionchange", function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      var r = selectionInReading();
      if (r && r.toString().trim()) showFloating(r); else hideFloating();
    }, 120);
  });

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing || typing(e.target)) return;
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;
    if (e.key === "c" && document.getElementById("new-thread")) {
      e.preventDefault();
      var r = selectionInReading();
      openForm(r ? anchorFor(r) : null);
    }
  });

  document.addEventListener("click", function (e) {
    var clear = e.target.closest("[data-clear-quote]");
    if (clear) { clearQuote(); document.getElementById("nt-body").focus(); return; }
    var mark = e.target.closest("mark.comment-mark");
    if (mark) { focusThread(mark.dataset.thread); return; }
    var show = e.target.closest("[data-show-thread]");
    if (show) {
      e.preventDefault();
      var first = reading && reading.querySelector('mark.comment-mark[data-thread="' + show.dataset.showThread + '"]');
      if (first) {
        first.scrollIntoView({ block: "center" });
        reading.querySelectorAll("mark.comment-mark.flash").forEach(function (m) { m.classList.remove("flash"); });
        reading.querySelectorAll('mark.comment-mark[data-thread="' + show.dataset.showThread + '"]').forEach(function (m) { m.classList.add("flash"); });
      }
    }
  });

  function focusThread(id) {
    var li = document.getElementById("thread-" + id);
    if (li) { li.scrollIntoView({ block: "center" }); li.focus(); }
  }

  // Refusals come back as 4xx with the panel explaining them: show those too.
  document.body.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    if (target && target.id === "comments" && [403, 409, 422].indexOf(e.detail.xhr.status) !== -1) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    var panel = document.getElementById("comments");
    if (!panel) return;
    markQuotes();
    var focus = panel.dataset.focus;
    if (focus) {
      delete panel.dataset.focus;
      var el = document.getElementById(focus);
      if (el) { el.focus(); if (el.scrollIntoView) el.scrollIntoView({ block: "nearest" }); }
    }
  });

  // Someone else commented: refresh the panel, unless this person is in the middle of writing there
  // (then offer a button, so their text is not lost).
  function refreshPanel() {
    var panel = document.getElementById("comments");
    if (panel && window.htmx) htmx.ajax("GET", panel.dataset.url, { target: "#comments", swap: "outerHTML" });
  }
  function busy(panel) {
    var active = document.activeElement;
    if (panel.contains(active) && /^(TEXTAREA|INPUT|SELECT)$/.test(active.tagName)) return true;
    return Array.prototype.some.call(panel.querySelectorAll("textarea"), function (t) { return t.value.trim(); });
  }
  function onDraftEvent(m) {
    var ev;
    try { ev = JSON.parse(m.data); } catch (err) { return; }
    var panel = document.getElementById("comments");
    if (ev.kind !== "comments" || !panel || String(ev.by) === panel.dataset.me) return;
    if (busy(panel)) document.getElementById("comments-refresh").hidden = false; else refreshPanel();
  }
  var hooked = null;
  setInterval(function () { // draft.js owns the draft's socket and replaces it when it reconnects
    var ws = window.aiosSocket;
    if (ws && ws !== hooked) { hooked = ws; ws.addEventListener("message", onDraftEvent); }
  }, 500);
  document.addEventListener("click", function (e) {
    if (e.target.closest("#comments-refresh")) refreshPanel();
  });

  markQuotes();
  if (location.hash.indexOf("#thread-") === 0) focusThread(location.hash.slice(8));
})();
