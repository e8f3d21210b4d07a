"""The report around the executed notebooks: what every notebook prints first and last, and reports/index.html.

Every notebook starts with `run_header(p)` (the profile that produced it, the machine, torch and its threads) and
ends with `run_footer(t0)` (its wall time), so an executed notebook says where its numbers came from. Its
conclusions go in cells tagged `headline`; `build_index` collects those cells' printed text from every executed
notebook into reports/index.html, the page a reader opens first, beside each notebook's title, wall time and link.
"""
from __future__ import annotations

import html
import json
import os
import platform
import time
from pathlib import Path

from .io import write_text

HEADLINE_TAG = "headline"


def run_header(p) -> float:
    """Print the profile, machine and torch settings of this run; return the start time for `run_footer`."""
    import torch

    print(f"profile: {p.profile.name} ({p.profile.machine}); this machine: {os.cpu_count()} CPU cores, "
          f"{platform.machine()}, Python {platform.python_version()}, torch {torch.__version__} with "
          f"{p.resources.threads} thread(s) per job, {p.resources.jobs} job(s) at once, device {p.resources.device}")
    return time.perf_counter()


def run_footer(t0: float) -> float:
    """Print and return the wall time since `run_header`."""
    seconds = time.perf_counter() - t0
    print(f"wall time: {seconds:.0f} s ({seconds / 60:.1f} min)")
    return seconds


def _text_outputs(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append("".join(out.get("text", "")))
        elif "text/plain" in out.get("data", {}):
            parts.append("".join(out["data"]["text/plain"]))
    return "".join(parts).strip()


def notebook_summary(path: str | Path) -> dict:
    """{'title' (first markdown heading), 'seconds' (papermill's duration), 'errors' (error outputs),
    'headlines' (printed text of cells tagged `headline`)} of an executed notebook."""
    nb = json.loads(Path(path).read_text())
    title = Path(path).stem
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            first = "".join(cell["source"]).strip().splitlines()[0]
            title = first.lstrip("# ").strip()
            break
    errors = sum(o.get("output_type") == "error" for c in nb["cells"] for o in c.get("outputs", []))
    headlines = [_text_outputs(c) for c in nb["cells"]
                 if c["cell_type"] == "code" and HEADLINE_TAG in c.get("metadata", {}).get("tags", [])]
    seconds = nb.get("metadata", {}).get("papermill", {}).get("duration")
    return {"title": title, "seconds": seconds, "errors": errors, "headlines": [h for h in headlines if h]}


def build_index(notebooks: list[str | Path], out: str | Path, profile: str = "") -> list[dict]:
    """Write the index page: per executed notebook (in the order given) its title, link to its HTML export, wall
    time, error count and headline text. Returns the summaries."""
    rows = []
    for nb in notebooks:
        nb = Path(nb)
        rows.append({"notebook": nb.name, "html": nb.with_suffix(".html").name, **notebook_summary(nb)})
    total = sum(r["seconds"] or 0 for r in rows)
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>AutoMatch, reproducible: report</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
             "pre{background:#f4f4f4;padding:.6em;white-space:pre-wrap}h2{margin-top:1.6em}"
             ".meta{color:#555}</style></head><body>",
             "<h1>AutoMatch, reproducible: the report</h1>",
             f"<p class='meta'>Profile {html.escape(profile)}; {len(rows)} executed notebooks, "
             f"{total / 60:.1f} min of notebook wall time in all. Each section links the executed notebook.</p>"]
    for r in rows:
        wall = f"{r['seconds']:.0f} s" if r["seconds"] is not None else "wall time unknown"
        errs = "no errors" if r["errors"] == 0 else f"<b>{r['errors']} error output(s)</b>"
        parts.append(f"<h2><a href='{html.escape(r['html'])}'>{html.escape(r['title'])}</a></h2>"
                     f"<p class='meta'>{html.escape(r['notebook'])} · {wall} · {errs}</p>")
        parts += [f"<pre>{html.escape(h)}</pre>" for h in r["headlines"]]
    parts.append("</body></html>")
    write_text(out, "\n".join(parts))
    return rows
