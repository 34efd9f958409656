"""Self-contained HTML pages: the leaderboard (``python -m leaderboard --html FILE``) and the
kit the run report (``python -m benchmarks.report``) builds on.

A page is one file with nothing external: the CSS is inline, the figures are PNG data URIs,
and a few lines of inline JavaScript sort a table when a header is clicked, so the file can be
mailed, attached to an issue or opened offline. Every text from a run (names, lessons, model
output) is HTML-escaped. Opening a page with ``#sort=TABLE_ID:COLUMN`` (``-desc`` appended for
descending) sorts that table on load, which is how a link (and the browser test) asks for an
order.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from leaderboard.metrics import CONFIDENCE_DEFAULT, align_curves, bootstrap_ci
from leaderboard.store import Store, StoredRun
from leaderboard.table import (
    DEFAULT_THRESHOLD,
    Row,
    build_rows,
    column_headers,
    fmt_count,
    fmt_estimate,
    fmt_reach,
    fmt_seconds,
    group_runs,
    one_per_seed,
    visible,
)
from rundir import write_atomic

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;
  margin:0;background:#f4f6f9}
main{max-width:1180px;margin:0 auto;padding:20px 28px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;color:#2b3a55}
.sub{color:#5b6475;margin:0 0 14px}
.note{background:#fff7e0;border:1px solid #f0b429;border-radius:6px;padding:8px 12px;
  margin:10px 0}
.facts{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.fact{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:6px 12px}
.fact b{display:block;font-size:18px}
figure{margin:10px 0;background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:8px;
  display:inline-block}
figure img{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;background:#fff;margin:6px 0;font-size:13px}
th,td{border:1px solid #dde2ea;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#e8edf5;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
tbody tr:nth-child(even){background:#f8fafc}tbody tr:hover{background:#eef4ff}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
pre{background:#fff;border:1px solid #dde2ea;padding:8px;overflow:auto;font-size:12px}
.muted{color:#7a8396}
"""

SORT_JS = """
function sortTable(t,col,desc){
  const b=t.tBodies[0],rows=Array.from(b.rows);
  const key=r=>{const c=r.cells[col];if(!c)return"";const k=c.dataset.key;
    if(k===undefined)return c.textContent.trim().toLowerCase();return isNaN(+k)?k:+k;};
  rows.sort((p,q)=>{const x=key(p),y=key(q);let o;
    if(typeof x===typeof y)o=x<y?-1:x>y?1:0;else o=typeof x==="number"?-1:1;
    return desc?-o:o;});
  rows.forEach(r=>b.appendChild(r));
  t.querySelectorAll("thead th").forEach((h,i)=>h.setAttribute("aria-sort",
    i===col?(desc?"descending":"ascending"):"none"));
  t.dataset.sorted=col+(desc?"-desc":"-asc");
}
document.querySelectorAll("table.sortable").forEach(t=>{
  t.querySelectorAll("thead th").forEach((h,i)=>h.addEventListener("click",
    ()=>sortTable(t,i,h.getAttribute("aria-sort")==="ascending")));
});
const m=decodeURIComponent(location.hash).match(/^#sort=([\\w-]+):(\\d+)(-desc)?$/);
if(m){const t=document.getElementById(m[1]);if(t)sortTable(t,+m[2],!!m[3]);}
"""


@dataclass(frozen=True)
class Cell:
    """A table cell: the text shown and the value it sorts by (None: by its text)."""

    text: str
    key: float | str | None = None

    def html(self) -> str:
        if self.key is None:
            return f"<td>{esc(self.text)}</td>"
        if isinstance(self.key, float | int):
            key = "Infinity" if math.isinf(self.key) and self.key > 0 else repr(float(self.key))
            return f'<td class="num" data-key="{key}">{esc(self.text)}</td>'
        return f'<td data-key="{esc(self.key)}">{esc(self.text)}</td>'


def esc(text: object) -> str:
    """Text from a run as HTML: unprintables escaped as in the plain table, then HTML-quoted."""
    return html.escape(visible(str(text)), quote=True)


def num(value: float | None, text: str | None = None, digits: int = 3) -> Cell:
    """A number cell; a missing value shows as '?' and sorts after every number."""
    if value is None:
        return Cell(text or "?", math.inf)
    return Cell(text if text is not None else f"{value:.{digits}f}", float(value))


