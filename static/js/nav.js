// The top bar's "More" menu is a <details>; this closes it the way a menu closes: on a click
// elsewhere and on Escape (focus goes back to its summary).
(function () {
  "use strict";
  function openMenus() { return document.querySelectorAll(".topbar details.more[open]"); }
  document.addEventListener("click", function (event) {
    openMenus().forEach(function (menu) { if (!menu.contains(event.target)) menu.open = false; });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    openMenus().forEach(function (menu) { menu.open = false; menu.querySelector("summary").focus(); });
  });
})();
