"""Text evaluators: deletion / insertion (AOPC) over tokens and ERASER's comprehensiveness and sufficiency.
Known answers on a bag-of-words model keyed on one word and on a small trained ERNIE."""
import dataclasses

import numpy as np
import pytest

from _text_models import HELD_OUT, VOCAB, KeywordBag, bert_tokenizer, ernie_tokenizer, trained_ernie, write_vocab
from paddlex_interpret import evaluate as evaluate_pkg
from paddlex_interpret import interpret
from paddlex_interpret.evaluate import get_metric
from paddlex_interpret.models import as_text_classifier

pytestmark = pytest.mark.paddlenlp

TEXT = "the movie was fun but the plot was good and the music was dull"
METRICS = ("comprehensiveness", "sufficiency", "text_deletion", "text_insertion")
P1 = 1 / (1 + np.exp(-3.0))   # p(class 1) of the bag with one 'good'


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    return write_vocab(tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="module")
def bag(vocab_file):
    tok = bert_tokenizer(vocab_file)
    return as_text_classifier(KeywordBag(len(VOCAB), tok.convert_tokens_to_ids("good")), tok)


@pytest.fixture(scope="module")
def ernie(vocab_file):
    tok = ernie_tokenizer(vocab_file)
    return as_text_classifier(trained_ernie(tok), tok)


