"""Closed forms of the attention methods' math (engine/transformer/_core.py) on numpy tensors."""
import numpy as np
import pytest

from paddlex_interpret.engine.transformer._core import (bt_head_matrix, bt_head_weights, bt_token_matrix,
                                                        check_start_layer, generic_attention_matrix, readout,
                                                        rollout_matrix, tam_matrix, token_norm_ratio)


def _random_attention(rng, n=2, h=3, s=5):
    logits = rng.normal(size=(n, h, s, s))
    a = np.exp(logits)
    return a / a.sum(axis=-1, keepdims=True)


def test_rollout_of_identity_attention_is_the_identity():
    n, h, s, layers = 2, 4, 10, 3
    eye = np.broadcast_to(np.eye(s), (n, h, s, s)).copy()
    r = rollout_matrix([eye] * layers)
    np.testing.assert_allclose(r, np.broadcast_to(np.eye(s), (n, s, s)), atol=1e-12)
    # the class token's row without its own column: every patch gets zero relevance
    np.testing.assert_array_equal(readout(r, [0], 1), np.zeros((n, s - 1)))


@pytest.mark.parametrize("layers", [1, 2, 5])
def test_rollout_of_uniform_attention(layers):
    n, h, s = 1, 2, 7
    uniform = np.full((n, h, s, s), 1.0 / s)
    expected = 0.5 ** layers * np.eye(s) + (1 - 0.5 ** layers) * np.full((s, s), 1.0 / s)
    np.testing.assert_allclose(rollout_matrix([uniform] * layers)[0], expected, atol=1e-12)
    # start_layer skips blocks: starting at layer 2 of 5 is the 3-layer closed form
    if layers == 5:
        three = 0.5 ** 3 * np.eye(s) + (1 - 0.5 ** 3) * np.full((s, s), 1.0 / s)
        np.testing.assert_allclose(rollout_matrix([uniform] * layers, start_layer=2)[0], three, atol=1e-12)


def test_rollout_rows_stay_distributions_and_fusions_differ():
    rng = np.random.default_rng(0)
    attn = [_random_attention(rng) for _ in range(4)]
    for fusion in ("mean", "max", "min"):
        r = rollout_matrix(attn, head_fusion=fusion)
        np.testing.assert_allclose(r.sum(axis=-1), 1.0, atol=1e-12)
        assert (r >= 0).all()
    assert not np.allclose(rollout_matrix(attn, head_fusion="max"), rollout_matrix(attn, head_fusion="mean"))
    with pytest.raises(ValueError, match="head_fusion"):
        rollout_matrix(attn, head_fusion="median")


def _chefer_reference(attentions, gradients, start_layer=0):
    """Chefer et al. 2021 eqs. 5-6 written out head by head and entry by entry (loops, no broadcasting)."""
    n, h, s, _ = attentions[0].shape
    out = np.zeros((n, s, s))
    for b in range(n):
        r = np.eye(s)
        for layer in range(start_layer, len(attentions)):
            a_bar = np.zeros((s, s))
            for head in range(h):
                for i in range(s):
                    for j in range(s):
                        a_bar[i, j] += max(gradients[layer][b, head, i, j] * attentions[layer][b, head, i, j], 0.0)
            a_bar /= h
            r = r + a_bar.dot(r)
        out[b] = r
    return out


def test_generic_attention_equals_an_independent_version_of_chefers_rule():
    rng = np.random.default_rng(1)
    attn = [_random_attention(rng, n=2, h=3, s=6) for _ in range(3)]
    grads = [rng.normal(size=a.shape) for a in attn]
    np.testing.assert_allclose(generic_attention_matrix(attn, grads), _chefer_reference(attn, grads), atol=1e-12)
    np.testing.assert_allclose(generic_attention_matrix(attn, grads, start_layer=1),
                               _chefer_reference(attn, grads, start_layer=1), atol=1e-12)
    # clamping per head before the mean is not the same as clamping the head mean (InterpretDL's GACV)
    mean_first = np.eye(6) + np.clip((grads[0] * attn[0]).mean(axis=1), 0, None)
    assert not np.allclose(generic_attention_matrix(attn[:1], grads[:1]), mean_first)


