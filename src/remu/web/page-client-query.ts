// The remu page's script, last part: filters, breakpoints and navigation (page.ts joins the parts).
export const clientQuery = String.raw`// ------------------------------------------------------------ filters
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
