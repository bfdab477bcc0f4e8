"""The word level of text explanations (subword pieces and Chinese characters grouped into words, offsets
into the raw text), saving and loading, the HTML pages, compare_text, and a PaddleNLP Trainer explained in
one call after training."""
import numpy as np
import pytest

from _text_models import HELD_OUT, NEGATIVE, POSITIVE, VOCAB, KeywordBag, bert_tokenizer, ernie_config, \
    ernie_tokenizer, write_vocab
from paddlex_interpret import interpret
from paddlex_interpret.engine import TextExplanation, load_explanation
from paddlex_interpret.engine.text_words import align_tokens, group_tokens, segment_words
from paddlex_interpret.models import as_text_classifier, is_text_classifier
from paddlex_interpret.vis import explanation_to_html, explanations_to_html

pytestmark = pytest.mark.paddlenlp

TEXT = "The Playing was AWESOME, café <script> good!"


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    return write_vocab(tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="module")
def bert_tok(vocab_file):
    return bert_tokenizer(vocab_file)


def keyword_bag(tokenizer, word, labels=None):
    return as_text_classifier(KeywordBag(len(VOCAB), tokenizer.convert_tokens_to_ids(word)), tokenizer,
                              **({"labels": labels} if labels else {}))


# -- alignment and words --------------------------------------------------------------------------------
def test_pieces_of_a_split_word_map_to_that_word(bert_tok):
    tokens = bert_tok.tokenize(TEXT)
    assert tokens == ["the", "play", "##ing", "was", "awe", "##some", "[UNK]", "[UNK]", "<script>", "good", "[UNK]"]
    own = align_tokens(TEXT, tokens)
    assert [TEXT[a:b] for a, b in own] == ["The", "Play", "ing", "was", "AWE", "SOME", ",", "café", "<script>",
                                           "good", "!"]
    clf = keyword_bag(bert_tok, "##some")                    # the model keys on the second piece of 'awesome'
    assert clf.token_offsets(TEXT, tokens) == own            # the tokenizer's offsets agree with the alignment
    for method in ("intgrad_text", "occlusion_text"):
        exp = getattr(interpret, method)(TEXT, clf)
        assert exp.words == ["The", "Playing", "was", "AWESOME", ",", "café", "<script>", "good", "!"]
        assert exp.word_of_token == [0, 1, 1, 2, 3, 3, 4, 5, 6, 7, 8]
        assert exp.top_tokens(k=1)[0].token == "##some"
        best = exp.top_words(k=1)[0]
        assert (best.word, best.start, best.end) == ("AWESOME", 16, 23) and TEXT[best.start:best.end] == "AWESOME"
        w = exp.weights_of()
        np.testing.assert_allclose(exp.word_weights(), [w[0], w[1] + w[2], w[3], w[4] + w[5], *w[6:]])
        assert exp.word_weights(rule="max_abs")[3] == w[5] and exp.word_weights(rule="mean")[1] == (w[1] + w[2]) / 2


def test_chinese_characters_are_words_unless_a_segmentation_is_given(bert_tok):
    text = "电影很好看，good"
    clf = keyword_bag(bert_tok, "好")
    exp = interpret.occlusion_text(text, clf)
    assert exp.tokens == ["电", "影", "很", "好", "看", "[UNK]", "good"]
    assert exp.words == ["电", "影", "很", "好", "看", "，", "good"]          # default: one word per character
    segmented = interpret.occlusion_text(text, clf, words=["电影", "很", "好看", "，", "good"])   # as jieba.lcut
    assert segmented.words == ["电影", "很", "好看", "，", "good"] and segmented.word_of_token == [0, 0, 1, 2, 2, 3, 4]
    assert segmented.top_words(k=1)[0].word == "好看"
    np.testing.assert_allclose(segmented.word_weights()[2], exp.weights_of()[3] + exp.weights_of()[4])
    assert segmented.word_offsets[2] == (3, 5)
    again = exp.with_segmentation(["电影", "很", "好看", "，", "good"])
    assert again.words == segmented.words and exp.words[0] == "电"        # the copy changed, not the original
    with pytest.raises(ValueError, match="words: '好吃' is not the next word"):
        exp.with_segmentation(["电影", "很", "好吃"])


