import type { Recording } from "../recorder.js";
import { clientDiagram } from "./page-client-diagram.js";
import { clientQuery } from "./page-client-query.js";
import { clientState } from "./page-client-state.js";
import { styles } from "./page-styles.js";

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
<script>${clientState}${clientDiagram}${clientQuery}</script>
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
