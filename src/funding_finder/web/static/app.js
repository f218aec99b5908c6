/* Funding Finder dashboard: countdowns to each funding time, the UTC clock, the quick filter of the
   rates table, client-side sorting of the opportunities table, and the uPlot charts. No inline code:
   every page's data comes from <script type="application/json"> blocks and is only set as text. */
(function () {
  "use strict";

  function pad(n) { return String(n).padStart(2, "0"); }

  function countdownText(ms) {
    if (ms <= 0) { return "passed"; }
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    return "in " + (d ? d + "d " : "") + (d || h ? h + "h " : "") + pad(m) + "m " + pad(sec) + "s";
  }

  function utcText(date) {
    return date.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(at)) {
        el.textContent = countdownText(at - now);
        el.classList.toggle("soon", at - now > 0 && at - now < 600000);
      }
    });
    document.querySelectorAll("time.utc-clock").forEach(function (el) { el.textContent = utcText(new Date(now)); });
  }

  function quickFilter() {
    var input = document.getElementById("quick-filter"), table = document.getElementById("rates-table");
    if (!input || !table) { return; }
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0;
      });
    });
  }

  function sortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, column) {
      th.classList.add("clickable");
      th.addEventListener("click", function () {
        var descending = th.getAttribute("aria-sort") !== "descending";
        heads.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[column], y = b.cells[column];
          var xv = x.dataset.value, yv = y.dataset.value;
          if (xv !== undefined && yv !== undefined) {
            if (xv === "") { return 1; }
            if (yv === "") { return -1; }
            return descending ? yv - xv : xv - yv;
          }
          var cmp = x.textContent.trim().localeCompare(y.textContent.trim());
          return descending ? -cmp : cmp;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  var PALETTE = ["#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176", "#4db6ac", "#f06292",
                 "#a1887f", "#90a4ae", "#aed581", "#7986cb", "#ff8a65", "#dce775", "#64b5f6", "#ce93d8"];

  function drawChart(box) {
    var source = document.getElementById(box.dataset.chart);
    if (!source || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(source.textContent), unit = box.dataset.unit;
    var columns = [data.x], series = [{ label: "time (UTC)", value: function (u, v) {
      return v == null ? "—" : utcText(new Date(v * 1000));
    } }];
    var named = data.labels ? data.labels.map(function (label, i) { return [label, data.series[i]]; })
      : Object.keys(data.series).map(function (kind) { return [kind, data.series[kind]]; });
    named.forEach(function (pair, i) {
      columns.push(pair[1]);
      series.push({ label: pair[0], stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true,
        points: { show: data.x.length < 60 },
        value: function (u, v) { return v == null ? "—" : v.toFixed(unit === "failures" ? 0 : 2) + " " + unit; } });
    });
    var opts = {
      width: Math.max(320, box.clientWidth), height: 320, series: series,
      scales: { x: data.range ? { time: true, range: function () { return data.range; } } : { time: true } },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      axes: [{ stroke: "#9aa5b1", grid: { stroke: "#26303b" } },
             { stroke: "#9aa5b1", grid: { stroke: "#26303b" }, size: 70,
               values: function (u, ticks) { return ticks.map(function (t) { return t + (unit === "failures" ? "" : " %"); }); } }],
      legend: { live: true },
    };
    box.textContent = "";
    var plot = new uPlot(opts, columns, box);
    window.addEventListener("resize", function () { plot.setSize({ width: Math.max(320, box.clientWidth), height: 320 }); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    quickFilter();
    document.querySelectorAll("table[data-sortable]").forEach(sortable);
    document.querySelectorAll("[data-chart]").forEach(drawChart);
  });
})();
