"""Self-contained HTML pages for text explanations: tokens (or words) coloured by their weight, for one
method (:func:`explanation_to_html`) or several side by side (:func:`explanations_to_html`)."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..engine.explanation import TextExplanation

__all__ = ["explanation_to_html", "save_text_html", "explanations_to_html", "save_text_comparison_html",
           "METHOD_TITLES"]

_GREEN = (26, 152, 80)   # speaks for the class
_RED = (215, 48, 39)     # speaks against it
_MAX_ALPHA = 0.85
_TOP_ROWS = 10
_MASK_WORDS = {"unk": "replaced by the unknown token", "pad": "replaced by padding", "remove": "removed",
               "mask": "replaced by the mask token"}
#: the name each text method is shown under
METHOD_TITLES = {"lime_text": "LIME", "intgrad_text": "Integrated Gradients", "smoothgrad_text": "SmoothGrad",
                 "gradshap_text": "GradientSHAP", "occlusion_text": "Occlusion", "normlime_text": "NormLIME",
                 "consensus_text": "Consensus"}
_NOTES = {
    "intgrad_text": "Integrated Gradients: (embeddings - baseline) times the gradient of {label} averaged along the "
                    "path, summed per token; the weights add up to the change of the score from the baseline.",
    "smoothgrad_text": "SmoothGrad: the token embeddings times the gradient of {label} averaged over noisy copies.",
    "gradshap_text": "GradientSHAP: expected gradients of {label} between noisy embeddings and baseline sequences.",
    "occlusion_text": "Occlusion: how much the probability of {label} drops when the token (its window) is hidden.",
    "normlime_text": "NormLIME: the global weight of each word for {label}, learnt by LIME over a corpus.",
    "consensus_text": "Consensus: one method's word weights under several models, each normalised, then averaged.",
}

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
td.method { font-weight: bold; white-space: nowrap; vertical-align: top; padding-top: 0.6em; }
td.line { font-size: 1.1em; line-height: 2.0; }
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


def _title(explanation) -> str:
    return METHOD_TITLES.get(explanation.method, explanation.method)


def _scale(weights: np.ndarray) -> float:
    finite = np.abs(weights[np.isfinite(weights)])
    return float(finite.max()) if finite.size else 0.0


def _token_spans(explanation: TextExplanation, weights: np.ndarray, scale: float) -> str:
    spans = []
    for i, (token, w) in enumerate(zip(explanation.tokens, weights)):
        shown, joins = _display(token)
        tip = f"{token} (token {i}): weight {w:+.4f}"
        span = f'<span class="tok" style="background-color:{_colour(w, scale)}" title="{_e(tip)}">{_e(shown)}</span>'
        spans.append(span if (joins or not spans) else " " + span)
    return "".join(spans)


def _word_spans(explanation: TextExplanation, weights: np.ndarray, scale: float) -> str:
    """The raw text with every word shaded (characters between words shown as they are)."""
    text, out, cursor = explanation.text, [], 0
    for i, ((start, end), w) in enumerate(zip(explanation.word_offsets, weights)):
        out.append(_e(text[cursor:start]))
        tip = f"{text[start:end]} (word {i}): weight {w:+.4f}"
        out.append(f'<span class="tok" style="background-color:{_colour(w, scale)}" title="{_e(tip)}">'
                   f'{_e(text[start:end])}</span>')
        cursor = end
    out.append(_e(text[cursor:]))
    return "".join(out)


def _check_level(level: str) -> str:
    if level not in ("token", "word"):
        raise ValueError(f"level must be 'token' or 'word', got {level!r}")
    return level


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
    scale = _scale(weights)
    label = explanation.label_names.get(target, str(target))
    params = explanation.params
    title = _title(explanation)
    spans = [_token_spans(explanation, weights, scale)]

    probs = np.asarray(explanation.class_probabilities, dtype=np.float64)
    names = list(explanation.class_names) or [str(i) for i in range(len(probs))]
    prob_rows = "".join(
        f"<tr><td>{_e(names[i] if i < len(names) else i)}</td><td class=\"num\">{i}</td>"
        f"<td class=\"num\">{probs[i]:.4f}</td></tr>" for i in np.argsort(-probs, kind="stable"))
    top = explanation.top_tokens(target, k=min(_TOP_ROWS, len(explanation.tokens)), absolute=True)
    top_rows = "".join(
        f"<tr><td>{_e(t.token)}</td><td class=\"num\">{t.position}</td><td class=\"num\">{t.weight:+.4f}</td></tr>"
        for t in top)
    top_words = explanation.top_words(target, k=min(_TOP_ROWS, len(explanation.words)) or None, absolute=True)
    word_rows = "".join(
        f"<tr><td>{_e(w.word)}</td><td class=\"num\">{w.start}&ndash;{w.end}</td>"
        f"<td class=\"num\">{w.weight:+.4f}</td></tr>" for w in top_words)

    if len(probs):
        predicted = (f"Predicted: <b>{_e(explanation.predicted_label)}</b> "
                     f"(class {explanation.predicted_class}, p = {probs[explanation.predicted_class]:.3f}).")
    else:
        predicted = ""
    probability = explanation.probabilities.get(target, float("nan"))
    score = explanation.scores.get(target, float("nan"))
    run = []
    if "steps" in params:
        run.append(f"{_e(params['steps'])} steps")
    if "baseline" in params:
        run.append(f"baseline {_e(params['baseline'])}")
    if "n_samples" in params:
        run.append(f"{_e(params['n_samples'])} samples")
    if "window" in params:
        run.append(f"window {_e(params['window'])}")
    if "num_samples" in params:
        run.append(f"{_e(params['num_samples'])} samples")
    if "mask_token" in params:
        run.append(f"mask {_e(params['mask_token'])}")
    if params.get("random_state") is not None:
        run.append(f"seed {_e(params['random_state'])}")
    run = ", ".join(run) or _e(title)
    if explanation.method == "lime_text" or target in explanation.scores:
        fit = f"Local fit R&sup2; = {score:.3f} ({run})."
    else:
        fit = f"{_e(title)} ({run})."
        gap = params.get("completeness", {}).get(str(target)) if isinstance(params.get("completeness"), dict) else None
        if isinstance(gap, dict) and "relative_gap" in gap:
            fit += f" Completeness gap {100 * float(gap['relative_gap']):.2f}%."
    if explanation.method in _NOTES:
        note = _e(_NOTES[explanation.method].format(label=label))
    elif explanation.method != "lime_text" and target not in explanation.scores:
        note = f"Weights are {_e(title)}'s per-token scores for {_e(label)}."
    else:
        note = (f"Weights are {_e(title)}'s: the change in the probability of {_e(label)} that a local linear model "
                f"attributes to each token being present (hidden tokens were "
                f"{_e(_MASK_WORDS.get(params.get('mask_token'), 'hidden'))}).")
    truncated = ('<p class="note">The text was longer than the model accepts; only the tokens shown were '
                 'explained.</p>' if params.get("truncated") else "")

    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} text explanation: {_e(label)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{_e(title)} text explanation</h1>
<p class="summary">{predicted}
Explained: <b>{_e(label)}</b> (class {target}, p = {probability:.3f}).
{fit}</p>
<div class="legend"><span>against <b>{_e(label)}</b></span><span class="bar"></span><span>for <b>{_e(label)}</b></span>
<span class="note">strongest |weight| = {scale:.4f}; hover a token for its weight</span></div>
<p class="text">{"".join(spans)}</p>
{truncated}
<h2>Most important tokens</h2>
<table><tr><th>token</th><th>position</th><th>weight</th></tr>{top_rows}</table>
<h2>Most important words</h2>
<table><tr><th>word</th><th>characters</th><th>weight (sum of its tokens)</th></tr>{word_rows}</table>
<h2>Model probabilities</h2>
<table><tr><th>label</th><th>class</th><th>probability</th></tr>{prob_rows}</table>
<p class="note">{note}</p>
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


def explanations_to_html(explanations: Sequence[TextExplanation], target: Optional[int] = None,
                         level: str = "token") -> str:
    """One page with several explanations of the same text side by side (one row per method).

    Each row is shaded on its own scale (its strongest |weight| fully; methods' weights have
    different units), green for and red against the class, with the legend on top; hovering
    shows a weight. Everything is escaped; the page has no scripts and no links.

    Parameters
    ----------
    explanations : sequence of TextExplanation
        Explanations of one text (e.g. from ``interpret.compare_text``); at least one.
    target : int, optional
        The class shown; default the first explanation's primary class (every explanation must
        have explained it).
    level : {'token', 'word'}, default 'token'
        Shade tokens, or words of the raw text (:attr:`TextExplanation.words`).
    """
    level = _check_level(level)
    explanations = list(explanations)
    if not explanations or not all(isinstance(e, TextExplanation) for e in explanations):
        raise TypeError("explanations must be a non-empty list of TextExplanation objects")
    texts = {e.text for e in explanations}
    if len(texts) != 1:
        raise ValueError("explanations must all explain the same text")
    first = explanations[0]
    target = first.target if target is None else int(target)
    label = first.label_names.get(target, str(target))
    rows = []
    for exp in explanations:
        if level == "token":
            weights = np.asarray(exp.weights_of(target), dtype=np.float64)
            line = _token_spans(exp, weights, _scale(weights))
        else:
            weights = exp.word_weights(target)
            line = _word_spans(exp, weights, _scale(weights))
        rows.append(f'<tr><td class="method">{_e(_title(exp))}</td><td class="line">{line}</td>'
                    f'<td class="num note">max |w| {_scale(weights):.4f}</td></tr>')
    probs = np.asarray(first.class_probabilities, dtype=np.float64)
    predicted = (f"Predicted: <b>{_e(first.predicted_label)}</b> (class {first.predicted_class}, "
                 f"p = {probs[first.predicted_class]:.3f}). " if len(probs) else "")
    probability = first.probabilities.get(target, float("nan"))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Text explanations compared: {_e(label)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Text explanations compared</h1>
<p class="summary">{predicted}Explained: <b>{_e(label)}</b> (class {target}, p = {probability:.3f}).
{len(explanations)} methods, one row each ({level} level).</p>
<div class="legend"><span>against <b>{_e(label)}</b></span><span class="bar"></span><span>for <b>{_e(label)}</b></span>
<span class="note">each row on its own scale; hover a {level} for its weight</span></div>
<table>{"".join(rows)}</table>
<p class="note">Text: {_e(first.text)}</p>
</body>
</html>
"""


def save_text_comparison_html(explanations: Sequence[TextExplanation], path, target: Optional[int] = None,
                              level: str = "token") -> Path:
    """Write :func:`explanations_to_html` to ``path`` (UTF-8, atomically). Returns the path."""
    from .._home import atomic_write

    page = explanations_to_html(explanations, target=target, level=level)
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
