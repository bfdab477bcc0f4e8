"""The attention methods on PaddleNLP ERNIE text classifiers (run in .venv-nlp: -m paddlenlp)."""
import numpy as np
import pytest

from _text_models import (HELD_OUT, POSITIVE, KeywordBag, VOCAB, ernie_tokenizer, random_ernie, trained_ernie,
                          write_vocab)

pytestmark = pytest.mark.paddlenlp

METHODS = [("rollout_text", {}), ("generic_attention_text", {}), ("tam_text", {"steps": 8}),
           ("bidirectional_text", {"steps": 8}), ("bidirectional_text", {"steps": 8, "mode": "token"})]
IDS = [f"{m}-{p.get('mode', '')}" for m, p in METHODS]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return ernie_tokenizer(write_vocab(tmp_path_factory.mktemp("vocab")))


@pytest.fixture(scope="module")
def trained(tokenizer):
    from paddlex_interpret.models import as_text_classifier

    return as_text_classifier(trained_ernie(tokenizer), tokenizer)


def _method(name):
    from paddlex_interpret.engine import get_method

    return get_method(name).load()


@pytest.mark.parametrize("name,params", METHODS, ids=IDS)
def test_keyword_gets_the_most_relevance(trained, name, params):
    """ERNIE trained on sentences that are positive iff they contain 'good' (tests/_text_models.py):
    explaining class 1, 'good' should be the top token. Chance is 1/len(tokens) (1/4-1/9 here)."""
    texts = [t for t in POSITIVE if "good" in t.split()] + [HELD_OUT]
    hits = []
    for text in texts:
        explanation = _method(name)(trained, **params).explain(text, targets=1)
        assert explanation.tokens == text.split() and explanation.weights[1].shape == (len(explanation.tokens),)
        assert (explanation.weights[1] >= 0).all()
        hits.append(explanation.top_tokens(k=1)[0].token == "good")
    rate = float(np.mean(hits))
    print(f"{name} {params}: 'good' on top in {rate:.2f} of {len(texts)} texts")
    # measured: 'good' on top in 11 of 11 texts for every method; require 80% (chance is at most 25%)
    assert rate >= 0.8, f"{name}: 'good' on top in {rate:.2f}"


def test_captured_attention_is_the_softmax_of_the_projections(tokenizer):
    from paddlex_interpret.models import as_text_classifier
    from paddlex_interpret.models.base import text_attention_model

    model = random_ernie(seed=3)
    clf = as_text_classifier(model, tokenizer)
    capture = text_attention_model(clf)
    _, ids, _ = clf.encode("the movie was good")
    q, k = [], []
    handles = []
    for layer in capture.layers:
        handles.append(layer.self_attn.q_proj.register_forward_post_hook(lambda _l, _i, out: q.append(out.numpy())))
        handles.append(layer.self_attn.k_proj.register_forward_post_hook(lambda _l, _i, out: k.append(out.numpy())))
    try:
        attentions, _, _ = capture.run(ids)
    finally:
        for h in handles:
            h.remove()
    heads = capture.num_heads
    assert len(attentions) == 2 and attentions[0].shape == (1, heads, len(ids) + 2, len(ids) + 2)
    for layer in range(2):
        n, s, d = q[layer].shape
        qh = q[layer].reshape(n, s, heads, d // heads).transpose(0, 2, 1, 3).astype(np.float64)
        kh = k[layer].reshape(n, s, heads, d // heads).transpose(0, 2, 1, 3).astype(np.float64)
        logits = qh @ np.swapaxes(kh, -1, -2) / np.sqrt(d // heads)
        soft = np.exp(logits - logits.max(axis=-1, keepdims=True))
        soft /= soft.sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(attentions[layer], soft, atol=1e-5)


def _state(model):
    return ([p.numpy().copy() for p in model.parameters()], [s.training for s in model.sublayers(include_self=True)],
            [getattr(s, "need_weights", None) for s in model.sublayers()],
            [(len(s._forward_pre_hooks), len(s._forward_post_hooks)) for s in model.sublayers(include_self=True)])


@pytest.mark.parametrize("name,params", METHODS, ids=IDS)
def test_model_unchanged_and_deterministic(tokenizer, name, params):
    from paddlex_interpret.models import as_text_classifier

    model = random_ernie(seed=4)
    model.train()
    clf = as_text_classifier(model, tokenizer)
    before = _state(model)
    a = _method(name)(clf, **params).explain("the plot was good but slow", targets=[0, 1])
    after = _state(model)
    for x, y in zip(before[0], after[0]):
        np.testing.assert_array_equal(x, y)
    assert before[1:] == after[1:] and all(p.grad is None for p in model.parameters())
    b = _method(name)(clf, **params).explain("the plot was good but slow", targets=[0, 1])
    for c in (0, 1):
        np.testing.assert_array_equal(a.weights[c], b.weights[c])
    assert a.params["start_layer"] == 0 and a.params["readout_row"] == 0


def test_closed_forms_on_a_real_model(tokenizer):
    from paddlex_interpret.models import as_text_classifier

    clf = as_text_classifier(random_ernie(seed=5), tokenizer)
    text = "a film with a fun plot"
    # Generic Attention started past the last layer: R = I, every content token 0
    ga = _method("generic_attention_text")(clf, start_layer=2).explain(text, targets=0)
    np.testing.assert_array_equal(ga.weights[0], np.zeros(6))
    # Rollout rows are distributions: the [CLS] row's content part is in (0, 1)
    ro = _method("rollout_text")(clf).explain(text, targets=0)
    assert (ro.weights[0] > 0).all() and ro.weights[0].sum() < 1
    with pytest.raises(ValueError, match=r"valid: 0..1"):
        _method("tam_text")(clf, start_layer=2)


def test_free_functions_write_html_and_round_trip(trained, tokenizer, tmp_path):
    from paddlex_interpret import interpret
    from paddlex_interpret.engine import load_explanation

    for fn, kw in ((interpret.rollout_text, {}), (interpret.generic_attention_text, {}),
                   (interpret.tam_text, {"steps": 4}), (interpret.bidirectional_text, {"steps": 4})):
        explanation = fn("the <b>acting</b> is good", trained, save_dir=tmp_path, name="t", **kw)
        page = (tmp_path / f"t_{explanation.method}.html").read_text(encoding="utf-8")
        assert "<b>acting" not in page  # escaped
        back = load_explanation(explanation.save(tmp_path / f"{explanation.method}.npz"))
        np.testing.assert_allclose(back.weights[explanation.target], explanation.weights[explanation.target])


def test_models_without_attention_outputs_are_refused(tokenizer):
    from paddlex_interpret.models import as_text_classifier
    from paddlex_interpret.models.attention import AttentionUnavailableError

    bag = as_text_classifier(KeywordBag(len(VOCAB), VOCAB.index("good")), tokenizer)
    with pytest.raises(AttentionUnavailableError, match="output_attentions.*lime_text"):
        _method("rollout_text")(bag)
