// Reads the chosen file's column names in the browser, so the mapping fields can offer them.
(function () {
  "use strict";
  var input = document.querySelector("#batch-form input[type=file]");
  var list = document.getElementById("batch-columns");
  var found = document.getElementById("batch-columns-found");
  if (!input || !list) return;

  function csvHeader(line) {
    var out = [], cur = "", quoted = false;
    for (var i = 0; i < line.length; i++) {
      var c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; }
        else if (c === '"') quoted = false;
        else cur += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { out.push(cur.trim()); cur = ""; }
      else cur += c;
    }
    out.push(cur.trim());
    return out;
  }

  function jsonKeys(text) {
    var start = text.indexOf("{");
    if (start < 0) return [];
    var keys = [], re = /"((?:[^"\\]|\\.)*)"\s*:/g, depth = 0;
    // Only the first object's top-level keys: scan until its closing brace.
    for (var i = start; i < text.length; i++) {
      if (text[i] === "{") depth++;
      else if (text[i] === "}") { depth--; if (depth === 0) { text = text.slice(start, i + 1); break; } }
    }
    var m;
    while ((m = re.exec(text))) if (keys.indexOf(m[1]) < 0) keys.push(m[1]);
    return keys;
  }

  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) return;
    file.slice(0, 65536).text().then(function (head) {
      head = head.replace(/^\uFEFF/, "");
      var cols = /\.csv$/i.test(file.name) ? csvHeader(head.split(/\r?\n/)[0]) : jsonKeys(head);
      list.innerHTML = "";
      cols.forEach(function (c) {
        var o = document.createElement("option");
        o.value = c;
        list.appendChild(o);
      });
      found.textContent = cols.length ? "Columns: " + cols.join(", ") : "No column names found in the file's start.";
      // The batch's name follows the file until the person types one of their own.
      var name = document.getElementById("id_name");
      if (name && (!name.value || name.getAttribute("data-from-file") === name.value)) {
        name.value = file.name.replace(/\.[^.]+$/, "");
        name.setAttribute("data-from-file", name.value);
      }
    });
  });
})();
