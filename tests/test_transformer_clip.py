"""Generic Attention on a CLIP-style two-tower model (PaddleNLP CLIPModel built offline from a small
config, trained in the test for seconds): run in .venv-nlp (-m paddlenlp)."""
import numpy as np
import paddle
import pytest

pytestmark = pytest.mark.paddlenlp

SIZE, PATCH, CELLS = 32, 8, 16
PAD, BOS, RED, BLUE = 0, 1, 2, 3
FILLERS = list(range(4, 12))
EOS = 12  # the end-of-text id (config.eos_token_id): the text tower pools its first occurrence


def _clip(seed=0):
    from paddlenlp.transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(
        text_config=dict(vocab_size=EOS + 1, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=8, projection_dim=16, eos_token_id=EOS),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=SIZE, patch_size=PATCH, projection_dim=16),
        projection_dim=16)
    state = paddle.get_rng_state()
    paddle.seed(seed)
    try:
        model = CLIPModel(config)
    finally:
        paddle.set_rng_state(state)
    return model


def _images(n, rng, graded=False):
    """Gray noise with one red (colour 0) or blue (1) patch at a random cell; returns images, colours, cells.

    ``graded`` (training): a third of the images have no marker (colour 2), the patch is blended into the
    noise at an opacity drawn from U(0.2, 1), and a fourth value is returned, soft targets over the three
    captions: a marker's caption's probability rises linearly with the opacity (``0.9 * opacity + 0.1 / 3``,
    the rest spread evenly), the plain caption is certain for an image without a marker."""
    images = np.repeat(rng.integers(60, 196, (n, SIZE, SIZE, 1)), 3, axis=3).astype(np.float64)
    colours, cells = rng.integers(0, 3 if graded else 2, n), rng.integers(0, CELLS, n)
    opacity = rng.uniform(0.2, 1.0, n) if graded else np.ones(n)
    targets = np.zeros((n, 3), np.float32)
    for i in range(n):
        if colours[i] == 2:
            targets[i, 2] = 1.0
            continue
        r, c = divmod(int(cells[i]), SIZE // PATCH)
        patch = images[i, r * PATCH:(r + 1) * PATCH, c * PATCH:(c + 1) * PATCH]
        colour = np.array((220, 30, 30) if colours[i] == 0 else (30, 30, 220), np.float64)
        patch[:] = (1 - opacity[i]) * patch + opacity[i] * colour
        spread = 1 - 0.9 * opacity[i]
        targets[i] = spread / 3
        targets[i, colours[i]] += 1 - spread
    images = images.round().astype(np.uint8)
    return (images, colours, cells, targets) if graded else (images, colours, cells)


def _texts(rng, plain=False):
    """The captions 'BOS f1 <red|blue> f2 EOS' with the same random fillers: they differ in the colour only.
    ``plain``: a third caption 'BOS f1 f3 f2 EOS' with a filler where the colour word was (no colour named)."""
    if not plain:
        f1, f2 = (int(x) for x in rng.choice(FILLERS, 2))
        return [[BOS, f1, RED, f2, EOS], [BOS, f1, BLUE, f2, EOS]]
    f1, f2, f3 = (int(x) for x in rng.choice(FILLERS, 3, replace=False))
    return [[BOS, f1, RED, f2, EOS], [BOS, f1, BLUE, f2, EOS], [BOS, f1, f3, f2, EOS]]


TEXT_TO_IMAGE = 0.25  # the text-to-image term's weight in the training loss (see _train)


def _train(seed=0, steps=150):
    """A tiny CLIP trained for a few seconds on graded marker images against three captions: red, blue, and
    a plain one for the images without a marker. ``seed`` seeds the weights and the data; ``steps`` batches
    of 32 images (150: fewer leave some seeds unconverged, e.g. 100 steps: accuracy 0.29-0.71 on 3 of 10).

    Why this recipe (measured; Generic Attention's rule is not changed). The first recipe (full-opacity
    red/blue markers, two captions, hard labels, the image-to-text cross-entropy only) saturated (loss
    0.000) and patch hits were 0.48-1.00 over training seeds 0-4, the misses always one colour's images:
    one colour was told by the other's absence (seed 3: every image without a marker matched 'blue', and
    blue's patch hits were 0%), and the gradient of the similarity w.r.t. the marker's attention weight,
    minus its attention-weighted row mean, was negative in a head (seed 0, red: -3.5). Three changes, each
    for a cause: (1) images without a marker and a plain caption for them (a filler where the colour word
    was), so neither colour can be told by the other's absence, in the image or in the text; (2) markers
    at graded opacity with soft targets rising with it, so each caption's match must grow with its own
    evidence; (3) CLIP's own second loss term, text-to-image cross-entropy, added to the image-to-text one.
    Generic Attention differentiates the raw similarity ``logits_per_image[0, target]``, and the
    image-to-text softmax alone leaves it free to shift by any amount per image: with (1) and (2) only,
    the head that read the marker attended to it with weight ~1.0 while the raw gradient at the marker was
    below the background's, and one colour's patch hits fell to 0.5-0.8 on 4 of 10 seeds. The
    text-to-image term ties each caption's similarity across images, so it must rise with the marker.
    Its weight, measured over seeds 0-9: 1 (CLIP's equal weights): patch 1.00 everywhere but the colour
    word 0.42-1.00; 0.5: word 0.38-1.00 and one seed unconverged; 0.25: patch 1.00, word 0.75-1.00."""
    from paddlex_interpret.engine.transformer.generic_attention_clip import GenericAttentionCLIP

    model = _clip(seed)
    method = GenericAttentionCLIP(model)
    rng = np.random.default_rng(seed)
    optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())  # 2e-3 often collapses
    model.train()
    for _ in range(steps):
        images, _, _, targets = _images(32, rng, graded=True)
        out = model(input_ids=paddle.to_tensor(_texts(rng, plain=True)),
                    pixel_values=paddle.to_tensor(method.preprocess(images)), return_dict=True)
        per_text = (targets / targets.sum(axis=0, keepdims=True)).T  # each caption's soft target over the images
        loss = (paddle.nn.functional.cross_entropy(out.logits_per_image, paddle.to_tensor(targets), soft_label=True)
                + TEXT_TO_IMAGE * paddle.nn.functional.cross_entropy(out.logits_per_text, paddle.to_tensor(per_text),
                                                                     soft_label=True)) / (1 + TEXT_TO_IMAGE)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
    model.eval()
    return model, float(loss)


