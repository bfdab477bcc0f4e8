"""Text LIME at the speed of its forwards: one run, in an environment with PaddleNLP.

    python benchmarks/lime_text_speed.py [--num-samples 1000] [--batch-size 50] [--hidden 256] [--layers 4]

A randomly initialised PaddleNLP ERNIE sequence classifier (the architecture is real, the weights are
not: nothing can be downloaded here) with a WordPiece vocabulary of a real sentence's words explains
that sentence with ``interpret.lime_text``. It prints the whole call against the bare forwards it needs
(``predict_proba`` on the same perturbed token-id lists, same batches and padding): the engine's
overhead on text. All numbers come from this one run on this machine; the ratio is what to compare.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from paddlex_interpret import interpret
from paddlex_interpret.engine.lime.lime_text import LimeText
from paddlex_interpret.models.paddlenlp import as_text_classifier

SENTENCE = ("a gorgeous , witty , seductive movie that is as funny as it is sad , and as warm as it is "
            "unflinching about the people it portrays .")

class _RecordingLimeText(LimeText):
    """The engine's text LIME, keeping the token-id batches it builds."""

    def _perturbed(self, ids, masks):
        batch = super()._perturbed(ids, masks)
        self.seen.append(batch)
        return batch

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args()

    import paddle
    from paddlenlp.transformers import ErnieConfig, ErnieForSequenceClassification, ErnieTokenizer

    words = sorted(set(SENTENCE.split()))
    with tempfile.TemporaryDirectory() as tmp:
        vocab = Path(tmp) / "vocab.txt"
        vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n", encoding="utf-8")
        tokenizer = ErnieTokenizer(vocab_file=str(vocab))
    paddle.seed(0)
    config = ErnieConfig(vocab_size=len(words) + 5, hidden_size=args.hidden, num_hidden_layers=args.layers,
                         num_attention_heads=max(1, args.hidden // 64), intermediate_size=4 * args.hidden,
                         max_position_embeddings=128, num_labels=2)
    network = ErnieForSequenceClassification(config)
    network.eval()
    model = as_text_classifier(network, tokenizer, labels=["negative", "positive"])

    interpret.lime_text(SENTENCE, model, num_samples=2 * args.batch_size, batch_size=args.batch_size,
                        random_state=0, progress=False)  # warm caches
    start = time.perf_counter()
    interpret.lime_text(SENTENCE, model, num_samples=args.num_samples, batch_size=args.batch_size, random_state=0,
                        progress=False)
    t_call = time.perf_counter() - start

    explainer = _RecordingLimeText(model, num_samples=args.num_samples, batch_size=args.batch_size, random_state=0,
                                   progress=False)
    explainer.seen = []
    explainer.explain(SENTENCE)
    pad_to = model.input_length(len(model.tokenize(SENTENCE).ids))
    start = time.perf_counter()
    for batch in explainer.seen:
        model.predict_proba(batch, batch_size=len(batch), pad_to=pad_to)
    t_bare = time.perf_counter() - start
    tokens = len(model.tokenize(SENTENCE).ids)
    print(f"text LIME, {args.num_samples} samples of a {tokens}-token review, batch {args.batch_size}, "
          f"ERNIE hidden {args.hidden} x {args.layers} layers:")
    print(f"   interpret.lime_text {t_call:.2f} s, bare forwards {t_bare:.2f} s, ratio {t_call / t_bare:.2f}")

if __name__ == "__main__":
    main()
