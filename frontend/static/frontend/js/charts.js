/* Dashboards: draw the time series the page carries as JSON (json_script
   "chart-data") with uPlot, in place of the server's inline SVG. Without
   JavaScript, or if uPlot failed to load, the SVG and the tables stay. */
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || typeof window.uPlot === "undefined") return;
  var uPlot = window.uPlot;
  var charts;
  try { charts = JSON.parse(source.textContent); } catch (e) { return; }
  var lang = document.documentElement.lang || "en";
  if (lang.toLowerCase() === "zh-hans") lang = "zh-Hans";

  function formatter(currency, digits) {
    try {
      var opts = { maximumFractionDigits: digits };
      // narrowSymbol: "¥", as the pages print prices, not "CN¥".
      if (currency) { opts.style = "currency"; opts.currency = currency; opts.currencyDisplay = "narrowSymbol"; opts.minimumFractionDigits = 0; }
      return new Intl.NumberFormat(lang, opts);
    } catch (e) {
      return { format: function (v) { return String(v); } };
    }
  }

  function draw(chart) {
    var box = document.getElementById(chart.id);
    if (!box) return;
    var host = box.querySelector("[data-chart-host]");
    if (!host) return;
    var fmt = formatter(chart.currency, 2);
    var whole = formatter(chart.currency, 0);
    var opts = {
      title: "",
      width: Math.max(host.clientWidth, 280),
      height: 200,
      // Days are UTC midnights: label them as the calendar days they are.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(max, 1)]; } } },
      series: [{ label: chart.x_label || "" }].concat(chart.series.map(function (s) {
        return {
          label: s.label, stroke: s.color, width: 2, points: { show: chart.x.length <= 31 },
          value: function (u, v) { return v == null ? "–" : fmt.format(v); }
        };
      })),
      // Whole numbers on the axis unless the ticks are closer than 1 apart.
      axes: [{}, { size: chart.currency ? 90 : 60, values: function (u, splits) {
        var fine = splits.length > 1 && Math.abs(splits[1] - splits[0]) < 1;
        return splits.map(function (v) { return (fine ? fmt : whole).format(v); });
      } }]
    };
    // Counts: whole-number ticks only.
    if (!chart.currency) opts.axes[1].incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7];
    var data = [chart.x].concat(chart.series.map(function (s) { return s.values; }));
    var svg = host.querySelector("svg");
    var plot = new uPlot(opts, data, host);
    if (svg) svg.remove();
    plot.root.setAttribute("role", "img");
    plot.root.setAttribute("aria-label", chart.title);
    plot.root.setAttribute("data-testid", "uplot");
    box.classList.add("js-drawn");
    var width = opts.width;
    window.addEventListener("resize", function () {
      var now = Math.max(host.clientWidth, 280);
      if (now !== width) { width = now; plot.setSize({ width: now, height: 200 }); }
    });
  }

  charts.forEach(function (chart) {
    try { draw(chart); } catch (e) { /* keep the SVG fallback */ }
  });
})();