def test_generic_attention_started_past_the_last_layer_is_the_identity():
    rng = np.random.default_rng(2)
    attn = [_random_attention(rng) for _ in range(3)]
    grads = [rng.normal(size=a.shape) for a in attn]
    np.testing.assert_array_equal(generic_attention_matrix(attn, grads, start_layer=3),
                                  np.broadcast_to(np.eye(5), (2, 5, 5)))


def test_bt_head_weights_sum_to_one_and_identical_heads_reduce_to_that_head():
    rng = np.random.default_rng(3)
    attn = _random_attention(rng, n=3, h=4, s=6)
    grad = rng.normal(size=attn.shape)
    w = bt_head_weights(attn, grad)
    assert w.shape == (3, 4) and (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    # I_h = mean |A_h^T dA_h| written out for one head
    raw = np.abs(attn[1, 2].T @ grad[1, 2]).mean()
    all_raw = [np.abs(attn[1, k].T @ grad[1, k]).mean() for k in range(4)]
    assert w[1, 2] == pytest.approx(raw / sum(all_raw))
    # zero gradients: uniform weights, not a division by zero
    np.testing.assert_allclose(bt_head_weights(attn, np.zeros_like(grad)), 0.25)

    one = _random_attention(rng, n=1, h=1, s=6)
    same = np.repeat(one, 4, axis=1)
    layers = [same, np.repeat(_random_attention(rng, n=1, h=1, s=6), 4, axis=1)]
    grads = [rng.normal(size=l.shape) for l in layers]
    expected = np.eye(6)
    for l in layers:
        expected = expected + l[0, 0] @ expected
    np.testing.assert_allclose(bt_head_matrix(layers, grads)[0], expected, atol=1e-12)


def test_bt_token_mode_with_unit_ratios_is_the_head_mean_chain():
    rng = np.random.default_rng(4)
    attn = [_random_attention(rng, n=2, h=3, s=5) for _ in range(2)]
    ones = [np.ones((2, 5))] * 2
    expected = np.broadcast_to(np.eye(5), (2, 5, 5)).copy()
    for a in attn:
        expected = expected + a.mean(axis=1) @ expected
    np.testing.assert_allclose(bt_token_matrix(attn, ones), expected, atol=1e-12)
    # the norm ratio: an orthogonal W_v W_o keeps norms (ratio 1), a scaled one scales them
    z = rng.normal(size=(2, 5, 4))
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    np.testing.assert_allclose(token_norm_ratio(z, z, q), 1.0, atol=1e-12)
    np.testing.assert_allclose(token_norm_ratio(z, z, 3 * q), 3.0, atol=1e-12)


def test_tam_of_one_block_is_its_attention_times_the_rectified_gradient():
    rng = np.random.default_rng(5)
    a = _random_attention(rng, n=1, h=2, s=4)
    g = rng.normal(size=a.shape)
    np.testing.assert_allclose(tam_matrix([a], g), a.mean(axis=1) * np.clip(g, 0, None).mean(axis=1), atol=1e-12)
    # two blocks: s = A1 A0 + A1 (the residual), carried back from the last block
    b = _random_attention(rng, n=1, h=2, s=4)
    s = b.mean(axis=1) @ a.mean(axis=1) + b.mean(axis=1)
    np.testing.assert_allclose(tam_matrix([a, b], g), s * np.clip(g, 0, None).mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(tam_matrix([a, b], g, start_layer=1), b.mean(axis=1) * np.clip(g, 0, None).mean(axis=1))


def test_readout_averages_the_special_rows_and_drops_their_columns():
    m = np.arange(2 * 6 * 6, dtype=float).reshape(2, 6, 6)
    np.testing.assert_array_equal(readout(m, [0, 1], 2), (m[:, 0, 2:] + m[:, 1, 2:]) / 2)


def test_start_layer_is_checked_with_its_range():
    assert check_start_layer(3, 3) == 3
    with pytest.raises(ValueError, match=r"start_layer=4 .* 3 attention blocks \(valid: 0..3\)"):
        check_start_layer(4, 3)
    with pytest.raises(ValueError, match=r"valid: 0..2"):
        check_start_layer(3, 3, maximum=2)
    with pytest.raises(TypeError, match="start_layer must be an int"):
        check_start_layer(1.5, 3)
