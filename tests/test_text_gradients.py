"""Gradient methods on token embeddings (Integrated Gradients, SmoothGrad, GradientSHAP) and text
occlusion: axioms, known answers, finite differences, seeds, batch sizes and the model left as it was."""
import numpy as np
import paddle
import pytest

from _text_models import HELD_OUT, KeywordBag, VOCAB, bert_tokenizer, ernie_tokenizer, random_ernie, \
    trained_ernie, write_vocab
from paddlex_interpret import interpret
from paddlex_interpret.engine import TextExplanation, get_method, method_names
from paddlex_interpret.models import as_text_classifier

pytestmark = pytest.mark.paddlenlp

GRADIENT_METHODS = ("intgrad_text", "smoothgrad_text", "gradshap_text")
FAST = {"intgrad_text": dict(steps=20), "smoothgrad_text": dict(n_samples=8, random_state=0),
        "gradshap_text": dict(n_samples=8, random_state=0), "occlusion_text": dict(),
        "lime_text": dict(num_samples=200, random_state=0, progress=False)}


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    return write_vocab(tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="module")
def bert_tok(vocab_file):
    return bert_tokenizer(vocab_file)


@pytest.fixture(scope="module")
def ernie_tok(vocab_file):
    return ernie_tokenizer(vocab_file)


@pytest.fixture(scope="module")
def bag(bert_tok):
    return as_text_classifier(KeywordBag(len(VOCAB), bert_tok.convert_tokens_to_ids("good")), bert_tok)


@pytest.fixture(scope="module")
def ernie(ernie_tok):
    return trained_ernie(ernie_tok)


@pytest.fixture(scope="module")
def ernie_clf(ernie, ernie_tok):
    return as_text_classifier(ernie, ernie_tok)


def run(name, classifier, text, **kwargs):
    params = {**FAST[name], **kwargs}
    targets = params.pop("_t", None)
    return get_method(name).load()(classifier, **params).explain(text, targets=targets)


# -- axioms ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("baseline", ["pad", "unk", "mask", "zero"])
def test_integrated_gradients_completeness_on_the_trained_ernie(ernie, ernie_tok, baseline):
    exp = interpret.intgrad_text(HELD_OUT, ernie, ernie_tok, steps=200, baseline=baseline, target=[1, 0])
    for target in (1, 0):
        record = exp.params["completeness"][str(target)]
        change = record["f_input"] - record["f_baseline"]
        total = exp.weights[target].sum() + exp.params["special_tokens_attribution"][str(target)]
        assert total == pytest.approx(record["attribution_sum"], abs=1e-9)
        assert abs(total - change) <= 0.01 * abs(change), (baseline, target, record)
        assert record["relative_gap"] < 0.01
    assert abs(exp.params["completeness"]["1"]["f_input"] - exp.probability) < 1e-5
    # a baseline that keeps [CLS]/[SEP] gives them nothing; zero embeddings everywhere do not
    if baseline != "zero":
        assert exp.params["special_tokens_attribution"]["1"] == 0.0
    # two classes of a 2-class softmax: the probabilities' attributions cancel token by token
    np.testing.assert_allclose(exp.weights[1], -exp.weights[0], atol=1e-5)


def test_attribution_is_zero_when_the_input_is_the_baseline(ernie_clf):
    text = "zyx qwv"                       # two words the vocabulary lacks: [UNK] [UNK] = the 'unk' baseline
    assert ernie_clf.tokenize(text).tokens == ["[UNK]", "[UNK]"]
    ig = run("intgrad_text", ernie_clf, text, baseline="unk", steps=10)
    np.testing.assert_array_equal(ig.weights_of(), 0.0)
    assert ig.params["completeness"][str(ig.target)]["f_input"] == ig.params["completeness"][str(ig.target)]["f_baseline"]
    shap = run("gradshap_text", ernie_clf, text, baselines="unk", noise_amount=0.0)
    np.testing.assert_array_equal(shap.weights_of(), 0.0)


