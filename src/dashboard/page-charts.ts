/**
 * The charts' part of the dashboard's script (spliced into page-script.ts's closure, which
 * defines ORDER, COLORS, HISTORY, $, esc, rate, ms and token): uPlot charts over a fixed
 * five-minute axis ending now, seeded from /dashboard/history so that a page opened now starts
 * with the node's last minutes, and the events of that span (snapshots, elections, membership
 * changes) drawn as dashed vertical lines and listed under the charts.
 */
export const chartsScript = `
  var MARKS = { "snapshot": "#58a6ff", "election": "#e3b341", "membership": "#d2a8ff" };
  var hist = { t: [], tp: {}, wait: {}, svc: {} };
  ORDER.forEach(function (n) { hist.tp[n] = []; hist.wait[n] = []; hist.svc[n] = []; });
  var markers = [];
  var charts = [];

  function drawMarkers(u) {
    var ctx = u.ctx;
    var box = u.bbox;
    markers.forEach(function (m) {
      var x = u.valToPos(m.at / 1000, "x", true);
      if (x < box.left || x > box.left + box.width) return;
      ctx.save();
      ctx.strokeStyle = MARKS[m.kind] || "#8d99a8";
      ctx.lineWidth = 1.5 * (window.devicePixelRatio || 1);
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      ctx.moveTo(x, box.top);
      ctx.lineTo(x, box.top + box.height);
      ctx.stroke();
      ctx.restore();
    });
  }

  function makeChart(el, fmt) {
    var series = [{}].concat(ORDER.map(function (n) {
      return { label: n, stroke: COLORS[n], width: 1.75, points: { show: false },
        value: function (u, v) { return v == null ? "—" : fmt(v); } };
    }));
    var axis = { stroke: "#8d99a8", grid: { stroke: "#1f2935", width: 1 }, ticks: { stroke: "#263140", width: 1 },
      font: "11px system-ui, sans-serif" };
    // The x axis is always the last HISTORY seconds: one point must not stretch it to years.
    var xRange = function () { var now = Date.now() / 1000; return [now - HISTORY, now]; };
    var opts = {
      width: Math.max(200, el.clientWidth), height: 190, series: series,
      scales: { x: { time: true, range: xRange },
        y: { range: function (u, min, max) { return [0, Math.max((max || 0) * 1.1, 1)]; } } },
      axes: [axis, Object.assign({}, axis, { size: 48, values: function (u, vals) { return vals.map(fmt); } })],
      legend: { show: false }, cursor: { points: { size: 5 } }, hooks: { draw: [drawMarkers] },
    };
    var chart = new uPlot(opts, chartData("tp"), el);
    if (window.ResizeObserver) new ResizeObserver(function () {
      var w = Math.max(200, el.clientWidth);
      if (w !== chart.width) chart.setSize({ width: w, height: 190 });
    }).observe(el);
    return chart;
  }

  function chartData(key) {
    return [hist.t].concat(ORDER.map(function (n) { return hist[key][n]; }));
  }

  function buildCharts() {
    if (typeof uPlot === "undefined") { $("nocharts").hidden = false; return; }
    charts.push({ chart: makeChart($("chart-tp"), rate), key: "tp" });
    charts.push({ chart: makeChart($("chart-wait"), ms), key: "wait" });
    charts.push({ chart: makeChart($("chart-svc"), ms), key: "svc" });
  }

  /** One point; values by stage name (null: no queue, or no samples in the window). */
  function push(t, tp, wait, svc) {
    if (hist.t.length && t <= hist.t[hist.t.length - 1]) return;
    hist.t.push(t);
    ORDER.forEach(function (n) { hist.tp[n].push(tp[n]); hist.wait[n].push(wait[n]); hist.svc[n].push(svc[n]); });
    while (hist.t.length > HISTORY) {
      hist.t.shift();
      ORDER.forEach(function (n) { hist.tp[n].shift(); hist.wait[n].shift(); hist.svc[n].shift(); });
    }
  }

  function redraw() {
    charts.forEach(function (c) { c.chart.setData(chartData(c.key)); });
    $("charts-card").setAttribute("data-points", String(hist.t.length));
  }

  function record(snap) {
    var tp = {}, wait = {}, svc = {};
    snap.stages.forEach(function (s) {
      var timed = s.kind === "queue" && s.percentileSamples > 0;
      tp[s.name] = s.throughputPerSec;
      wait[s.name] = timed ? s.waitMsP99 : null;
      svc[s.name] = timed ? s.serviceMsP99 : null;
    });
    push(snap.at / 1000, tp, wait, svc);
    if (snap.markers) setMarkers(snap.markers);
    redraw();
  }

  function byStage(names, values) {
    var out = {};
    names.forEach(function (n, k) { out[n] = values[k]; });
    return out;
  }

  function seed(history) {
    history.points.forEach(function (p) {
      push(p.at / 1000, byStage(history.stages, p.tp), byStage(history.stages, p.wait), byStage(history.stages, p.svc));
    });
    setMarkers(history.markers);
    redraw();
  }

  function setMarkers(list) {
    markers = list;
    var since = Date.now() - HISTORY * 1000;
    $("markers").innerHTML = list.filter(function (m) { return m.at >= since; }).slice(-8).reverse().map(function (m) {
      var time = new Date(m.at).toLocaleTimeString([], { hour12: false });
      return '<span class="marker" data-kind="' + esc(m.kind) + '"><i style="background:' + (MARKS[m.kind] || "#8d99a8") +
        '"></i>' + esc(time) + " " + esc(m.text) + "</span>";
    }).join("") || '<span class="muted">no snapshots, elections or membership changes in these minutes</span>';
  }

  /** The node's last minutes, then done() (also when the history cannot be had). */
  function loadHistory(done) {
    var url = "/dashboard/history" + (token ? "?token=" + encodeURIComponent(token) : "");
    fetch(url, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (h) { if (h) seed(h); })
      .catch(function (error) { console.warn("no dashboard history", error); })
      .then(done);
  }
`;
