// The edit page: Ctrl/⌘ + Enter in the text saves it as a new revision.
(function () {
  "use strict";
  var content = document.getElementById("id_content");
  var form = document.getElementById("edit-form");
  if (!content || !form) return;
  content.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      form.requestSubmit();
    }
  });
})();