@pytest.mark.parametrize("which", ["tiny random", "trained"])
def test_smoothgrad_without_noise_is_the_finite_difference_of_each_token(which, transformers_tiny, ernie, ernie_tok):
    """With no noise and one sample, SmoothGrad's weight of token i (gradient x input, summed) is the
    derivative of the logit along that token's own embedding: compared with a central difference. On the
    trained model (LayerNorm scales != 1) this fails without the adapter's LayerNorm workaround."""
    clf = as_text_classifier(transformers_tiny if which == "tiny random" else ernie, ernie_tok)
    text = "the plot was good but slow"
    exp = interpret.smoothgrad_text(text, clf, n_samples=1, noise_amount=0.0, gradient_of="logit", target=1,
                                    random_state=0)
    ids = clf.tokenize(text).ids
    emb = clf.input_embeddings([ids])[0].astype(np.float64)
    start = clf.content_start(len(ids))
    eps = 1e-2

    def logit(e):
        with paddle.no_grad():
            out = clf.embedding_forward([ids], paddle.to_tensor(e[None].astype("float32")))
        return float(out.numpy()[0, 1])

    for i in range(len(ids)):
        up, down = emb.copy(), emb.copy()
        up[start + i] *= 1 + eps
        down[start + i] *= 1 - eps
        fd = (logit(up) - logit(down)) / (2 * eps)
        assert exp.weights[1][i] == pytest.approx(fd, rel=0.02, abs=2e-4), i


@pytest.fixture(scope="module")
def transformers_tiny():
    return random_ernie(seed=3, hidden_size=16, num_hidden_layers=1, intermediate_size=32)


# -- known answers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["intgrad_text", "smoothgrad_text", "gradshap_text", "occlusion_text", "lime_text"])
def test_every_method_ranks_the_keyword_first(name, bag, ernie_clf):
    exp = run(name, bag, "the movie was fun but the plot was good")
    assert exp.target == 1 and exp.top_tokens(k=1)[0].token == "good", exp.weights
    others = np.delete(exp.weights_of(), 8)
    assert np.all(np.abs(others) < 0.05 * abs(exp.weights_of()[8]))      # the bag ignores every other word
    trained = run(name, ernie_clf, HELD_OUT)
    assert trained.label_name == "positive" and trained.top_tokens(k=1)[0].token == "good", trained.weights
    assert trained.top_words(k=1)[0].word == "good"


def test_gradient_methods_work_inside_a_callers_no_grad(bag):
    with paddle.no_grad():
        exp = interpret.intgrad_text("good plot", bag, steps=20, target=1)
        assert not paddle.is_grad_enabled()                               # the caller's setting is kept
    assert exp.top_tokens(k=1)[0].token == "good" and exp.weights[1][0] > 0.4


def test_keyword_bag_integrated_gradients_closed_form(bag):
    """p = sigmoid(3 * count('good')): with the [PAD] baseline IG gives 'good' exactly p(text) - 1/2."""
    exp = interpret.intgrad_text("good plot and good music", bag, steps=200, target=1)
    p = 1 / (1 + np.exp(-6.0))
    np.testing.assert_allclose(exp.weights[1][[0, 3]], (p - 0.5) / 2, rtol=1e-4)
    np.testing.assert_allclose(exp.weights[1][[1, 2, 4]], 0.0, atol=1e-9)
    assert interpret.intgrad_text("good plot", bag, reduction="l2", steps=20).weights_of().min() >= 0


# -- reproducibility ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GRADIENT_METHODS + ("occlusion_text",))
def test_batch_size_does_not_change_results_and_seeds_repeat(name, ernie_clf):
    a = run(name, ernie_clf, HELD_OUT, batch_size=3)
    b = run(name, ernie_clf, HELD_OUT, batch_size=64)
    np.testing.assert_allclose(a.weights_of(), b.weights_of(), rtol=1e-4, atol=1e-7)
    assert a.params["batch_size"] == 3
    if name in ("smoothgrad_text", "gradshap_text"):
        assert a.params["random_state"] == 0
        other = run(name, ernie_clf, HELD_OUT, random_state=1)
        assert not np.allclose(other.weights_of(), a.weights_of())
        drawn = run(name, ernie_clf, HELD_OUT, random_state=None)
        assert isinstance(drawn.params["random_state"], int)
        again = run(name, ernie_clf, HELD_OUT, random_state=drawn.params["random_state"])
        np.testing.assert_array_equal(again.weights_of(), drawn.weights_of())


