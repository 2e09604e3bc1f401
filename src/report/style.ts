/** The report page's styles: system fonts only (no remote font), light, printable. */
export const REPORT_CSS = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --pass: #1a7f37; --fail: #cf222e; --gate: #6e40c9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
#app { max-width: 1400px; margin: 0 auto; padding: 20px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
.meta { margin: 0 0 6px; color: var(--muted); }
code.command { display: block; padding: 6px 10px; background: #fff; border: 1px solid var(--line); border-radius: 6px; font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-all; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 16px 0; min-width: 0; }
.card h2 { margin: 0 0 8px; font-size: 16px; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.plots .card { margin: 16px 0 0; }
.stats { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 8px; }
.stat { border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; min-width: 120px; }
.stat strong { display: block; font-size: 22px; }
.stat span { color: var(--muted); }
.stat.pass strong { color: var(--pass); }
.stat.fail strong { color: var(--fail); }
.stat.unfinished strong, .stat.excluded strong { color: #9a6700; }
ul.gates, ul.notes { margin: 4px 0; padding-left: 20px; }
ul.notes li { color: var(--muted); }
.plot { position: relative; width: 100%; }
.plot canvas, .plot svg { position: absolute; left: 0; top: 0; }
.plot canvas { pointer-events: none; }
#scatter-card .plot, #parallel-card .plot { height: 420px; }
[data-testid="history"] { position: relative; width: 100%; min-height: 40px; }
.axis text { font-size: 11px; fill: var(--muted); }
.axis-label, .axis-title { font-size: 12px; fill: var(--fg); font-weight: 600; }
.axis-note { font-size: 10px; fill: var(--muted); }
.gate-line { stroke: var(--gate); stroke-width: 1.5; stroke-dasharray: 6 4; }
.gate-label { font-size: 11px; fill: var(--gate); }
.pass-region { fill: var(--pass); fill-opacity: 0.08; }
.front-line { fill: none; stroke: #0969da; stroke-width: 1.5; }
.overlay { fill: transparent; cursor: crosshair; }
.history-line { fill: none; stroke-width: 1.8; }
.brush .selection { fill: #0969da; fill-opacity: 0.15; stroke: #0969da; }
.caption { color: var(--muted); margin: 6px 0 0; font-size: 12px; }
.tooltip { position: absolute; z-index: 5; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; font-size: 12px; box-shadow: 0 2px 8px rgba(0,0,0,.12); pointer-events: none; }
.table-bar { display: flex; gap: 12px; align-items: center; margin-bottom: 8px; }
.table-bar input[type=search] { flex: 0 1 320px; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
.count { color: var(--muted); }
.table-scroll { max-height: 520px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
thead th { position: sticky; top: 0; background: #f6f8fa; z-index: 1; text-align: left; border-bottom: 1px solid var(--line); padding: 0; white-space: nowrap; }
thead th button { all: unset; cursor: pointer; display: block; padding: 6px 8px; font-weight: 600; font-size: 12px; }
thead th[aria-sort=ascending] button::after { content: " \\25B2"; }
thead th[aria-sort=descending] button::after { content: " \\25BC"; }
td { padding: 0 8px; height: 28px; border-bottom: 1px solid #eef1f4; white-space: nowrap; max-width: 320px; overflow: hidden; text-overflow: ellipsis; }
th.num, td.num { text-align: right; }
thead th.num button { text-align: right; }
td.empty { text-align: center; color: var(--muted); height: 48px; }
tr.spacer td { padding: 0; border: 0; }
.badge { display: inline-block; color: #fff; border-radius: 10px; padding: 0 7px; font-size: 11px; font-weight: 600; line-height: 18px; margin-right: 4px; }
ul.legend { list-style: none; padding: 0; margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 3px; margin-right: 6px; vertical-align: middle; }
`;
