import type { Recording } from "../recorder.js";

/**
 * remu's web view: one self-contained page (HTML, CSS and vanilla JS, no network access) that
 * shows a recorded run. The recording is embedded as JSON in a <script type="application/json">
 * element with id "remu-data"; `readEmbeddedRecording` parses it back out.
 */
export function renderRemuPage(recording: Recording): string {
  const data = JSON.stringify(recording).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%230f172a'/%3E%3Cpath d='M4 4v8M12 4v8M4 8h8' stroke='%2316a34a' stroke-width='2'/%3E%3C/svg%3E">
<title>${escapeHtml(recording.meta.title)}</title>
<style>${styles}</style></head>
<body>
<header id="top">
  <div class="brand">remu<span>web view</span></div>
  <div id="title"></div>
  <div id="badges"></div>
</header>
<div id="failure" hidden></div>
<section id="controls" class="card">
  <div class="buttons">
    <button id="btn-start" title="jump to the first step (Home)" aria-label="first step"><svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><path d="M3 2h2v12H3zM14 2v12L6 8z" fill="currentColor"/></svg></button>
    <button id="btn-back" title="one event back (←; shift: 10)" aria-label="step back"><svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><path d="M12 2v12L4 8z" fill="currentColor"/></svg></button>
    <button id="btn-play" title="play / pause (space)">play</button>
    <button id="btn-fwd" title="one event forward (→; shift: 10)" aria-label="step forward"><svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><path d="M4 2v12l8-6z" fill="currentColor"/></svg></button>
    <button id="btn-end" title="jump to the last step (End)" aria-label="last step"><svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><path d="M11 2h2v12h-2zM2 2v12l8-6z" fill="currentColor"/></svg></button>
  </div>
  <div class="where"><div id="pos"></div><div id="event"></div></div>
  <div class="scrub">
    <canvas id="minimap" height="26" title="leader over time (colour of the node); red: crashes and the failure"></canvas>
    <input id="slider" type="range" min="0" max="0" value="0" aria-label="step">
  </div>
</section>
<main>
  <div class="left">
    <section class="card">
      <h2>Cluster state <small id="state-note"></small></h2>
      <table id="state"><thead><tr><th>node</th><th>role</th><th>term</th><th>leader</th><th>commit</th><th>applied</th><th>last</th><th>chk@applied</th></tr></thead><tbody></tbody></table>
      <div id="network"></div>
    </section>
    <section class="card">
      <h2>Breakpoint</h2>
      <div class="bp">
        <input id="bp" type="text" spellcheck="false" placeholder="e.g. term > 3" aria-label="breakpoint condition">
        <button id="bp-back" title="the last earlier step where it holds">◀ back to</button>
        <button id="bp-run" class="primary" title="the first later step where it holds (Enter)">run to ▶</button>
      </div>
      <div id="bp-status"></div>
      <div class="chips" id="bp-examples"></div>
      <details class="help"><summary>syntax</summary>
        <p><code>term</code>, <code>commit</code>, <code>applied</code>, <code>last</code>, <code>chk</code>, <code>role</code>, <code>up</code>: true if it holds for <i>some</i> node
        (<code>term(n1)</code> for one node, <code>min(commit)</code> / <code>max(term)</code> over the nodes that are up).
        <code>leader == n2</code>: n2 is a leader; <code>leader(n1)</code>: who n1 follows; <code>leaders</code>: how many leaders.
        <code>step</code>, <code>time</code>, <code>event ~ crash</code> (text of the event), <code>msg == vote</code> (a message of the step), <code>drops</code>.
        Compare with <code>== != &lt; &lt;= &gt; &gt;= ~</code>, combine with <code>&amp;&amp; || ! ( )</code>.</p>
      </details>
    </section>
    <section class="card">
      <h2>This step</h2>
      <div id="detail"></div>
    </section>
    <section class="card">
      <h2>Run</h2>
      <dl id="run-summary" class="kv"></dl>
      <details class="help"><summary>parameters</summary><dl id="run-params" class="kv"></dl></details>
    </section>
  </div>
  <section class="card right">
    <div class="diagram-head">
      <h2>Message flow</h2>
      <div class="filters">
        <div id="node-filter" class="chips"></div>
        <div id="type-filter" class="chips"></div>
        <div class="opts">
          <label><input type="checkbox" id="quiet" checked> hide quiet steps</label>
          <label>window <select id="window"><option value="8">±8</option><option value="15" selected>±15</option><option value="25">±25</option><option value="50">±50</option></select></label>
        </div>
      </div>
    </div>
    <div id="diagram-wrap"><svg id="diagram" xmlns="http://www.w3.org/2000/svg"></svg></div>
    <div class="legend">
      <span><svg width="34" height="10"><line x1="2" y1="5" x2="30" y2="5" class="lg-ok"/><path d="M26,2 L32,5 L26,8z" fill="#475569"/></svg>delivered</span>
      <span><svg width="34" height="10"><line x1="2" y1="5" x2="24" y2="5" class="lg-drop"/><path d="M23,1 L31,9 M31,1 L23,9" class="lg-x"/></svg>dropped</span>
      <span><svg width="34" height="10"><line x1="2" y1="5" x2="30" y2="5" class="lg-flight"/></svg>in flight / outside the window</span>
      <span>lifelines:</span>
      <span><svg width="12" height="16"><line x1="6" y1="1" x2="6" y2="15" stroke="#94a3b8" stroke-width="1.2"/></svg>follower</span>
      <span><svg width="12" height="16"><rect x="3.5" y="1" width="5" height="14" fill="#2563eb" fill-opacity=".45"/></svg>leader (in its node's colour)</span>
      <span><svg width="12" height="16"><line x1="6" y1="1" x2="6" y2="15" stroke="#f59e0b" stroke-width="3"/></svg>candidate or pre-candidate</span>
      <span><svg width="12" height="16"><line x1="6" y1="1" x2="6" y2="15" stroke="#cbd5e1" stroke-width="1.5" stroke-dasharray="2 3"/></svg>down</span>
      <span class="pill leader">L</span>leader <span class="pill candidate">C</span>candidate <span class="pill crash">✕</span>crash <span class="pill start">▶</span>restart <span class="pill net">⟂</span>partition
    </div>
  </section>
</main>
<script id="remu-data" type="application/json">${data}</script>
<script>${client}</script>
</body></html>
`;
}

/** The recording embedded in a page made by renderRemuPage. */
export function readEmbeddedRecording(html: string): Recording {
  const match = /<script id="remu-data" type="application\/json">([\s\S]*?)<\/script>/.exec(html);
  if (match === null) throw new Error("no embedded remu recording in this page");
  return JSON.parse(match[1]!) as Recording;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

const styles = `
:root{--bg:#f1f5f9;--card:#fff;--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--accent:#2563eb;
--leader:#16a34a;--cand:#d97706;--pre:#f59e0b;--down:#dc2626;--chg:#fef3c7;--chg-ink:#92400e;--cur:#fff7d6}
*{box-sizing:border-box}
body{margin:0;font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{display:flex;align-items:center;gap:18px;padding:10px 20px;background:#0f172a;color:#e2e8f0}
.brand{font-weight:800;font-size:18px;letter-spacing:.5px;color:#fff;white-space:nowrap}
.brand span{font-weight:400;font-size:12px;color:#94a3b8;margin-left:8px}
#title{font-weight:600;color:#e2e8f0;white-space:nowrap}
#badges{display:flex;gap:6px;flex-wrap:wrap;margin-left:auto}
.badge{padding:2px 8px;border-radius:999px;background:#1e293b;color:#cbd5e1;font-size:12px;white-space:nowrap}
.badge b{color:#fff;font-weight:600}
.badge.ok{background:#14532d;color:#bbf7d0}.badge.bad{background:#7f1d1d;color:#fecaca}
#failure{margin:12px 20px 0;padding:10px 14px;border-radius:8px;background:#fef2f2;border:1px solid #fecaca;color:#7f1d1d;display:flex;gap:12px;align-items:center}
#failure[hidden]{display:none}
#failure .msg{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;flex:1}
.card{background:var(--card);border-radius:10px;box-shadow:0 1px 2px rgba(15,23,42,.06),0 1px 8px rgba(15,23,42,.04);padding:12px 14px}
h2{font-size:12px;text-transform:uppercase;letter-spacing:.7px;color:var(--muted);margin:0 0 8px;font-weight:700}
h2 small{text-transform:none;letter-spacing:0;font-weight:400;margin-left:6px}
#controls{margin:12px 20px 0;display:grid;grid-template-columns:auto minmax(260px,380px) 1fr;gap:16px;align-items:center}
.buttons{display:flex;gap:4px}
button{font:inherit;border:1px solid #cbd5e1;background:#fff;border-radius:6px;padding:4px 10px;cursor:pointer;color:var(--ink);display:inline-flex;align-items:center;gap:4px;min-height:28px}
button:hover{background:#f8fafc;border-color:#94a3b8}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.primary:hover{background:#1d4ed8}
#btn-play{min-width:74px}
.where #pos{font-weight:700;font-variant-numeric:tabular-nums}
.where #event{color:var(--muted);white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.scrub{display:flex;flex-direction:column;gap:2px;min-width:0}
#minimap{width:100%;height:26px;border-radius:4px;cursor:pointer;background:#f8fafc}
#slider{width:100%;margin:0;accent-color:var(--accent)}
main{display:grid;grid-template-columns:500px minmax(0,1fr);gap:12px;padding:12px 20px 20px;align-items:start}
.left{display:flex;flex-direction:column;gap:12px;min-width:0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th{font-size:11px;color:var(--muted);font-weight:600;text-align:right;padding:3px 5px;white-space:nowrap;border-bottom:1px solid var(--line)}
td{padding:4px 5px;text-align:right;border-bottom:1px solid #f1f5f9;transition:background .15s}
th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}
td.node{font-weight:700;white-space:nowrap}
td.node i{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px;vertical-align:0}
td.node.here::after{content:"●";color:var(--accent);font-size:9px;margin-left:5px;vertical-align:2px}
td.chk{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:11.5px}
td.changed{background:var(--chg);color:var(--chg-ink);font-weight:700}
tr.down td{color:#94a3b8}
.role{display:inline-block;padding:1px 7px;border-radius:999px;font-size:11px;font-weight:600;background:#f1f5f9;color:#475569}
.role.leader{background:#dcfce7;color:#166534}.role.candidate{background:#ffedd5;color:#9a3412}
.role.precandidate{background:#fef9c3;color:#854d0e}.role.down{background:#fee2e2;color:#991b1b}
#network{margin-top:8px;color:var(--muted);font-size:12px}
#network b{color:var(--ink);font-weight:600}
#network.cut b{color:#c2410c}
.bp{display:flex;gap:6px}
#bp{flex:1;font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace;padding:5px 8px;border:1px solid #cbd5e1;border-radius:6px;min-width:0}
#bp:focus{outline:2px solid #bfdbfe;border-color:var(--accent)}
#bp.bad{border-color:var(--down);outline-color:#fecaca}
#bp-status{min-height:18px;margin-top:5px;font-size:12px;color:var(--muted)}
#bp-status.hit{color:#166534}#bp-status.err{color:#b91c1c}
.chips{display:flex;flex-wrap:wrap;gap:4px}
.chip{font:11.5px ui-monospace,SFMono-Regular,Menlo,monospace;padding:1px 7px;border-radius:999px;border:1px solid var(--line);background:#f8fafc;cursor:pointer;color:#334155;user-select:none}
.chip:hover{border-color:#94a3b8}
.chip.off{opacity:.4;text-decoration:line-through}
.chip i{display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:4px}
details.help{margin-top:6px;color:var(--muted);font-size:12px}
details.help p{margin:4px 0 0}
code{font:11.5px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f1f5f9;padding:0 3px;border-radius:3px;color:#0f172a}
#detail{font-size:12px}
#detail .ev{font-weight:600;margin-bottom:4px}
#detail ul{list-style:none;margin:0;padding:0}
#detail li{padding:2px 0;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:11.5px;border-bottom:1px dashed #f1f5f9}
#detail li .k{display:inline-block;min-width:62px;color:var(--muted);font-family:system-ui,sans-serif}
#detail li.bad{color:#b91c1c}
#detail .err{margin-top:6px;padding:6px 8px;border-radius:6px;background:#fef2f2;color:#991b1b;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:11.5px}
.right{min-width:0}
dl.kv{display:grid;grid-template-columns:repeat(3,auto 1fr);gap:2px 10px;margin:0;font-size:12px}
dl.kv dt{color:var(--muted);white-space:nowrap}
dl.kv dd{margin:0;font-variant-numeric:tabular-nums;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.diagram-head{display:flex;flex-wrap:wrap;gap:6px 16px;align-items:flex-start;margin-bottom:6px}
.diagram-head h2{margin-top:3px}
.filters{display:flex;flex-direction:column;gap:4px;flex:1;min-width:0}
.opts{display:flex;gap:14px;color:var(--muted);font-size:12px;align-items:center}
.opts select{font:inherit;padding:1px 4px;border-radius:5px;border:1px solid #cbd5e1}
#diagram-wrap{overflow-x:auto;border-top:1px solid var(--line)}
#diagram{display:block;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
#diagram .row{cursor:pointer}
#diagram .row:hover rect.band{fill:#f1f5f9}
#diagram text{font-size:10.5px}
#diagram .gut{fill:#64748b}
#diagram .cur .gut{fill:#0f172a;font-weight:700}
#diagram .lbl{paint-order:stroke;stroke:#fff;stroke-width:3.5px;stroke-linejoin:round}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;color:var(--muted);font-size:11.5px;margin-top:8px;align-items:center}
.legend span{display:inline-flex;align-items:center;gap:4px}
.legend svg line{stroke-width:1.6}
.lg-ok{stroke:#475569}.lg-drop{stroke:#dc2626;stroke-dasharray:3 2}.lg-x{stroke:#dc2626;stroke-width:2}
.lg-flight{stroke:#94a3b8;stroke-dasharray:2 3}
.pill{display:inline-block;min-width:16px;text-align:center;border-radius:4px;font-size:10.5px;font-weight:700;padding:0 4px;color:#fff;margin-left:6px}
.pill.leader{background:var(--leader)}.pill.candidate{background:var(--cand)}.pill.crash{background:var(--down)}
.pill.start{background:#0d9488}.pill.net{background:#ea580c}
@media (max-width:1100px){main{grid-template-columns:1fr}#controls{grid-template-columns:1fr}}
`;

// The page's script. Plain ES2017, no template literals (this is itself one).
const client = String.raw`
(function () {
"use strict";
var R = JSON.parse(document.getElementById("remu-data").textContent);
var NODES = R.nodes.slice();
var N = R.steps.length;
var FIRST = R.first;
if (N === 0) { document.querySelector("main").innerHTML = '<section class="card">This recording holds no steps.</section>'; return; }
var PALETTE = ["#2563eb", "#db2777", "#0d9488", "#d97706", "#7c3aed", "#0891b2", "#65a30d", "#e11d48", "#4f46e5"];
var TYPE_COLORS = {
  vote: "#7c3aed", voteResp: "#7c3aed", append: "#2563eb", appendResp: "#2563eb",
  heartbeat: "#64748b", heartbeatResp: "#64748b", snapshot: "#c2410c", snapshotResp: "#c2410c",
  timeoutNow: "#db2777", readIndex: "#059669", readIndexResp: "#059669"
};
var ROLE_SHORT = { leader: "L", candidate: "C", precandidate: "pre", follower: "F", down: "down" };
var ROLE_HEAD = { leader: "leader", candidate: "candidate", precandidate: "pre-cand.", follower: "follower", down: "down" };
function $(id) { return document.getElementById(id); }
function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; }); }
function nodeColor(i) { return PALETTE[i % PALETTE.length]; }
function hex(n) { return ("00000000" + (n >>> 0).toString(16)).slice(-8); }
function fmtT(t) { return t.toFixed(1); }

// ------------------------------------------------------------ decode the recording
var msgs = new Map();
R.messages.forEach(function (m) {
  msgs.set(m[0], { id: m[0], type: m[1], from: m[2], to: m[3], fields: m[4], refused: !!m[5],
    sent: m[6] < 0 ? -1 : m[6] - FIRST, dropped: !!m[7], copies: m[8] });
});
var states = new Array(N), nets = new Array(N), deliveries = new Map(), leaderAt = new Int16Array(N);
var typeCounts = {};
(function () {
  var cur = [], net = "no partition";
  for (var k = 0; k < N; k++) {
    var s = R.steps[k];
    if (s.st) {
      cur = cur.slice();
      for (var j = 0; j < s.st.length; j++) {
        var x = s.st[j];
        cur[x[0]] = { up: !!x[1], role: x[2], term: x[3], leader: x[4], commit: x[5], applied: x[6], last: x[7], chk: x[8] };
      }
    }
    states[k] = cur;
    if (s.net !== undefined) net = s.net;
    nets[k] = net;
    var lead = -1;
    for (var i = 0; i < cur.length; i++) if (cur[i] && cur[i].role === "leader") { lead = i; break; }
    leaderAt[k] = lead;
    if (s.r) {
      var list = deliveries.get(s.r[0]);
      if (!list) { list = []; deliveries.set(s.r[0], list); }
      list.push({ pos: k, ok: !!s.r[1] });
    }
  }
  msgs.forEach(function (m) { typeCounts[m.type] = (typeCounts[m.type] || 0) + 1; });
})();

// ------------------------------------------------------------ view state
var pos = 0;
var shownNodes = NODES.map(function () { return true; });
var hiddenTypes = {};
var playing = null;

function globalIndex(k) { return FIRST + k; }
function msgVisible(m) {
  if (!m || hiddenTypes[m.type]) return false;
  var a = NODES.indexOf(m.from), b = NODES.indexOf(m.to);
  return (a < 0 || shownNodes[a]) && (b < 0 || shownNodes[b]);
}
function noteVisible(n) {
  if (n[1] === "") return true;
  var i = NODES.indexOf(n[1]);
  return i < 0 || shownNodes[i];
}
function busy(k) {
  var s = R.steps[k];
  if (s.err) return true;
  if (s.f) for (var i = 0; i < s.f.length; i++) if (noteVisible(s.f[i])) return true;
  if (s.st) for (var j = 0; j < s.st.length; j++) if (shownNodes[s.st[j][0]]) return true;
  if (s.s) for (var q = 0; q < s.s.length; q++) if (msgVisible(msgs.get(s.s[q]))) return true;
  if (s.r && msgVisible(msgs.get(s.r[0]))) return true;
  return false;
}

// ------------------------------------------------------------ header
(function () {
  var m = R.meta, p = m.parameters || {}, sm = m.summary || {};
  var parts = [];
  if (p.seed !== undefined) parts.push("seed " + p.seed);
  parts.push((p.nodes !== undefined ? p.nodes : NODES.length) + " nodes");
  if (p.steps !== undefined) parts.push(p.steps + " steps");
  $("title").textContent = parts.join(" · ");
  var b = [];
  if (m.ok === true) b.push('<span class="badge ok">✔ OK</span>');
  if (m.ok === false) b.push('<span class="badge bad">✖ FAILED · exit ' + esc(m.exitCode) + "</span>");
  function badge(k, v) { if (v !== undefined && v !== null) b.push('<span class="badge">' + esc(k) + " <b>" + esc(v) + "</b></span>"); }
  if (p.faults !== undefined) badge("faults", String(p.faults).split(",").length >= 9 ? "all" : p.faults);
  badge("events", sm.events); badge("elections", sm.elections); badge("max term", sm.maxTerm);
  badge("committed", sm.committed); badge("crashes", sm.crashes);
  badge("recorded", R.total > N ? "last " + N + " of " + R.total : N);
  $("badges").innerHTML = b.join("");
  function kv(obj) {
    return Object.keys(obj).filter(function (k) { return k !== "messages" && typeof obj[k] !== "object"; }).map(function (k) {
      return "<dt>" + esc(k) + '</dt><dd title="' + esc(obj[k]) + '">' + esc(obj[k]) + "</dd>";
    }).join("");
  }
  var summary = {};
  Object.keys(sm).forEach(function (k) { summary[k] = sm[k]; });
  if (sm.messages) { summary.sent = sm.messages.sent; summary.delivered = sm.messages.delivered; summary.dropped = sm.messages.dropped; }
  summary["steps kept"] = N + (R.total > N ? " of " + R.total : "");
  $("run-summary").innerHTML = kv(summary);
  $("run-params").innerHTML = kv(p);
  document.title = m.title + (m.ok === false ? " — FAILED" : "");
  if (m.failure) {
    var f = $("failure");
    f.hidden = false;
    var at = R.failStep !== null ? " at step #" + R.failStep : "";
    f.innerHTML = "<b>✖ Run failed" + esc(at) + '</b><span class="msg">' + esc(m.failure) + "</span>" +
      (R.failStep !== null && R.failStep >= FIRST ? '<button id="btn-fail">go to failing step</button>' : "");
    if ($("btn-fail")) $("btn-fail").onclick = function () { go(R.failStep - FIRST); };
  }
})();

// ------------------------------------------------------------ state table
var tbody = document.querySelector("#state tbody");
var COLS = ["role", "term", "leader", "commit", "applied", "last", "chk"];
function renderState() {
  var st = states[pos] || [], prev = pos > 0 ? states[pos - 1] || [] : st;
  var s = R.steps[pos], rows = [];
  for (var i = 0; i < NODES.length; i++) {
    var v = st[i], p = prev[i];
    if (!v) { rows.push('<tr class="down"><td class="node"><i style="background:' + nodeColor(i) + '"></i>' + esc(NODES[i]) + '</td><td colspan="7">not started</td></tr>'); continue; }
    var cells = [];
    for (var c = 0; c < COLS.length; c++) {
      var key = COLS[c], val = v[key], changed = p && p[key] !== val;
      var cls = (changed ? "changed " : "") + (key === "chk" ? "chk" : "");
      var shown;
      if (key === "role") shown = '<span class="role ' + esc(val) + '">' + esc(val) + "</span>";
      else if (key === "chk") shown = hex(val);
      else if (key === "leader") shown = val === "" ? "—" : esc(val);
      else shown = esc(val);
      cells.push('<td class="' + cls + '" data-col="' + key + '">' + shown + "</td>");
    }
    var here = s.n === NODES[i] ? " here" : "";
    rows.push('<tr class="' + (v.up ? "" : "down") + '" data-node="' + esc(NODES[i]) + '"><td class="node' + here + '"><i style="background:' + nodeColor(i) + '"></i>' + esc(NODES[i]) + "</td>" + cells.join("") + "</tr>");
  }
  tbody.innerHTML = rows.join("");
  var net = nets[pos] || "no partition";
  $("network").className = net === "no partition" ? "" : "cut";
  $("network").innerHTML = "network: <b>" + esc(net) + "</b>";
  $("state-note").textContent = pos > 0 ? "highlighted: changed by this step" : "";
}

// ------------------------------------------------------------ this step
function describeMsg(m) { return m.type + " " + m.from + "→" + m.to + " " + m.fields; }
function renderDetail() {
  var s = R.steps[pos], out = [];
  out.push('<div class="ev">' + esc(s.d) + (s.n ? ' <span style="color:#64748b;font-weight:400">at ' + esc(s.n) + "</span>" : "") + "</div><ul>");
  if (s.r) {
    var m = msgs.get(s.r[0]);
    var from = m.sent >= 0 ? " (sent at #" + globalIndex(m.sent) + ", +" + fmtT(s.t - R.steps[m.sent].t) + " ms)" : "";
    out.push('<li class="' + (s.r[1] ? (m.refused ? "bad" : "") : "bad") + '"><span class="k">' + (s.r[1] ? "received" : "LOST") + "</span>" + esc(describeMsg(m) + from) + (s.r[1] ? "" : " — link cut or node down") + "</li>");
  }
  (s.s || []).forEach(function (id) {
    var m = msgs.get(id);
    out.push('<li class="' + (m.dropped || m.refused ? "bad" : "") + '"><span class="k">' + (m.dropped ? "DROPPED" : "sent") + "</span>" + esc(describeMsg(m)) + (m.copies > 1 ? " ×" + m.copies + " (duplicated)" : "") + "</li>");
  });
  (s.f || []).forEach(function (n) { out.push('<li><span class="k">' + esc(n[0]) + "</span>" + esc(n[2]) + "</li>"); });
  out.push("</ul>");
  if (!s.r && !(s.s && s.s.length) && !(s.f && s.f.length)) out.push('<div style="color:#94a3b8">nothing sent or changed</div>');
  if (s.err) out.push('<div class="err">✖ ' + esc(s.err) + "</div>");
  $("detail").innerHTML = out.join("");
}

// ------------------------------------------------------------ controls
var slider = $("slider");
slider.max = String(Math.max(0, N - 1));
function renderControls() {
  slider.value = String(pos);
  var s = R.steps[pos];
  $("pos").textContent = "step #" + globalIndex(pos) + " / " + (FIRST + N - 1) + "  ·  t = " + fmtT(s.t) + " ms  ·  event " + s.e;
  $("event").textContent = s.d + (s.err ? "  ✖ " + s.err : "");
  $("event").title = s.d;
  drawMinimap();
}

var mm = $("minimap");
var mmBase = null;
function drawMinimap() {
  var w = mm.clientWidth || 600, h = 26, dpr = window.devicePixelRatio || 1;
  if (!mmBase || mmBase.w !== w) {
    mm.width = w * dpr; mm.height = h * dpr;
    var c = document.createElement("canvas");
    c.width = w * dpr; c.height = h * dpr;
    var g = c.getContext("2d");
    g.scale(dpr, dpr);
    var per = N / w;
    for (var x = 0; x < w; x++) {
      var k = Math.min(N - 1, Math.floor(x * per)), lead = leaderAt[k];
      g.fillStyle = lead < 0 ? "#e2e8f0" : nodeColor(lead);
      g.globalAlpha = lead < 0 ? 1 : 0.75;
      g.fillRect(x, 4, 1, 10);
    }
    g.globalAlpha = 1;
    for (var k2 = 0; k2 < N; k2++) {
      var f = R.steps[k2].f;
      if (!f) continue;
      for (var i = 0; i < f.length; i++) {
        var kind = f[i][0];
        if (kind === "crash") { g.fillStyle = "#dc2626"; g.fillRect(Math.floor(k2 / per), 16, 2, 8); }
        else if (kind === "partition" || kind === "cut" || kind === "isolate") { g.fillStyle = "#ea580c"; g.fillRect(Math.floor(k2 / per), 18, 1, 6); }
      }
    }
    if (R.failStep !== null && R.failStep >= FIRST) { g.fillStyle = "#b91c1c"; g.fillRect(Math.floor((R.failStep - FIRST) / per) - 1, 0, 3, h); }
    mmBase = { w: w, canvas: c };
  }
  var ctx = mm.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, mm.width, mm.height);
  ctx.drawImage(mmBase.canvas, 0, 0);
  ctx.scale(dpr, dpr);
  var cx = N > 1 ? pos / (N - 1) * (w - 1) : 0;
  ctx.fillStyle = "#0f172a";
  ctx.fillRect(Math.round(cx) - 1, 0, 2, h);
  ctx.beginPath(); ctx.moveTo(cx - 4, 0); ctx.lineTo(cx + 4, 0); ctx.lineTo(cx, 4); ctx.fill();
}
mm.addEventListener("click", function (e) {
  var r = mm.getBoundingClientRect();
  go(Math.round((e.clientX - r.left) / r.width * (N - 1)));
});

// ------------------------------------------------------------ sequence diagram
var svg = $("diagram");
var ROW = 24, HEAD = 40, GUT = 244, RIGHT = 120, STUB = 30;
function windowRows() {
  var w = Number($("window").value), quiet = $("quiet").checked;
  var before = [], after = [], scanned = 0, k;
  for (k = pos + 1; k < N && after.length < w && scanned < 50000; k++, scanned++) if (!quiet || busy(k)) after.push(k);
  // Near the end, the rows the window lacks after the step are shown before it (and vice versa).
  var wantBefore = 2 * w - after.length;
  scanned = 0;
  for (k = pos - 1; k >= 0 && before.length < wantBefore && scanned < 50000; k--, scanned++) if (!quiet || busy(k)) before.push(k);
  if (before.length < w) {
    scanned = 0;
    for (k = after.length ? after[after.length - 1] + 1 : pos + 1; k < N && after.length < 2 * w - before.length && scanned < 50000; k++, scanned++) if (!quiet || busy(k)) after.push(k);
  }
  return before.reverse().concat([pos], after);
}
function renderDiagram() {
  var rows = windowRows();
  var wrap = $("diagram-wrap");
  var lanesIdx = [];
  for (var i = 0; i < NODES.length; i++) if (shownNodes[i]) lanesIdx.push(i);
  var width = Math.max(wrap.clientWidth, GUT + RIGHT + lanesIdx.length * 110);
  var laneW = lanesIdx.length ? (width - GUT - RIGHT) / lanesIdx.length : 0;
  var laneX = {};
  lanesIdx.forEach(function (n, j) { laneX[NODES[n]] = GUT + laneW * (j + 0.5); });
  var height = HEAD + rows.length * ROW + 14;
  var rowY = new Map();
  rows.forEach(function (k, j) { rowY.set(k, HEAD + j * ROW + ROW / 2); });
  var first = rows[0], last = rows[rows.length - 1], top = HEAD - 2, bottom = height - 6;
  var o = [];
  o.push("<defs>");
  var colors = {};
  Object.keys(TYPE_COLORS).forEach(function (t) { colors[TYPE_COLORS[t]] = 1; });
  colors["#94a3b8"] = 1; colors["#dc2626"] = 1;
  Object.keys(colors).forEach(function (c) {
    o.push('<marker id="ah' + c.slice(1) + '" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="' + c + '"/></marker>');
  });
  o.push("</defs>");
  // rows: bands and gutter
  rows.forEach(function (k, j) {
    var s = R.steps[k], y = HEAD + j * ROW, cur = k === pos;
    var fill = s.err ? "#fee2e2" : cur ? "#fff4c2" : j % 2 ? "#fbfcfe" : "#ffffff";
    o.push('<g class="row' + (cur ? " cur" : "") + '" data-step="' + k + '"><rect class="band" x="0" y="' + y + '" width="' + width + '" height="' + ROW + '" fill="' + fill + '"/>');
    if (cur) o.push('<rect x="0" y="' + y + '" width="3" height="' + ROW + '" fill="#f59e0b"/>');
    var label = s.d.length > 24 ? s.d.slice(0, 23) + "…" : s.d;
    o.push('<text class="gut" x="8" y="' + (y + ROW / 2 + 4) + '">#' + globalIndex(k) + "</text>");
    o.push('<text class="gut" x="54" y="' + (y + ROW / 2 + 4) + '" fill-opacity=".8">' + fmtT(s.t) + "</text>");
    o.push('<text class="gut" x="102" y="' + (y + ROW / 2 + 4) + '"><title>' + esc(s.d) + "</title>" + esc(label) + "</text></g>");
  });
  o.push('<text class="gut" x="8" y="' + (HEAD - 8) + '" style="font-weight:700">step</text><text class="gut" x="54" y="' + (HEAD - 8) + '" style="font-weight:700">t (ms)</text><text class="gut" x="102" y="' + (HEAD - 8) + '" style="font-weight:700">event</text>');
  // gaps: quiet steps skipped between two rows
  for (var r = 1; r < rows.length; r++) {
    if (rows[r] - rows[r - 1] > 1) {
      var gy = HEAD + r * ROW;
      o.push('<line x1="' + GUT + '" x2="' + (width - 8) + '" y1="' + gy + '" y2="' + gy + '" stroke="#e2e8f0" stroke-dasharray="1 3"/>');
    }
  }
  // lifelines
  lanesIdx.forEach(function (n) {
    var id = NODES[n], x = laneX[id];
    rows.forEach(function (k, j) {
      var v = states[k][n], y = HEAD + j * ROW;
      if (!v) return;
      if (!v.up) o.push('<line x1="' + x + '" x2="' + x + '" y1="' + y + '" y2="' + (y + ROW) + '" stroke="#cbd5e1" stroke-width="1.5" stroke-dasharray="2 3"/>');
      else if (v.role === "leader") o.push('<rect x="' + (x - 2.5) + '" y="' + y + '" width="5" height="' + ROW + '" fill="' + nodeColor(n) + '" fill-opacity=".45"/>');
      else if (v.role === "candidate" || v.role === "precandidate") o.push('<line x1="' + x + '" x2="' + x + '" y1="' + y + '" y2="' + (y + ROW) + '" stroke="#f59e0b" stroke-width="3"/>');
      else o.push('<line x1="' + x + '" x2="' + x + '" y1="' + y + '" y2="' + (y + ROW) + '" stroke="#94a3b8" stroke-width="1.2"/>');
    });
    var v0 = states[pos][n];
    var role = v0 ? ROLE_HEAD[v0.up ? v0.role : "down"] || v0.role : "—";
    var hw = Math.min(laneW - 10, 136);
    o.push('<rect x="' + (x - hw / 2) + '" y="6" width="' + hw + '" height="26" rx="6" fill="' + nodeColor(n) + '"' + (v0 && !v0.up ? ' fill-opacity=".35"' : "") + "/>");
    o.push('<text x="' + x + '" y="23" text-anchor="middle" fill="#fff" style="font:700 12px system-ui,sans-serif">' + esc(id) + ' <tspan style="font-weight:400;font-size:11px" fill-opacity=".92">' + esc(role) + (v0 ? " · t" + v0.term : "") + "</tspan></text>");
  });
  // global network markers and node markers
  rows.forEach(function (k, j) {
    var s = R.steps[k], y = HEAD + j * ROW + ROW / 2;
    if (!s.f) return;
    var dx = {};
    s.f.forEach(function (n) {
      var kind = n[0], node = n[1], text = n[2];
      if (node === "" || kind === "partition" || kind === "cut" || kind === "heal") {
        var col = kind === "heal" ? "#16a34a" : kind === "phase" ? "#7c3aed" : "#ea580c";
        o.push('<g><title>' + esc(text) + '</title><line x1="' + GUT + '" x2="' + (width - RIGHT + 6) + '" y1="' + y + '" y2="' + y + '" stroke="' + col + '" stroke-width="1.5" stroke-dasharray="6 4"/>');
        var t = text.length > 24 ? text.slice(0, 23) + "…" : text;
        o.push('<text x="' + (width - RIGHT + 10) + '" y="' + (y + 4) + '" fill="' + col + '" style="font-weight:700">' + esc(t) + "</text></g>");
        return;
      }
      if (!(node in laneX)) return;
      var x = laneX[node] + (dx[node] || 0);
      dx[node] = (dx[node] || 0) + 0;
      o.push(marker(kind, x, y, text, s));
    });
  });
  // arrows: sent in the window (to their delivery, or a stub when it falls outside), delivered
  // in the window (from their send, or a stub when it was sent before the window)
  var arrows = [];
  function add(m, y1, y2, kind, touching, stub) { arrows.push({ m: m, y1: y1, y2: y2, kind: kind, cur: touching, stub: stub, label: null }); }
  rows.forEach(function (k) {
    var s = R.steps[k], y = rowY.get(k);
    (s.s || []).forEach(function (id) {
      var m = msgs.get(id);
      if (!msgVisible(m) || !(m.from in laneX) || !(m.to in laneX)) return;
      if (m.dropped) { add(m, y, y, "drop", k === pos, false); return; }
      var ds = deliveries.get(id) || [];
      if (ds.length === 0) add(m, y, Math.min(bottom, y + STUB), "flight", k === pos, true);
      ds.forEach(function (d) { if (d.pos > last) add(m, y, Math.min(bottom, y + STUB), "flight", k === pos, true); });
    });
    if (s.r) {
      var m = msgs.get(s.r[0]);
      if (!msgVisible(m) || !(m.from in laneX) || !(m.to in laneX)) return;
      var inside = m.sent >= first && rowY.has(m.sent);
      add(m, inside ? rowY.get(m.sent) : Math.max(top, y - STUB), y, s.r[1] ? "ok" : "lost", k === pos || m.sent === pos, !inside);
    }
  });
  // One label per broadcast: drops and in-flight messages of one step with the same content.
  var groups = new Map();
  arrows.forEach(function (a) {
    var m = a.m;
    if (a.kind !== "drop" && a.kind !== "flight") {
      a.label = m.type + " " + m.fields + (a.stub && m.sent >= 0 ? " (sent #" + globalIndex(m.sent) + ")" : a.stub ? " (sent earlier)" : "");
      return;
    }
    var key = a.y1 + "|" + a.kind + "|" + m.from + "|" + m.type + "|" + m.fields + "|" + (laneX[m.to] > laneX[m.from]);
    var g = groups.get(key);
    if (!g) { g = []; groups.set(key, g); }
    g.push(a);
  });
  groups.forEach(function (g) {
    g.sort(function (a, b) { return Math.abs(laneX[a.m.to] - laneX[a.m.from]) - Math.abs(laneX[b.m.to] - laneX[b.m.from]); });
    var m = g[0].m, to = g.map(function (a) { return a.m.to; }).join(",");
    g[0].label = m.type + " " + m.fields + (g.length > 1 ? " → " + to : "") + (g[0].kind === "flight" ? " (in flight)" : "");
    g.forEach(function (a) { if (a.cur) g[0].cur = true; });
  });
  arrows.sort(function (a, b) { return (a.cur ? 1 : 0) - (b.cur ? 1 : 0); });
  arrows.forEach(function (a) { o.push(arrow(a, laneX)); });
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.innerHTML = o.join("");
}
function marker(kind, x, y, text, s) {
  var t = "<g><title>" + esc(text) + "</title>";
  if (kind === "crash") return t + '<circle cx="' + x + '" cy="' + y + '" r="8" fill="#dc2626"/><path d="M' + (x - 3.5) + "," + (y - 3.5) + " L" + (x + 3.5) + "," + (y + 3.5) + " M" + (x + 3.5) + "," + (y - 3.5) + " L" + (x - 3.5) + "," + (y + 3.5) + '" stroke="#fff" stroke-width="2"/><text x="' + (x + 12) + '" y="' + (y + 4) + '" fill="#dc2626" style="font-weight:700">CRASH</text></g>';
  if (kind === "start") return t + '<circle cx="' + x + '" cy="' + y + '" r="8" fill="#0d9488"/><path d="M' + (x - 2.5) + "," + (y - 4) + " L" + (x + 4) + "," + y + " L" + (x - 2.5) + "," + (y + 4) + 'z" fill="#fff"/><text x="' + (x + 12) + '" y="' + (y + 4) + '" fill="#0d9488" style="font-weight:700">' + (s.k === "external" && s.t === 0 ? "start" : "restart") + "</text></g>";
  if (kind === "isolate" || kind === "reconnect") {
    var c = kind === "isolate" ? "#ea580c" : "#16a34a";
    return t + '<rect x="' + (x - 8) + '" y="' + (y - 8) + '" width="16" height="16" rx="3" fill="' + c + '"/><text x="' + x + '" y="' + (y + 4) + '" text-anchor="middle" fill="#fff" style="font-weight:700">' + (kind === "isolate" ? "⟂" : "↔") + '</text><text x="' + (x + 12) + '" y="' + (y + 4) + '" fill="' + c + '" style="font-weight:700">' + (kind === "isolate" ? "isolated" : "reconnected") + "</text></g>";
  }
  if (kind === "role") {
    var m = /is (\w+) in term (\d+)/.exec(text);
    var role = m ? m[1] : "?", term = m ? m[2] : "?";
    var fill = role === "leader" ? "#16a34a" : role === "candidate" ? "#d97706" : role === "precandidate" ? "#fbbf24" : "#ffffff";
    var ink = role === "follower" ? "#475569" : "#fff";
    var label = (ROLE_SHORT[role] || role) + " t" + term;
    var w = 8 + label.length * 6.4;
    return t + '<rect x="' + (x - w / 2) + '" y="' + (y - 8) + '" width="' + w + '" height="16" rx="8" fill="' + fill + '" stroke="' + (role === "follower" ? "#cbd5e1" : fill) + '"/><text x="' + x + '" y="' + (y + 4) + '" text-anchor="middle" fill="' + ink + '" style="font-weight:700">' + esc(label) + "</text></g>";
  }
  if (kind === "snapshot" || kind === "install") return t + '<rect x="' + (x - 6) + '" y="' + (y - 6) + '" width="12" height="12" rx="2" fill="#c2410c"/><text x="' + (x + 10) + '" y="' + (y + 4) + '" fill="#c2410c">' + (kind === "snapshot" ? "snapshot" : "install") + "</text></g>";
  if (kind === "propose") return t + '<path d="M' + x + "," + (y - 5) + " L" + (x + 5) + "," + y + " L" + x + "," + (y + 5) + " L" + (x - 5) + "," + y + 'z" fill="#0f172a"/></g>';
  if (kind === "config" || kind === "transfer") return t + '<rect x="' + (x - 7) + '" y="' + (y - 7) + '" width="14" height="14" rx="7" fill="#4f46e5"/><text x="' + (x + 11) + '" y="' + (y + 4) + '" fill="#4f46e5" style="font-weight:700">' + kind + "</text></g>";
  return t + '<circle cx="' + x + '" cy="' + y + '" r="4" fill="#64748b"/></g>';
}
function cross(x, y, r) {
  return '<path d="M' + (x - r) + "," + (y - r) + " L" + (x + r) + "," + (y + r) + " M" + (x + r) + "," + (y - r) + " L" + (x - r) + "," + (y + r) + '" stroke="#dc2626" stroke-width="2.4" stroke-linecap="round"/>';
}
function arrow(a, laneX) {
  var m = a.m, x1 = laneX[m.from], x2 = laneX[m.to], y1 = a.y1, y2 = a.y2, right = x2 > x1;
  var color = TYPE_COLORS[m.type] || "#475569";
  var op = a.cur ? 1 : 0.6, sw = a.cur ? 2.2 : 1.3;
  var o = ['<g class="msg msg-' + a.kind + (a.cur ? " touching" : "") + '" opacity="' + op + '"><title>' + esc(describeMsg(m)) + "</title>"];
  var lx, ly, anchor;
  if (a.kind === "drop") {
    // Lost when sent: the arrow stops short, in a cross.
    var ex = x1 + (x2 - x1) * 0.42, ey = y1 + 5;
    o.push('<line x1="' + x1 + '" y1="' + y1 + '" x2="' + ex + '" y2="' + ey + '" stroke="#dc2626" stroke-width="' + sw + '" stroke-dasharray="4 3"/>' + cross(ex, ey, 4.5));
    lx = ex + (right ? 9 : -9); ly = ey + 4; anchor = right ? "start" : "end";
  } else if (a.kind === "lost") {
    // Lost on arrival (link cut or node down meanwhile): the arrow ends in a cross at the receiver.
    var cx = x2 + (right ? -7 : 7);
    o.push('<line x1="' + x1 + '" y1="' + y1 + '" x2="' + cx + '" y2="' + y2 + '" stroke="#dc2626" stroke-width="' + sw + '" stroke-dasharray="4 3"/>' + cross(cx, y2, 4.5));
    lx = x2 + (right ? -16 : 16); ly = y2 - 5; anchor = right ? "end" : "start";
  } else if (a.kind === "flight") {
    o.push('<line x1="' + x1 + '" y1="' + y1 + '" x2="' + (x1 + (x2 - x1) * 0.5) + '" y2="' + y2 + '" stroke="' + color + '" stroke-width="' + sw + '" stroke-dasharray="2 3"/>');
    lx = x1 + (right ? 10 : -10); ly = y1 - 5; anchor = right ? "start" : "end";
  } else {
    if (a.stub) {
      var sx = x1 + (x2 - x1) * 0.25;
      o.push('<line x1="' + x1 + '" y1="' + y1 + '" x2="' + sx + '" y2="' + (y1 + (y2 - y1) * 0.25) + '" stroke="' + color + '" stroke-width="' + sw + '" stroke-dasharray="2 3"/>');
      o.push('<line x1="' + sx + '" y1="' + (y1 + (y2 - y1) * 0.25) + '" x2="' + x2 + '" y2="' + y2 + '" stroke="' + color + '" stroke-width="' + sw + '" marker-end="url(#ah' + color.slice(1) + ')"/>');
    } else {
      o.push('<line x1="' + x1 + '" y1="' + y1 + '" x2="' + x2 + '" y2="' + y2 + '" stroke="' + color + '" stroke-width="' + sw + '" marker-end="url(#ah' + color.slice(1) + ')"/>');
    }
    lx = x2 + (right ? -12 : 12); ly = y2 - 5; anchor = right ? "end" : "start";
  }
  if (a.label !== null) {
    var label = a.label, max = a.cur ? 64 : 40;
    if (label.length > max) label = label.slice(0, max - 1) + "…";
    var ink = m.refused || a.kind === "drop" || a.kind === "lost" ? "#b91c1c" : color;
    o.push('<text class="lbl" x="' + lx + '" y="' + ly + '" text-anchor="' + anchor + '" fill="' + ink + '"' + (a.cur ? ' style="font-weight:700"' : "") + ">" + esc(label) + "</text>");
  }
  o.push("</g>");
  return o.join("");
}
svg.addEventListener("click", function (e) {
  var g = e.target.closest ? e.target.closest("g.row") : null;
  if (g) go(Number(g.getAttribute("data-step")));
});

// ------------------------------------------------------------ filters
function renderFilters() {
  $("node-filter").innerHTML = NODES.map(function (id, i) {
    return '<span class="chip' + (shownNodes[i] ? "" : " off") + '" data-node="' + i + '"><i style="background:' + nodeColor(i) + '"></i>' + esc(id) + "</span>";
  }).join("");
  var types = Object.keys(typeCounts).sort();
  $("type-filter").innerHTML = types.map(function (t) {
    return '<span class="chip' + (hiddenTypes[t] ? " off" : "") + '" data-type="' + esc(t) + '" style="color:' + (TYPE_COLORS[t] || "#334155") + '">' + esc(t) + ' <span style="color:#94a3b8">' + typeCounts[t] + "</span></span>";
  }).join("") + '<span class="chip" data-types="all">all</span><span class="chip" data-types="noheart">no heartbeats</span>';
}
$("node-filter").addEventListener("click", function (e) {
  var c = e.target.closest(".chip"); if (!c) return;
  var i = Number(c.getAttribute("data-node"));
  shownNodes[i] = !shownNodes[i];
  renderFilters(); renderDiagram();
});
$("type-filter").addEventListener("click", function (e) {
  var c = e.target.closest(".chip"); if (!c) return;
  var all = c.getAttribute("data-types");
  if (all === "all") hiddenTypes = {};
  else if (all === "noheart") hiddenTypes = { heartbeat: true, heartbeatResp: true };
  else { var t = c.getAttribute("data-type"); hiddenTypes[t] = !hiddenTypes[t]; }
  renderFilters(); renderDiagram();
});
$("quiet").addEventListener("change", renderDiagram);
$("window").addEventListener("change", renderDiagram);

// ------------------------------------------------------------ breakpoints
// A small expression language over one step: see the page's "syntax" note.
var FIELDS = { role: 1, term: 1, leader: 1, commit: 1, applied: 1, last: 1, lastIndex: 1, log: 1, chk: 1, up: 1 };
function tokenize(src) {
  var re = /\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][\w.\-]*)|("[^"]*"|'[^']*')|(==|!=|>=|<=|&&|\|\||[<>()!~=,]))/y;
  var out = [], m;
  re.lastIndex = 0;
  while (re.lastIndex < src.length) {
    var at = re.lastIndex;
    m = re.exec(src);
    if (!m) { if (/^\s*$/.test(src.slice(at))) break; throw new Error("cannot read “" + src.slice(at).trim() + "”"); }
    if (m[1] !== undefined) out.push({ t: "num", v: Number(m[1]) });
    else if (m[2] !== undefined) {
      var w = m[2];
      if (w === "and") out.push({ t: "op", v: "&&" });
      else if (w === "or") out.push({ t: "op", v: "||" });
      else if (w === "not") out.push({ t: "op", v: "!" });
      else out.push({ t: "id", v: w });
    } else if (m[3] !== undefined) out.push({ t: "str", v: m[3].slice(1, -1) });
    else if (m[4] !== undefined) out.push({ t: "op", v: m[4] === "=" ? "==" : m[4] });
  }
  return out;
}
function parse(src) {
  var toks = tokenize(src), i = 0;
  if (toks.length === 0) throw new Error("empty condition");
  function peek(v) { return toks[i] && toks[i].t === "op" && toks[i].v === v; }
  function expect(v) { if (!peek(v)) throw new Error("expected “" + v + "”" + (toks[i] ? " before “" + toks[i].v + "”" : " at the end")); i++; }
  function or() { var l = and(); while (peek("||")) { i++; var r = and(); l = { k: "or", a: l, b: r }; } return l; }
  function and() { var l = not(); while (peek("&&")) { i++; var r = not(); l = { k: "and", a: l, b: r }; } return l; }
  function not() { if (peek("!")) { i++; return { k: "not", a: not() }; } return cmp(); }
  function cmp() {
    var l = primary(false);
    var t = toks[i];
    if (t && t.t === "op" && /^(==|!=|>=|<=|>|<|~)$/.test(t.v)) {
      i++;
      var literal = t.v === "~" || l.field === "role" || l.field === "event" || l.field === "msg";
      var r = primary(literal);
      return { k: "cmp", op: t.v, a: l, b: r };
    }
    return l;
  }
  function primary(literal) {
    var t = toks[i++];
    if (!t) throw new Error("unexpected end of the condition");
    if (t.t === "num") return { k: "lit", v: t.v };
    if (t.t === "str") return { k: "lit", v: t.v };
    if (t.t === "op" && t.v === "(") { var e = or(); expect(")"); return e; }
    if (t.t !== "id") throw new Error("unexpected “" + t.v + "”");
    var name = t.v;
    if (peek("(")) {
      i++;
      var arg = toks[i++];
      if (!arg || arg.t !== "id") throw new Error(name + "(…) takes a node or a field");
      expect(")");
      if (name === "min" || name === "max") {
        if (!FIELDS[arg.v] || arg.v === "role" || arg.v === "leader") throw new Error(name + "() takes a numeric field");
        return { k: "agg", f: name, field: norm(arg.v) };
      }
      if (!FIELDS[name]) throw new Error("unknown function " + name + "()");
      if (NODES.indexOf(arg.v) < 0) throw new Error("unknown node " + arg.v + " (nodes: " + NODES.join(", ") + ")");
      return { k: "node", field: norm(name), node: NODES.indexOf(arg.v) };
    }
    if (literal) return { k: "lit", v: name === "none" ? "" : name };
    if (FIELDS[name]) return { k: "field", field: norm(name) };
    if (name === "leaders" || name === "step" || name === "time" || name === "event" || name === "msg" || name === "drops") return { k: "global", field: name };
    return { k: "lit", v: name === "none" ? "" : name };
  }
  function norm(f) { return f === "lastIndex" || f === "log" ? "last" : f; }
  var e = or();
  if (i < toks.length) throw new Error("unexpected “" + toks[i].v + "”");
  return e;
}
function values(e, k) {
  var st = states[k] || [], s = R.steps[k], out = [], i;
  switch (e.k) {
    case "lit": return [e.v];
    case "node": { var v = st[e.node]; if (!v) return []; return [fieldOf(v, e.field)]; }
    case "field":
      if (e.field === "leader") {
        for (i = 0; i < st.length; i++) if (st[i] && st[i].up && st[i].role === "leader") out.push(NODES[i]);
        return out.length ? out : [""];
      }
      for (i = 0; i < st.length; i++) if (st[i] && (st[i].up || e.field === "role" || e.field === "up")) out.push(fieldOf(st[i], e.field));
      return out;
    case "agg": {
      var best = null;
      for (i = 0; i < st.length; i++) if (st[i] && st[i].up) { var x = st[i][e.field]; best = best === null ? x : e.f === "min" ? Math.min(best, x) : Math.max(best, x); }
      return best === null ? [] : [best];
    }
    case "global":
      if (e.field === "leaders") { var c = 0; for (i = 0; i < st.length; i++) if (st[i] && st[i].up && st[i].role === "leader") c++; return [c]; }
      if (e.field === "step") return [globalIndex(k)];
      if (e.field === "time") return [s.t];
      if (e.field === "event") return [s.d].concat((s.f || []).map(function (n) { return n[2]; }));
      if (e.field === "msg") { (s.s || []).forEach(function (id) { out.push(msgs.get(id).type); }); if (s.r) out.push(msgs.get(s.r[0]).type); return out; }
      if (e.field === "drops") { var d = 0; (s.s || []).forEach(function (id) { if (msgs.get(id).dropped) d++; }); if (s.r && !s.r[1]) d++; return [d]; }
      return [];
    default: return [truth(e, k) ? 1 : 0];
  }
}
function fieldOf(v, f) { return f === "up" ? (v.up ? 1 : 0) : f === "role" ? (v.up ? v.role : "down") : v[f]; }
function compare(op, a, b) {
  if (op === "~") return String(a).toLowerCase().indexOf(String(b).toLowerCase()) >= 0;
  var na = typeof a === "number" ? a : Number(a), nb = typeof b === "number" ? b : Number(b);
  if (a !== "" && b !== "" && !isNaN(na) && !isNaN(nb)) { a = na; b = nb; } else { a = String(a); b = String(b); }
  switch (op) { case "==": return a === b; case "!=": return a !== b; case ">": return a > b; case "<": return a < b; case ">=": return a >= b; case "<=": return a <= b; }
  return false;
}
function truth(e, k) {
  switch (e.k) {
    case "or": return truth(e.a, k) || truth(e.b, k);
    case "and": return truth(e.a, k) && truth(e.b, k);
    case "not": return !truth(e.a, k);
    case "cmp": {
      var A = values(e.a, k), B = values(e.b, k);
      for (var i = 0; i < A.length; i++) for (var j = 0; j < B.length; j++) if (compare(e.op, A[i], B[j])) return true;
      return false;
    }
    default: return values(e, k).some(function (v) { return !!v && v !== "0"; });
  }
}
function runTo(dir) {
  var src = $("bp").value.trim(), status = $("bp-status"), e;
  try { e = parse(src); } catch (err) { $("bp").classList.add("bad"); status.className = "err"; status.textContent = err.message; return; }
  $("bp").classList.remove("bad");
  for (var k = pos + dir; k >= 0 && k < N; k += dir) {
    if (truth(e, k)) {
      status.className = "hit";
      status.textContent = "“" + src + "” holds at step #" + globalIndex(k) + " (" + (k - pos > 0 ? "+" : "") + (k - pos) + " steps, t = " + fmtT(R.steps[k].t) + " ms)";
      go(k);
      return;
    }
  }
  status.className = "err";
  status.textContent = "“" + src + "” holds at no " + (dir > 0 ? "later" : "earlier") + " step";
}
$("bp-run").onclick = function () { runTo(1); };
$("bp-back").onclick = function () { runTo(-1); };
$("bp").addEventListener("keydown", function (e) {
  if (e.key === "Enter") { e.preventDefault(); runTo(e.shiftKey ? -1 : 1); }
  e.stopPropagation();
});
$("bp").addEventListener("input", function () { $("bp").classList.remove("bad"); });
(function () {
  var leader = NODES[1] || NODES[0], last = NODES[NODES.length - 1];
  var ex = ["term > 1", "leader == " + leader, "commit >= 40", "role(" + last + ") == candidate", "leaders > 1", "event ~ crash", "min(commit) >= 20"];
  $("bp-examples").innerHTML = ex.map(function (x) { return '<span class="chip">' + esc(x) + "</span>"; }).join("");
  $("bp-examples").addEventListener("click", function (e) {
    var c = e.target.closest(".chip"); if (!c) return;
    $("bp").value = c.textContent; $("bp").focus();
  });
})();

// ------------------------------------------------------------ navigation
function go(k) {
  pos = Math.max(0, Math.min(N - 1, k | 0));
  render();
}
function render() {
  renderControls(); renderState(); renderDetail(); renderDiagram();
  try { history.replaceState(null, "", "#step=" + globalIndex(pos)); } catch (e) { /* file:// may refuse */ }
}
function play() {
  if (playing) { clearInterval(playing); playing = null; $("btn-play").textContent = "play"; return; }
  $("btn-play").textContent = "pause";
  playing = setInterval(function () { if (pos >= N - 1) { play(); return; } go(pos + 1); }, 120);
}
$("btn-start").onclick = function () { go(0); };
$("btn-back").onclick = function () { go(pos - 1); };
$("btn-fwd").onclick = function () { go(pos + 1); };
$("btn-end").onclick = function () { go(N - 1); };
$("btn-play").onclick = play;
slider.addEventListener("input", function () { go(Number(slider.value)); });
document.addEventListener("keydown", function (e) {
  var t = e.target;
  if (t && (t.tagName === "SELECT" || (t.tagName === "INPUT" && t.type !== "range" && t.type !== "checkbox"))) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  var step = e.shiftKey ? 10 : 1, handled = true;
  switch (e.key) {
    case "ArrowRight": case "ArrowDown": go(pos + step); break;
    case "ArrowLeft": case "ArrowUp": go(pos - step); break;
    case "PageDown": go(pos + 100); break;
    case "PageUp": go(pos - 100); break;
    case "Home": go(0); break;
    case "End": go(N - 1); break;
    case " ": play(); break;
    case "n": runTo(1); break;
    case "p": runTo(-1); break;
    case "/": $("bp").focus(); break;
    default: handled = false;
  }
  if (handled) e.preventDefault();
});
window.addEventListener("resize", function () { mmBase = null; render(); });

renderFilters();
var hash = /step=(\d+)/.exec(location.hash);
if (hash && Number(hash[1]) >= FIRST && Number(hash[1]) < FIRST + N) go(Number(hash[1]) - FIRST);
else if (R.failStep !== null && R.failStep >= FIRST) go(R.failStep - FIRST);
else go(0);
window.remu = { go: go, get pos() { return pos; }, steps: N, first: FIRST, parse: parse, truth: truth };
})();
`;
