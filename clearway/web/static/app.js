/* Clearway's own script: charts (uPlot), plots (Plotly), copy buttons, CSRF on htmx requests, live updates.
   Loaded as a file: the pages carry no inline script (Content-Security-Policy: script-src 'self'). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf"];

  /* One chart: series with their own x values, joined on the union of x (uPlot wants one x array). */
  function chartData(series) {
    var xs = {};
    series.forEach(function (s) { s.x.forEach(function (x) { xs[x] = true; }); });
    var x = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    x.forEach(function (value, i) { index[value] = i; });
    var data = [x];
    series.forEach(function (s) {
      var column = new Array(x.length).fill(null);
      s.x.forEach(function (value, i) { column[index[value]] = s.y[i]; });
      data.push(column);
    });
    return data;
  }

  function drawChart(container, chart) {
    var figure = document.createElement("figure");
    figure.className = "chart";
    figure.setAttribute("data-metric", chart.metric);
    var caption = document.createElement("figcaption");
    caption.textContent = chart.metric;
    figure.appendChild(caption);
    container.appendChild(figure);
    var width = Math.max(320, Math.min(container.clientWidth || 800, 900));
    var options = {
      width: width,
      height: 280,
      scales: { x: chart.range ? { time: !!chart.time, range: chart.range } : { time: !!chart.time } },
      series: [{ label: chart.time ? "time" : "iteration" }].concat(chart.series.map(function (s, i) {
        return { label: s.name, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true };
      })),
      // The value axis as wide as its longest tick label (uPlot's fixed 50 px cuts "-10,000" short).
      axes: [{}, { size: function (u, values) { return values ? 16 + 7 * longest(values) : 50; } }]
    };
    return new window.uPlot(options, chartData(chart.series), figure);
  }

  function longest(labels) {
    return labels.reduce(function (most, label) { return Math.max(most, String(label).length); }, 0);
  }

  function drawScalars(container) {
    var started = performance.now();
    fetch(container.getAttribute("data-scalars"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        var drawStart = performance.now();
        container.textContent = "";
        if (!body.charts.length) {
          container.textContent = container.getAttribute("data-empty") || "No scalars reported.";
        }
        body.charts.forEach(function (chart) { drawChart(container, chart); });
        /* uPlot draws in a microtask: the next frame comes after the canvases are drawn. */
        requestAnimationFrame(function () {
          container.setAttribute("data-draw-ms", String(Math.round(performance.now() - drawStart)));
          container.setAttribute("data-total-ms", String(Math.round(performance.now() - started)));
          container.setAttribute("data-drawn", String(body.charts.length));
        });
      });
  }

  function drawPlot(element) {
    var source = document.getElementById(element.getAttribute("data-plot"));
    var figure = JSON.parse(source.textContent);
    var layout = Object.assign({ autosize: true }, figure.layout || {});
    window.Plotly.newPlot(element, figure.data || [], layout, { displaylogo: false, responsive: true })
      .then(function () { element.setAttribute("data-drawn", "1"); });
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.querySelector(button.getAttribute("data-copy"));
        if (target && navigator.clipboard) {
          navigator.clipboard.writeText(target.textContent.trim());
          button.textContent = "Copied";
        }
      });
    });
  }

  /* Live updates: the server's event stream (the session cookie authenticates it); each event the page cares
     about makes its live regions fetch themselves again (hx-trigger="cw:live from:body"), at most once a second. */
  function liveUpdates() {
    var regions = document.querySelectorAll("[data-live]");
    if (!regions.length || !window.EventSource) {
      return;
    }
    var kinds = {};
    regions.forEach(function (r) { kinds[r.getAttribute("data-live")] = true; });
    var url = "/events/stream?kind=" + encodeURIComponent(Object.keys(kinds).join(","));
    var task = document.querySelector("[data-task]");
    if (task) {
      url += "&task=" + encodeURIComponent(task.getAttribute("data-task"));
    }
    var pending = null;
    var source = new EventSource(url);
    source.onmessage = function () {
      if (pending) {
        return;
      }
      pending = setTimeout(function () {
        pending = null;
        document.body.dispatchEvent(new CustomEvent("cw:live"));
      }, 1000);
    };
    window.addEventListener("pagehide", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-scalars]").forEach(drawScalars);
    document.querySelectorAll("[data-plot]").forEach(drawPlot);
    copyButtons();
    liveUpdates();
  });
})();
