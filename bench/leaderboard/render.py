"""Render a :class:`Leaderboard` as Markdown, CSV, LaTeX (booktabs) and a static HTML page.

Best values are bold and second best underlined (LaTeX, Markdown, HTML); columns carry the metric's arrow; reported
rows are marked as such. The HTML page is self-contained: sortable columns and one bar plot per metric, no network.
"""

from __future__ import annotations

import csv
import html
import io
import math
from pathlib import Path

from bench.io import write_text_atomic
from bench.leaderboard.model import Cell, Leaderboard

FORMATS = ("md", "csv", "tex", "html")


def _value(cell: Cell | None, digits: int = 3) -> str:
    if cell is None or math.isnan(cell.mean):
        return "–"
    if math.isinf(cell.mean):
        return "∞" if cell.mean > 0 else "-∞"
    return f"{cell.mean:.{digits}f}"


def mark_incomplete(cell: Cell | None, text: str, mark: str) -> str:
    """``text`` followed by ``mark`` when the cell stands on fewer videos than its run holds (see the footnote)."""
    return text + mark if cell is not None and cell.incomplete else text


def to_markdown(board: Leaderboard) -> str:
    """A GitHub-flavoured Markdown table; best in bold, second underlined."""
    header = ["method", *(f"{c.metric} {c.arrow}".strip() for c in board.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    ranks = {c.metric: board.ranks(c.metric) for c in board.columns}
    for row in board.rows:
        cells = []
        for c in board.columns:
            cell = row.cells.get(c.metric)
            text = _value(cell)
            rank = ranks[c.metric].get(row.key)
            cells.append(mark_incomplete(cell, f"**{text}**" if rank == 1 else f"<u>{text}</u>" if rank == 2 else text, r"\*"))
        lines.append("| " + " | ".join([row.key.replace("|", r"\|"), *cells]) + " |")  # a | in a label ends the cell
    lines.append("")
    lines.append(f"Protocol `{board.protocol}`. Reproduced rows come from stored runs; reported rows are the papers' numbers.")
    note = board.coverage_note()
    if note:
        lines.append(r"\* " + note)
    return "\n".join(lines) + "\n"


def to_csv(board: Leaderboard) -> str:
    """One line per row: method, kind, source, then mean, CI and n for every metric."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = ["method", "kind", "source"]
    for c in board.columns:
        head += [c.metric, f"{c.metric}_ci_low", f"{c.metric}_ci_high", f"{c.metric}_n"]
    writer.writerow(head)
    for row in board.rows:
        line = [row.method, row.kind, row.source]
        for c in board.columns:
            cell = row.cells.get(c.metric)
            if cell is None:
                line += ["", "", "", ""]
            else:
                line += [_num(cell.mean), _num(cell.ci_low), _num(cell.ci_high), "" if cell.n is None else str(cell.n)]
        writer.writerow(line)
    return out.getvalue()


def _num(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


_TEX_ESCAPES = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
}  # fmt: skip


def _tex(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(board: Leaderboard) -> str:
    """A booktabs table: arrows from each metric's direction, best in bold, second underlined; needs ``booktabs``."""
    arrows = {True: r"$\uparrow$", False: r"$\downarrow$", None: ""}
    ranks = {c.metric: board.ranks(c.metric) for c in board.columns}
    lines = [
        r"\begin{tabular}{l" + "c" * len(board.columns) + "}",
        r"\toprule",
        " & ".join(["Method", *(f"{_tex(c.metric)} {arrows[c.higher_is_better]}".strip() for c in board.columns)]) + r" \\",
        r"\midrule",
    ]
    for kind in ("reported", "reproduced"):
        block = [r for r in board.rows if r.kind == kind]
        if not block:
            continue
        if kind == "reproduced" and any(r.kind == "reported" for r in board.rows):
            lines.append(r"\midrule")
        for row in block:
            cells = []
            for c in board.columns:
                cell = row.cells.get(c.metric)
                text = _value(cell).replace("∞", r"$\infty$")
                rank = ranks[c.metric].get(row.key)
                ranked = rf"\textbf{{{text}}}" if rank == 1 else rf"\underline{{{text}}}" if rank == 2 else text
                cells.append(mark_incomplete(cell, ranked, "$^*$"))
            name = _tex(row.method) + (r"$^\dagger$" if kind == "reported" else "")
            lines.append(" & ".join([name, *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if any(r.kind == "reported" for r in board.rows):
        lines.append(r"% $^\dagger$: reported in the cited paper, not reproduced.")
    note = board.coverage_note()
    if note:
        lines.append("% $^*$ " + _tex(note))
    return "\n".join(lines) + "\n"


def render(board: Leaderboard, fmt: str) -> str:
    """The table in one of :data:`FORMATS`."""
    from bench.leaderboard.html import to_html

    renderers = {"md": to_markdown, "csv": to_csv, "tex": to_latex, "html": to_html}
    if fmt not in renderers:
        raise ValueError(f"unknown leaderboard format {fmt!r}; formats: {', '.join(FORMATS)}")
    return renderers[fmt](board)


def write_all(board: Leaderboard, stem: str | Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write ``stem.md``, ``stem.csv``, ``stem.tex``, ``stem.html`` atomically."""
    paths = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        write_text_atomic(path, render(board, fmt))
        paths.append(path)
    return paths


def escape(text: str) -> str:
    """HTML-escape ``text``."""
    return html.escape(text, quote=True)
