// The remu page's script, second part: the sequence diagram (page.ts joins the parts).
export const clientDiagram = String.raw`// ------------------------------------------------------------ sequence diagram
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

`;