def _pointing_game(model, n=24):
    """Accuracy, patch hits and colour-word hits of Generic Attention on ``n`` full-opacity marker images,
    each explained against the three captions (red, blue, plain) for its colour's caption."""
    from paddlex_interpret.engine.transformer.generic_attention_clip import GenericAttentionCLIP

    method = GenericAttentionCLIP(model)
    images, colours, cells = _images(n, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    patch_hits, word_hits, correct = [], [], []
    for image, colour, cell in zip(images, colours, cells):
        explanation = method.explain(image, _texts(rng, plain=True), target=int(colour))
        correct.append(int(np.argmax(explanation.extras["similarities"])) == colour)
        patch_hits.append(int(np.argmax(explanation.extras["token_map"])) == cell)
        content = explanation.extras["text_relevance"][1:4]   # between BOS and EOS
        word_hits.append(int(np.argmax(content)) == 1)        # the colour word
    return np.mean(correct), np.mean(patch_hits), np.mean(word_hits)


@pytest.fixture(scope="module")
def trained():
    return _train(seed=0)


def test_clip_relevance_points_to_the_patch_and_the_colour_word(trained):
    model, loss = trained
    accuracy, patch, word = _pointing_game(model)
    print(f"loss {loss:.3f} accuracy {accuracy:.2f} patch {patch:.2f} word {word:.2f}")
    assert accuracy > 0.9
    # Chance: 1/16 for the patch, 1/3 for the word. Measured with this recipe over training seeds 0-9 (this
    # fixture: seed 0): accuracy 0.92-1.00, patch 1.00 on every seed (the first recipe: 0.48-1.00 over
    # seeds 0-4), word 1.00 on 8 seeds, 0.88 and 0.75 (first recipe: 0.58-1.00). The text misses are one
    # colour's captions: there the last text block attends nearly uniformly (0.15-0.27) from the pooled
    # token and most raw gradients of those weights are negative, so (grad * A)^+ passes little relevance
    # and the fillers get about as much as the colour word (the model reads the word through the values).
    # Required: patch 0.8 (13x chance), word 0.7 (2.1x chance; 17 of 24).
    assert patch >= 0.8 and word >= 0.7


def test_clip_result_shapes_and_the_model_unchanged(trained):
    from paddlex_interpret.engine import load_explanation
    from paddlex_interpret.engine.transformer.generic_attention_clip import GenericAttentionCLIP

    model = _clip(seed=3)
    model.train()
    before = [p.numpy().copy() for p in model.parameters()]
    flags = [(s.training, getattr(s, "need_weights", None)) for s in model.sublayers(include_self=True)]
    image = np.random.default_rng(4).integers(0, 256, (48, 40, 3), dtype=np.uint8)
    explanation = GenericAttentionCLIP(model).explain(image, _texts(np.random.default_rng(5)))
    assert explanation.attribution.shape == (SIZE, SIZE) and explanation.extras["token_map"].shape == (4, 4)
    assert explanation.extras["text_relevance"].shape == (5,) and explanation.params["text_readout"] == 4
    assert explanation.extras["similarities"].shape == (2,)
    for b, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(b, p.numpy())
    assert flags == [(s.training, getattr(s, "need_weights", None)) for s in model.sublayers(include_self=True)]
    assert all(p.grad is None for p in model.parameters())
    # started past the last layer: relevance = the identity, zero everywhere but the pooled token
    blank = GenericAttentionCLIP(model, start_layer=1, start_layer_text=2).explain(image, _texts(np.random.default_rng(5)))
    assert not blank.extras["token_map"].any()
    np.testing.assert_array_equal(blank.extras["text_relevance"], [0, 0, 0, 0, 1])
    with pytest.raises(ValueError, match=r"start_layer_text=3 .*valid: 0..2"):
        GenericAttentionCLIP(model, start_layer_text=3).explain(image, _texts(np.random.default_rng(5)))
    with pytest.raises(ValueError, match="target must be an index"):
        GenericAttentionCLIP(model).explain(image, _texts(np.random.default_rng(5)), target=2)
    # the result is a PixelExplanation: save / load keep the text relevance
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        back = load_explanation(explanation.save(Path(tmp) / "clip.npz"))
    np.testing.assert_array_equal(back.extras["text_relevance"], explanation.extras["text_relevance"])


def test_free_function_writes_the_figure(trained, tmp_path):
    from paddlex_interpret import interpret

    model, _ = trained
    images, colours, cells = _images(1, np.random.default_rng(7))
    explanation = interpret.generic_attention_clip(images[0], model, _texts(np.random.default_rng(8)),
                                                   texts=["a red patch", "a blue patch"], save_dir=tmp_path)
    assert explanation.target == int(colours[0]) and explanation.label_name == ["a red patch", "a blue patch"][colours[0]]
    assert (tmp_path / "image_generic_attention_clip.png").is_file()


def _tokenizer(folder):
    """A real PaddleNLP CLIPTokenizer (byte-level BPE) whose vocabulary is the tiny model's ids: 'red' -> RED,
    'blue' -> BLUE, eight filler words -> FILLERS, <|startoftext|> -> BOS, <|endoftext|> -> EOS (also the pad)."""
    import json

    from paddlenlp.transformers import CLIPTokenizer

    words = ["a", "the", "this", "one", "small", "patch", "square", "spot"]
    vocab = {"!": PAD, "<|startoftext|>": BOS, "red</w>": RED, "blue</w>": BLUE, "<|endoftext|>": EOS}
    vocab.update({w + "</w>": i for w, i in zip(words, FILLERS)})
    merges = []
    for word in ["red", "blue"] + words:  # merge the characters left to right into the whole word
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            if (parts[0], parts[1]) not in merges:
                merges.append((parts[0], parts[1]))
            parts = [parts[0] + parts[1]] + parts[2:]
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))


