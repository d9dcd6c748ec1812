/** The remu page's CSS (page.ts). */
export const styles = `
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