def sortable_table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A table whose columns sort on a header click (numbers by value, the rest by text)."""
    head = "".join(f'<th aria-sort="none">{esc(h)}</th>' for h in headers)
    body = "\n".join("<tr>" + "".join(c.html() for c in row) + "</tr>" for row in rows)
    return (
        f'<table class="sortable" id="{esc(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>\n{body}\n</tbody></table>"
    )


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (Agg canvas, no pyplot), for a page that embeds it."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_html(png: bytes, alt: str) -> str:
    return f'<figure><img alt="{esc(alt)}" src="{png_data_uri(png)}"></figure>'


def page(title: str, body: str) -> str:
    """A complete HTML document: inline style, the body, the sorting script, no links out."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head>\n<body><main>\n{body}\n"
        f'<p class="muted">written {stamp} by resd-bench</p>\n</main>'
        f"<script>{SORT_JS}</script></body></html>\n"
    )


def write_page(path: str | Path, text: str) -> Path:
    """Write a page atomically (a viewer never sees half a file); a ``RunDirError`` if not."""
    path = Path(path)
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))
    return path


def leaderboard_rows_html(rows: Sequence[Row], threshold: float) -> str:
    """The leaderboard table with the plain table's columns; numbers sort by value."""
    headers = column_headers(threshold)
    body = [
        [
            Cell(r.env),
            Cell(r.model),
            Cell(r.learner),
            num(r.seeds, f"{r.seeds} (+{r.repeats} repeated)" if r.repeats else str(r.seeds)),
            num(r.auc.mean, fmt_estimate(r.auc)),
            num(r.reach_median, fmt_reach(r)),
            num(r.final.mean, fmt_estimate(r.final)),
            num(r.tokens, fmt_count(r.tokens)),
            num(r.wall_seconds, fmt_seconds(r.wall_seconds)),
            num(r.budget, None if r.budget is None else str(r.budget)),
            Cell(r.preset or "?"),
        ]
        for r in rows
    ]
    return sortable_table("leaderboard", headers, body)


def env_figure(env: str, members: dict[str, list[StoredRun]]) -> bytes:
    """One panel: each row's success mean@k over seeds against samples, with a bootstrap band
    over seeds where there are several."""
    fig = Figure(figsize=(7.0, 3.8))
    ax = fig.add_subplot()
    for label, runs in members.items():
        curves = [([p.samples for p in r.curve], [p.success_mean for p in r.curve]) for r in runs]
        grid, matrix = align_curves(curves)
        est = [bootstrap_ci(matrix[:, j]) for j in range(len(grid))]
        line = ax.plot(
            grid, [e.mean for e in est], marker="o", ms=3, label=f"{label} (n={len(runs)})"
        )[0]
        if len(runs) > 1:
            ax.fill_between(
                grid,
                [e.low for e in est],
                [e.high for e in est],
                color=line.get_color(),
                alpha=0.2,
                lw=0,
            )
    ax.set_title(f"{visible(env)}: held-out success mean@k, mean over seeds", fontsize=10)
    ax.set_xlabel("training samples (rollouts)")
    ax.set_ylabel("held-out success")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return figure_png(fig, dpi=100)


def leaderboard_html(
    store: Store,
    env: str | None = None,
    model: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> str:
    """The leaderboard page: the sortable table, then each environment's curves."""
    runs = store.runs(env=env, model=model)
    filters = ", ".join(f"{k}={v}" for k, v in (("env", env), ("model", model)) if v)
    parts = [
        "<h1>resd-bench leaderboard</h1>",
        f'<p class="sub">{len(runs)} runs from {esc(store.path)}'
        f"{' (' + esc(filters) + ')' if filters else ''}. AUC: area under held-out success "
        f"against training rollouts over the sample span; CIs are {CONFIDENCE_DEFAULT:.0%} "
        "bootstrap intervals over seeds. Click a header to sort.</p>",
    ]
    if not runs:
        parts.append('<p class="note">No runs match.</p>')
        return page("resd-bench leaderboard", "\n".join(parts))
    rows = build_rows(runs, threshold)
    parts.append(leaderboard_rows_html(rows, threshold))
    groups = group_runs(runs)
    for env_name in sorted({r.env for r in rows}):
        members = {
            f"{r.model} / {r.learner}": one_per_seed(groups[(r.env, r.model, r.learner)])
            for r in rows
            if r.env == env_name
        }
        parts.append(f"<h2>{esc(env_name)}</h2>")
        parts.append(figure_html(env_figure(env_name, members), f"{env_name} curves"))
    return page("resd-bench leaderboard", "\n".join(parts))


__all__ = [
    "Cell",
    "esc",
    "figure_html",
    "figure_png",
    "leaderboard_html",
    "num",
    "page",
    "png_data_uri",
    "sortable_table",
    "write_page",
]
