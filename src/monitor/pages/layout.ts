/**
 * The frame of every QM page: title, menu (jobs, stats, Bull Board, API,
 * metrics), one stylesheet, and inline script allowed by the page's nonce.
 */
import { html, trusted, type Html } from '../html.js';

const STYLE = `
:root { --fg:#1d232b; --muted:#68717d; --line:#e3e6ea; --bg:#f6f7f9; --card:#fff; --accent:#2f6fde;
  --ok:#1f8a4c; --bad:#c23a3a; --warn:#b7791f; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); font-size:14px; }
header { background:#1d2b45; color:#fff; display:flex; align-items:center; gap:24px; padding:0 24px; height:48px; }
header .brand { font-weight:700; font-size:18px; letter-spacing:.5px; color:#fff; text-decoration:none; }
header nav a { color:#c9d4ea; text-decoration:none; margin-right:16px; }
header nav a:hover, header nav a.here { color:#fff; }
header .right { margin-left:auto; color:#c9d4ea; font-size:12px; }
main { padding:16px 24px 40px; max-width:1400px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; margin-bottom:18px; padding:12px 16px; }
h1 { font-size:20px; margin:4px 0 14px; word-break:break-all; }
h2 { font-size:15px; margin:2px 0 10px; display:flex; gap:8px; align-items:baseline; }
h2 .count { color:var(--muted); font-weight:400; font-size:13px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:middle; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.3px; }
tbody tr:hover { background:#f2f5fb; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
td.empty { color:var(--muted); font-style:italic; }
a { color:var(--accent); }
.name { font-weight:600; word-break:break-all; }
.muted { color:var(--muted); }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; background:#e8ecf3; }
.badge.ok { background:#e1f4e8; color:var(--ok); } .badge.bad { background:#fbe5e5; color:var(--bad); }
.badge.warn { background:#fbf0dc; color:var(--warn); } .badge.run { background:#e2ecfc; color:var(--accent); }
progress { width:160px; height:12px; vertical-align:middle; accent-color:var(--accent); }
.pct { display:inline-block; width:70px; text-align:right; font-variant-numeric:tabular-nums; color:var(--muted); }
.pager { margin-top:10px; display:flex; gap:12px; align-items:center; }
.actions { display:flex; gap:8px; flex-wrap:wrap; align-items:center; margin-bottom:14px; }
td.act { white-space:nowrap; text-align:right; }
.button, button { display:inline-block; border:1px solid var(--line); background:#fff; color:var(--fg); padding:4px 12px;
  border-radius:6px; text-decoration:none; font-size:13px; cursor:pointer; }
.button.danger, button.danger { border-color:#e6b3b3; color:var(--bad); }
button.danger.solid { background:var(--bad); color:#fff; border-color:var(--bad); }
dl.props { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; margin:0; }
dl.props dt { color:var(--muted); } dl.props dd { margin:0; word-break:break-all; }
pre { background:#0f1723; color:#dce3ee; padding:10px 12px; border-radius:6px; overflow:auto; max-height:60vh;
  font-size:12.5px; line-height:1.45; white-space:pre-wrap; word-break:break-all; margin:0; }
.notice { padding:8px 12px; border-radius:6px; background:#e2ecfc; margin-bottom:14px; }
.notice.bad { background:#fbe5e5; }
.filter { display:flex; gap:8px; margin:8px 0 4px; } .filter input, .filter select { padding:3px 6px; font:inherit; }
#paused { color:var(--bad); }
form.inline { display:inline; }
.grid2 { display:grid; grid-template-columns: minmax(320px, 1fr) minmax(320px, 1fr); gap:18px; }
@media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } }
`;

export type MenuItem = 'jobs' | 'stats' | 'none';

export interface PageOptions {
  title: string;
  nonce: string;
  here: MenuItem;
  body: Html;
  script?: string;
  /** `data-*` attributes of <body>: how values reach the inline script */
  data?: Record<string, string | number>;
}

export function layout(o: PageOptions): Html {
  const item = (key: MenuItem, href: string, label: string) =>
    html`<a href="${href}" class="${key === o.here ? 'here' : ''}">${label}</a>`;
  const data = Object.entries(o.data ?? {}).map(([key, value]) => html` data-${trusted(key)}="${value}"`);
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · QM</title>
<style nonce="${o.nonce}">${trusted(STYLE)}</style></head>
<body${data}><header><a class="brand" href="/">QM</a><nav>
${item('jobs', '/', 'Jobs')}${item('stats', '/stats', 'Stats')}<a href="/queues">Bull Board</a><a href="/api/jobs">API</a><a href="/metrics">Metrics</a>
</nav><span class="right" id="updated"></span></header>
<main>${o.body}</main>
${o.script ? html`<script nonce="${o.nonce}">${trusted(o.script)}</script>` : ''}
</body></html>`;
}
