"""Writes tests/data/lime_reference.npz: LIME and Occlusion results of the code as it was before the
speed work of the "LIME at the speed of its forwards" issue, on a small CNN whose weights are stored
with them. tests/test_lime_reference.py checks that the engine still gives these numbers.

Run from the repository root: python tests/data/make_lime_reference.py (only to record a new
reference on purpose)."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import SmallCNN  # noqa: E402

from paddlex_interpret.data import ImagePreprocess  # noqa: E402
from paddlex_interpret.engine import LimeImage, Occlusion  # noqa: E402
from paddlex_interpret.models import PaddleLayerClassifier  # noqa: E402


def photo():
    import skimage.data
    import cv2

    return np.ascontiguousarray(cv2.resize(skimage.data.chelsea(), (64, 48), interpolation=cv2.INTER_AREA))


def main():
    net = SmallCNN()
    net.eval()
    clf = PaddleLayerClassifier(net, preprocess=ImagePreprocess(None, None))
    image = photo()
    out = {"image": image}
    out.update({f"param_{k}": v.numpy() for k, v in net.state_dict().items()})
    for hide in (0, "mean"):
        exp = LimeImage(clf, num_samples=200, batch_size=50, hide_color=hide, random_state=3,
                        progress=False).explain(image, top_k=2)
        tag = "grey0" if hide == 0 else "mean"
        out[f"lime_{tag}_segments"] = exp.segments
        out[f"lime_{tag}_targets"] = np.asarray(exp.targets)
        for t in exp.targets:
            out[f"lime_{tag}_weights_{t}"] = exp.weights[t]
    occ = Occlusion(clf, (3, 16, 16), strides=8, progress=False).attribute(image[None], [1])
    out["occlusion_class1"] = occ[0]
    target = Path(__file__).with_name("lime_reference.npz")
    np.savez_compressed(target, **out)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
