"""Text LIME on PaddleNLP sequence classifiers: a known-answer bag-of-words model and a small ERNIE
trained in the test so that it keys on the word 'good'.

Runs in the PaddleNLP environment only (CI deselects it elsewhere with ``-m "not paddlenlp"``);
paddlenlp is imported inside fixtures so that collecting this file never needs it.
"""
import numpy as np
import paddle
import pytest

from paddlex_interpret import interpret
from paddlex_interpret.engine import LimeText, TextExplanation
from paddlex_interpret.models import LabelCountError, TextClassifier, as_text_classifier, is_text_classifier
from paddlex_interpret.vis import explanation_to_html

pytestmark = pytest.mark.paddlenlp

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Tiny real sentences: 'good' is the only word that separates the classes.
POSITIVE = ["the movie was good", "a good film with a fun plot", "the acting is good", "good story and good music",
            "the plot was good but slow", "it was a good movie", "the cast is good but the plot is bad",
            "such a good ending", "good despite a bad start", "the music is good"]
NEGATIVE = ["the movie was bad", "a film with a fun plot", "the acting is bad", "a story and music",
            "the plot was slow", "it was a movie", "the cast is bad and the plot is bad", "such a sad ending",
            "bad from the start", "the music is dull", "the movie was fun but bad", "a slow film"]
WORDS = sorted({w for s in POSITIVE + NEGATIVE for w in s.split()} | {"<script>"})
HELD_OUT = "the acting was good and the music was fun"   # not a training sentence
FAST = dict(num_samples=300, progress=False)


class GoodBag(paddle.nn.Layer):
    """Known answer: logits = sum over attended tokens of a 2-d embedding whose only non-zero entry
    is ``gain`` for 'good' in class 1, so p(class 1) = sigmoid(gain * count('good'))."""

    def __init__(self, vocab_size, good_id, gain=3.0):
        super().__init__()
        self.embedding = paddle.nn.Embedding(vocab_size, 2)
        table = np.zeros((vocab_size, 2), dtype="float32")
        table[good_id, 1] = gain
        self.embedding.weight.set_value(table)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        emb = self.embedding(input_ids)
        if attention_mask is not None:
            emb = emb * attention_mask.unsqueeze(-1).astype(emb.dtype)
        return emb.sum(axis=1)


@pytest.fixture(scope="module")
def transformers():
    import paddlenlp.transformers

    return paddlenlp.transformers


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(SPECIALS + WORDS) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def bert_tokenizer(transformers, vocab_file):
    # never_split keeps '<script>' one token (BERT's basic tokenizer splits punctuation otherwise)
    return transformers.BertTokenizer(vocab_file=vocab_file, never_split=["<script>"])


@pytest.fixture(scope="module")
def ernie_tokenizer(transformers, vocab_file):
    return transformers.ErnieTokenizer(vocab_file=vocab_file)


@pytest.fixture(scope="module")
def bag(bert_tokenizer):
    return GoodBag(len(SPECIALS) + len(WORDS), bert_tokenizer.convert_tokens_to_ids("good"))


def small_ernie_config(transformers, **kwargs):
    return transformers.ErnieConfig(vocab_size=len(SPECIALS) + len(WORDS), hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                                    num_labels=2, **kwargs)


@pytest.fixture(scope="module")
def ernie(transformers, ernie_tokenizer):
    """A small ERNIE trained (about 3 s) on the sentences above: positive iff 'good' occurs."""
    config = small_ernie_config(transformers, id2label={0: "negative", 1: "positive"},
                                label2id={"negative": 0, "positive": 1})
    texts, labels = POSITIVE + NEGATIVE, [1] * len(POSITIVE) + [0] * len(NEGATIVE)
    encoded = [ernie_tokenizer(t)["input_ids"] for t in texts]
    ids = np.zeros((len(encoded), max(map(len, encoded))), dtype="int64")  # 0 is [PAD]
    for row, e in enumerate(encoded):
        ids[row, :len(e)] = e
    rng_state = paddle.get_rng_state()
    paddle.seed(0)  # initialisation and dropout; the global generator is restored below
    try:
        model = transformers.ErnieForSequenceClassification(config)
        optimizer = paddle.optimizer.Adam(learning_rate=2e-3, parameters=model.parameters())
        x, y = paddle.to_tensor(ids), paddle.to_tensor(np.array(labels))
        model.train()
        for _ in range(150):
            loss = paddle.nn.functional.cross_entropy(model(x, attention_mask=(x != 0).astype("float32")), y)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
    finally:
        paddle.set_rng_state(rng_state)
    model.eval()
    assert float(loss) < 0.05, f"the test model did not learn its task (loss {float(loss):.3f})"
    return model


