// A copy of the editor's text kept in this browser (localStorage, per draft) until the server
// confirms the save, so a reload, a crash or an expired session never loses what was typed.
// On the edit page it keeps and restores the copy; on the draft page, after a successful save
// (the message tagged "edit-saved"), it drops it.
(function () {
  "use strict";
  var PREFIX = "aios:edit-copy:";
  var store;
  try { store = window.localStorage; } catch (err) { return; } // storage disabled: nothing to do

  var saved = document.querySelector(".msg.edit-saved");
  var page = document.querySelector("[data-draft-id]");
  if (saved && page) {
    store.removeItem(PREFIX + page.dataset.draftId);
    return;
  }

  var form = document.getElementById("edit-form");
  if (!form) return;
  var key = PREFIX + form.dataset.draft;
  var area = form.elements.content;
  var base = form.elements.base_revision;
  var note = form.elements.note;
  var server = { text: area.value, base: base.value, note: note ? note.value : "" };

  function keep() {
    try {
      store.setItem(key, JSON.stringify({
        text: area.value, note: note ? note.value : "", base: base.value,
        baseNumber: form.dataset.baseNumber, at: new Date().toISOString(),
      }));
    } catch (err) { /* full or refused: the form still holds the text */ }
  }

  var timer = null;
  function keepSoon() { clearTimeout(timer); timer = setTimeout(keep, 300); }
  area.addEventListener("input", keepSoon);
  if (note) note.addEventListener("input", keepSoon);
  form.addEventListener("submit", keep);

  var copy = null;
  try { copy = JSON.parse(store.getItem(key) || "null"); } catch (err) { copy = null; }
  if (!copy || typeof copy.text !== "string" || copy.text === area.value) return;

  area.value = copy.text;
  if (note && copy.note) note.value = copy.note;
  var older = String(copy.base) !== base.value;
  // Keep the revision the copy was based on: if someone saved since, saving shows what they
  // changed instead of writing over it.
  if (older) base.value = copy.base;

  var box = document.getElementById("local-copy-note");
  box.className = "banner info";
  var text = document.createElement("span");
  var when = new Date(copy.at);
  text.textContent = "Your unsaved text from " + (isNaN(when) ? "earlier" : when.toLocaleString()) +
    " was restored from this browser." +
    (older ? " It was based on r" + copy.baseNumber + "; r" + form.dataset.baseNumber +
      " has been saved since, so saving will first show you what changed." : "");
  var discard = document.createElement("button");
  discard.type = "button";
  discard.className = "btn";
  discard.textContent = "Discard it";
  discard.addEventListener("click", function () {
    area.value = server.text;
    base.value = server.base;
    if (note) note.value = server.note;
    store.removeItem(key);
    box.className = "";
    box.textContent = "";
    area.focus();
  });
  box.appendChild(text);
  box.appendChild(discard);
})();
