"""LRP rules as output replacements ("gradient x input with modified gradients").

Relevance at any tensor ``t`` is ``t * dF'/dt``, where ``F'`` is the target logit computed by a
graph whose layer outputs have been replaced by *value-equal* expressions with a different
gradient. For a layer ``z = linear(a) + b`` and a rule that redistributes ``R_k`` (relevance at
output ``k``) as ``R_j = sum_k c_jk R_k``, the replacement is::

    z' = z_rho(a) * stop_gradient(z / d) + stop_gradient(z - z_rho(a) * z / d)

so that ``a_j * d z'_k / d a_j * g_k = (a_j * dz_rho_k/da_j / d_k) * (z_k g_k)``, i.e. ``R_k = z_k g_k``
is passed back in proportion to the contributions ``z_rho`` and the denominator ``d``. The second
term only restores the exact forward value. Additions, concatenation, reshapes, ReLU and max
pooling need nothing: their own gradient already redistributes ``t * g`` conservatively.
"""
from __future__ import annotations

from typing import Optional

import paddle

from .canonize import LinearView

__all__ = ["RULES", "INPUT_RULES", "TINY", "check_rule", "layer_epsilon", "epsilon_rule", "alpha_beta_rule", "zb_rule",
           "pass_through"]

RULES = ("epsilon", "alpha_beta", "zplus")
INPUT_RULES = RULES + ("zb",)
TINY = 1e-9  # keeps every denominator away from 0 (float32), far below any relevant scale


def check_rule(value, name: str, allowed=RULES) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def _same_value(new: paddle.Tensor, z: paddle.Tensor) -> paddle.Tensor:
    """``new``'s gradient with ``z``'s value."""
    return new + (z - new).detach()


def _ratio(num: paddle.Tensor, den: paddle.Tensor, eps) -> paddle.Tensor:
    """Detached ``num / (den + sign(den) * eps)`` (sign(0) = +1); 0 where that is still 0."""
    num, den = num.detach(), den.detach()
    sign = (den >= 0).astype(den.dtype) * 2 - 1
    den = den + sign * eps
    zero = den == 0
    return paddle.where(zero, paddle.zeros_like(num), num / paddle.where(zero, paddle.ones_like(den), den))


def _add(*terms: Optional[paddle.Tensor]) -> Optional[paddle.Tensor]:
    out = None
    for t in terms:
        if t is not None:
            out = t if out is None else out + t
    return out


def layer_epsilon(z: paddle.Tensor, epsilon: float, relative: bool):
    """The stabiliser: ``epsilon`` times the root mean square of ``z`` per sample (relative) or
    ``epsilon`` itself, plus :data:`TINY`."""
    if not relative:
        return float(epsilon) + TINY
    axes = list(range(1, z.ndim))
    rms = paddle.sqrt((z.detach() ** 2).mean(axis=axes, keepdim=True)) if axes else z.detach().abs()
    return rms * float(epsilon) + TINY


def epsilon_rule(z: paddle.Tensor, epsilon: float, relative: bool = True) -> paddle.Tensor:
    """LRP-epsilon: ``R_j = sum_k a_j w_jk / (z_k + eps * sign(z_k)) * R_k`` (z_k includes the bias).

    The contributions are the layer's own (``z_rho = z`` with its native gradient), so only a
    detached factor is needed and no weight is touched.
    """
    return _same_value(z * _ratio(z, z, layer_epsilon(z, epsilon, relative)), z)


def alpha_beta_rule(z: paddle.Tensor, view: LinearView, a: paddle.Tensor, alpha: float, beta: float) -> paddle.Tensor:
    """LRP-alpha-beta: ``R_j = sum_k (alpha (a_j w_jk)^+ / d^+_k - beta (a_j w_jk)^- / d^-_k) R_k``.

    ``d^+_k = sum_j (a_j w_jk)^+ + b_k^+`` (and ``d^-`` alike): the bias's part joins the
    denominators (Montavon et al. 2019), so a positive bias absorbs some relevance. Inputs of
    either sign are handled by splitting ``a`` as well: ``(a w)^+ = a^+ w^+ + a^- w^-``.
    """
    a_pos, a_neg = a.clip(min=0), a.clip(max=0)
    bias = view.bias_like(z)
    z_pos = _add(view.apply(a_pos, "pos"), view.apply(a_neg, "neg"))
    d_pos = z_pos.detach() if bias is None else z_pos.detach() + bias.clip(min=0)
    new = z_pos * _ratio(z, d_pos, TINY) * float(alpha)
    if beta:
        z_neg = _add(view.apply(a_pos, "neg"), view.apply(a_neg, "pos"))
        if z_neg is not None:
            d_neg = z_neg.detach() if bias is None else z_neg.detach() + bias.clip(max=0)
            new = new - z_neg * _ratio(z, d_neg, TINY) * float(beta)
    return _same_value(new, z)


def zb_rule(z: paddle.Tensor, view: LinearView, x: paddle.Tensor, low: paddle.Tensor,
            high: paddle.Tensor) -> paddle.Tensor:
    """LRP-z^B for the input layer (Montavon et al. 2017): inputs bounded by ``low <= x <= high``,
    ``R_i = sum_j (x_i w_ij - l_i w_ij^+ - h_i w_ij^-) / sum_i(...) * R_j`` (bias not included).

    The relevance of the input is then ``x * g_x + low * g_low + high * g_high``, so ``low`` and
    ``high`` must be tensors that the caller differentiates as well.
    """
    num = view.apply(x) - view.apply(low, "pos")
    high_part = view.apply(high, "neg")
    if high_part is not None:
        num = num - high_part
    return _same_value(num * _ratio(z, num, TINY), z)


def pass_through(z_in: paddle.Tensor, out: paddle.Tensor) -> paddle.Tensor:
    """An element-wise activation ``out = f(z_in)`` that hands its relevance on unchanged:
    the gradient becomes ``f(z)/z`` so that ``z_in * g_in = out * g_out``."""
    return _same_value(z_in * _ratio(out, z_in, 0.0), out)
