// The page's script. Plain ES2017, no template literals (this is itself one).
// Its first part: the recording decoded, the view state and the panels (page.ts joins the parts).
export const clientState = `
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

`;
