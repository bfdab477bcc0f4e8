"""The index of an explain job: ``index.csv`` (one row per item) and ``index.html``, a static page
of thumbnails linking to the figures. Every file name, label and error is HTML-escaped and every
link is URL-quoted, so a file called ``<script>.png`` or a class named ``a&b`` shows as text."""
from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import Iterable, List
from urllib.parse import quote

from .._home import atomic_write

__all__ = ["write_index", "INDEX_CSV", "INDEX_HTML", "CSV_COLUMNS"]

INDEX_CSV = "index.csv"
INDEX_HTML = "index.html"
CSV_COLUMNS = ("key", "status", "target", "label", "probability", "fit_r2", "seed", "figure", "explanation",
               "thumbnail", "seconds", "error")


def _row(record: dict) -> dict:
    summary = record.get("summary") or {}
    outputs = record.get("outputs") or {}
    explanation = outputs.get("explanation") or outputs.get("combined") or {}
    return {"key": record["key"], "status": record.get("status"), "target": summary.get("target", ""),
            "label": summary.get("label", ""), "probability": summary.get("probability", ""),
            "fit_r2": summary.get("fit_r2", ""), "seed": record.get("seed", ""),
            "figure": (outputs.get("figure") or {}).get("path", ""), "explanation": explanation.get("path", ""),
            "thumbnail": (outputs.get("thumbnail") or {}).get("path", ""), "seconds": record.get("seconds", ""),
            "error": record.get("error") or ""}


def _csv_cell(value):
    """Spreadsheet programs run cells that start with = + - @ as formulas; such text gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _link(relative: str) -> str:
    return html.escape(quote(relative), quote=True)


_STYLE = """body{font-family:sans-serif;margin:1.5em;background:#fafafa}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #ddd;border-radius:4px;padding:6px;width:330px}
.card img{max-width:320px;max-height:320px;display:block}
.key{font-family:monospace;font-size:12px;word-break:break-all}
.failed{border-color:#c33}.error{color:#c33;font-size:12px;white-space:pre-wrap}
"""


def write_index(records: Iterable[dict], save_dir, title: str = "paddlex_interpret batch") -> tuple:
    """Write ``index.csv`` and ``index.html`` into ``save_dir`` (atomically); returns both paths."""
    save_dir = Path(save_dir)
    rows: List[dict] = [_row(r) for r in records]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    csv_path = save_dir / INDEX_CSV
    with atomic_write(csv_path) as tmp:
        Path(tmp).write_text(buffer.getvalue(), encoding="utf-8")

    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] != "done"]
    parts = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src \'self\'; '
             'style-src \'unsafe-inline\'">',
             f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p>{len(done)} explained, {len(failed)} failed. "
             f'<a href="{_link(INDEX_CSV)}">index.csv</a></p>', '<div class="grid">']
    for row in done:
        label = html.escape(str(row["label"]))
        probability = row["probability"]
        prob = f"{probability:.3f}" if isinstance(probability, float) else html.escape(str(probability))
        parts.append(
            f'<div class="card"><a href="{_link(row["figure"])}">'
            f'<img src="{_link(row["thumbnail"])}" alt="{html.escape(row["key"], quote=True)}" loading="lazy"></a>'
            f'<div class="key">{html.escape(row["key"])}</div>'
            f'<div>class {html.escape(str(row["target"]))}: <b>{label}</b> (p = {prob})</div></div>')
    parts.append("</div>")
    if failed:
        parts.append("<h2>Failed</h2>")
        for row in failed:
            parts.append(f'<div class="card failed"><div class="key">{html.escape(row["key"])}</div>'
                         f'<div class="error">{html.escape(str(row["error"]))}</div></div>')
    parts.append("</body></html>")
    html_path = save_dir / INDEX_HTML
    with atomic_write(html_path) as tmp:
        Path(tmp).write_text("\n".join(parts) + "\n", encoding="utf-8")
    return csv_path, html_path
