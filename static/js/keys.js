// Keyboard shortcuts on the draft page: e edits, a goes to the first Approve button (it never
// submits: approving stays a deliberate Enter), ? lists the shortcuts. Keys typed into a field
// are the person's text, never commands.
(function () {
  "use strict";
  var dialog = document.getElementById("shortcuts");
  var opener = document.querySelector("[data-shortcuts-open]");

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function showHelp() {
    if (dialog && !dialog.open) dialog.showModal();
  }

  if (dialog && opener) {
    opener.hidden = false; // only useful with this script running
    opener.addEventListener("click", showHelp);
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing || typing(e.target)) return;
    if (dialog && dialog.open) return; // Esc and the Close button handle the dialog
    if (e.key === "e") {
      var edit = document.querySelector('[data-shortcut="edit"]');
      if (edit) { e.preventDefault(); edit.click(); }
    } else if (e.key === "a") {
      var approve = document.querySelector("[data-gate-approve]");
      if (approve) {
        e.preventDefault();
        approve.scrollIntoView({ block: "center" });
        approve.focus();
      }
    } else if (e.key === "?") {
      e.preventDefault();
      showHelp();
    }
  });
})();