def test_explain_command_on_a_saved_clip(trained, tmp_path, capsys):
    """`paddlex-interpret explain generic_attention_clip IMAGE --model DIR --text ... --text ...` on the
    trained CLIP saved with save_pretrained (with a real CLIPTokenizer): the texts are tokenized as the
    test's id rows, the matching caption is chosen, and the saved explanation is the free function's."""
    from PIL import Image

    from paddlex_interpret import interpret
    from paddlex_interpret.cli import main
    from paddlex_interpret.engine import load_explanation

    model, _ = trained
    folder = tmp_path / "clip"
    folder.mkdir()
    tokenizer = _tokenizer(folder)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    images, colours, cells = _images(2, np.random.default_rng(20))
    captions = ["a red patch", "a blue patch"]
    ids = [[BOS, FILLERS[0], RED, FILLERS[5], EOS], [BOS, FILLERS[0], BLUE, FILLERS[5], EOS]]
    for k, (image, colour) in enumerate(zip(images, colours)):
        path = tmp_path / f"marker{k}.png"
        Image.fromarray(image).save(path)
        out_dir = tmp_path / f"out{k}"
        rc = main(["explain", "generic_attention_clip", str(path), "--model", str(folder), "--text", captions[0],
                   "--text", captions[1], "--save-dir", str(out_dir), "--save-explanation"])
        printed = capsys.readouterr().out
        assert rc == 0, printed
        assert f"text {colour} ('{captions[colour]}')" in printed
        saved = load_explanation(out_dir / f"marker{k}_generic_attention_clip.npz")
        assert (out_dir / f"marker{k}_generic_attention_clip.png").is_file()
        assert saved.params["input_ids"] == ids[colour] and saved.target == colour
        direct = interpret.generic_attention_clip(image, model, ids, save_dir=None)
        np.testing.assert_allclose(saved.attribution, direct.attribution, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(saved.extras["text_relevance"], direct.extras["text_relevance"], rtol=1e-5,
                                   atol=1e-7)
    # a second target and a layer option are forwarded; a folder without a model is refused by name
    rc = main(["explain", "generic_attention_clip", str(tmp_path / "marker0.png"), "--model", str(folder),
               "--text", captions[0], "--text", captions[1], "--target", "1", "--start-layer-text", "1",
               "--save-dir", str(tmp_path / "t1")])
    assert rc == 0 and "text 1 ('a blue patch')" in capsys.readouterr().out
    rc = main(["explain", "generic_attention_clip", str(tmp_path / "marker0.png"), "--model", str(tmp_path / "t1"),
               "--text", "a red patch", "--save-dir", str(tmp_path / "t2")])
    assert rc == 1 and "cannot load a PaddleNLP CLIPModel" in capsys.readouterr().err
