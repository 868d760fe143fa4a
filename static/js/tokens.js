// The tokens page: "Copy" buttons (data-copy="<input id>") copy a new token once it is shown.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.dataset.copy);
      input.select();
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard) { navigator.clipboard.writeText(input.value).then(done); }
      else { document.execCommand("copy"); done(); }
    });
  });
})();
