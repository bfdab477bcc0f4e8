"""The attention methods on real PaddleClas ViT/DeiT architectures: capture correctness, a trained
known-answer model, any patch grid, the model left unchanged, batch-size invariance, refusals."""
import numpy as np
import paddle
import pytest
from paddleclas.ppcls.arch.backbone.model_zoo.distilled_vision_transformer import DistilledVisionTransformer
from paddleclas.ppcls.arch.backbone.model_zoo.vision_transformer import VisionTransformer

from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import get_method, load_explanation
from paddlex_interpret.engine.transformer._core import capture_attention
from paddlex_interpret.models import PaddleLayerClassifier
from paddlex_interpret.models.attention import AttentionUnavailableError
from paddlex_interpret.models.base import attention_model

METHODS = [("rollout", {}), ("generic_attention", {}), ("tam", {"steps": 8}),
           ("bidirectional", {"steps": 8}), ("bidirectional", {"steps": 8, "mode": "token"})]
ALL_METHODS = METHODS + [("vit_gradcam", {})]
SIZE, PATCH = 32, 8
CELLS = (SIZE // PATCH) ** 2


def _classifier(net, size):
    return PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=size),
                                 runner="dygraph")


def _tiny_vit(seed=0, **kw):
    paddle.seed(seed)
    args = dict(img_size=SIZE, patch_size=PATCH, class_num=3, embed_dim=32, depth=2, num_heads=4, mlp_ratio=2,
                qkv_bias=True)
    args.update(kw)
    return VisionTransformer(**args)


def _marker_images(n, rng, graded=False):
    """Gray noise; classes 0/1 have one red/blue patch at a random cell (its index is returned), class 2 none.

    ``graded``: the patch is blended into the noise at an opacity drawn from U(0.2, 1), and a fourth
    value is returned, soft training targets: a marker class's probability rises linearly with the
    opacity (``0.9 * opacity + 0.1 / 3``, the rest spread evenly), class 2 ('no marker') is certain."""
    images = np.repeat(rng.integers(60, 196, (n, SIZE, SIZE, 1)), 3, axis=3).astype(np.float64)
    labels, cells = rng.integers(0, 3, n), rng.integers(0, CELLS, n)
    opacity = rng.uniform(0.2, 1.0, n) if graded else np.ones(n)
    targets = np.zeros((n, 3), np.float32)
    side = SIZE // PATCH
    for i in range(n):
        r, c = divmod(int(cells[i]), side)
        if labels[i] == 2:
            targets[i, 2] = 1.0
            continue
        patch = images[i, r * PATCH:(r + 1) * PATCH, c * PATCH:(c + 1) * PATCH]
        colour = np.array((220, 30, 30) if labels[i] == 0 else (30, 30, 220), np.float64)
        patch[:] = (1 - opacity[i]) * patch + opacity[i] * colour
        spread = 1 - 0.9 * opacity[i]
        targets[i] = spread / 3
        targets[i, labels[i]] += 1 - spread
    images = images.round().astype(np.uint8)
    return (images, labels, cells, targets) if graded else (images, labels, cells)


@pytest.fixture(scope="module")
def trained():
    """A one-block PaddleClas VisionTransformer trained for a few seconds on marker images (seeded).

    One block: the class token must read the marker patch directly. (With two blocks the first block
    copies the marker into other tokens; measured with this recipe over training seeds 0-3: Rollout
    and Generic Attention still 100%, but TAM, BT and ViT Grad-CAM, which weight by the last block's
    gradient or read its input only, 46-100%.)

    Graded evidence: trained on hard labels with full-opacity markers (this file's first recipe), the
    model saturates and, for one of the two marker classes, its logit *falls* when the class token
    attends more to the marker (measured: the gradient w.r.t. the marker's attention weight, minus
    its attention-weighted mean over the row, was about -0.06 in both heads on each image checked),
    so every gradient-weighted method missed that class (24-100% over seeds) while Rollout hit it.
    The cause is the model, not the methods' rule. Trained on soft
    targets that rise with the marker's opacity, each marker class's logit must grow with its own
    evidence; the 'no marker' class keeps a class from being recognised by the absence of the other
    marker (without it, Rollout too misses one class on some seeds)."""
    net = _tiny_vit(seed=0, depth=1, num_heads=2)
    rng = np.random.default_rng(0)
    clf = _classifier(net, SIZE)
    opt = paddle.optimizer.Adam(learning_rate=2e-3, parameters=net.parameters())
    net.train()
    for _ in range(100):
        x, _, _, q = _marker_images(64, rng, graded=True)
        loss = paddle.nn.functional.cross_entropy(net(paddle.to_tensor(clf.preprocess(x))), paddle.to_tensor(q),
                                                  soft_label=True)
        loss.backward()
        opt.step()
        opt.clear_grad()
    net.eval()
    for p in net.parameters():
        p.stop_gradient = False
    return clf


