"""The evaluator sweep's outputs: ``sweep.csv`` (one row per image x method, one column per
metric), ``sweep_summary.csv`` (mean, standard deviation and count per method x metric) and
``sweep.png`` (one panel per metric, a bar per method with its standard deviation)."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from .._home import atomic_write

__all__ = ["write_sweep", "summarise", "SWEEP_CSV", "SUMMARY_CSV", "SWEEP_FIGURE"]

SWEEP_CSV = "sweep.csv"
SUMMARY_CSV = "sweep_summary.csv"
SWEEP_FIGURE = "sweep.png"


def summarise(records, methods: Sequence[str], metrics: Sequence[str]) -> Dict[str, Dict[str, dict]]:
    """``{method: {metric: {'mean', 'std', 'n'}}}`` over the finished items (NaN scores left out)."""
    values = {m: {k: [] for k in metrics} for m in methods}
    for r in records:
        if r.get("status") != "done":
            continue
        scores = (r.get("result") or {}).get("scores", {})
        for m in methods:
            for k in metrics:
                v = scores.get(m, {}).get(k)
                if v is not None and not math.isnan(v):
                    values[m][k].append(float(v))
    out = {}
    for m in methods:
        out[m] = {}
        for k in metrics:
            v = np.asarray(values[m][k], dtype=np.float64)
            out[m][k] = {"mean": float(v.mean()) if v.size else float("nan"),
                         "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}
    return out


def _write_csv(path: Path, header: List[str], rows: List[list]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with atomic_write(path) as tmp:
        Path(tmp).write_text(buffer.getvalue(), encoding="utf-8")


def write_sweep(records, save_dir, methods: Sequence[str], metrics: Sequence[str]) -> dict:
    """Write the three files; returns ``{'table', 'summary', 'figure', 'scores'}``."""
    from matplotlib.figure import Figure

    from ..evaluate import get_metric
    from ..vis import save_figure

    save_dir = Path(save_dir)
    rows = []
    for r in records:
        if r.get("status") != "done":
            continue
        scores = (r.get("result") or {}).get("scores", {})
        for m in methods:
            rows.append([r["key"], m, *[scores.get(m, {}).get(k, "") for k in metrics]])
    table = save_dir / SWEEP_CSV
    _write_csv(table, ["key", "method", *metrics], rows)
    summary = summarise(records, methods, metrics)
    summary_path = save_dir / SUMMARY_CSV
    _write_csv(summary_path, ["method", "metric", "mean", "std", "n", "higher_is_better"],
               [[m, k, s["mean"], s["std"], s["n"], getattr(get_metric(k), "higher_is_better", "")]
                for m, per in summary.items() for k, s in per.items()])

    fig = Figure(figsize=(3.2 * len(metrics) + 0.8, 3.4))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    x = np.arange(len(methods))
    for ax, k in zip(axes, metrics):
        means = [summary[m][k]["mean"] for m in methods]
        stds = [summary[m][k]["std"] for m in methods]
        ax.bar(x, means, yerr=stds, color="#4c72b0", capsize=3)
        better = "higher" if getattr(get_metric(k), "higher_is_better", True) else "lower"
        ax.set_title(f"{k} ({better} is better)", fontsize=10)
        ax.set_xticks(x)
        ax.set_xticklabels(methods, rotation=30, ha="right", fontsize=9)
    n = max((s["n"] for per in summary.values() for s in per.values()), default=0)
    fig.suptitle(f"methods x metrics over {n} images (mean and std)", fontsize=11)
    fig.tight_layout()
    figure = save_figure(fig, save_dir / SWEEP_FIGURE)
    return {"table": table, "summary": summary_path, "figure": Path(figure), "scores": summary}