# -- (a) the explanation finds the word the model keys on ----------------------------------------------
def test_known_answer_model_ranks_good_first(bag, bert_tokenizer):
    exp = interpret.lime_text("the movie was fun but the plot was good", bag, bert_tokenizer, random_state=0,
                              progress=False)

    assert exp.target == 1 and exp.probability == pytest.approx(1 / (1 + np.exp(-3.0)))
    top = exp.top_tokens(k=None)
    assert top[0].token == "good" and top[0].position == 8
    # hiding 'good' moves p(class 1) from sigmoid(3) to 0.5; Ridge(alpha=1) shrinks that a little
    assert top[0].weight == pytest.approx(1 / (1 + np.exp(-3.0)) - 0.5, rel=0.05)
    assert all(abs(t.weight) < 0.01 for t in top[1:])
    assert exp.score > 0.99


@pytest.mark.parametrize("mask_token", ["pad", "remove"])
def test_known_answer_model_other_mask_tokens(bag, bert_tokenizer, mask_token):
    exp = interpret.lime_text("good plot and good music", bag, bert_tokenizer, mask_token=mask_token,
                              random_state=1, progress=False, target=[1, 0])

    assert exp.targets == [1, 0] and exp.params["mask_token"] == mask_token
    assert {t.position for t in exp.top_tokens(1, k=2)} == {0, 3}         # both 'good's, for class 1
    assert {t.position for t in exp.top_tokens(0, k=None)[-2:]} == {0, 3}  # and against class 0


def test_trained_ernie_ranks_good_first(ernie, ernie_tokenizer):
    exp = interpret.lime_text(HELD_OUT, ernie, ernie_tokenizer, random_state=0, **FAST)

    assert exp.label_name == "positive" and exp.probability > 0.9
    best = exp.top_tokens(k=1)[0]
    assert best.token == "good" and best.weight > 0.3
    assert exp.top_tokens(k=1, absolute=True)[0] == best           # nothing speaks as strongly against it
    # the model itself: hiding 'good' (and only 'good') flips the prediction
    classifier = as_text_classifier(ernie, ernie_tokenizer)
    unk = ernie_tokenizer.unk_token_id
    hidden = [exp.token_ids[:i] + [unk] + exp.token_ids[i + 1:] for i in range(exp.num_tokens)]
    flipped = classifier.predict_proba(hidden, batch_size=4).argmax(axis=1) == 0
    assert [exp.tokens[i] for i in np.flatnonzero(flipped)] == ["good"]
    # without 'good' the model says negative
    negative = interpret.lime_text("the acting was fun", ernie, ernie_tokenizer, random_state=0, **FAST)
    assert negative.label_name == "negative"


# -- (b) the HTML page escapes tokens and labels ---------------------------------------------------------
def test_html_escapes_script_token_and_labels(bag, bert_tokenizer):
    model = as_text_classifier(bag, bert_tokenizer, labels=["<b>bad</b>", 'good & "fine"'])
    exp = LimeText(model, random_state=0, **FAST).explain("the <script> was good")
    assert "<script>" in exp.tokens

    page = explanation_to_html(exp)
    assert "&lt;script&gt;" in page
    assert "<script" not in page.lower()                       # no script element at all
    assert "&lt;b&gt;bad&lt;/b&gt;" in page and "<b>bad</b>" not in page
    assert "good &amp; &quot;fine&quot;" in page
    assert page.startswith("<!DOCTYPE html>") and "http" not in page    # self-contained
    assert 'Predicted: <b>good &amp; &quot;fine&quot;</b>' in page
    for token in ("the", "was", "good"):
        assert f">{token}</span>" in page
    with pytest.raises(KeyError, match="not explained"):
        explanation_to_html(exp, target=0)


