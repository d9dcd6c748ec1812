/**
 * The operator's page, served by the node itself at /dashboard: plain HTML, CSS and JavaScript,
 * no build step. It opens a WebSocket to /dashboard/live (passing on ?token= from its own URL)
 * and redraws once a second: the six stages as a pipeline with the bottleneck highlighted,
 * charts of the last five minutes (kept in the browser, drawn with uPlot from
 * /dashboard/assets/), the Raft state with per-follower progress, the cluster's members as
 * this node sees them, and the WAL, engines and connections.
 */
export function renderDashboard(
  name: string,
  options: { token?: string; protectHttp?: boolean } = {},
): string {
  const title = escapeHtml(name);
  // A link cannot carry a Bearer header and /metrics takes no ?token=: under protectHttp a
  // browser would only get 401, so the page says what it takes instead of linking.
  const metrics = options.protectHttp
    ? "/metrics needs a Bearer token"
    : '<a href="/metrics">/metrics</a>';
  // With auth.protectHttp the assets need the token too; a browser can only put it in the URL.
  const query = options.token ? `?token=${encodeURIComponent(options.token)}` : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>stageraft · ${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/assets/uplot.min.css${query}">
<style>${css}</style></head>
<body>
<header class="top">
  <div class="brand"><span class="logo" aria-hidden="true"></span>stageraft<span class="node" id="node">${title}</span></div>
  <span class="badge" id="role-badge">…</span>
  <span class="term" id="term-badge"></span>
  <span class="spacer"></span>
  <span class="meta" id="elu" title="main event loop busy (recent)"></span>
  <span class="live" id="live" data-state="connecting"><i></i><span id="live-text">connecting…</span></span>
</header>
<main>
  <section class="card" id="pipeline-card">
    <div class="card-h"><h2>Pipeline</h2><span class="hint" id="bottleneck-text">no load</span></div>
    <div class="pipeline" id="pipeline"></div>
  </section>
  <section class="card" id="charts-card">
    <div class="card-h"><h2>Last 5 minutes</h2><span class="legend" id="legend"></span></div>
    <div class="charts">
      <figure><figcaption>throughput <small>items/s · ingress frames/s</small></figcaption><div class="chart" id="chart-tp"></div></figure>
      <figure><figcaption>queue wait p99 <small>ms</small></figcaption><div class="chart" id="chart-wait"></div></figure>
      <figure><figcaption>service p99 <small>ms per batch</small></figcaption><div class="chart" id="chart-svc"></div></figure>
    </div>
    <p class="muted nocharts" id="nocharts" hidden>Charts need /dashboard/assets/uplot.min.js (npm package uplot), which this node could not load.</p>
  </section>
  <div class="grid2">
    <section class="card" id="raft-card">
      <div class="card-h"><h2>Raft</h2><span class="hint" id="raft-hint"></span></div>
      <div class="tiles">
        <div class="tile"><span class="k">role</span><span class="v" id="raft-role">—</span></div>
        <div class="tile"><span class="k">term</span><span class="v" id="raft-term">—</span></div>
        <div class="tile"><span class="k">leader</span><span class="v" id="raft-leader">—</span></div>
        <div class="tile"><span class="k">commit index</span><span class="v" id="raft-commit">—</span></div>
        <div class="tile"><span class="k">applied index</span><span class="v" id="raft-applied">—</span></div>
        <div class="tile"><span class="k">last index</span><span class="v" id="raft-last">—</span></div>
        <div class="tile" title="the history checksum at the applied index: equal on two nodes at the same index means equal logs"><span class="k">checksum @ applied</span><span class="v mono" id="raft-checksum">—</span></div>
        <div class="tile"><span class="k">leader changes</span><span class="v" id="raft-changes">—</span></div>
      </div>
      <h3>Followers</h3>
      <table class="followers" id="followers"><thead><tr><th>follower</th><th>state</th><th class="num">match</th><th class="lagh">lag (entries)</th></tr></thead><tbody></tbody></table>
      <p class="muted" id="followers-note"></p>
    </section>
    <section class="card" id="cluster-card">
      <div class="card-h"><h2>Cluster</h2><span class="hint" id="cluster-hint"></span></div>
      <div class="members" id="cluster"></div>
    </section>
  </div>
  <section class="card" id="node-card">
    <div class="card-h"><h2>Storage &amp; connections</h2><span class="hint" id="uptime"></span></div>
    <div class="groups">
      <div class="group"><h3>WAL</h3><dl id="wal"></dl></div>
      <div class="group"><h3>Engines</h3><dl id="engines"></dl></div>
      <div class="group"><h3>Clients</h3><dl id="clients"></dl></div>
      <div class="group"><h3>Peer links</h3><dl id="links"></dl></div>
    </div>
  </section>
</main>
<footer>stageraft · ${metrics} · <a href="/health">/health</a> · live over WebSocket /dashboard/live</footer>
<script src="/dashboard/assets/uplot.min.js${query}"></script>
<script>${script}</script>
</body></html>`;
}

const css = `
:root{--bg:#0d1117;--card:#151b23;--card2:#1b232d;--line:#263140;--text:#dde3ea;--muted:#8d99a8;
--good:#3fb950;--warn:#e3b341;--bad:#f85149;--hot:#ff7b45;--accent:#58a6ff;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
*{box-sizing:border-box}
html,body{margin:0;background:var(--bg);color:var(--text);font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.top{position:sticky;top:0;z-index:5;display:flex;flex-wrap:wrap;align-items:center;gap:8px 12px;padding:10px 20px;
background:rgba(13,17,23,.92);backdrop-filter:blur(6px);border-bottom:1px solid var(--line)}
.brand{font-weight:700;font-size:17px;letter-spacing:.2px;display:flex;align-items:center;gap:8px}
.logo{width:14px;height:14px;border-radius:3px;background:linear-gradient(135deg,#7aa2f7,#bb9af7 50%,#9ece6a);transform:rotate(45deg)}
.node{font-weight:600;color:var(--muted);padding-left:6px}
.badge{padding:2px 10px;border-radius:999px;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.6px;background:#2d333b;color:var(--text)}
.badge.leader{background:rgba(63,185,80,.18);color:#56d364}.badge.follower{background:rgba(88,166,255,.16);color:#79c0ff}
.badge.candidate,.badge.precandidate{background:rgba(227,179,65,.18);color:var(--warn)}
.term{color:var(--muted);font-size:13px}.spacer{flex:1}.meta{color:var(--muted);font-size:12px}
.live{display:flex;align-items:center;gap:6px;font-size:12px;color:var(--muted)}
.live i{width:8px;height:8px;border-radius:50%;background:var(--muted)}
.live[data-state=live] i{background:var(--good);box-shadow:0 0 0 0 rgba(63,185,80,.6);animation:pulse 2s infinite}
.live[data-state=reconnecting] i,.live[data-state=offline] i{background:var(--bad)}
@keyframes pulse{0%{box-shadow:0 0 0 0 rgba(63,185,80,.5)}70%{box-shadow:0 0 0 7px rgba(63,185,80,0)}100%{box-shadow:0 0 0 0 rgba(63,185,80,0)}}
main{padding:16px 20px;display:flex;flex-direction:column;gap:16px;max-width:1680px;margin:0 auto}
body.stale main{opacity:.55;filter:grayscale(.6);transition:opacity .3s}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;min-width:0}
.card-h{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 12px;margin-bottom:12px}
h2{margin:0;font-size:15px;font-weight:650}h3{margin:14px 0 8px;font-size:12px;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.7px}
.hint{color:var(--muted);font-size:12.5px}.hint b{color:var(--hot)}
.muted{color:var(--muted)}.mono{font-family:var(--mono)}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
/* pipeline */
.pipeline{display:grid;grid-template-columns:repeat(5,minmax(0,1fr) 20px) minmax(0,1fr);gap:10px 2px;align-items:stretch}
.arrow{display:flex;align-items:center;justify-content:center;color:#4d5b6e;font-size:18px;user-select:none}
.stage{--c:#888;position:relative;background:var(--card2);border:1px solid var(--line);border-top:3px solid var(--c);border-radius:8px;padding:10px 11px 9px;min-width:0;transition:border-color .3s,box-shadow .3s}
.stage.hot{border-color:var(--hot);border-top-color:var(--hot);box-shadow:0 0 0 1px var(--hot),0 0 18px rgba(255,123,69,.28)}
.sh{display:flex;align-items:center;gap:6px;font-weight:650;white-space:nowrap;min-width:0}
.sh .dot{width:9px;height:9px;border-radius:50%;background:var(--c);flex:none}
.hot-tag{display:none;position:absolute;top:-10px;right:8px;font-size:10px;font-weight:700;text-transform:uppercase;letter-spacing:.6px;color:#1a0f08;background:var(--hot);padding:1px 6px;border-radius:4px}
.stage.hot .hot-tag{display:inline-block}
.tp{margin:6px 0 8px;display:flex;align-items:baseline;gap:5px}
.tp .v{font-size:24px;font-weight:700;font-variant-numeric:tabular-nums;letter-spacing:-.5px}
.tp .u{color:var(--muted);font-size:12px}
.row{display:flex;justify-content:space-between;gap:8px;font-size:12.5px;font-variant-numeric:tabular-nums;white-space:nowrap}
.row>span:first-child{color:var(--muted)}.row>span:last-child{min-width:0;overflow:hidden;text-overflow:ellipsis}
.row.sm{font-size:12px;margin-top:3px}.row.hdr{margin-top:0;font-size:10.5px;color:var(--muted);text-transform:uppercase;letter-spacing:.5px}
.bar{height:6px;border-radius:3px;background:#0b0f14;margin:3px 0 7px;overflow:hidden}
.bar i{display:block;height:100%;width:0;border-radius:3px;background:var(--good);transition:width .4s ease}
.bar i.warn{background:var(--warn)}.bar i.bad{background:var(--bad)}
.bar.u i{background:var(--c)}.bar.none{visibility:hidden}
.sep{border-top:1px dashed var(--line);margin:7px 0 4px}
.rej.nz{color:var(--bad);font-weight:600}
/* charts */
.legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:12px;color:var(--muted)}
.legend span{display:inline-flex;align-items:center;gap:5px}.legend i{width:10px;height:3px;border-radius:2px;display:inline-block}
.charts{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:14px}
figure{margin:0;min-width:0}figcaption{font-size:12.5px;font-weight:600;margin-bottom:4px}figcaption small{color:var(--muted);font-weight:400}
.chart{min-height:190px;width:100%}
.uplot{font-family:inherit}.u-legend{display:none}
/* raft */
.tiles{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:8px}
.tile{background:var(--card2);border:1px solid var(--line);border-radius:7px;padding:7px 10px;min-width:0}
.tile .k{display:block;color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.5px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.tile .v{display:block;font-size:17px;font-weight:650;font-variant-numeric:tabular-nums;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.tile .v.mono{font-size:15px}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:5px 6px;border-bottom:1px solid var(--line);font-size:13px}
th{color:var(--muted);font-weight:500;font-size:11.5px;text-transform:uppercase;letter-spacing:.5px}
.num{text-align:right}.lagh{width:45%}
td .lag{display:flex;align-items:center;gap:8px}td .lag .bar{flex:1;margin:0}td .lag span{min-width:44px;text-align:right}
.state{font-size:11.5px;padding:1px 7px;border-radius:4px;background:#2d333b}
.state.replicate{background:rgba(63,185,80,.16);color:#56d364}.state.probe{background:rgba(227,179,65,.16);color:var(--warn)}
.state.snapshot{background:rgba(88,166,255,.16);color:#79c0ff}.inactive{color:var(--bad);font-size:11px;margin-left:6px}
/* cluster */
.members{display:grid;grid-template-columns:repeat(auto-fill,minmax(175px,1fr));gap:10px}
.member{background:var(--card2);border:1px solid var(--line);border-radius:8px;padding:10px 12px;min-width:0}
.member.is-leader{border-color:rgba(63,185,80,.55);box-shadow:inset 3px 0 0 var(--good)}
.member.down{border-color:rgba(248,81,73,.5);box-shadow:inset 3px 0 0 var(--bad)}
.mh{display:flex;align-items:center;gap:7px;font-weight:650;margin-bottom:6px;flex-wrap:wrap}
.health{width:9px;height:9px;border-radius:50%;background:var(--muted)}.health.up{background:var(--good)}.health.down{background:var(--bad)}
.tag{font-size:10.5px;font-weight:600;padding:1px 6px;border-radius:4px;background:#2d333b;color:var(--muted);text-transform:uppercase;letter-spacing:.5px}
.tag.lead{background:rgba(63,185,80,.2);color:#56d364}.tag.self{background:rgba(88,166,255,.16);color:#79c0ff}
.mrow{display:flex;justify-content:space-between;gap:8px;font-size:12.5px;font-variant-numeric:tabular-nums}
.mrow span:first-child{color:var(--muted)}
.merr{color:var(--bad);font-size:12px;margin-top:4px;overflow-wrap:anywhere}
.maddr{color:var(--muted);font-size:11.5px;margin-top:6px;display:flex;justify-content:space-between;gap:8px;overflow-wrap:anywhere}
.maddr a{white-space:nowrap}
/* node */
.groups{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:6px 22px}
.group h3{margin-top:0}
dl{margin:0;display:grid;grid-template-columns:1fr auto;gap:3px 10px;font-size:13px;font-variant-numeric:tabular-nums}
dt{color:var(--muted)}dd{margin:0;text-align:right}
dd .up{color:var(--good)}dd .down{color:var(--bad)}
footer{color:var(--muted);font-size:12px;text-align:center;padding:4px 16px 22px}
@media (max-width:1399px){
 .pipeline{grid-template-columns:minmax(0,1fr) 20px minmax(0,1fr) 20px minmax(0,1fr)}
 .arrow.wrap{grid-column:1/-1;height:16px;position:relative}.arrow.wrap span{display:none}
 .arrow.wrap::before{content:"";position:absolute;left:calc(16.6% - 2px);right:16.6%;top:50%;border-top:2px solid #4d5b6e}
 .arrow.wrap::after{content:"";position:absolute;left:calc(16.6% - 12px);top:calc(50% - 4px);border:5px solid transparent;border-right:8px solid #4d5b6e;border-left:0}
 .tiles{grid-template-columns:repeat(2,minmax(0,1fr))}
}
@media (max-width:1279px){
 .groups{grid-template-columns:repeat(2,minmax(0,1fr))}
}
@media (max-width:959px){.grid2{grid-template-columns:minmax(0,1fr)}.charts{grid-template-columns:minmax(0,1fr)}.tiles{grid-template-columns:repeat(4,minmax(0,1fr))}}
@media (max-width:699px){
 main{padding:10px;gap:10px}.top{padding:8px 10px}.card{padding:12px}
 .pipeline{grid-template-columns:minmax(0,1fr)}.arrow{height:14px}.arrow span,.arrow.wrap span{display:inline-block;transform:rotate(90deg)}
 .arrow.wrap::before,.arrow.wrap::after{display:none}
 .tiles{grid-template-columns:repeat(2,minmax(0,1fr))}.groups{grid-template-columns:minmax(0,1fr)}
 .meta{display:none}
}
`;

const script = String.raw`
(function () {
  "use strict";
  var ORDER = ["ingress", "raft-step", "wal-append", "replicate", "apply", "respond"];
  var COLORS = { "ingress": "#7aa2f7", "raft-step": "#bb9af7", "wal-append": "#e0af68",
    "replicate": "#7dcfff", "apply": "#9ece6a", "respond": "#f7768e" };
  var HISTORY = 300;
  var token = new URLSearchParams(location.search).get("token");
  var $ = function (id) { return document.getElementById(id); };
  var hist = { t: [], tp: {}, wait: {}, svc: {} };
  ORDER.forEach(function (n) { hist.tp[n] = []; hist.wait[n] = []; hist.svc[n] = []; });
  var charts = [];
  var lastData = 0;

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function int(v) { return v == null ? "—" : Math.round(v).toLocaleString("en-US"); }
  function rate(v) {
    if (v == null) return "—";
    if (v >= 100000) return (v / 1000).toFixed(0) + "k";
    if (v >= 10000) return (v / 1000).toFixed(1) + "k";
    if (v >= 100) return Math.round(v).toLocaleString("en-US");
    if (v >= 10) return v.toFixed(1);
    return v === 0 ? "0" : v.toFixed(2);
  }
  function ms(v) {
    if (v == null) return "—";
    if (v === 0) return "0";
    if (v < 1) return v.toFixed(2);
    if (v < 10) return v.toFixed(1);
    return Math.round(v).toLocaleString("en-US");
  }
  function ago(v) { return v == null ? "—" : v < 1500 ? "just now" : (v / 1000).toFixed(0) + " s ago"; }
  function pct(v) { return v == null ? "—" : Math.round(v * 100) + "%"; }
  function level(v) { return v >= 0.85 ? "bad" : v >= 0.5 ? "warn" : ""; }
  function lagWidth(lag) { return lag <= 0 ? 0 : Math.min(100, Math.max(3, (Math.log10(lag + 1) / 4) * 100)); }
  function roleName(r) { return r === "precandidate" ? "pre-candidate" : (r || "—"); }
  function hex(c) { return c == null ? "—" : (c >>> 0).toString(16).padStart(8, "0"); }
  function field(box, f) { return box.querySelector('[data-f="' + f + '"]'); }
  function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }
  function dashboardLink(client) {
    if (!client || /^(0\.0\.0\.0|\[?::\]?):/.test(client)) return null;
    return "http://" + client + "/dashboard" + (token ? "?token=" + encodeURIComponent(token) : "");
  }

  // ---------------------------------------------------------------- pipeline
  function buildPipeline() {
    var html = "";
    ORDER.forEach(function (name, k) {
      if (k > 0) html += '<div class="arrow' + (k === 3 ? " wrap" : "") + '" aria-hidden="true"><span>&#10140;</span></div>';
      html += '<div class="stage" data-stage="' + name + '" style="--c:' + COLORS[name] + '">' +
        '<div class="sh"><i class="dot"></i><span>' + name + '</span><span class="hot-tag">bottleneck</span></div>' +
        '<div class="tp"><span class="v" data-f="tp">0</span><span class="u">' + (name === "ingress" ? "frames/s" : "items/s") + '</span></div>';
      if (name === "ingress") {
        html += '<div class="row"><span>queue</span><span class="muted">none: admit or refuse</span></div>' +
          '<div class="bar none"></div>' +
          '<div class="row" title="ingress runs on the main event loop, shared by the inline stages"><span>event loop busy</span><span data-f="elu">0%</span></div>' +
          '<div class="bar u"><i data-f="elubar"></i></div>' +
          '<div class="sep"></div>' +
          '<div class="row sm"><span>clients</span><span data-f="conns">0</span></div>' +
          '<div class="row sm"><span>frames</span><span data-f="frames">0</span></div>' +
          '<div class="row sm"><span>bad frames</span><span data-f="bad">0</span></div>' +
          '<div class="row sm"><span>peer frames</span><span data-f="peer">0</span></div>' +
          '<div class="row sm"><span>overloaded</span><span class="rej" data-f="rej">0</span></div>';
      } else {
        html += '<div class="row"><span>queue</span><span data-f="q">0</span></div>' +
          '<div class="bar"><i data-f="qbar"></i></div>' +
          '<div class="row"><span>busy</span><span data-f="util">0%</span></div>' +
          '<div class="bar u"><i data-f="ubar"></i></div>' +
          '<div class="sep"></div>' +
          '<div class="row sm hdr"><span></span><span>p50 · p99</span></div>' +
          '<div class="row sm"><span>queue wait</span><span data-f="wait">—</span></div>' +
          '<div class="row sm"><span>service</span><span data-f="svc">—</span></div>' +
          '<div class="row sm"><span>batch</span><span data-f="batch" title="p50 · p99 / limit">—</span></div>' +
          '<div class="row sm"><span>rejected</span><span class="rej" data-f="rej">0</span></div>';
      }
      html += "</div>";
    });
    $("pipeline").innerHTML = html;
    $("legend").innerHTML = ORDER.map(function (n) {
      return '<span><i style="background:' + COLORS[n] + '"></i>' + n + "</span>";
    }).join("");
  }

  function renderStages(snap) {
    var hot = snap.bottleneck ? snap.bottleneck.stage : null;
    snap.stages.forEach(function (s) {
      var box = document.querySelector('[data-stage="' + s.name + '"]');
      if (!box) return;
      box.classList.toggle("hot", s.name === hot);
      setText(field(box, "tp"), rate(s.throughputPerSec));
      var rej = field(box, "rej");
      setText(rej, int(s.rejected));
      rej.classList.toggle("nz", s.rejected > 0);
      if (s.kind === "ingress") {
        setText(field(box, "conns"), int(snap.ingress.connections));
        setText(field(box, "elu"), pct(snap.eventLoopUtilisation));
        field(box, "elubar").style.width = snap.eventLoopUtilisation * 100 + "%";
        setText(field(box, "frames"), int(snap.ingress.frames));
        setText(field(box, "bad"), int(snap.ingress.badFrames));
        setText(field(box, "peer"), int(snap.ingress.peerFrames));
        return;
      }
      setText(field(box, "q"), int(s.queueDepth) + " / " + int(s.queueCapacityItems) +
        (s.fill >= 0.005 ? "  (" + pct(s.fill) + ")" : ""));
      var qbar = field(box, "qbar");
      qbar.style.width = Math.max(s.queueDepth > 0 ? 2 : 0, s.fill * 100) + "%";
      qbar.className = level(s.fill);
      setText(field(box, "util"), pct(s.utilisation));
      field(box, "ubar").style.width = s.utilisation * 100 + "%";
      setText(field(box, "wait"), ms(s.waitMsP50) + " · " + ms(s.waitMsP99) + " ms");
      setText(field(box, "svc"), ms(s.serviceMsP50) + " · " + ms(s.serviceMsP99) + " ms");
      setText(field(box, "batch"), int(s.batchSizeP50) + " · " + int(s.batchSizeP99) + " / " + int(s.batchLimit));
    });
    $("bottleneck-text").innerHTML = snap.bottleneck
      ? "bottleneck: <b>" + esc(snap.bottleneck.stage) + "</b> (" + esc(snap.bottleneck.reason) + ")"
      : "no bottleneck: every stage under 5% busy, queues near empty";
  }

  // ---------------------------------------------------------------- charts
  function makeChart(el, fmt) {
    var series = [{}].concat(ORDER.map(function (n) {
      return { label: n, stroke: COLORS[n], width: 1.75, points: { show: false },
        value: function (u, v) { return v == null ? "—" : fmt(v); } };
    }));
    var axis = { stroke: "#8d99a8", grid: { stroke: "#1f2935", width: 1 }, ticks: { stroke: "#263140", width: 1 },
      font: "11px system-ui, sans-serif" };
    var opts = {
      width: Math.max(200, el.clientWidth), height: 190, series: series,
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(max * 1.1, 1)]; } } },
      axes: [axis, Object.assign({}, axis, { size: 48, values: function (u, vals) { return vals.map(fmt); } })],
      legend: { show: false }, cursor: { points: { size: 5 } },
    };
    var data = [hist.t].concat(ORDER.map(function () { return []; }));
    var chart = new uPlot(opts, data, el);
    if (window.ResizeObserver) new ResizeObserver(function () {
      var w = Math.max(200, el.clientWidth);
      if (w !== chart.width) chart.setSize({ width: w, height: 190 });
    }).observe(el);
    return chart;
  }

  function buildCharts() {
    if (typeof uPlot === "undefined") { $("nocharts").hidden = false; return; }
    charts.push({ chart: makeChart($("chart-tp"), rate), key: "tp", only: null });
    charts.push({ chart: makeChart($("chart-wait"), ms), key: "wait", only: "queue" });
    charts.push({ chart: makeChart($("chart-svc"), ms), key: "svc", only: "queue" });
  }

  function record(snap) {
    hist.t.push(snap.at / 1000);
    var byName = {};
    snap.stages.forEach(function (s) { byName[s.name] = s; });
    ORDER.forEach(function (n) {
      var s = byName[n];
      hist.tp[n].push(s ? s.throughputPerSec : null);
      hist.wait[n].push(s && s.kind === "queue" ? s.waitMsP99 : null);
      hist.svc[n].push(s && s.kind === "queue" ? s.serviceMsP99 : null);
    });
    if (hist.t.length > HISTORY) {
      hist.t.shift();
      ORDER.forEach(function (n) { hist.tp[n].shift(); hist.wait[n].shift(); hist.svc[n].shift(); });
    }
    charts.forEach(function (c) {
      c.chart.setData([hist.t].concat(ORDER.map(function (n) { return hist[c.key][n]; })));
    });
  }

  // ---------------------------------------------------------------- raft
  function renderRaft(snap, byName) {
    var r = snap.raft;
    var badge = $("role-badge");
    setText(badge, roleName(r.role));
    badge.className = "badge " + r.role;
    setText($("term-badge"), "term " + r.term);
    setText($("raft-role"), roleName(r.role));
    setText($("raft-term"), int(r.term));
    setText($("raft-leader"), r.leader || "none");
    setText($("raft-commit"), int(r.commitIndex));
    setText($("raft-applied"), int(r.appliedIndex));
    setText($("raft-last"), int(r.lastIndex));
    setText($("raft-checksum"), hex(r.checksum));
    setText($("raft-changes"), int(r.leaderChanges));
    setText($("raft-hint"), r.voters.length + " voter" + (r.voters.length === 1 ? "" : "s") +
      (r.learners.length ? ", " + r.learners.length + " learner" + (r.learners.length === 1 ? "" : "s") : "") +
      (r.leadTransferee ? " · transferring to " + r.leadTransferee : "") +
      " · log " + int(r.firstIndex) + "…" + int(r.lastIndex));
    var tbody = document.querySelector("#followers tbody");
    var note = $("followers-note");
    if (r.followers) {
      tbody.innerHTML = r.followers.map(function (f) {
        var cls = f.lag > 1000 ? "bad" : f.lag > 50 ? "warn" : "";
        return '<tr data-follower="' + esc(f.name) + '"><td><b>' + esc(f.name) + "</b>" +
          (f.active ? "" : '<span class="inactive">silent</span>') + "</td>" +
          '<td><span class="state ' + esc(f.state) + '">' + esc(f.state) + "</span></td>" +
          '<td class="num">' + int(f.matchIndex) + "</td>" +
          '<td><div class="lag" title="log scale: full at 10,000 entries"><div class="bar"><i class="' + cls +
          '" style="width:' + lagWidth(f.lag) + '%"></i></div><span>' + int(f.lag) + "</span></div></td></tr>";
      }).join("");
      $("followers").hidden = r.followers.length === 0;
      setText(note, r.followers.length === 0 ? "No followers: a single-node cluster." : "");
    } else {
      tbody.innerHTML = "";
      $("followers").hidden = true;
      var leader = r.leader && byName[r.leader];
      var link = leader && dashboardLink(leader.client);
      note.innerHTML = "Only the leader tracks follower progress" +
        (r.leader ? ": see " + (link ? '<a href="' + esc(link) + '">' + esc(r.leader) + "’s dashboard</a>" : esc(r.leader)) + "." : "; there is no leader right now.");
    }
  }

  // ---------------------------------------------------------------- cluster
  function renderCluster(snap) {
    var up = 0;
    var leaders = {};
    $("cluster").innerHTML = snap.cluster.map(function (m) {
      if (m.status === "up") up++;
      if (m.leader) leaders[m.leader] = true;
      var isLeader = m.role === "leader";
      var link = m.self ? null : dashboardLink(m.client);
      var rows = m.status === "up"
        ? '<div class="mrow"><span>role</span><span data-f="role">' + esc(roleName(m.role)) + "</span></div>" +
          '<div class="mrow"><span>term</span><span>' + int(m.term) + "</span></div>" +
          '<div class="mrow"><span>leader seen</span><span data-f="leader">' + esc(m.leader || "none") + "</span></div>" +
          '<div class="mrow"><span>commit</span><span>' + int(m.commitIndex) + "</span></div>" +
          '<div class="mrow"><span>applied</span><span data-f="applied">' + int(m.appliedIndex) + "</span></div>" +
          (m.self ? "" : '<div class="mrow"><span>read</span><span>' + ago(m.ageMs) + ", " + ms(m.latencyMs) + " ms</span></div>")
        : '<div class="merr">' + esc(m.status === "unknown" ? (m.error || "not checked yet") : "unreachable: " + (m.error || "no answer")) + "</div>";
      return '<div class="member ' + (isLeader ? "is-leader " : "") + esc(m.status) + '" data-member="' + esc(m.name) +
        '" data-role="' + esc(m.role || "") + '" data-status="' + esc(m.status) + '">' +
        '<div class="mh"><i class="health ' + esc(m.status) + '" title="' + esc(m.status) + '"></i>' + esc(m.name) +
        (isLeader ? '<span class="tag lead">leader</span>' : "") + (m.self ? '<span class="tag self">this node</span>' : "") +
        (m.voter ? "" : '<span class="tag">learner</span>') + "</div>" + rows +
        '<div class="maddr"><span>' + esc(m.client || m.peer) +
        (m.link === false ? " · peer link down" : "") + "</span>" +
        (link ? '<a href="' + esc(link) + '">open ↗</a>' : "") + "</div></div>";
    }).join("");
    var split = Object.keys(leaders).length > 1;
    setText($("cluster-hint"), up + " of " + snap.cluster.length + " up, as seen from " + snap.node +
      (split ? " · members disagree on the leader" : ""));
  }

  // ---------------------------------------------------------------- storage & connections
  function dl(id, rows) {
    $(id).innerHTML = rows.map(function (r) { return "<dt>" + r[0] + "</dt><dd>" + r[1] + "</dd>"; }).join("");
  }
  function renderNode(snap) {
    var w = snap.wal;
    dl("wal", [["group commits", int(w.groupCommits)], ["fsyncs", w.sync ? int(w.syncs) : "off (sync disabled)"],
      ["entries", int(w.entries)], ["entries / commit", w.groupCommits ? (w.entries / w.groupCommits).toFixed(1) : "—"],
      ["readies", int(w.readies)]]);
    var e = snap.engines;
    var a = snap.apply;
    var rows = [];
    if (e) {
      rows.push(["kv engine", esc(e.kv.engine)], ["kv applied index", int(e.kv.appliedIndex)]);
      if (e.kv.keys != null) rows.push(["kv keys", int(e.kv.keys)]);
      rows.push(["vector collections", int(e.vectors.collections)], ["vectors", int(e.vectors.vectors)]);
    } else rows.push(["engines", '<span class="muted">in a worker thread</span>']);
    rows.push(["entries applied", int(a.applied)], ["snapshots taken", int(a.snapshots)],
      ["timeouts", int(a.timeouts)]);
    dl("engines", rows);
    var i = snap.ingress;
    dl("clients", [["open connections", int(i.connections)], ["frames", int(i.frames)],
      ["frames / s", rate(i.framesPerSec)], ["bad frames", int(i.badFrames)], ["overloaded", int(i.overloaded)],
      ["unauthorized", int(i.unauthorized)]]);
    dl("links", snap.links.length ? snap.links.map(function (l) {
      return [esc(l.name), '<span class="' + (l.up ? "up" : "down") + '">' + (l.up ? "up" : "down") + "</span>" +
        (l.dropped ? ' <span class="muted">· ' + int(l.dropped) + " dropped</span>" : "")];
    }) : [["none", "—"]]);
    var up = snap.uptimeSec;
    setText($("uptime"), "up " + (up < 120 ? Math.round(up) + " s" : up < 7200 ? Math.round(up / 60) + " min" :
      (up / 3600).toFixed(1) + " h"));
    setText($("elu"), "event loop " + pct(snap.eventLoopUtilisation) + " busy");
  }

  function render(snap) {
    lastData = Date.now();
    document.body.classList.remove("stale");
    setText($("node"), snap.node);
    document.title = "stageraft · " + snap.node + " · " + roleName(snap.raft.role);
    var byName = {};
    snap.cluster.forEach(function (m) { byName[m.name] = m; });
    renderStages(snap);
    record(snap);
    renderRaft(snap, byName);
    renderCluster(snap);
    renderNode(snap);
    window.__lastSnapshot = snap;
  }

  // ---------------------------------------------------------------- live
  var retry = 0;
  var everOpen = false;
  function setLive(state, text) {
    $("live").setAttribute("data-state", state);
    setText($("live-text"), text);
  }
  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/dashboard/live" +
      (token ? "?token=" + encodeURIComponent(token) : "");
    var ws = new WebSocket(url);
    var opened = false;
    ws.onopen = function () { opened = true; everOpen = true; retry = 0; setLive("live", "live"); };
    ws.onmessage = function (event) {
      try { render(JSON.parse(event.data)); } catch (error) { console.error(error); }
    };
    ws.onclose = function () {
      var delay = Math.min(5000, 500 * Math.pow(2, retry++));
      if (opened || everOpen) setLive("reconnecting", "reconnecting…");
      else setLive("offline", token ? "cannot connect" : "cannot connect (needs ?token=…?)");
      setTimeout(connect, delay);
    };
  }
  setInterval(function () {
    if (lastData && Date.now() - lastData > 3500) {
      document.body.classList.add("stale");
      setLive($("live").getAttribute("data-state") === "live" ? "reconnecting" : $("live").getAttribute("data-state"),
        "no data for " + Math.round((Date.now() - lastData) / 1000) + " s");
    }
  }, 1000);

  buildPipeline();
  buildCharts();
  connect();
})();
`;

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}
