"""From tokens to words: where each token sits in the raw text, how the text splits into words, and
which word each token belongs to. Used by :class:`~.explanation.TextExplanation` so that every text
method has a word level; no tokenizer is needed (the tokenizer's own offsets are used when an
adapter gives them).

The rules
---------
* **Token offsets.** Each token is looked up in the text, left to right, after lower-casing and
  removing accents (as BERT/ERNIE's basic tokenizer does); a WordPiece continuation's ``##``, a
  SentencePiece ``▁`` and a byte-BPE ``Ġ`` are dropped first. A token that cannot be found
  (``[UNK]``, a byte piece) gets the stretch of text between its found neighbours.
* **Words.** By default: runs of letters and digits (English words: the text split at whitespace
  and punctuation), each punctuation mark or symbol on its own, and one word per CJK ideograph
  (Chinese characters, Japanese kanji). A segmentation the caller passes (e.g. ``jieba.lcut(text)``,
  a list of strings found in the text in order) replaces this rule.
* **Tokens -> words.** A token belongs to the word that contains its first character (a token
  that starts in whitespace goes to the next word); words that one token covers together are one
  word (``<script>`` kept whole by the tokenizer). Words with no token (cut off at the model's
  ``max_length``) are left out.
* **Word weights** (:data:`AGGREGATIONS`): ``'sum'`` (default) adds its tokens' weights - the
  attributions of IG, GradientSHAP and occlusion are additive, so IG's completeness holds for words
  too; ``'mean'`` averages them; ``'max_abs'`` keeps the token weight of largest magnitude.
"""
from __future__ import annotations

import re
import unicodedata
from typing import List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["AGGREGATIONS", "align_tokens", "segment_words", "group_tokens", "aggregate", "check_segmentation"]

AGGREGATIONS = ("sum", "mean", "max_abs")
Span = Tuple[int, int]

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_DEFAULT_WORD = re.compile(f"[{_CJK}]|(?:(?![{_CJK}])\\w)+|[^\\w\\s]")
_PREFIXES = ("##", "\u2581", "\u0120")  # WordPiece continuation, SentencePiece word start, byte-BPE space


def _normalised(text: str):
    """``(normalised string, original index of each of its characters)``: lower case, accents removed."""
    chars, index = [], []
    for i, c in enumerate(text):
        for d in unicodedata.normalize("NFD", c.lower()):
            if unicodedata.category(d) != "Mn":
                chars.append(d)
                index.append(i)
    return "".join(chars), index


def _piece(token: str) -> str:
    for prefix in _PREFIXES:
        if token.startswith(prefix) and len(token) > len(prefix):
            token = token[len(prefix):]
            break
    return _normalised(token)[0]


def align_tokens(text: str, tokens: Sequence[str]) -> List[Span]:
    """``[(start, end), ...]``: the character span of every token in ``text`` (see the module rules)."""
    norm, index = _normalised(text)
    spans: List[Optional[Span]] = []
    cursor = 0
    for token in tokens:
        piece = _piece(str(token))
        at = norm.find(piece, cursor) if piece and not (piece.startswith("[") and piece.endswith("]")) else -1
        if at < 0:
            spans.append(None)
            continue
        start, end = index[at], index[at + len(piece) - 1] + 1
        spans.append((start, end))
        cursor = at + len(piece)
    # a run of tokens not found shares the text between the neighbours that were found: one default word
    # of that stretch each, in order (the last one takes what is left)
    resolved: List[Span] = list(spans)
    i = 0
    while i < len(spans):
        if spans[i] is not None:
            i += 1
            continue
        j = i
        while j < len(spans) and spans[j] is None:
            j += 1
        left = next((s[1] for s in reversed(spans[:i]) if s is not None), 0)
        right = max(next((s[0] for s in spans[j:] if s is not None), len(text)), left)
        pieces = [(left + a, left + b) for a, b in (m.span() for m in _DEFAULT_WORD.finditer(text[left:right]))]
        for k in range(i, j):
            r = k - i
            if not pieces:
                resolved[k] = (left, left)
            elif r < len(pieces) - 1 and k < j - 1:
                resolved[k] = pieces[r]
            elif r < len(pieces):
                resolved[k] = (pieces[r][0], pieces[-1][1])
            else:
                resolved[k] = pieces[-1]
        i = j
    return resolved