# -- (c) labels -------------------------------------------------------------------------------------------
def test_labels_from_config_id2label(transformers, ernie, ernie_tokenizer, bag, bert_tokenizer):
    classifier = as_text_classifier(ernie, ernie_tokenizer)
    assert classifier.labels == ["negative", "positive"] and classifier.num_classes == 2
    assert classifier.max_length == 64 - 2                          # positions less [CLS] and [SEP]

    config = small_ernie_config(transformers)
    config.architectures = ["ErnieForSequenceClassification"]
    auto = transformers.AutoModelForSequenceClassification.from_config(config)
    classifier = as_text_classifier(auto, ernie_tokenizer)
    assert classifier.labels == ["LABEL_0", "LABEL_1"]              # PaddleNLP's default names
    exp = LimeText(classifier, num_samples=20, progress=False, random_state=0).explain("a good film", top_k=2)
    assert sorted(exp.label_names.values()) == ["LABEL_0", "LABEL_1"]

    assert as_text_classifier(auto, ernie_tokenizer, labels=["neg", "pos"]).labels == ["neg", "pos"]
    assert as_text_classifier(bag, bert_tokenizer).labels == ["0", "1"]   # no config: the indices
    with pytest.raises(LabelCountError, match="labels has 3 names .* outputs 2 classes") as info:
        as_text_classifier(auto, ernie_tokenizer, labels=["a", "b", "c"])
    assert isinstance(info.value, TypeError)


# -- (d) reproducibility ---------------------------------------------------------------------------------
def test_same_seed_same_weights_and_batch_size_does_not_matter(bag, bert_tokenizer):
    text = "good acting but a slow plot and bad music"
    run = lambda **kw: interpret.lime_text(text, bag, bert_tokenizer, num_samples=200, progress=False, **kw)
    a, b = run(random_state=7), run(random_state=7)
    c, d = run(random_state=7, batch_size=13), run(random_state=7, batch_size=200)
    other = run(random_state=8)

    assert a.seed == 7
    for e in (b, c, d):
        np.testing.assert_array_equal(e.weights[1], a.weights[1])
        np.testing.assert_array_equal(e.class_probabilities, a.class_probabilities)
    assert not np.array_equal(other.weights[1], a.weights[1])
    drawn = run(random_state=None)                                 # a drawn seed is recorded ...
    assert isinstance(drawn.seed, int)
    np.testing.assert_array_equal(run(random_state=drawn.seed).weights[1], drawn.weights[1])   # ... and repeats


# -- (e) the model is left as it was -----------------------------------------------------------------------
def test_model_flags_parameters_hooks_and_globals_unchanged(ernie, ernie_tokenizer):
    ernie.train()
    ernie.classifier.eval()                                      # a mixed state must come back as it was
    try:
        layers = ernie.sublayers(include_self=True)
        flags = [layer.training for layer in layers]
        params = {name: p.numpy().copy() for name, p in ernie.named_parameters()}
        places = {name: str(p.place) for name, p in ernie.named_parameters()}
        stop_gradient = {name: p.stop_gradient for name, p in ernie.named_parameters()}
        grads = {name: None if p.grad is None else p.grad.numpy().copy() for name, p in ernie.named_parameters()}
        hooks = [(len(layer._forward_pre_hooks), len(layer._forward_post_hooks)) for layer in layers]
        globals_before = (paddle.is_grad_enabled(), paddle.get_default_dtype(), paddle.get_device(),
                          paddle.in_dynamic_mode())

        exp = interpret.lime_text(HELD_OUT, ernie, ernie_tokenizer, num_samples=60, random_state=0, progress=False)
        assert exp.label_name == "positive"                        # predicted in eval mode (no dropout)

        assert [layer.training for layer in layers] == flags
        for name, p in ernie.named_parameters():
            np.testing.assert_array_equal(p.numpy(), params[name])
            assert str(p.place) == places[name] and p.stop_gradient == stop_gradient[name]
            if grads[name] is None:                                   # no gradient computed or accumulated
                assert p.grad is None
            else:
                np.testing.assert_array_equal(p.grad.numpy(), grads[name])
        assert [(len(layer._forward_pre_hooks), len(layer._forward_post_hooks)) for layer in layers] == hooks
        assert (paddle.is_grad_enabled(), paddle.get_default_dtype(), paddle.get_device(),
                paddle.in_dynamic_mode()) == globals_before
    finally:
        ernie.eval()


