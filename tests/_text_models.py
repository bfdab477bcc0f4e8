"""Small real text models for the text tests (issue 14): a known-answer bag of words keyed on one word,
a tiny random ERNIE, and a small ERNIE trained in the test on real sentences so that it keys on 'good'.

paddlenlp is imported inside the builders, so importing this module never needs it.
"""
import numpy as np
import paddle

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
POSITIVE = ["the movie was good", "a good film with a fun plot", "the acting is good", "good story and good music",
            "the plot was good but slow", "it was a good movie", "the cast is good but the plot is bad",
            "such a good ending", "good despite a bad start", "the music is good"]
NEGATIVE = ["the movie was bad", "a film with a fun plot", "the acting is bad", "a story and music",
            "the plot was slow", "it was a movie", "the cast is bad and the plot is bad", "such a sad ending",
            "bad from the start", "the music is dull", "the movie was fun but bad", "a slow film"]
# WordPiece pieces so that 'playing' -> play ##ing and 'awesome' -> awe ##some; '<script>' is one token
PIECES = ["play", "##ing", "awe", "##some", "<script>", "中", "文", "电", "影", "很", "好", "看"]
WORDS = sorted({w for s in POSITIVE + NEGATIVE for w in s.split()})
VOCAB = SPECIALS + WORDS + PIECES
HELD_OUT = "the acting was good and the music was fun"


def write_vocab(folder):
    path = folder / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return str(path)


def bert_tokenizer(vocab_file):
    from paddlenlp.transformers import BertTokenizer

    return BertTokenizer(vocab_file=vocab_file, never_split=["<script>"])


def ernie_tokenizer(vocab_file):
    from paddlenlp.transformers import ErnieTokenizer

    return ErnieTokenizer(vocab_file=vocab_file)


class KeywordBag(paddle.nn.Layer):
    """Known answer: logits = sum over attended tokens of a 2-d embedding whose only non-zero entry is
    ``gain`` for the keyword in class 1, so p(class 1) = sigmoid(gain * count(keyword))."""

    def __init__(self, vocab_size, keyword_id, gain=3.0):
        super().__init__()
        self.embedding = paddle.nn.Embedding(vocab_size, 2)
        table = np.zeros((vocab_size, 2), dtype="float32")
        table[keyword_id, 1] = gain
        self.embedding.weight.set_value(table)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        emb = self.embedding(input_ids)
        if attention_mask is not None:
            emb = emb * attention_mask.unsqueeze(-1).astype(emb.dtype)
        return emb.sum(axis=1)


def ernie_config(**kwargs):
    from paddlenlp.transformers import ErnieConfig

    base = dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=64, max_position_embeddings=64, num_labels=2)
    base.update(kwargs)
    return ErnieConfig(**base)


def random_ernie(seed=1, **kwargs):
    """A small ERNIE with random weights (eval mode); the global generator is restored."""
    from paddlenlp.transformers import ErnieForSequenceClassification

    state = paddle.get_rng_state()
    paddle.seed(seed)
    try:
        model = ErnieForSequenceClassification(ernie_config(**kwargs))
    finally:
        paddle.set_rng_state(state)
    model.eval()
    return model


def training_data(tokenizer):
    texts, labels = POSITIVE + NEGATIVE, [1] * len(POSITIVE) + [0] * len(NEGATIVE)
    encoded = [tokenizer(t)["input_ids"] for t in texts]
    ids = np.zeros((len(encoded), max(map(len, encoded))), dtype="int64")  # 0 is [PAD]
    for row, e in enumerate(encoded):
        ids[row, :len(e)] = e
    return ids, np.array(labels, dtype="int64")


def trained_ernie(tokenizer, steps=60):
    """A small ERNIE (hidden 64, weights initialised with std 0.1) trained for a few seconds with AdamW on
    the sentences above: positive iff 'good' occurs.

    (With hidden 32 and PaddleNLP's default std 0.02 the trained model's logit jumps by 4 within 1% of
    the path from a baseline - word and position embeddings of equal size meet in the first LayerNorm -
    which no 200-point Riemann sum integrates.)"""
    from paddlenlp.transformers import ErnieForSequenceClassification

    config = ernie_config(hidden_size=64, intermediate_size=128, initializer_range=0.1,
                          id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    ids, labels = training_data(tokenizer)
    state = paddle.get_rng_state()
    paddle.seed(0)
    try:
        model = ErnieForSequenceClassification(config)
        optimizer = paddle.optimizer.AdamW(learning_rate=1e-3, parameters=model.parameters(), weight_decay=0.01)
        x, y = paddle.to_tensor(ids), paddle.to_tensor(labels)
        model.train()
        for _ in range(steps):
            loss = paddle.nn.functional.cross_entropy(model(x, attention_mask=(x != 0).astype("float32")), y)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
    finally:
        paddle.set_rng_state(state)
    model.eval()
    assert float(loss) < 0.05, f"the test model did not learn its task (loss {float(loss):.3f})"
    return model
