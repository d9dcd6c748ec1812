/** The dashboard's script (inlined into the page): plain ES5-style JavaScript, no build step. */
import { chartsScript } from "./page-charts.js";

export const script = String.raw`
(function () {
  "use strict";
  var ORDER = ["ingress", "raft-step", "wal-append", "replicate", "apply", "respond"];
  var COLORS = { "ingress": "#7aa2f7", "raft-step": "#bb9af7", "wal-append": "#e0af68",
    "replicate": "#7dcfff", "apply": "#9ece6a", "respond": "#f7768e" };
  var HISTORY = 300;
  var token = new URLSearchParams(location.search).get("token");
  var $ = function (id) { return document.getElementById(id); };
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
        html += '<div class="row wrap"><span>queue</span><span class="muted">none: admits or refuses</span></div>' +
          '<div class="bar none"></div>' +
          '<div class="row" title="ingress runs on the main event loop, shared by the inline stages"><span>event loop busy</span><span data-f="elu">0%</span></div>' +
          '<div class="bar u"><i data-f="elubar"></i></div>' +
          '<div class="sep"></div>' +
          '<div class="row sm"><span>clients</span><span data-f="conns">0</span></div>' +
          '<div class="row sm"><span>frames</span><span data-f="frames">0</span></div>' +
          '<div class="row sm"><span>bad frames</span><span data-f="bad">0</span></div>' +
          '<div class="row sm"><span>peer frames</span><span data-f="peer">0</span></div>' +
          '<div class="row sm"><span>overloaded</span><span class="rej" data-f="overloaded">0</span></div>' +
          '<div class="row sm" title="Raft messages from peers dropped at a full raft-step queue; Raft resends them"><span>peer msgs dropped</span><span data-f="dropped">0</span></div>';
      } else {
        html += '<div class="row"><span>queue</span><span data-f="q">0</span></div>' +
          '<div class="bar"><i data-f="qbar"></i></div>' +
          '<div class="row"><span>busy</span><span data-f="util">0%</span></div>' +
          '<div class="bar u"><i data-f="ubar"></i></div>' +
          '<div class="sep"></div>' +
          '<div class="row sm hdr"><span></span><span title="over the last minute; idle: no samples">p50 · p99</span></div>' +
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
      var rej = field(box, s.kind === "ingress" ? "overloaded" : "rej");
      var refused = s.kind === "ingress" ? snap.ingress.overloaded : s.rejected;
      setText(rej, int(refused));
      rej.classList.toggle("nz", refused > 0);
      if (s.kind === "ingress") {
        setText(field(box, "dropped"), int(snap.ingress.peerDropped));
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
      // Percentiles cover the last minute; an idle stage has none rather than stale ones.
      var idle = s.percentileSamples === 0;
      var none = "idle";
      box.classList.toggle("idle", idle);
      setText(field(box, "wait"), idle ? none : ms(s.waitMsP50) + " · " + ms(s.waitMsP99) + " ms");
      setText(field(box, "svc"), idle ? none : ms(s.serviceMsP50) + " · " + ms(s.serviceMsP99) + " ms");
      setText(field(box, "batch"), idle ? none + " / " + int(s.batchLimit) :
        int(s.batchSizeP50) + " · " + int(s.batchSizeP99) + " / " + int(s.batchLimit));
    });
    var queues = snap.stages.filter(function (s) { return s.kind === "queue"; });
    var windowSec = queues.length ? Math.round(queues[0].percentileWindowMs / 1000) : 60;
    var idleAll = queues.every(function (s) { return s.percentileSamples === 0; });
    $("bottleneck-text").innerHTML = snap.bottleneck
      ? "bottleneck: <b>" + esc(snap.bottleneck.stage) + "</b> (" + esc(snap.bottleneck.reason) + ")"
      : idleAll ? "idle: no batches in the last " + windowSec + " s, so no percentiles"
      : "no bottleneck: every stage under 5% busy, queues near empty";
    setText($("pct-window"), "p50 · p99 of the last " + windowSec + " s");
  }

  // ---------------------------------------------------------------- charts
${chartsScript}
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
    var perCommit = w.groupCommits ? (w.entries / w.groupCommits).toFixed(1) : "—";
    dl("wal", [["group commits", int(w.groupCommits)], ["fsyncs", w.sync ? int(w.syncs) : "off (sync disabled)"],
      ["entries", int(w.entries)], ["entries / commit", perCommit], ["readies", int(w.readies)]]);
    var perSync = w.syncs ? (w.entries / w.syncs).toFixed(1) : "—";
    setText($("wal-note"), "A group commit is one wal-append batch: every Raft Ready waiting at that moment " +
      "goes to disk in one write. " + (w.sync
        ? "An fsync makes such a write durable: one per group commit that had something to store " +
          "(a batch with no entry and no term or vote change needs none), so fsyncs ≤ group commits. " +
          "Each fsync here " +
          "carried " + perSync + " entries on average: that sharing is what group commit saves."
        : "With wal.sync off nothing is fsynced: the OS decides when writes reach the disk, and a power " +
          "loss can lose acknowledged entries."));
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
    window.__dashboard = { hist: hist, charts: charts, markers: markers };
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
  loadHistory(connect);
})();
`;
