"""The HTML report's stylesheet, inlined in its ``<style>`` so the page needs no other file.

Colours are custom properties set once for light mode and overridden for dark mode and print; the
SVG charts use the same properties through their classes. Nothing says good or bad by colour: a
rise in churn and a rise in MRR look alike (▲/▼ carry the direction), and correlations are never
green or red.
"""

from __future__ import annotations

CSS = """\
:root{--bg:#f5f6f8;--card:#fff;--text:#1c2128;--muted:#5f6b7a;--rule:#dde1e7;--accent:#2f5f8f;
--band:#dbe6f1;--grid:#e6e9ee;--badge:#eef1f5;--shadow:0 1px 2px rgba(16,24,40,.06),0 1px 3px rgba(16,24,40,.1);
color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1a1f26;--text:#e7eaee;--muted:#9aa5b3;
--rule:#2c333d;--accent:#86b4e3;--band:#24364a;--grid:#2a313a;--badge:#252c35;--shadow:none}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);line-height:1.4;
font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 24px 48px}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:6px 18px;border-bottom:1px solid var(--rule);
padding-bottom:14px;margin-bottom:8px}
h1{font-size:26px;margin:0;font-weight:650;letter-spacing:-.01em}
header .meta{color:var(--muted);font-size:15px}
header .meta b{color:var(--text);font-weight:600}
h2{font-size:18px;margin:28px 0 12px;font-weight:650}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:14px}
.card{background:var(--card);border-radius:10px;box-shadow:var(--shadow);padding:14px 16px 10px;
border:1px solid var(--rule);break-inside:avoid}
.card h3{font-size:13px;font-weight:600;color:var(--muted);margin:0 0 4px;text-transform:none}
.value{font-size:26px;font-weight:650;margin:0;font-variant-numeric:tabular-nums;letter-spacing:-.01em}
.value .moe{font-size:13px;font-weight:500;color:var(--muted);margin-left:6px}
.deltas{margin:4px 0 6px;font-size:13px;color:var(--muted);display:flex;flex-wrap:wrap;gap:2px 14px}
.delta b{color:var(--text);font-weight:600;font-variant-numeric:tabular-nums}
.reason,.note{font-size:12.5px;color:var(--muted);margin:4px 0}
.tag{display:inline-block;font-size:11px;padding:1px 6px;border-radius:9px;background:var(--badge);
color:var(--muted);vertical-align:middle;margin-left:6px}
.badge{display:inline-block;font-size:12px;padding:2px 8px;border-radius:10px;background:var(--badge);
margin:2px 0 4px}
svg{display:block;width:100%;height:auto;overflow:visible}
svg .line{fill:none;stroke:var(--accent);stroke-width:1.8;stroke-linejoin:round;stroke-linecap:round}
svg .incomplete{stroke-dasharray:4 3}
svg .pt{fill:var(--accent)}
svg .pt.open{fill:var(--card);stroke:var(--accent);stroke-width:1.4}
svg .band{fill:var(--band)}
svg .reference{stroke:var(--muted);stroke-dasharray:2 2}
svg .grid{stroke:var(--grid);stroke-width:1}
svg .frame{fill:none;stroke:var(--rule)}
svg .zero{stroke:var(--muted);stroke-dasharray:1 3}
svg .axis text{fill:var(--muted);font-size:11px;font-family:inherit;font-variant-numeric:tabular-nums}
svg .axis .title{font-size:12px}
section.tree .panel{background:var(--card);border:1px solid var(--rule);border-radius:10px;box-shadow:var(--shadow);
padding:14px 16px;margin-bottom:14px;break-inside:avoid}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--rule);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bar{display:inline-block;height:8px;border-radius:2px;background:var(--accent);opacity:.7}
.scatters{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:14px}
figure{margin:0;max-width:380px}
.panel h3{font-size:15px;font-weight:650;margin:0 0 8px}
figcaption{font-size:12.5px;color:var(--muted);margin-top:6px}
figcaption b{color:var(--text)}
.footer{font-size:13px;color:var(--muted);margin-top:14px}
ul.notes{color:var(--muted);font-size:13px;padding-left:18px}
@media print{:root{--bg:#fff;--card:#fff;--text:#000;--muted:#333;--rule:#999;--accent:#000;--band:#ddd;
--grid:#ccc;--badge:#eee;--shadow:none;color-scheme:light}
body{font-size:11pt}main{max-width:none;padding:0}
.card,section.tree .panel,figure{box-shadow:none;break-inside:avoid;page-break-inside:avoid}
h2{break-after:avoid;page-break-after:avoid}}
"""
