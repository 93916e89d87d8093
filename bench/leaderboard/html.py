"""The static HTML leaderboard: a sortable table and one bar plot (inline SVG) per metric; no network needed."""

from __future__ import annotations

import json
import math

from bench.leaderboard.model import Column, Leaderboard
from bench.leaderboard.render import escape, mark_incomplete

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:2em}
th,td{padding:.35em .8em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}
th{cursor:pointer;user-select:none;background:#f4f4f4}
th[aria-sort=ascending]::after{content:" ▲"} th[aria-sort=descending]::after{content:" ▼"}
td.best{font-weight:bold} td.second{text-decoration:underline}
tr.reported td{color:#666;font-style:italic}
.plots{display:flex;flex-wrap:wrap;gap:2em} figure{margin:0} figcaption{font-weight:bold;margin-bottom:.3em}
"""

_SCRIPT = """
document.querySelectorAll('table.leaderboard th').forEach(function (th, index) {
  th.addEventListener('click', function () {
    var table = th.closest('table');
    var body = table.tBodies[0];
    var ascending = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].dataset.value, y = b.cells[index].dataset.value;
      var nx = parseFloat(x), ny = parseFloat(y);
      var cmp = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
      if (isNaN(nx) && !isNaN(ny)) { cmp = 1; } else if (!isNaN(nx) && isNaN(ny)) { cmp = -1; }
      return ascending ? cmp : -cmp;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _plot(board: Leaderboard, column: Column, width: int = 360, bar: int = 22) -> str:
    """A horizontal bar chart of one metric, with the CI as a whisker where known."""
    points = [(r, r.cells[column.metric]) for r in board.rows if column.metric in r.cells]
    points = [(r, c) for r, c in points if math.isfinite(c.mean)]
    if not points:
        return ""
    top = max(max(c.mean, c.ci_high if c.has_ci else c.mean) for _, c in points)
    low = min(0.0, min(c.mean for _, c in points))
    span = (top - low) or 1.0
    left, plot_w = 150, width - 160
    height = bar * len(points) + 10

    def x(v: float) -> float:
        return left + (v - low) / span * plot_w

    parts = [f'<svg class="plot" data-metric="{escape(column.metric)}" width="{width}" height="{height}" role="img">']
    for i, (row, cell) in enumerate(points):
        y = 5 + i * bar
        colour = "#9bb" if row.kind == "reported" else "#48a"
        label = escape(row.method)
        parts.append(f'<text x="{left - 6}" y="{y + bar * 0.65:.1f}" text-anchor="end" font-size="12">{label}</text>')
        parts.append(
            f'<rect x="{x(low):.1f}" y="{y + 3}" width="{x(cell.mean) - x(low):.1f}" height="{bar - 8}" fill="{colour}">'
            f"<title>{escape(row.method)}: {cell.mean:.4g}</title></rect>"
        )
        if cell.has_ci:
            mid = y + bar / 2
            parts.append(f'<line x1="{x(cell.ci_low):.1f}" x2="{x(cell.ci_high):.1f}" y1="{mid}" y2="{mid}" stroke="#222"/>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(board: Leaderboard) -> str:
    """A self-contained page: sortable table (click a header) and per-metric plots."""
    ranks = {c.metric: board.ranks(c.metric) for c in board.columns}
    head = "".join(f"<th>{escape((c.metric + ' ' + c.arrow).strip())}</th>" for c in board.columns)
    body = []
    for row in board.rows:
        cells = [f'<td data-value="{escape(row.method)}">{escape(row.method)}</td>']
        for c in board.columns:
            cell = row.cells.get(c.metric)
            value = cell.mean if cell is not None and not math.isnan(cell.mean) else None
            rank = ranks[c.metric].get(row.key)
            cls = {1: ' class="best"', 2: ' class="second"'}.get(rank or 0, "")
            tip = f' title="95% CI [{cell.ci_low:.4g}, {cell.ci_high:.4g}], n={cell.n}"' if cell and cell.has_ci else ""
            text = "–" if value is None else ("∞" if math.isinf(value) else f"{value:.3f}")
            text = mark_incomplete(cell, text, "*")
            data = "" if value is None else json.dumps(value)
            cells.append(f'<td data-value="{data}"{cls}{tip}>{text}</td>')
        body.append(f'<tr class="{row.kind}">' + "".join(cells) + "</tr>")
    plots = "".join(
        f"<figure><figcaption>{escape((c.metric + ' ' + c.arrow).strip())}</figcaption>{_plot(board, c)}</figure>"
        for c in board.columns
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>talkbench leaderboard: {escape(board.protocol)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Leaderboard: <code>{escape(board.protocol)}</code></h1>"
        "<p>Click a column header to sort. Bold: best; underlined: second. Italic rows are reported by their papers.</p>"
        f'<table class="leaderboard"><thead><tr><th>method</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        f'{_note(board)}<div class="plots">{plots}</div><script>{_SCRIPT}</script></body></html>\n'
    )


def _note(board: Leaderboard) -> str:
    """The coverage footnote as a paragraph below the table, or nothing."""
    note = board.coverage_note()
    return f'<p class="note">* {escape(note)}</p>' if note else ""
