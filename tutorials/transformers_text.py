"""Tutorial: attention explanations of an ERNIE text classifier, offline, in under a minute.

We build a small ERNIE from scratch (random weights, a vocabulary of the training words), train it
for a few seconds on made-up sentences that are positive exactly when they contain the word
'great', and ask the four attention methods - Rollout, Generic Attention, TAM and Bidirectional
(BT) - which token decided. No layer of the model is replaced: PaddleNLP returns its attention maps
when asked (output_attentions=True). Each method writes an HTML page with the tokens highlighted.

    python tutorials/transformers_text.py                 # writes ./out_transformers_text/*.html
    python tutorials/transformers_text.py my_folder --steps 8

Needs paddlenlp (tested with paddlenlp 2.8.1).
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
import paddle

from paddlex_interpret import interpret

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SUBJECTS = ["the film", "the plot", "the cast", "the music", "this story", "the ending"]
VERBS = ["was", "is", "seemed", "felt"]
FILLERS = ["long", "slow", "loud", "quiet", "short", "strange", "simple", "dark"]
LINKS = ["and", "but", "yet"]
KEYWORD = "great"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Attention methods on a small trained ERNIE.")
    parser.add_argument("save_dir", nargs="?", default="./out_transformers_text", help="folder for the HTML pages")
    parser.add_argument("--steps", type=int, default=20, help="integration steps of TAM and BT")
    return parser.parse_args(argv)


def sentences(n, rng):
    """``[(text, label)]``: 'SUBJECT VERB WORD LINK WORD', the words drawn from the fillers and the
    keyword; label 1 iff the keyword occurs."""
    data = []
    for _ in range(n):
        label = int(rng.integers(2))
        pair = [FILLERS[rng.integers(len(FILLERS))], FILLERS[rng.integers(len(FILLERS))]]
        if label:
            pair[int(rng.integers(2))] = KEYWORD
        words = [SUBJECTS[rng.integers(len(SUBJECTS))], VERBS[rng.integers(len(VERBS))], pair[0],
                 LINKS[rng.integers(len(LINKS))], pair[1]]
        data.append((" ".join(words), label))
    return data


def main(argv=None):
    from paddlenlp.transformers import ErnieConfig, ErnieForSequenceClassification, ErnieTokenizer

    args = parse_args(argv)
    rng = np.random.default_rng(0)
    train = sentences(200, rng)

    # -- 1. A tokenizer from a vocabulary file, and a small ERNIE --------------------------------
    vocab = SPECIALS + sorted({w for text, _ in train for w in text.split()})
    with tempfile.TemporaryDirectory() as tmp:   # the tokenizer reads the file once
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
        tokenizer = ErnieTokenizer(vocab_file=str(vocab_file))
    paddle.seed(0)
    config = ErnieConfig(vocab_size=len(vocab), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=128, max_position_embeddings=32, num_labels=2, initializer_range=0.1,
                         id2label={0: "plain", 1: "great"}, label2id={"plain": 0, "great": 1})
    model = ErnieForSequenceClassification(config)

    # -- 2. Train for a few seconds ----------------------------------------------------------------
    encoded = [tokenizer(text)["input_ids"] for text, _ in train]
    ids = np.zeros((len(encoded), max(map(len, encoded))), dtype="int64")   # 0 is [PAD]
    for row, e in enumerate(encoded):
        ids[row, :len(e)] = e
    x, y = paddle.to_tensor(ids), paddle.to_tensor(np.array([label for _, label in train]))
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-3, parameters=model.parameters())
    model.train()
    for _ in range(60):
        loss = paddle.nn.functional.cross_entropy(model(x, attention_mask=(x != 0).astype("float32")), y)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
    model.eval()
    print(f"Trained: loss {float(loss):.3f}")

    # -- 3. Explain a new sentence with each method --------------------------------------------------
    # Every function takes the PaddleNLP model and its tokenizer as they are and returns a
    # TextExplanation (per-token relevance, >= 0), and writes <name>_<method>.html into save_dir.
    text = "this story seemed great and dark"
    runs = [(interpret.rollout_text, {}), (interpret.generic_attention_text, {}),
            (interpret.tam_text, {"steps": args.steps}), (interpret.bidirectional_text, {"steps": args.steps}),
            (interpret.bidirectional_text, {"steps": args.steps, "mode": "token"})]
    for function, params in runs:
        exp = function(text, model, tokenizer, save_dir=args.save_dir, name=f"sentence_{params.get('mode', 'x')}",
                       **params)
        top = exp.top_tokens(k=3)
        listing = ", ".join(f"{t.token} {t.weight:.3f}" for t in top)
        print(f"[{exp.method}] {exp.label_name} (p = {exp.probability:.2f}): top tokens {listing}")
        print(f"    page: {exp.html_path}")


if __name__ == "__main__":
    main()