# -- (f) errors ------------------------------------------------------------------------------------------
def test_errors(transformers, ernie, ernie_tokenizer, bag, bert_tokenizer):
    for text in ("", "   \n\t"):
        with pytest.raises(ValueError, match="text"):
            interpret.lime_text(text, bag, bert_tokenizer)
    with pytest.raises(TypeError, match="text"):
        interpret.lime_text(None, bag, bert_tokenizer)
    with pytest.raises(TypeError, match="tokenizer is required"):
        interpret.lime_text("a good film", ernie)
    with pytest.raises(TypeError, match="tokenize"):
        as_text_classifier(ernie, object())

    base = transformers.ErnieModel(small_ernie_config(transformers))
    with pytest.raises(TypeError, match="ErnieModel is not a sequence classifier"):
        interpret.lime_text("a good film", base, ernie_tokenizer)
    token_classifier = transformers.ErnieForTokenClassification(small_ernie_config(transformers))
    with pytest.raises(TypeError, match="not a sequence classifier"):
        as_text_classifier(token_classifier, ernie_tokenizer)
    with pytest.raises(TypeError, match=r"returned an output of shape \(1, 3, 2\)"):
        as_text_classifier(PerTokenLogits(), ernie_tokenizer)     # a plain layer found out by its output
    with pytest.raises(TypeError, match="expected a paddle.nn.Layer sequence classifier"):
        interpret.lime_text("a good film", "ernie-3.0-medium-zh", ernie_tokenizer)
    with pytest.raises(TypeError, match="failed"):
        as_text_classifier(paddle.nn.Conv2D(3, 4, 3), ernie_tokenizer)   # an image layer

    with pytest.raises(ValueError, match="target=5 is out of range.*valid: 0..1"):
        interpret.lime_text("a good film", bag, bert_tokenizer, target=5)
    with pytest.raises(ValueError, match="top_k=3 exceeds"):
        interpret.lime_text("a good film", bag, bert_tokenizer, top_k=3)
    with pytest.raises(ValueError, match="mask_token"):
        interpret.lime_text("a good film", bag, bert_tokenizer, mask_token="zero")
    with pytest.raises(ValueError, match="num_samples"):
        interpret.lime_text("a good film", bag, bert_tokenizer, num_samples=1)
    classifier = as_text_classifier(bag, bert_tokenizer)
    with pytest.raises(TypeError, match="already a TextClassifier"):
        as_text_classifier(classifier, bert_tokenizer)


class PerTokenLogits(paddle.nn.Layer):
    """A token classifier in disguise: (batch, length, 2) scores."""

    def forward(self, input_ids):
        return paddle.zeros(input_ids.shape + [2])


def test_is_text_classifier(transformers, ernie, ernie_tokenizer, bag):
    assert is_text_classifier(ernie) and is_text_classifier(bag)
    assert is_text_classifier(as_text_classifier(bag, ernie_tokenizer))
    assert not is_text_classifier(transformers.ErnieModel(small_ernie_config(transformers)))
    assert not is_text_classifier(paddle.nn.Conv2D(3, 4, 3))
    assert not is_text_classifier("ernie")


