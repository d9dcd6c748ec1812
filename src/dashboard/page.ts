/**
 * The stage metrics page: polls /health once a second and draws the pipeline, one row per
 * stage (queue depth, throughput, wait and service percentiles, batch sizes, utilisation).
 */
export function renderDashboard(name: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stageraft ${escapeHtml(name)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin-top:12px}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}.bar{background:#4a7;height:8px}
#raft span{margin-right:18px}
</style></head>
<body><h1>stageraft — <span id="name">${escapeHtml(name)}</span></h1>
<div id="raft">loading…</div>
<table id="stages"><thead><tr><th>stage</th><th>queue</th><th>fill</th><th>items/s</th><th>wait p50/p99 ms</th>
<th>service p50/p99 ms</th><th>batch p50/p99</th><th>busy</th><th>rejected</th></tr></thead><tbody></tbody></table>
<script>
const fmt=(v)=>typeof v==="number"?(Math.round(v*100)/100).toString():String(v);
async function refresh(){
  try{
    const h=await (await fetch("/health")).json();
    document.getElementById("raft").innerHTML=["role","term","leader","commitIndex","appliedIndex","lastIndex"]
      .map(k=>"<span><b>"+k+"</b> "+fmt(h[k])+"</span>").join("");
    document.querySelector("#stages tbody").innerHTML=h.stages.map(s=>{
      const fill=s.queueCapacityItems?s.queueDepth/s.queueCapacityItems:0;
      return "<tr><td>"+s.name+"</td><td>"+s.queueDepth+"/"+s.queueCapacityItems+"</td><td><div class=bar style='width:"+Math.max(1,fill*80)+"px'></div></td><td>"+fmt(s.throughputPerSec)+
      "</td><td>"+fmt(s.waitMsP50)+" / "+fmt(s.waitMsP99)+"</td><td>"+fmt(s.serviceMsP50)+" / "+fmt(s.serviceMsP99)+
      "</td><td>"+fmt(s.batchSizeP50)+" / "+fmt(s.batchSizeP99)+"</td><td>"+fmt(Math.round(s.utilisation*100))+"%</td><td>"+s.rejected+"</td></tr>";}).join("");
  }catch(e){document.getElementById("raft").textContent="node unreachable: "+e;}
}
refresh();setInterval(refresh,1000);
</script></body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}
