"""教程：从训练动态中找出标错的训练样本，离线运行，约一分钟。

我们使用 scikit-learn 自带的真实 8x8 手写数字，故意把 20% 的标签改错，用 `paddle.Model.fit`
训练一个小型 CNN，同时由回调记录每个训练批次，然后问：哪些样本看起来标错了？因为标签是我们自己
改的，所以可以检验答案。然后比较全批量梯度下降、小批量 SGD 和伯努利掩码梯度下降，最后用阈值样本为 AUM 校准一个阈值
（再做一次带一个额外类别的简短训练）。

    python tutorials/training_data_zh.py              # 输出写入 ./out_training_data
    python tutorials/training_data_zh.py --save-dir my_folder --epochs 10
"""
import argparse
from pathlib import Path

import numpy as np
import paddle
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from paddlex_interpret import interpret
from paddlex_interpret.engine.training_data import TrainingDynamicsCallback, aum_threshold_samples

parser = argparse.ArgumentParser(description="在含噪声的手写数字上进行训练数据解释")
parser.add_argument("--save-dir", default="out_training_data")
parser.add_argument("--epochs", type=int, default=8)
parser.add_argument("--sgd-steps", type=int, default=100)
args = parser.parse_args()
save_dir = Path(args.save_dir)

# 1. 真实数据，其中 20% 的标签被改成另一个类别（翻转掩码就是真实答案）。
digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)
rng = np.random.default_rng(0)
flipped = rng.random(len(images)) < 0.2
labels = digits.target.copy()
labels[flipped] = (labels[flipped] + rng.integers(1, 10, int(flipped.sum()))) % 10
print(f"{len(images)} 张手写数字，故意改错了 {int(flipped.sum())} 个标签")


class NoisyDigits(paddle.io.Dataset):
    def __getitem__(self, index):
        return images[index][None], np.array([labels[index]], dtype="int64")

    def __len__(self):
        return len(images)


# 2. 用 paddle.Model.fit 训练；回调记录每个样本在每一轮的 p(给定标签)。
#    fit 不会告诉回调一个批次包含哪些样本，所以加载器使用回调的批采样器。
paddle.seed(0)
network = paddle.nn.Sequential(
    paddle.nn.Conv2D(1, 16, 3, padding=1), paddle.nn.ReLU(), paddle.nn.MaxPool2D(2),
    paddle.nn.Flatten(), paddle.nn.Linear(16 * 4 * 4, 10))
model = paddle.Model(network)
model.prepare(paddle.optimizer.Momentum(learning_rate=0.05, momentum=0.9, parameters=network.parameters()),
              paddle.nn.CrossEntropyLoss())
dataset = NoisyDigits()
callback = TrainingDynamicsCallback(save_dir / "dynamics", dataset, batch_size=32, labels=labels,
                                    resume=False)
loader = paddle.io.DataLoader(dataset, batch_sampler=callback.batch_sampler)
model.fit(loader, epochs=args.epochs, callbacks=[callback], verbose=0)
print(f"训练了 {args.epochs} 轮；训练动态记录在 {save_dir / 'dynamics'}")

# 3. 一行代码：按可疑度给训练样本排序（TIDY 综合置信度、AUM、遗忘事件和 BHDF）。
result = interpret.find_label_errors(callback, save_dir=save_dir, images=digits.images, top_k=24,
                                     label_names=[str(i) for i in range(10)])
top = result.top(int(flipped.sum()))
print(f"排序表：{result.csv_path}")
print(f"最可疑样本图：{result.figure_path}")
print(f"最可疑的 {len(top)} 个样本中，有 {int(flipped[top].sum())} 个确实被改了标签"
      f"（精确率 {flipped[top].mean():.2f}；随机挑选约为 0.20）")

# 4. 每种方法与真实答案对比（AUROC：0.5 = 随机，1 = 完美）。
for method in ("data_map", "forgetting", "aum", "bhdf", "tidy"):
    ranking = interpret.find_label_errors(callback, method=method)
    print(f"AUROC {method:<10} {roc_auc_score(flipped, ranking.suspicion):.3f}")

# 5. 数据地图：被改的标签位于低置信度区域（红圈标出）。
cartography = interpret.data_map(callback, save_dir=save_dir, highlight=np.flatnonzero(flipped))
print(f"数据地图：{cartography.figure_path}")

# 6. SGD 噪声：同一个网络从同样的初始权重出发，用三种方式训练相同的步数。
paddle.seed(1)
fresh = paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(64, 32), paddle.nn.ReLU(), paddle.nn.Linear(32, 10))
x = images.reshape(len(images), 1, 8, 8)
noise = interpret.sgd_noise(fresh, x[:1200], digits.target[:1200], x[1200:], digits.target[1200:],
                            steps=args.sgd_steps, learning_rate=0.2, batch_size=16, eval_every=max(1, args.sgd_steps // 10),
                            save_dir=save_dir, progress=False)
for regime, accuracy in noise.final("test_accuracy").items():
    print(f"{args.sgd_steps} 步后的测试准确率，{regime:<9}：{accuracy:.3f}")
print(f"曲线：{noise.figure_path}")

# 7. AUM 的校准阈值（“阈值样本”，Pleiss 等 2020）：再训练一次，随机取 1/11 的样本改标为第 11 个虚拟类别。
#    它们只能靠死记硬背学会，所以它们的 AUM 展示了错误标签的样子；AUM 低于其第 99 百分位数的样本被标记。
threshold = aum_threshold_samples(labels, num_classes=10, random_state=0)
targets = threshold.labels  # 给定标签，阈值样本改为虚拟类别 10


class WithThresholdSamples(paddle.io.Dataset):
    def __getitem__(self, index):
        return images[index][None], np.array([targets[index]], dtype="int64")

    def __len__(self):
        return len(images)


paddle.seed(0)
network11 = paddle.nn.Sequential(
    paddle.nn.Conv2D(1, 16, 3, padding=1), paddle.nn.ReLU(), paddle.nn.MaxPool2D(2),
    paddle.nn.Flatten(), paddle.nn.Linear(16 * 4 * 4, threshold.num_outputs))
model11 = paddle.Model(network11)
model11.prepare(paddle.optimizer.Momentum(learning_rate=0.05, momentum=0.9, parameters=network11.parameters()),
                paddle.nn.CrossEntropyLoss())
callback11 = TrainingDynamicsCallback(save_dir / "dynamics_aum", WithThresholdSamples(), batch_size=32,
                                      labels=targets, resume=False)
model11.fit(paddle.io.DataLoader(WithThresholdSamples(), batch_sampler=callback11.batch_sampler),
            epochs=args.epochs, callbacks=[callback11], verbose=0)
calibrated = interpret.find_label_errors(callback11, method="aum", threshold_samples=threshold)
flagged = calibrated.flagged()
judged = flipped[calibrated.sample_ids]  # 阈值样本本身不被评判
print(f"AUM 阈值 {calibrated.params['threshold']:.3f}：{calibrated.num_samples} 个样本中标记了 {len(flagged)} 个，"
      f"召回率 {flipped[flagged].sum() / judged.sum():.2f}（被改标签中被找出的比例），"
      f"被标记样本中 {flipped[flagged].mean():.2f} 确实被改了标签")