def test_alignment_rules_on_their_own():
    assert segment_words("Don't  stop,now 中文") == [(0, 3), (3, 4), (4, 5), (7, 11), (11, 12), (12, 15), (16, 17),
                                                     (17, 18)]
    # accents and case are ignored; unknown tokens take the text between their neighbours
    assert align_tokens("Élan vital", ["elan", "[UNK]"]) == [(0, 4), (5, 10)]
    assert align_tokens("a ?? b", ["a", "[UNK]", "[UNK]", "b"]) == [(0, 1), (2, 3), (3, 4), (5, 6)]
    owner, words = group_tokens([(0, 3), (3, 5)], [(0, 1), (1, 3), (3, 5)])   # one token covering two words
    assert owner == [0, 1] and words == [(0, 3), (3, 5)]


def test_save_load_keeps_offsets_and_segmentation_and_reads_old_files(bert_tok, tmp_path):
    clf = keyword_bag(bert_tok, "good")
    exp = interpret.intgrad_text("电影 good", clf, words=["电影", "good"], steps=10)
    back = TextExplanation.load(exp.save(tmp_path / "e"))
    assert back.segmentation == ["电影", "good"] and back.words == exp.words == ["电影", "good"]
    assert back.offsets == exp.offsets and back.token_offsets == exp.token_offsets
    # a file written before the word level existed (no 'offsets' / 'segmentation' in its metadata)
    from paddlex_interpret.engine.explanation import _read_npz, _write_npz

    meta, arrays = _read_npz(tmp_path / "e.npz")
    del meta["offsets"], meta["segmentation"]
    _write_npz(tmp_path / "old.npz", meta, **arrays)
    old = load_explanation(tmp_path / "old.npz")
    assert old.offsets is None and old.segmentation is None
    assert old.words == ["电", "影", "good"] and old.top_words(k=1)[0].word == "good"


# -- HTML ------------------------------------------------------------------------------------------------
def test_pages_escape_tokens_labels_and_text(bert_tok, tmp_path):
    clf = keyword_bag(bert_tok, "<script>", labels=["<b>bad</b>", 'good & "<script>"'])
    explanations = interpret.compare_text("the <script> was good", clf, save_dir=tmp_path, name="x",
                                          method_params={"lime_text": {"num_samples": 100},
                                                         "intgrad_text": {"steps": 20},
                                                         "smoothgrad_text": {"n_samples": 4},
                                                         "gradshap_text": {"n_samples": 4}})
    assert [e.method for e in explanations] == ["lime_text", "occlusion_text", "intgrad_text", "smoothgrad_text",
                                                "gradshap_text"]
    assert all(e.top_tokens(k=1)[0].token == "<script>" for e in explanations)
    pages = [(tmp_path / "x_compare_text.html").read_text(encoding="utf-8")]
    pages += [explanation_to_html(e) for e in explanations]
    pages.append(explanations_to_html(explanations, level="word"))
    for page in pages:
        assert "<script" not in page.lower() and "&lt;script&gt;" in page
        assert "<b>bad</b>" not in page and "http" not in page
        assert "good &amp; &quot;&lt;script&gt;&quot;" in page
    assert all(title in pages[0] for title in ("LIME", "Occlusion", "Integrated Gradients", "SmoothGrad",
                                               "GradientSHAP"))
    assert "Completeness gap" in pages[3]
    assert [p.name for p in tmp_path.iterdir()] == ["x_compare_text.html"]
    assert all(e.html_path == str(tmp_path / "x_compare_text.html") for e in explanations)
    with pytest.raises(ValueError, match="same text"):
        explanations_to_html([explanations[0], interpret.occlusion_text("good", clf)])
    with pytest.raises(ValueError, match="methods must name text methods"):
        interpret.compare_text("good", clf, methods=["gradcam"])


