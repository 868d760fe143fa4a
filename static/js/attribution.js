// The draft page's "who wrote what" toggle: swaps the reading view for the one tinted by attribution
// (editorial/attribution.py) and shows its legend. A plain button, so Tab and Enter/Space reach it.
(function () {
  "use strict";
  const button = document.querySelector("[data-attribution-toggle]");
  if (!button) return;
  const reading = document.getElementById("reading");
  const tinted = document.getElementById("reading-attribution");
  const legend = document.getElementById("attribution-legend");
  const KEY = "aios.attribution";

  function show(on) {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? "Hide who wrote what" : "Show who wrote what";
    reading.hidden = on;
    tinted.hidden = !on;
    legend.hidden = !on;
  }

  button.addEventListener("click", function () {
    const on = button.getAttribute("aria-pressed") !== "true";
    show(on);
    try { sessionStorage.setItem(KEY, on ? "1" : ""); } catch (e) { /* storage may be off */ }
  });
  let remembered = "";
  try { remembered = sessionStorage.getItem(KEY) || ""; } catch (e) { /* storage may be off */ }
  if (remembered) show(true);
})();
