// Keyboard shortcuts on the draft page: e edits, a approves (after a confirmation naming the gate and
// the revision: Enter confirms, Esc cancels), ? lists the shortcuts. Keys typed into a field are the
// person's text, never commands.
(function () {
  "use strict";
  var dialog = document.getElementById("shortcuts");
  var opener = document.querySelector("[data-shortcuts-open]");
  var approve = document.getElementById("approve-confirm");
  var unavailable = document.getElementById("approve-unavailable");
  var returnTo = null; // what had the focus before a dialog opened

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function remember() {
    returnTo = document.activeElement && document.activeElement !== document.body ? document.activeElement : null;
  }

  function giveBackFocus() {
    if (returnTo && document.contains(returnTo)) returnTo.focus();
    returnTo = null;
  }

  function showHelp() {
    if (dialog && !dialog.open) { remember(); dialog.showModal(); }
  }

  function say(text) {
    var note = document.getElementById("shortcut-note");
    if (!note) {
      note = document.createElement("div");
      note.id = "shortcut-note";
      note.className = "toast";
      note.setAttribute("role", "alert");
      document.body.appendChild(note);
    }
    note.textContent = text;
    clearTimeout(say.timer);
    say.timer = setTimeout(function () { note.remove(); }, 8000);
  }

  function openApprove() {
    if (!approve) {
      say(unavailable ? unavailable.textContent : "Nothing for you to approve here.");
      return;
    }
    var form = approve.querySelector("form");
    // A comment already typed at that gate goes with the approval, and the confirmation shows it.
    var typed = document.getElementById("comment-" + form.dataset.gate);
    var comment = typed ? typed.value.trim() : "";
    form.elements.comment.value = comment;
    var shown = approve.querySelector(".approve-comment");
    shown.hidden = !comment;
    shown.querySelector("span").textContent = comment;
    remember();
    approve.showModal(); // modal: the rest of the page is inert, so the focus stays inside
    approve.querySelector("[data-approve-confirm]").focus();
  }

  if (dialog && opener) {
    opener.hidden = false; // only useful with this script running
    opener.addEventListener("click", showHelp);
  }
  if (dialog) dialog.addEventListener("close", giveBackFocus);

  if (approve) {
    var form = approve.querySelector("form");
    var confirmButton = approve.querySelector("[data-approve-confirm]");
    approve.addEventListener("close", giveBackFocus);
    approve.querySelector("[data-approve-cancel]").addEventListener("click", function () { approve.close(); });
    approve.addEventListener("keydown", function (e) {
      // Enter confirms from anywhere in the dialog but the Cancel button (which Enter presses).
      if (e.key === "Enter" && !e.isComposing && !e.target.matches("[data-approve-cancel]")) {
        e.preventDefault();
        form.requestSubmit(confirmButton);
      }
    });
    form.addEventListener("submit", function () {
      // One approval per confirmation: a second Enter while the page loads sends nothing more.
      setTimeout(function () { confirmButton.disabled = true; }, 0);
    });
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing || typing(e.target)) return;
    if (document.querySelector("dialog[open]")) return; // Esc and the dialogs' buttons handle them
    if (e.key === "e") {
      var edit = document.querySelector('[data-shortcut="edit"]');
      if (edit) { e.preventDefault(); edit.click(); }
    } else if (e.key === "a") {
      e.preventDefault();
      openApprove();
    } else if (e.key === "?") {
      e.preventDefault();
      showHelp();
    }
  });
})();