def random_rankings(explanation, count, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        weights = {t: rng.standard_normal(explanation.num_tokens) for t in explanation.targets}
        yield dataclasses.replace(explanation, weights=weights)


def test_the_keyword_explanation_beats_random_rankings(bag):
    exp = interpret.occlusion_text(TEXT, bag)                 # the keyword model's keyword first
    assert exp.top_tokens(k=1)[0].token == "good"
    report = interpret.evaluate_text(exp, bag, metrics=METRICS)
    # hiding 'good' (always in the rationale) drops p from sigmoid(3) to 1/2 at every bin; keeping it alone keeps p
    assert report["comprehensiveness"].score == pytest.approx(P1 - 0.5, abs=1e-9)
    assert report["sufficiency"].score == pytest.approx(0.0, abs=1e-9)
    n = exp.num_tokens
    assert report["text_deletion"].score == pytest.approx((P1 - 0.5) * n / (n + 1), abs=1e-9)
    assert report["text_insertion"].score == pytest.approx((P1 - 0.5) * n / (n + 1), abs=1e-9)
    rand = [interpret.evaluate_text(r, bag, metrics=METRICS) for r in random_rankings(exp, 10)]
    assert report["comprehensiveness"].score > max(r["comprehensiveness"].score for r in rand)
    assert report["sufficiency"].score < min(r["sufficiency"].score for r in rand)
    assert report["text_deletion"].score > max(r["text_deletion"].score for r in rand)
    assert report["text_insertion"].score > max(r["text_insertion"].score for r in rand)


@pytest.mark.parametrize("method", ["intgrad_text", "smoothgrad_text", "gradshap_text", "occlusion_text", "lime_text"])
def test_every_text_method_beats_random_on_the_trained_ernie(method, ernie):
    params = {"lime_text": dict(num_samples=200, random_state=0, progress=False), "intgrad_text": dict(steps=30),
              "smoothgrad_text": dict(n_samples=10, random_state=0), "gradshap_text": dict(n_samples=10, random_state=0)}
    exp = getattr(interpret, method)(HELD_OUT, ernie, **params.get(method, {}))
    report = interpret.evaluate_text(exp, ernie, metrics=["comprehensiveness", "sufficiency"],
                                     metric_params={"comprehensiveness": {"mask_token": "remove"}})
    rand = [interpret.evaluate_text(r, ernie, metrics=["comprehensiveness", "sufficiency"],
                                    metric_params={"comprehensiveness": {"mask_token": "remove"}})
            for r in random_rankings(exp, 5, seed=1)]
    assert report["comprehensiveness"].score > np.mean([r["comprehensiveness"].score for r in rand]) + 0.2
    assert report["sufficiency"].score < np.mean([r["sufficiency"].score for r in rand]) - 0.2


def test_batch_size_does_not_change_scores_and_details(bag):
    exp = interpret.intgrad_text(TEXT, bag, steps=20)
    for name in METRICS:
        a = get_metric(name)(batch_size=1).evaluate(exp, bag)
        b = get_metric(name)(batch_size=64).evaluate(exp, bag)
        assert a.score == pytest.approx(b.score, abs=1e-12), name
    comp = get_metric("comprehensiveness")().evaluate(exp, bag)
    assert list(comp.details["sizes"]) == [1, 1, 2, 3, 7]          # ceil(1, 5, 10, 20, 50 % of 13 tokens)
    assert comp.higher_is_better and not get_metric("sufficiency").higher_is_better


def test_registry_rows_and_errors(bag):
    listed = {m["name"]: m for m in evaluate_pkg.available()}
    for name in METRICS:
        assert listed[name]["applies_to"] == ("text",) and listed[name]["needs_model"]
    exp = interpret.occlusion_text(TEXT, bag)
    with pytest.raises(ValueError, match="applies to .* not 'text'"):
        interpret.evaluate_text(exp, bag, metrics=["deletion"])
    with pytest.raises(TypeError, match="TextExplanation"):
        interpret.evaluate_text("not an explanation", bag)
    with pytest.raises(ValueError, match="bins must be fractions"):
        get_metric("comprehensiveness")(bins=(0.0, 0.5))
    with pytest.raises(ValueError, match="mask_token must be one of"):
        get_metric("sufficiency")(mask_token="zero")
    with pytest.raises(TypeError, match="needs the explained text classifier"):
        get_metric("text_deletion")().evaluate(exp, None)


# -- NormLIME for text ---------------------------------------------------------------------------------------
CORPUS = ["the movie was good", "a good film with a fun plot", "the acting is bad", "the plot was slow",
          "good story and good music", "the music is dull"]


def test_normlime_text_learns_the_keyword_and_reuses_its_weights_file(bag, tmp_path):
    from paddlex_interpret.engine.lime.normlime_text import TextGlobalWeights

    exp = interpret.normlime_text("the cast is good but the plot is bad", bag, corpus=CORPUS, num_samples=100,
                                  save_dir=tmp_path, name="r")
    path = tmp_path / "normlime_text_weights.npz"
    assert exp.params["weights_file"] == str(path) and exp.params["weights_reused"] is False
    assert exp.target == 1 and exp.top_words(k=1)[0].word == "good"
    weights = TextGlobalWeights.load(path)
    assert weights.top_features(1, k=1)[0][0] == "good" and weights.counts[1, weights.features.index("good")] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["normlime_text_weights.npz", "r_normlime_text.html"]

    stamp = path.stat().st_mtime_ns
    again = interpret.normlime_text("good plot", bag, corpus=CORPUS, num_samples=100, save_dir=tmp_path)
    assert again.params["weights_reused"] is True and path.stat().st_mtime_ns == stamp
    # stale: another corpus, other LIME settings, another model -> recomputed and rewritten
    for kwargs in (dict(corpus=CORPUS[:-1], num_samples=100), dict(corpus=CORPUS, num_samples=60)):
        assert interpret.normlime_text("good plot", bag, save_dir=tmp_path, **kwargs).params["weights_reused"] is False
    other = as_text_classifier(KeywordBag(len(VOCAB), bag.tokenizer.convert_tokens_to_ids("bad")), bag.tokenizer)
    flipped = interpret.normlime_text("good plot but bad music", other, corpus=CORPUS, num_samples=60,
                                      save_dir=tmp_path)
    assert flipped.params["weights_reused"] is False and flipped.top_words(k=1)[0].word == "bad"
    small_batches = interpret.normlime_text("the cast is good but the plot is bad", bag, corpus=CORPUS,
                                            num_samples=100, batch_size=7)
    np.testing.assert_allclose(small_batches.weights_of(), exp.weights_of(), atol=1e-12)   # batch size, same seed
    token_level = interpret.normlime_text("good plot", bag, corpus=CORPUS, num_samples=60, level="token")
    assert token_level.top_tokens(k=1)[0].token == "good" and token_level.params["weights_file"] is None
    (tmp_path / "junk.npz").write_bytes(b"not a weights file")
    with pytest.raises(ValueError, match="not a NormLIME text weights file"):
        interpret.normlime_text("good", bag, corpus=CORPUS, weights_file=tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="corpus is required"):
        interpret.normlime_text("good", bag)


def test_word_level_rationales_hide_every_piece_of_a_word(vocab_file):
    """A model keyed on '##some' (the second piece of 'awesome'): at the word level the rationale is the
    whole word, so hiding it removes both pieces; the ranking follows the word weights."""
    tok = bert_tokenizer(vocab_file)
    clf = as_text_classifier(KeywordBag(len(VOCAB), tok.convert_tokens_to_ids("##some")), tok)
    exp = interpret.occlusion_text("an awesome plot and a good cast", clf)
    assert exp.tokens[1:3] == ["awe", "##some"] and exp.top_words(k=1)[0].word == "awesome"
    word = get_metric("comprehensiveness")(level="word", bins=(0.1,)).evaluate(exp, clf)
    token = get_metric("comprehensiveness")(bins=(0.1,)).evaluate(exp, clf)
    assert word.details["level"] == "word" and list(word.details["sizes"]) == [1]
    assert word.score == pytest.approx(P1 - 0.5) and token.score == pytest.approx(P1 - 0.5)
    suff = get_metric("sufficiency")(level="word", bins=(0.1,), mask_token="remove").evaluate(exp, clf)
    assert suff.score == pytest.approx(0.0, abs=1e-9)                 # 'awe ##some' alone keeps p
    deletion = get_metric("text_deletion")(level="word").evaluate(exp, clf)
    assert len(deletion.details["counts"]) == len(exp.words) + 1
    from paddlex_interpret.evaluate._text_common import expand_keeps

    np.testing.assert_array_equal(expand_keeps(np.array([[True, False]]), [np.array([0]), np.array([1, 2])], 3),
                                  [[True, False, False]])              # a hidden word hides all its tokens
    with pytest.raises(ValueError, match="level must be one of"):
        get_metric("text_insertion")(level="char")