# -- a PaddleNLP Trainer, one line after train() -------------------------------------------------------------
def test_a_trainer_is_explained_in_one_call(vocab_file, tmp_path):
    import paddle
    from paddlenlp.data import DataCollatorWithPadding
    from paddlenlp.trainer import Trainer, TrainingArguments
    from paddlenlp.transformers import ErnieForSequenceClassification

    tokenizer = ernie_tokenizer(vocab_file)
    data = [{**tokenizer(t), "labels": y} for t, y in zip(POSITIVE + NEGATIVE, [1] * len(POSITIVE) + [0] * len(NEGATIVE))]
    state = paddle.get_rng_state()
    paddle.seed(0)
    try:
        model = ErnieForSequenceClassification(ernie_config(
            hidden_size=64, intermediate_size=128, initializer_range=0.1, id2label={0: "negative", 1: "positive"},
            label2id={"negative": 0, "positive": 1}))
    finally:
        paddle.set_rng_state(state)
    args = TrainingArguments(output_dir=str(tmp_path / "trainer"), max_steps=30, per_device_train_batch_size=22,
                             learning_rate=1e-3, logging_steps=30, save_strategy="no", disable_tqdm=True, seed=0,
                             report_to=[])
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer),
                      tokenizer=tokenizer)
    trainer.train()
    assert is_text_classifier(trainer)

    exp = interpret.intgrad_text(HELD_OUT, trainer, steps=50)                       # one line after training
    assert exp.label_name == "positive" and exp.top_tokens(k=1)[0].token == "good"
    assert model.training                                                           # left as train() left it
    lime = interpret.lime_text(HELD_OUT, trainer, num_samples=100, random_state=0, progress=False)
    assert lime.top_tokens(k=1)[0].token == "good"
    report = interpret.evaluate_text(exp, trainer, metrics=["comprehensiveness"])
    assert report["comprehensiveness"].score > 0.3
    assert as_text_classifier(trainer).model is model
    trainer.tokenizer = None
    with pytest.raises(TypeError, match="the Trainer has no tokenizer"):
        interpret.occlusion_text(HELD_OUT, trainer)
    assert interpret.occlusion_text(HELD_OUT, trainer, tokenizer).top_tokens(k=1)[0].token == "good"


def test_consensus_over_models_with_different_tokenizers(bert_tok, vocab_file, tmp_path):
    """Two keyword models, one with a WordPiece vocabulary that splits 'awesome' and one keyed on 'good':
    they meet at the word level, and the consensus ranks both keywords above every other word."""
    text = "an awesome cast and a good plot"
    awe = keyword_bag(bert_tok, "##some")
    good = (KeywordBag(len(VOCAB), bert_tok.convert_tokens_to_ids("good")), ernie_tokenizer(vocab_file))
    exp = interpret.consensus_text(text, [awe, good], method="occlusion_text", save_dir=tmp_path)
    assert exp.tokens == exp.words == ["an", "awesome", "cast", "and", "a", "good", "plot"]
    w = exp.weights_of()
    np.testing.assert_allclose(w[[1, 5]], 0.5)                       # each model's max-normalised keyword / 2
    np.testing.assert_allclose(np.delete(w, [1, 5]), 0.0, atol=1e-12)
    assert [m["word_weights"][1] for m in exp.params["per_model"]] == [1.0, 0.0]
    assert exp.token_offsets == exp.word_offsets and text[slice(*exp.word_offsets[1])] == "awesome"
    assert (tmp_path / "text_consensus_text.html").is_file()
    with pytest.raises(ValueError, match="method must be one of"):
        interpret.consensus_text(text, [awe], method="normlime_text")
    with pytest.raises(ValueError, match="not one model's token ids"):
        interpret.evaluate_text(exp, awe)
