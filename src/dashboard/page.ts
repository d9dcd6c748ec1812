import { script } from "./page-script.js";
import { css } from "./page-style.js";

/**
 * The operator's page, served by the node itself at /dashboard: plain HTML, CSS and JavaScript,
 * no build step. It opens a WebSocket to /dashboard/live (passing on ?token= from its own URL)
 * and redraws once a second: the six stages as a pipeline with the bottleneck highlighted,
 * charts of the last five minutes (kept by the node and fetched from /dashboard/history at
 * load, with snapshots, elections and membership changes marked; drawn with uPlot from
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
    <div class="card-h"><h2>Pipeline</h2><span class="hint" id="bottleneck-text">no load</span><span class="hint" id="pct-window"></span></div>
    <div class="pipeline" id="pipeline"></div>
  </section>
  <section class="card" id="charts-card">
    <div class="card-h"><h2>Last 5 minutes</h2><span class="legend" id="legend"></span></div>
    <div class="charts">
      <figure><figcaption>throughput <small>items/s · ingress frames/s</small></figcaption><div class="chart" id="chart-tp"></div></figure>
      <figure><figcaption>queue wait p99 <small>ms · gaps: idle</small></figcaption><div class="chart" id="chart-wait"></div></figure>
      <figure><figcaption>service p99 <small>ms per batch · gaps: idle</small></figcaption><div class="chart" id="chart-svc"></div></figure>
    </div>
    <div class="markers" id="markers"></div>
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
      <div class="group"><h3>WAL</h3><dl id="wal"></dl><p class="note" id="wal-note"></p></div>
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

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}