def test_smoothgrad_noise_follows_the_spread_of_the_embeddings(ernie_clf):
    exp = run("smoothgrad_text", ernie_clf, HELD_OUT, noise_amount=0.2)
    ids = ernie_clf.tokenize(HELD_OUT).ids
    emb = ernie_clf.input_embeddings([ids])[0][1:1 + len(ids)]
    assert exp.params["noise"]["1"]["noise_std"] == pytest.approx(0.2 * emb.std(), rel=1e-5)
    assert abs(emb.mean()) < 0.5 * emb.std()      # the mean would give almost no noise


def test_occlusion_windows_and_mask_tokens(bag):
    uni = run("occlusion_text", bag, "good plot and good music", _t=1)
    p2, p1 = 1 / (1 + np.exp(-6.0)), 1 / (1 + np.exp(-3.0))
    np.testing.assert_allclose(uni.weights[1], [p2 - p1, 0, 0, p2 - p1, 0], atol=1e-9)
    bi = run("occlusion_text", bag, "good plot and good music", window=2, mask_token="remove", _t=1)
    # windows (0,1) (1,2) (2,3) (3,4): token 0 only in the first, which hides one 'good'
    assert bi.params["num_windows"] == 4 and bi.weights[1][0] == pytest.approx(p2 - p1)
    assert bi.weights[1][1] == pytest.approx((p2 - p1) / 2)
    with pytest.raises(ValueError, match="mask_token"):
        run("occlusion_text", bag, "good", mask_token="zero")


# -- the model is left as it was --------------------------------------------------------------------------
@pytest.mark.parametrize("name", GRADIENT_METHODS + ("occlusion_text",))
def test_model_flags_parameters_hooks_and_globals_unchanged(name, ernie, ernie_tok):
    ernie.train()
    ernie.classifier.eval()
    try:
        layers = ernie.sublayers(include_self=True)
        flags = [layer.training for layer in layers]
        params = {n: p.numpy().copy() for n, p in ernie.named_parameters()}
        grads = {n: None if p.grad is None else p.grad.numpy().copy() for n, p in ernie.named_parameters()}
        hooks = [(len(layer._forward_pre_hooks), len(layer._forward_post_hooks)) for layer in layers]
        glob = (paddle.is_grad_enabled(), paddle.get_default_dtype(), paddle.get_device(), paddle.in_dynamic_mode())
        dropout = ernie.config.hidden_dropout_prob

        clf = as_text_classifier(ernie, ernie_tok)
        first = run(name, clf, HELD_OUT)
        second = run(name, clf, HELD_OUT)
        np.testing.assert_allclose(first.weights_of(), second.weights_of(), rtol=1e-6)   # eval mode: no dropout
        assert first.label_name == "positive"

        assert [layer.training for layer in layers] == flags
        for n, p in ernie.named_parameters():
            np.testing.assert_array_equal(p.numpy(), params[n])
            if grads[n] is None:                        # no gradient computed or accumulated
                assert p.grad is None
            else:
                np.testing.assert_array_equal(p.grad.numpy(), grads[n])
        assert [(len(layer._forward_pre_hooks), len(layer._forward_post_hooks)) for layer in layers] == hooks
        assert (paddle.is_grad_enabled(), paddle.get_default_dtype(), paddle.get_device(),
                paddle.in_dynamic_mode()) == glob
        assert ernie.config.hidden_dropout_prob == dropout
    finally:
        ernie.eval()


# -- the task API, the registry, errors --------------------------------------------------------------------
def test_free_functions_write_one_page_each_and_round_trip(ernie, ernie_tok, tmp_path):
    for name in GRADIENT_METHODS + ("occlusion_text",):
        exp = getattr(interpret, name)(HELD_OUT, ernie, ernie_tok, save_dir=tmp_path, name="review",
                                       **{k: v for k, v in FAST[name].items()})
        assert exp.method == name and exp.html_path == str(tmp_path / f"review_{name}.html")
        page = (tmp_path / f"review_{name}.html").read_text(encoding="utf-8")
        assert ">good</span>" in page and "positive" in page
        back = TextExplanation.load(exp.save(tmp_path / name))
        np.testing.assert_array_equal(back.weights_of(), exp.weights_of())
        assert back.params == exp.params and back.offsets == exp.offsets
    assert sorted(p.name for p in tmp_path.glob("*.html")) == sorted(f"review_{n}.html" for n in
                                                                     GRADIENT_METHODS + ("occlusion_text",))
    assert set(method_names(explains="text")) >= set(GRADIENT_METHODS) | {"occlusion_text", "lime_text"}
    assert all(get_method(n).needs == "gradients" and get_method(n).figure == "html" for n in GRADIENT_METHODS)


