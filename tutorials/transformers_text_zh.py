"""教程：ERNIE 文本分类器的注意力解释，完全离线，一分钟以内。

我们从零搭建一个小型 ERNIE（随机权重，词表由训练用词构成），在编造的句子上训练几秒钟：句子当且仅当包含
单词 'great' 时为正类。然后让四种注意力方法——Rollout、Generic Attention、TAM 和双向解释（BT）——回答
是哪个词元决定了结果。模型的任何层都不被替换：只要请求，PaddleNLP 就会返回注意力图（output_attentions=True）。
每种方法都会写出一个高亮词元的 HTML 页面。

    python tutorials/transformers_text_zh.py              # 写出 ./out_transformers_text/*.html
    python tutorials/transformers_text_zh.py my_folder --steps 8

需要 paddlenlp（在 paddlenlp 2.8.1 上测试）。
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
    parser = argparse.ArgumentParser(description="在训练好的小型 ERNIE 上运行注意力解释方法。")
    parser.add_argument("save_dir", nargs="?", default="./out_transformers_text", help="HTML 页面的保存文件夹")
    parser.add_argument("--steps", type=int, default=20, help="TAM 与 BT 的积分步数")
    return parser.parse_args(argv)


def sentences(n, rng):
    """``[(text, label)]``：'主语 动词 词 连词 词'，词取自填充词和关键词；当且仅当出现关键词时标签为 1。"""
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

    # -- 1. 由词表文件构建分词器，以及一个小型 ERNIE ---------------------------------------------
    vocab = SPECIALS + sorted({w for text, _ in train for w in text.split()})
    with tempfile.TemporaryDirectory() as tmp:   # 分词器只读取一次该文件
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
        tokenizer = ErnieTokenizer(vocab_file=str(vocab_file))
    paddle.seed(0)
    config = ErnieConfig(vocab_size=len(vocab), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=128, max_position_embeddings=32, num_labels=2, initializer_range=0.1,
                         id2label={0: "plain", 1: "great"}, label2id={"plain": 0, "great": 1})
    model = ErnieForSequenceClassification(config)

    # -- 2. 训练几秒钟 ------------------------------------------------------------------------------
    encoded = [tokenizer(text)["input_ids"] for text, _ in train]
    ids = np.zeros((len(encoded), max(map(len, encoded))), dtype="int64")   # 0 是 [PAD]
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
    print(f"训练完成：损失 {float(loss):.3f}")

    # -- 3. 用每种方法解释一个新句子 ------------------------------------------------------------------
    # 每个函数都直接使用 PaddleNLP 模型及其分词器，返回 TextExplanation（每个词元的相关性，>= 0），
    # 并把 <name>_<method>.html 写入 save_dir。
    text = "this story seemed great and dark"
    runs = [(interpret.rollout_text, {}), (interpret.generic_attention_text, {}),
            (interpret.tam_text, {"steps": args.steps}), (interpret.bidirectional_text, {"steps": args.steps}),
            (interpret.bidirectional_text, {"steps": args.steps, "mode": "token"})]
    for function, params in runs:
        exp = function(text, model, tokenizer, save_dir=args.save_dir, name=f"sentence_{params.get('mode', 'x')}",
                       **params)
        top = exp.top_tokens(k=3)
        listing = ", ".join(f"{t.token} {t.weight:.3f}" for t in top)
        print(f"[{exp.method}] {exp.label_name}（p = {exp.probability:.2f}）：最相关的词元 {listing}")
        print(f"    页面：{exp.html_path}")


if __name__ == "__main__":
    main()