@pytest.mark.parametrize("name,params", METHODS, ids=[f"{m}-{p.get('mode', '')}" for m, p in METHODS])
def test_pointing_game_on_a_trained_vit(trained, name, params):
    images, labels, cells = _marker_images(96, np.random.default_rng(1))
    keep = labels < 2
    images, labels, cells = images[keep], labels[keep], cells[keep]
    assert (trained.predict_proba(images).argmax(axis=1) == labels).mean() > 0.95
    maps, layout = get_method(name).load()(trained, **params).token_maps(images, labels)
    assert layout.grid == (4, 4) and maps.shape == (len(images), 4, 4)
    hits = (maps.reshape(len(images), -1).argmax(axis=1) == cells).mean()
    print(f"{name} {params}: pointing game {hits:.2f}")
    # Chance is 1/16 = 6%. Measured over training seeds 0-9 (this recipe and these images): Rollout 100%
    # on every seed, Generic Attention, TAM and BT (head and token) 97-100%. Require 80% (13x chance).
    assert hits >= 0.8, f"{name} {params}: pointing game {hits:.2f}"


def test_captured_attention_is_the_softmax_of_the_captured_projections():
    net = _tiny_vit(seed=1)
    net.eval()
    clf = _classifier(net, SIZE)
    am = attention_model(clf)
    images, _, _ = _marker_images(2, np.random.default_rng(2))
    inputs = clf.preprocess(images).astype(np.float32)
    qkv = []
    handles = [b.attn.qkv.register_forward_post_hook(lambda _l, _i, out: qkv.append(out.numpy())) for b in net.blocks]
    try:
        attns, _, extra = capture_attention(clf, am, inputs, None, am.layout((SIZE, SIZE)), values=True)
    finally:
        for h in handles:
            h.remove()
    assert len(attns) == 2 and attns[0].shape == (2, 4, 1 + CELLS, 1 + CELLS)
    for layer, out in enumerate(qkv):
        n, s, d3 = out.shape
        heads, d = 4, d3 // 3
        parts = out.reshape(n, s, 3, heads, d // heads).transpose(2, 0, 3, 1, 4).astype(np.float64)
        q, k = parts[0], parts[1]
        logits = q @ np.swapaxes(k, -1, -2) / np.sqrt(d // heads)
        soft = np.exp(logits - logits.max(axis=-1, keepdims=True))
        soft /= soft.sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(attns[layer], soft, atol=1e-5)
        np.testing.assert_allclose(extra["values"][layer], out[:, :, 2 * d:], atol=0)


@pytest.mark.parametrize("layer", [0, 1])
def test_attention_gradient_matches_a_finite_difference(layer):
    """With LayerNorm scales != 1 (as after training): Paddle 3.3.1's CPU layer_norm kernel alone gave a
    gradient 45% off here; the capture recomputes LayerNorms from elementary ops."""
    net = _tiny_vit(seed=3)
    rng = np.random.default_rng(0)
    for sub in net.sublayers():
        if isinstance(sub, paddle.nn.LayerNorm):
            sub.weight.set_value(rng.uniform(0.5, 2.0, sub.weight.shape).astype("float32"))
            sub.bias.set_value(rng.normal(0.0, 0.3, sub.bias.shape).astype("float32"))
    net.eval()
    clf = _classifier(net, SIZE)
    am = attention_model(clf)
    images, _, _ = _marker_images(1, np.random.default_rng(4))
    inputs = clf.preprocess(images).astype(np.float32)
    target = 1
    _, grads, _ = capture_attention(clf, am, inputs, np.array([target]), am.layout((SIZE, SIZE)), "logit",
                                    gradients="all")
    direction = np.random.default_rng(5).normal(size=grads[layer].shape).astype(np.float32)

    def logit(eps):
        def shift(_layer, inputs_):
            return (inputs_[0] + paddle.to_tensor(eps * direction),)

        handle = net.blocks[layer].attn.attn_drop.register_forward_pre_hook(shift)
        try:
            with paddle.no_grad():
                return float(net(paddle.to_tensor(inputs)).numpy()[0, target])
        finally:
            handle.remove()

    eps = 1e-2
    finite = (logit(eps) - logit(-eps)) / (2 * eps)
    analytic = float((grads[layer].astype(np.float64) * direction).sum())
    assert finite == pytest.approx(analytic, rel=1e-2, abs=1e-4)


@pytest.mark.parametrize("size,patch,grid", [(384, 32, 12), (384, 16, 24), (224, 32, 7)])
def test_any_grid(size, patch, grid):
    net = _tiny_vit(seed=0, img_size=size, patch_size=patch, embed_dim=16, depth=1, num_heads=2)
    net.eval()
    clf = _classifier(net, size)
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    for name, params in [("rollout", {}), ("generic_attention", {}), ("bidirectional", {"steps": 2}),
                         ("vit_gradcam", {})]:
        explanation = get_method(name).load()(clf, **params).explain(image, 0)
        assert explanation.attribution.shape == (size, size)
        assert explanation.extras["token_map"].shape == (grid, grid)
        assert explanation.params["layout"] == {"grid": [grid, grid], "num_special": 1, "readout": [0],
                                                "patch_size": [patch, patch]}
        assert (explanation.attribution >= 0).all()


def test_distilled_deit_reads_class_and_distillation_tokens():
    paddle.seed(0)
    net = DistilledVisionTransformer(img_size=224, patch_size=16, class_num=4, embed_dim=16, depth=1, num_heads=2,
                                     mlp_ratio=2, qkv_bias=True)
    net.eval()
    clf = _classifier(net, 224)
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    method = get_method("tam").load()(clf, steps=2)
    explanation = method.explain(image, 1)
    assert explanation.attribution.shape == (224, 224)
    assert explanation.extras["token_map"].shape == (14, 14)
    assert explanation.params["layout"]["num_special"] == 2 and explanation.params["layout"]["readout"] == [0, 1]
    assert np.isfinite(explanation.attribution).all() and explanation.attribution.max() > 0


def _state(net):
    return ([p.numpy().copy() for p in net.parameters()], [s.training for s in net.sublayers(include_self=True)],
            [s.p for s in net.sublayers() if isinstance(s, paddle.nn.Dropout)],
            [(len(s._forward_pre_hooks), len(s._forward_post_hooks)) for s in net.sublayers(include_self=True)],
            [p.stop_gradient for p in net.parameters()])


@pytest.mark.parametrize("name,params", ALL_METHODS, ids=[f"{m}-{p.get('mode', '')}" for m, p in ALL_METHODS])
def test_model_is_unchanged_and_batch_size_does_not_matter(name, params):
    net = _tiny_vit(seed=6, attn_drop_rate=0.1, drop_rate=0.1)
    net.train()  # a model left in train mode stays in train mode (the method runs it in eval mode)
    attn_layer = net.blocks[0].attn
    attn_layer.use_fused_attn = True  # a fused flag is switched off for the call and restored
    clf = _classifier(net, SIZE)
    before = _state(net)
    images, _, _ = _marker_images(3, np.random.default_rng(7))
    together = get_method(name).load()(clf, batch_size=3, **params).attribute(images, [0, 1, 2])
    alone = get_method(name).load()(clf, batch_size=1, **params).attribute(images, [0, 1, 2])
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-6 * max(1.0, float(np.abs(together).max())))
    after = _state(net)
    for b, a in zip(before[0], after[0]):
        np.testing.assert_array_equal(b, a)
    assert before[1:] == after[1:]
    assert attn_layer.use_fused_attn is True and all(p.grad is None for p in net.parameters())
    # deterministic: the same call gives the same map
    again = get_method(name).load()(clf, batch_size=3, **params).attribute(images, [0, 1, 2])
    np.testing.assert_array_equal(together, again)


def test_parameters_change_the_result_and_are_recorded(trained):
    images, labels, _ = _marker_images(2, np.random.default_rng(8))
    tam = get_method("tam").load()
    a = tam(trained, steps=4).attribute(images, [0, 0])
    b = tam(trained, steps=4, gradient_of="probability").attribute(images, [0, 0])
    assert not np.allclose(a, b)
    bt = get_method("bidirectional").load()(trained, mode="token", steps=3)
    bt.attribute(images[:1], 0)
    assert bt.params()["mode"] == "token" and bt.params()["steps"] == 3 and bt.params()["gradient_of"] == "logit"
    with pytest.raises(ValueError, match="mode must be one of"):
        get_method("bidirectional").load()(trained, mode="layer")
    with pytest.raises(ValueError, match=r"start_layer=2 .*valid: 0..1"):
        get_method("generic_attention").load()(trained, start_layer=2)
    with pytest.raises(ValueError, match=r"valid: 0..0"):
        get_method("tam").load()(trained, start_layer=1)


def test_refusals_name_what_applies():
    from paddleclas.ppcls.arch.backbone import SwinTransformer_tiny_patch4_window7_224

    swin = _classifier(SwinTransformer_tiny_patch4_window7_224(pretrained=False, class_num=2), 224)
    with pytest.raises(AttentionUnavailableError, match=r"windowed attention.*rollout, tam.*gradcam"):
        get_method("rollout").load()(swin)

    class SmallCNN(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = paddle.nn.Conv2D(3, 4, 3)
            self.fc = paddle.nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.conv(x).mean(axis=[2, 3]))

    with pytest.raises(AttentionUnavailableError, match="no ViT-style attention blocks.*intgrad"):
        get_method("generic_attention").load()(_classifier(SmallCNN(), SIZE))


def test_free_functions_figures_save_load_and_deletion(trained, tmp_path):
    images, labels, cells = _marker_images(12, np.random.default_rng(9))
    i = int(np.flatnonzero(labels < 2)[0])
    image = images[i]
    for fn in (interpret.rollout, interpret.tam, interpret.generic_attention, interpret.bidirectional):
        explanation = fn(image, trained, save_dir=tmp_path, target=int(labels[i]))
        assert explanation.figure_path and (tmp_path / f"image_{explanation.method}_class{labels[i]}.png").is_file()
        back = load_explanation(explanation.save(tmp_path / f"{explanation.method}.npz"))
        np.testing.assert_array_equal(back.attribution, explanation.attribution)
        np.testing.assert_array_equal(back.extras["token_map"], explanation.extras["token_map"])
    report = interpret.evaluate(explanation, trained, metrics=("deletion",))
    assert "deletion" in report


def test_vit_gradcam_reads_the_blocks_attention_input(trained):
    images, labels, cells = _marker_images(40, np.random.default_rng(10))
    keep = labels < 2
    method = get_method("vit_gradcam").load()
    maps, layout = method(trained).token_maps(images[keep], labels[keep])
    assert maps.shape == (int(keep.sum()), 4, 4) and (maps >= 0).all() and maps.max() > 0
    assert method(trained, block=-1).block == 0 and method(trained).params()["block"] == 0
    with pytest.raises(ValueError, match=r"block must be an int in -1..0"):
        method(trained, block=1)
    # Known answer. Measured over training seeds 0-9 on these 40 images: 86-100% on 8 seeds, 79% on one,
    # 54% on one (one class missed there: Grad-CAM's channel weights are a mean over all patches). This
    # fixture (seed 0): 100%. Require 80% (13x chance).
    hits = maps.reshape(len(maps), -1).argmax(axis=1) == cells[keep]
    print("vit_gradcam pointing game per class:", [round(float(hits[labels[keep] == c].mean()), 2) for c in (0, 1)])
    assert hits.mean() >= 0.8


def test_exported_model_with_its_dygraph_twin(tmp_path):
    """An exported ViT (paddle.jit.save, run by Paddle Inference) with its dygraph twin: the attention
    methods use the twin and give the same maps; without the twin the error says how to get one."""
    from paddlex_interpret.models import StaticClassifier
    from paddlex_interpret.models.base import GradientsUnavailableError

    net = _tiny_vit(seed=11, depth=1)
    net.eval()
    paddle.jit.save(net, str(tmp_path / "inference"),
                    input_spec=[paddle.static.InputSpec([None, 3, SIZE, SIZE], "float32", "x")])
    preprocess = ImagePreprocess(resize_short=None, crop_size=SIZE)
    twin = StaticClassifier(str(tmp_path / "inference"), preprocess=preprocess, network=net)
    images, _, _ = _marker_images(2, np.random.default_rng(12))
    direct = get_method("generic_attention").load()(_classifier(net, SIZE)).attribute(images, [0, 1])
    via_twin = get_method("generic_attention").load()(twin).attribute(images, [0, 1])
    np.testing.assert_allclose(via_twin, direct, rtol=1e-5, atol=1e-7)
    alone = StaticClassifier(str(tmp_path / "inference"), preprocess=preprocess)
    with pytest.raises(GradientsUnavailableError, match="dygraph"):
        get_method("rollout").load()(alone)


def test_paddleclas_config_of_a_distilled_deit(tmp_path):
    """A PaddleClas config + .pdparams (the real DeiT_tiny_distilled_patch16_224 architecture, 12 blocks,
    random weights saved here): reached through the adapter, explained with its 14x14 grid and two tokens."""
    import yaml
    from paddleclas.ppcls.arch.backbone import DeiT_tiny_distilled_patch16_224

    from paddlex_interpret.models import as_classifier

    paddle.seed(13)
    net = DeiT_tiny_distilled_patch16_224(pretrained=False, class_num=3)
    paddle.save(net.state_dict(), str(tmp_path / "best_model.pdparams"))
    config = {"Arch": {"name": "DeiT_tiny_distilled_patch16_224", "class_num": 3},
              "Infer": {"transforms": [{"DecodeImage": {"to_rgb": True}}, {"ResizeImage": {"resize_short": 256}},
                                       {"CropImage": {"size": 224}},
                                       {"NormalizeImage": {"scale": 1.0 / 255, "mean": [0.485, 0.456, 0.406],
                                                           "std": [0.229, 0.224, 0.225], "order": ""}},
                                       {"ToCHWImage": None}]}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    clf = as_classifier((str(tmp_path / "config.yaml"), str(tmp_path / "best_model.pdparams")), runner="dygraph")
    image = clf.image_as_explained(np.random.default_rng(14).integers(0, 256, (240, 300, 3), dtype=np.uint8))
    for name in ("rollout", "generic_attention"):
        explanation = get_method(name).load()(clf).explain(image, 2)
        assert explanation.attribution.shape == (224, 224) and explanation.extras["token_map"].shape == (14, 14)
        assert explanation.params["layout"]["num_special"] == 2


def test_fused_attention_is_switched_off_for_the_call_and_restored():
    """PaddleClas foundation_vit (here its CLIP ViT layout, tiny) with use_fused_attn=True runs
    scaled_dot_product_attention, which exposes no probabilities (attn_drop is never called); the
    methods switch the flag off for their forwards and put it back."""
    from paddleclas.ppcls.arch.backbone.model_zoo.foundation_vit import VisionTransformer as FoundationViT

    paddle.seed(15)
    net = FoundationViT(model_name="CLIP_vit_base_patch16_224", img_size=SIZE, patch_size=PATCH, embed_dim=32,
                        depth=2, num_heads=2, class_num=3, qkv_bias=True)
    net.eval()
    for block in net.blocks:
        block.attn.use_fused_attn = True
    calls = []
    handle = net.blocks[0].attn.attn_drop.register_forward_pre_hook(lambda _l, _i: calls.append(1))
    try:
        with paddle.no_grad():
            net(paddle.zeros([1, 3, SIZE, SIZE]))
    finally:
        handle.remove()
    assert not calls  # the fused path hides the probabilities
    clf = _classifier(net, SIZE)
    image = np.random.default_rng(16).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    explanation = get_method("generic_attention").load()(clf).explain(image, 1)
    assert explanation.extras["token_map"].shape == (4, 4) and explanation.attribution.max() > 0
    assert all(block.attn.use_fused_attn is True for block in net.blocks)


def test_input_gradient_methods_run_on_a_vit():
    """Integrated Gradients on a ViT (random init: LayerNorm scales 1, where Paddle's CPU kernel is exact):
    completeness, sum(attribution) = f(x) - f(baseline), holds."""
    net = _tiny_vit(seed=17)
    net.eval()
    clf = _classifier(net, SIZE)
    image = np.random.default_rng(18).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    attribution = get_method("intgrad").load()(clf, steps=64, gradient_of="logit", random_state=0).attribute(
        image[None], [2])[0]
    x = paddle.to_tensor(clf.preprocess(image[None]))
    with paddle.no_grad():
        gap = float(net(x).numpy()[0, 2] - net(paddle.zeros_like(x)).numpy()[0, 2])
    assert attribution.shape == (3, SIZE, SIZE)
    assert float(attribution.sum()) == pytest.approx(gap, rel=0.05, abs=1e-3)
