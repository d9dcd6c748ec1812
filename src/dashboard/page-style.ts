/** The dashboard's stylesheet (inlined into the page). */
export const css = `
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
.row.wrap{white-space:normal}.row.wrap>span:last-child{overflow:visible;text-align:right}
.stage.idle [data-f=wait],.stage.idle [data-f=svc],.stage.idle [data-f=batch]{color:var(--muted)}
.markers{display:flex;flex-wrap:wrap;gap:4px 14px;margin-top:8px;font-size:12px;color:var(--muted)}
.marker{display:inline-flex;align-items:center;gap:5px}.marker i{width:3px;height:12px;border-radius:1px;display:inline-block}
.note{margin:8px 0 0;color:var(--muted);font-size:12px;line-height:1.45}
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