def check_segmentation(words, argument: str = "words") -> Optional[List[str]]:
    """None, or ``words`` as a list of non-empty strings; an error naming ``argument`` otherwise."""
    if words is None:
        return None
    if isinstance(words, (str, bytes)) or not hasattr(words, "__iter__"):
        raise TypeError(f"{argument} must be a list of words (e.g. jieba.lcut(text)) or None, got {words!r}")
    words = list(words)
    bad = [w for w in words if not isinstance(w, str)]
    if bad:
        raise TypeError(f"{argument} must hold strings; got {type(bad[0]).__name__}")
    return [w for w in words if w.strip()]


def segment_words(text: str, words: Optional[Sequence[str]] = None) -> List[Span]:
    """Character spans of the words of ``text``: ``words`` found in order, or the default rule."""
    if words is None:
        return [m.span() for m in _DEFAULT_WORD.finditer(text)]
    spans, cursor = [], 0
    for word in check_segmentation(words):
        word = word.strip()
        at = text.find(word, cursor)
        if at < 0 or text[cursor:at].strip():
            raise ValueError(f"words: {word!r} is not the next word of the text after position {cursor} "
                             "(the segmentation must list the text's words in order, e.g. jieba.lcut(text))")
        spans.append((at, at + len(word)))
        cursor = at + len(word)
    return spans


def group_tokens(token_spans: Sequence[Span], word_spans: Sequence[Span]) -> Tuple[List[int], List[Span]]:
    """``(word_of_token, words)``: the words that hold tokens (spans; words that one token covers
    together are merged into one, e.g. '<', 'script', '>' under the token '<script>') and for each
    token the index of its word, the one containing its first character (or the next one)."""
    n = len(word_spans)
    if n == 0:
        return [-1] * len(token_spans), []
    starts = np.asarray([a for a, _ in word_spans], dtype=np.int64)
    ends = np.asarray([b for _, b in word_spans], dtype=np.int64)
    first, last = [], []
    for start, end in token_spans:
        inside = np.flatnonzero((starts <= start) & (start < ends))
        if inside.size:
            f = int(inside[0])
        else:
            later = np.flatnonzero(starts >= start)  # starts in whitespace: the next word
            f = int(later[0]) if later.size else n - 1
        covered = np.flatnonzero((starts < end) & (ends > start))
        first.append(f)
        last.append(max(f, int(covered[-1])) if covered.size else f)
    group = list(range(n))  # group[w]: the first word of w's merged group
    for f, l in zip(first, last):
        for w in range(f + 1, l + 1):
            group[w] = group[f]
    for w in range(1, n):  # chains: a word merged into a word that was merged itself
        group[w] = group[group[w]]
    used = sorted({group[f] for f in first})
    merged_end = {}
    for w in range(n):
        merged_end[group[w]] = max(merged_end.get(group[w], 0), int(ends[w]))
    index = {g: i for i, g in enumerate(used)}
    words = [(int(starts[g]), merged_end[g]) for g in used]
    return [index[group[f]] for f in first], words


def aggregate(weights: np.ndarray, word_of_token: Sequence[int], num_words: int, rule: str = "sum") -> np.ndarray:
    """Per-word weights from per-token ``weights`` (see the module rules for ``rule``)."""
    if rule not in AGGREGATIONS:
        raise ValueError(f"rule must be one of {AGGREGATIONS}, got {rule!r}")
    weights = np.asarray(weights, dtype=np.float64)
    owner = np.asarray(word_of_token, dtype=np.int64)
    out = np.zeros(num_words, dtype=np.float64)
    for w in range(num_words):
        mine = weights[owner == w]
        if mine.size == 0:
            continue
        if rule == "sum":
            out[w] = mine.sum()
        elif rule == "mean":
            out[w] = mine.mean()
        else:
            out[w] = mine[np.argmax(np.abs(mine))]
    return out
