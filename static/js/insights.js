// Insights charts (templates/insights/page.html): Chart.js on canvases, data from the
// json_script block "insights-data" (the same figures as the tables under the charts).
(function () {
  "use strict";
  var charts = [];
  var BLUE = "#3451d1", SOFT = "#9aa9ee", ORANGE = "#d9822b", GREEN = "#1f7a3d";

  function pct(v) { return v === null || v === undefined ? null : Math.round(v * 1000) / 10; }
  function seconds(v) { return v === null || v === undefined ? null : Math.round(v / 6) / 10; }  // minutes

  function base(yTitle) {
    return {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      scales: { y: { beginAtZero: true, title: { display: !!yTitle, text: yTitle } } },
    };
  }

  function build(kind, data) {
    var s = data.series, labels = s.map(function (r) { return r.period; });
    switch (kind) {
      case "volume":
        return { type: "bar", data: { labels: labels, datasets: [
          { label: "Drafts", data: s.map(function (r) { return r.drafts; }), backgroundColor: SOFT },
          { label: "Published", data: s.map(function (r) { return r.published; }), backgroundColor: BLUE },
        ] }, options: base("pieces") };
      case "speed":
        return { type: "line", data: { labels: labels, datasets: [
          { label: "p50", data: s.map(function (r) { return seconds(r.generation_p50_s); }), borderColor: BLUE, backgroundColor: BLUE, spanGaps: true },
          { label: "p95", data: s.map(function (r) { return seconds(r.generation_p95_s); }), borderColor: ORANGE, backgroundColor: ORANGE, spanGaps: true },
        ] }, options: base("minutes") };
      case "editing":
        return { type: "line", data: { labels: labels, datasets: [
          { label: "Edit rate", data: s.map(function (r) { return pct(r.edit_rate); }), borderColor: BLUE, backgroundColor: BLUE, spanGaps: true },
          { label: "Send-back rate", data: s.map(function (r) { return pct(r.send_back_rate); }), borderColor: ORANGE, backgroundColor: ORANGE, spanGaps: true },
        ] }, options: base("%") };
      case "gates":
        return { type: "bar", data: { labels: data.gates.map(function (g) { return g.gate; }), datasets: [
          { label: "p50", data: data.gates.map(function (g) { return seconds(g.p50_s); }), backgroundColor: BLUE },
          { label: "p95", data: data.gates.map(function (g) { return seconds(g.p95_s); }), backgroundColor: ORANGE },
        ] }, options: base("minutes") };
      case "findings":
        var f = base("per 1,000 words"); f.indexAxis = "y"; f.scales = { x: { beginAtZero: true } };
        return { type: "bar", data: { labels: data.findings.map(function (r) { return r.category; }), datasets: [
          { label: "Findings per 1,000 words", data: data.findings.map(function (r) { return r.per_1000_words; }), backgroundColor: ORANGE },
        ] }, options: f };
      case "reasons":
        var reasons = data.reasons || [];
        var o = base(""); o.indexAxis = "y"; o.scales = { x: { beginAtZero: true } };
        return { type: "bar", data: { labels: reasons.map(function (r) {
          return (r.reason || "(no reason given)") + (r.decision === "reject" ? " · rejected" : " · sent back");
        }), datasets: [
          { label: "Times", data: reasons.map(function (r) { return r.n; }), backgroundColor: SOFT },
        ] }, options: o };
      case "outcomes":
        var withOutcomes = data.breakdown.filter(function (r) { return r.outcome_drafts > 0; });
        return { type: "bar", data: { labels: withOutcomes.map(function (r) { return r.label; }), datasets: [
          { label: "Click-through rate", data: withOutcomes.map(function (r) { return pct(r.click_through_rate); }), backgroundColor: BLUE },
          { label: "Conversion rate", data: withOutcomes.map(function (r) { return pct(r.conversion_rate); }), backgroundColor: GREEN },
        ] }, options: base("% of impressions") };
      case "outcomes-time":
        var reported = s.filter(function (r) { return r.impressions > 0; });
        return { type: "line", data: { labels: reported.map(function (r) { return r.period; }), datasets: [
          { label: "Click-through rate", data: reported.map(function (r) { return pct(r.click_through_rate); }), borderColor: BLUE, backgroundColor: BLUE, spanGaps: true },
          { label: "Conversion rate", data: reported.map(function (r) { return pct(r.conversion_rate); }), borderColor: GREEN, backgroundColor: GREEN, spanGaps: true },
        ] }, options: base("% of impressions") };
      case "breakdown":
        var b = data.breakdown;
        return { type: "bar", data: { labels: b.map(function (r) { return r.label; }), datasets: [
          { label: "Edit rate (%)", data: b.map(function (r) { return pct(r.edit_rate); }), backgroundColor: BLUE },
        ] }, options: base("%") };
    }
    return null;
  }

  function draw() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var source = document.getElementById("insights-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var config = build(canvas.dataset.chart, data);
      if (config) { charts.push(new Chart(canvas, config)); }
    });
    document.body.dataset.chartsDrawn = String(charts.length);
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "insights-body") { draw(); }
  });
})();
