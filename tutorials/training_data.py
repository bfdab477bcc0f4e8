"""Tutorial: find mislabelled training samples from the training dynamics, offline, in about a minute.

We take scikit-learn's real 8x8 handwritten digits, make 20% of the labels wrong on purpose, train
a small CNN with `paddle.Model.fit` while a callback records every training batch, and ask which
samples look mislabelled. Because we flipped the labels ourselves, we can check the answer.
Then we compare full-batch gradient descent, minibatch SGD and Bernoulli-masked GD, and finally
calibrate a cut-off for AUM with threshold samples (a second, short training with one extra class).

    python tutorials/training_data.py                 # writes into ./out_training_data
    python tutorials/training_data.py --save-dir my_folder --epochs 10
"""
import argparse
from pathlib import Path

import numpy as np
import paddle
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from paddlex_interpret import interpret
from paddlex_interpret.engine.training_data import TrainingDynamicsCallback, aum_threshold_samples

parser = argparse.ArgumentParser(description="training-data explanations on noisy digits")
parser.add_argument("--save-dir", default="out_training_data")
parser.add_argument("--epochs", type=int, default=8)
parser.add_argument("--sgd-steps", type=int, default=100)
args = parser.parse_args()
save_dir = Path(args.save_dir)

# 1. Real data with 20% of the labels flipped to another class (the flip mask is our ground truth).
digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)
rng = np.random.default_rng(0)
flipped = rng.random(len(images)) < 0.2
labels = digits.target.copy()
labels[flipped] = (labels[flipped] + rng.integers(1, 10, int(flipped.sum()))) % 10
print(f"{len(images)} digits, {int(flipped.sum())} labels flipped on purpose")


class NoisyDigits(paddle.io.Dataset):
    def __getitem__(self, index):
        return images[index][None], np.array([labels[index]], dtype="int64")

    def __len__(self):
        return len(images)


# 2. Train with paddle.Model.fit; the callback records p(given label) of every sample in every epoch.
#    fit does not say which samples a batch holds, so the loader uses the callback's batch sampler.
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
print(f"trained {args.epochs} epochs; dynamics recorded in {save_dir / 'dynamics'}")

# 3. One line: rank the training samples by suspicion (TIDY combines confidence, AUM, forgetting, BHDF).
result = interpret.find_label_errors(callback, save_dir=save_dir, images=digits.images, top_k=24,
                                     label_names=[str(i) for i in range(10)])
top = result.top(int(flipped.sum()))
print(f"ranked table: {result.csv_path}")
print(f"top suspects figure: {result.figure_path}")
print(f"of the {len(top)} most suspicious samples, {int(flipped[top].sum())} really had a flipped label "
      f"(precision {flipped[top].mean():.2f}; a random pick would give about 0.20)")

# 4. Every method against the truth (AUROC: 0.5 = random, 1 = perfect).
for method in ("data_map", "forgetting", "aum", "bhdf", "tidy"):
    ranking = interpret.find_label_errors(callback, method=method)
    print(f"AUROC {method:<10} {roc_auc_score(flipped, ranking.suspicion):.3f}")

# 5. The data map: flipped labels sit at low confidence (ringed in red).
cartography = interpret.data_map(callback, save_dir=save_dir, highlight=np.flatnonzero(flipped))
print(f"data map: {cartography.figure_path}")

# 6. SGD noise: the same network from its initial weights, three ways, equal steps.
paddle.seed(1)
fresh = paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(64, 32), paddle.nn.ReLU(), paddle.nn.Linear(32, 10))
x = images.reshape(len(images), 1, 8, 8)
noise = interpret.sgd_noise(fresh, x[:1200], digits.target[:1200], x[1200:], digits.target[1200:],
                            steps=args.sgd_steps, learning_rate=0.2, batch_size=16, eval_every=max(1, args.sgd_steps // 10),
                            save_dir=save_dir, progress=False)
for regime, accuracy in noise.final("test_accuracy").items():
    print(f"test accuracy after {args.sgd_steps} steps, {regime:<9}: {accuracy:.3f}")
print(f"curves: {noise.figure_path}")

# 7. A calibrated cut-off for AUM ("threshold samples", Pleiss et al. 2020): train once more with a
#    random 1/11 of the samples relabelled to an 11th, fake class. They can only be memorised, so
#    their AUM shows what a wrong label looks like; below its 99th percentile a sample is flagged.
threshold = aum_threshold_samples(labels, num_classes=10, random_state=0)
targets = threshold.labels  # the given labels, with the fake class 10 for the threshold samples


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
judged = flipped[calibrated.sample_ids]  # the threshold samples themselves are not judged
print(f"AUM cut-off {calibrated.params['threshold']:.3f}: {len(flagged)} of {calibrated.num_samples} samples "
      f"flagged, recall {flipped[flagged].sum() / judged.sum():.2f} of the flipped labels, "
      f"{flipped[flagged].mean():.2f} of the flagged are flipped")
