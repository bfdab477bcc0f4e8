"""A self-contained HTML page that shows a text explanation: tokens coloured by their weight."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

import numpy as np

from ..engine.explanation import TextExplanation

__all__ = ["explanation_to_html", "save_text_html"]

_GREEN = (26, 152, 80)   # speaks for the class
_RED = (215, 48, 39)     # speaks against it
_MAX_ALPHA = 0.85
_TOP_ROWS = 10
_MASK_WORDS = {"unk": "replaced by the unknown token", "pad": "replaced by padding", "remove": "removed"}

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, "Noto Sans", "Noto Sans CJK SC", sans-serif;
       margin: 2em auto; max-width: 56em; padding: 0 1em; color: #222; }
h1 { font-size: 1.3em; }
h2 { font-size: 1.05em; margin-top: 1.6em; }
.summary { line-height: 1.6; }
.text { font-size: 1.15em; line-height: 2.1; border: 1px solid #ddd; border-radius: 6px; padding: 0.8em 1em; }
.tok { padding: 0.15em 0.2em; border-radius: 3px; }
.legend { display: flex; align-items: center; gap: 0.6em; margin: 1em 0; font-size: 0.9em; }
.bar { width: 16em; height: 1em; border: 1px solid #ccc;
       background: linear-gradient(to right, rgba(215,48,39,0.85), rgba(255,255,255,0), rgba(26,152,80,0.85)); }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border-bottom: 1px solid #eee; padding: 0.25em 0.8em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #666; font-size: 0.85em; }
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _colour(weight: float, scale: float) -> str:
    if not np.isfinite(weight) or scale <= 0 or weight == 0:
        return "transparent"
    r, g, b = _GREEN if weight > 0 else _RED
    alpha = _MAX_ALPHA * min(abs(weight) / scale, 1.0)
    return f"rgba({r},{g},{b},{alpha:.3f})"


def _display(token: str):
    """``(text shown, joins the previous token)``: WordPiece continuations ('##ing') attach."""
    if token.startswith("##") and len(token) > 2:
        return token[2:], True
    return token, False


def explanation_to_html(explanation: TextExplanation, target: Optional[int] = None) -> str:
    """Render a :class:`TextExplanation` as a self-contained HTML page (no scripts, no links).

    Each token is shaded by its weight for ``target``: green for, red against the class, the
    strongest one fully; hovering shows the weight. The page also gives the predicted label, the
    explained class, the model's probabilities, the fit's R^2 and the most important tokens.
    Every token, label and the text are escaped with :func:`html.escape`.

    Parameters
    ----------
    explanation : TextExplanation
    target : int, optional
        An explained class; default the explanation's primary class.

    Returns
    -------
    str
        The page; write it with UTF-8 encoding.
    """
    if not isinstance(explanation, TextExplanation):
        raise TypeError(f"explanation must be a TextExplanation, got {type(explanation).__name__}")
    target = explanation.target if target is None else int(target)
    weights = np.asarray(explanation.weights_of(target), dtype=np.float64)
    finite = np.abs(weights[np.isfinite(weights)])
    scale = float(finite.max()) if finite.size else 0.0
    label = explanation.label_names.get(target, str(target))
    params = explanation.params

    spans = []
    for i, (token, w) in enumerate(zip(explanation.tokens, weights)):
        shown, joins = _display(token)
        tip = f"{token} (token {i}): weight {w:+.4f}"
        span = f'<span class="tok" style="background-color:{_colour(w, scale)}" title="{_e(tip)}">{_e(shown)}</span>'
        spans.append(span if (joins or not spans) else " " + span)

    probs = np.asarray(explanation.class_probabilities, dtype=np.float64)
    names = list(explanation.class_names) or [str(i) for i in range(len(probs))]
    prob_rows = "".join(
        f"<tr><td>{_e(names[i] if i < len(names) else i)}</td><td class=\"num\">{i}</td>"
        f"<td class=\"num\">{probs[i]:.4f}</td></tr>" for i in np.argsort(-probs, kind="stable"))
    top = explanation.top_tokens(target, k=min(_TOP_ROWS, len(explanation.tokens)), absolute=True)
    top_rows = "".join(
        f"<tr><td>{_e(t.token)}</td><td class=\"num\">{t.position}</td><td class=\"num\">{t.weight:+.4f}</td></tr>"
        for t in top)

    if len(probs):
        predicted = (f"Predicted: <b>{_e(explanation.predicted_label)}</b> "
                     f"(class {explanation.predicted_class}, p = {probs[explanation.predicted_class]:.3f}).")
    else:
        predicted = ""
    probability = explanation.probabilities.get(target, float("nan"))
    score = explanation.scores.get(target, float("nan"))
    run = []
    if "num_samples" in params:
        run.append(f"{_e(params['num_samples'])} samples")
    if "mask_token" in params:
        run.append(f"mask {_e(params['mask_token'])}")
    if params.get("random_state") is not None:
        run.append(f"seed {_e(params['random_state'])}")
    run = ", ".join(run) or "LIME"
    truncated = ('<p class="note">The text was longer than the model accepts; only the tokens shown were '
                 'explained.</p>' if params.get("truncated") else "")

    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LIME text explanation: {_e(label)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>LIME text explanation</h1>
<p class="summary">{predicted}
Explained: <b>{_e(label)}</b> (class {target}, p = {probability:.3f}).
Local fit R&sup2; = {score:.3f} ({run}).</p>
<div class="legend"><span>against <b>{_e(label)}</b></span><span class="bar"></span><span>for <b>{_e(label)}</b></span>
<span class="note">strongest |weight| = {scale:.4f}; hover a token for its weight</span></div>
<p class="text">{"".join(spans)}</p>
{truncated}
<h2>Most important tokens</h2>
<table><tr><th>token</th><th>position</th><th>weight</th></tr>{top_rows}</table>
<h2>Model probabilities</h2>
<table><tr><th>label</th><th>class</th><th>probability</th></tr>{prob_rows}</table>
<p class="note">Weights are LIME's: the change in the probability of {_e(label)} that a local linear model
attributes to each token being present (hidden tokens were {_e(_MASK_WORDS.get(params.get("mask_token"), "hidden"))}).</p>
</body>
</html>
"""


def save_text_html(explanation: TextExplanation, path) -> Path:
    """Write :func:`explanation_to_html` of ``explanation`` to ``path`` (UTF-8, atomically). Returns the path."""
    from .._home import atomic_write

    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(explanation_to_html(explanation), encoding="utf-8")
    return path