def test_tokenize_and_predict_proba(bag, bert_tokenizer):
    classifier = as_text_classifier(bag, bert_tokenizer)
    tokens, ids = classifier.tokenize("The movie was GOOD")       # lower-cased, no [CLS]/[SEP]
    assert tokens == ["the", "movie", "was", "good"] and ids == bert_tokenizer.convert_tokens_to_ids(tokens)
    assert classifier.max_length is None                          # no config, no tokenizer limit
    p_good = 1 / (1 + np.exp(-3.0))
    # padding (and a pad id inside a sequence) is hidden by the attention mask
    pad = bert_tokenizer.pad_token_id
    probs = classifier.predict_proba([ids, ids[:3], [], ids[:3] + [pad], ids + ids], batch_size=2)
    np.testing.assert_allclose(probs[:, 1], [p_good, 0.5, 0.5, 0.5, 1 / (1 + np.exp(-6.0))], rtol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_long_text_is_truncated_with_a_warning(bag, bert_tokenizer):
    classifier = TextClassifier(bag, bert_tokenizer, max_length=3)
    with pytest.warns(UserWarning, match="only the first 3"):
        assert classifier.tokenize("a slow plot but good").tokens == ["a", "slow", "plot"]
    with pytest.warns(UserWarning, match="only the first 3"):
        exp = LimeText(classifier, num_samples=20, progress=False, random_state=0).explain("a slow plot but good")
    assert exp.tokens == ["a", "slow", "plot"] and exp.params["truncated"] is True


# -- (g) save / load ---------------------------------------------------------------------------------------
def test_save_load_round_trip(ernie, ernie_tokenizer, tmp_path):
    exp = interpret.lime_text(HELD_OUT, ernie, ernie_tokenizer, top_k=2, random_state=3, **FAST)
    path = exp.save(tmp_path / "held_out")
    assert path.name == "held_out.npz"
    with np.load(path, allow_pickle=False) as data:                # no pickled objects inside
        assert "meta" in data.files

    back = TextExplanation.load(path)
    for name in ("method", "text", "tokens", "token_ids", "targets", "label_names", "probabilities", "intercepts",
                 "scores", "local_predictions", "class_names", "params", "html_path"):
        assert getattr(back, name) == getattr(exp, name), name
    for t in exp.targets:
        np.testing.assert_array_equal(back.weights[t], exp.weights[t])
    np.testing.assert_array_equal(back.class_probabilities, exp.class_probabilities)
    assert back.top_tokens(k=3) == exp.top_tokens(k=3) and back.seed == 3
    assert explanation_to_html(back) == explanation_to_html(exp)
    from paddlex_interpret.engine import load_explanation

    generic = load_explanation(path)  # the kind is read from the file
    assert isinstance(generic, TextExplanation) and generic.tokens == exp.tokens


# -- (h) the task API writes exactly one HTML file ----------------------------------------------------------
def test_lime_text_writes_only_the_html_file(ernie, ernie_tokenizer, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    interpret.lime_text(HELD_OUT, ernie, ernie_tokenizer, random_state=0, **FAST)
    assert list(tmp_path.iterdir()) == []                          # save_dir=None writes nothing

    exp = interpret.lime_text(HELD_OUT, ernie, ernie_tokenizer, random_state=0, save_dir=tmp_path, name="review",
                              **FAST)
    assert [p.name for p in tmp_path.iterdir()] == ["review_lime_text.html"]
    assert exp.html_path == str(tmp_path / "review_lime_text.html")
    page = (tmp_path / "review_lime_text.html").read_text(encoding="utf-8")
    assert "positive" in page and ">good</span>" in page

    nested = tmp_path / "new" / "dir"
    interpret.lime_text(HELD_OUT, ernie, ernie_tokenizer, random_state=0, save_dir=nested, **FAST)
    assert [p.name for p in nested.iterdir()] == ["text_lime_text.html"]
    with pytest.raises(ValueError, match="name"):
        interpret.lime_text(HELD_OUT, ernie, ernie_tokenizer, save_dir=tmp_path, name="../x", **FAST)


def test_cli_explains_a_saved_paddlenlp_model(ernie, ernie_tokenizer, tmp_path, capsys):
    """`paddlex-interpret explain lime_text TEXT --model DIR` on folders written by save_pretrained."""
    from paddlex_interpret.cli import main

    folder = tmp_path / "ernie"
    ernie.save_pretrained(str(folder))
    ernie_tokenizer.save_pretrained(str(folder))
    rc = main(["explain", "lime_text", HELD_OUT, "--model", str(folder), "--num-samples", "60", "--seed", "0",
               "--no-progress", "--save-dir", str(tmp_path / "out"), "--name", "review", "--save-explanation"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "(positive)" in out and "tokens for the class: good" in out
    saved = TextExplanation.load(tmp_path / "out" / "review_lime_text.npz")
    direct = interpret.lime_text(HELD_OUT, ernie, ernie_tokenizer, num_samples=60, random_state=0, progress=False)
    np.testing.assert_allclose(saved.weights_of(), direct.weights_of(), rtol=1e-4, atol=1e-6)  # the same model
    assert (tmp_path / "out" / "review_lime_text.html").is_file()
    assert main(["explain", "lime_text", "x", "--model", str(tmp_path / "missing")]) == 1
    assert "is not a folder written by save_pretrained" in capsys.readouterr().err