def test_errors_name_the_argument(ernie, ernie_tok, bag):
    with pytest.raises(ValueError, match="baseline must be one of"):
        interpret.intgrad_text(HELD_OUT, ernie, ernie_tok, baseline="blank")
    with pytest.raises(ValueError, match="reduction must be one of"):
        interpret.smoothgrad_text(HELD_OUT, ernie, ernie_tok, reduction="max")
    with pytest.raises(ValueError, match="baselines must be one of"):
        interpret.gradshap_text(HELD_OUT, ernie, ernie_tok, baselines=[])
    with pytest.raises(TypeError, match="steps"):
        interpret.intgrad_text(HELD_OUT, ernie, ernie_tok, steps=2.5)
    with pytest.raises(ValueError, match="text is empty"):
        interpret.intgrad_text("  ", ernie, ernie_tok)
    with pytest.raises(ValueError, match="target=4 is out of range"):
        interpret.occlusion_text(HELD_OUT, ernie, ernie_tok, target=4)
    with pytest.raises(ValueError, match="words"):
        interpret.intgrad_text(HELD_OUT, ernie, ernie_tok, words=["not", "these"])

    class NoEmbedding(paddle.nn.Layer):
        def forward(self, input_ids, attention_mask=None):
            return paddle.nn.functional.one_hot(input_ids[:, 0] % 2, 2)

    clf = as_text_classifier(NoEmbedding(), ernie_tok)
    with pytest.raises(TypeError, match="needs gradients .* no token-embedding layer.*occlusion_text"):
        interpret.intgrad_text(HELD_OUT, clf)
    assert interpret.occlusion_text(HELD_OUT, clf).num_tokens == 9       # black-box methods still work
    with pytest.raises(ValueError, match="embedding_layer='nope' is not a sublayer"):
        as_text_classifier(ernie, ernie_tok, embedding_layer="nope")
    named = as_text_classifier(ernie, ernie_tok, embedding_layer="ernie.embeddings.word_embeddings")
    assert named.embedding_layer() is ernie.get_input_embeddings()


def test_cli_explains_a_saved_model_with_the_text_methods(ernie, ernie_tok, tmp_path, capsys):
    from paddlex_interpret.cli import main

    folder = tmp_path / "ernie"
    ernie.save_pretrained(str(folder))
    ernie_tok.save_pretrained(str(folder))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the movie was good\nthe plot was slow\n\na good film\n", encoding="utf-8")
    for method, options in (("intgrad_text", ["--steps", "20", "--baseline", "unk"]),
                            ("gradshap_text", ["--n-samples", "6", "--baselines", "pad,mask"]),
                            ("normlime_text", ["--corpus", str(corpus), "--num-samples", "40"]),
                            ("occlusion_text", ["--window", "2"])):
        rc = main(["explain", method, HELD_OUT, "--model", str(folder), *options, "--save-dir", str(tmp_path / "out"),
                   "--name", "review", "--save-explanation"])
        captured = capsys.readouterr()
        out = captured.out
        assert rc == 0, captured.err
        assert "(positive)" in out and "tokens for the class: good" in out
        saved = TextExplanation.load(tmp_path / "out" / f"review_{method}.npz")
        assert saved.method == method and (tmp_path / "out" / f"review_{method}.html").is_file()
    assert saved.params["window"] == 2
    normlime = TextExplanation.load(tmp_path / "out" / "review_normlime_text.npz")
    assert normlime.params["weights_reused"] is False and (tmp_path / "out" / "normlime_text_weights.npz").is_file()
    assert TextExplanation.load(tmp_path / "out" / "review_gradshap_text.npz").params["baselines"] == ["pad", "mask"]
