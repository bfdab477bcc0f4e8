"""Layer-wise Relevance Propagation (Bach et al. 2015; Montavon et al. 2019) on standard Paddle layers."""
from __future__ import annotations

import contextlib
import inspect
import warnings
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import paddle
import paddle.nn.functional as F

from ...models.base import Classifier
from .._validation import check_positive_int
from ..base import AttributionMethod, check_images, resolve_targets
from . import canonize
from .rules import INPUT_RULES, RULES, alpha_beta_rule, check_rule, epsilon_rule, pass_through, zb_rule

__all__ = ["LRP"]


class LRP(AttributionMethod):
    """Relevance of every input value (normalised network input) for one class per image.

    The relevance put on the output is the target's logit (the network's output score). It is
    propagated back layer by layer with the chosen rule; the result ``R`` has the input's shape
    ``(N, 3, H, W)`` and, where the rule conserves relevance, ``R.sum() == logit``.

    How layers are treated (hooks on standard Paddle layers, removed before this returns):

    * ``Conv1D/2D/3D`` (grouped and depthwise included) and ``Linear``: the rule.
    * ``BatchNorm*`` with running statistics: folded into the convolution / linear layer whose
      output it takes directly (one layer ``W * s``, ``b * s + t``); any other batch norm is an
      affine layer of its own under the rule. Folded weights are new tensors, never written back.
    * element-wise activations (ReLU, ReLU6, LeakyReLU, GELU, Sigmoid, Hardswish, ...): relevance
      passes through unchanged (``R_in = R_out``), also where the activation saturates.
    * max pooling: winner takes all; average / adaptive average pooling: proportional
      redistribution (LRP-0, its own gradient) under 'epsilon', z+ under 'alpha_beta' / 'zplus'
      (the same for non-negative inputs; for signed inputs it keeps relevance's sign; pooling
      is not given the alpha/beta weighting, which would multiply relevance by alpha where a
      window holds no negative value).
    * residual additions, concatenation, flatten, reshape, dropout (eval): split in proportion to
      the summands, automatically (see :mod:`.rules`: relevance = tensor x modified gradient).
    * anything else (e.g. functional activations other than ReLU, LayerNorm, transposed
      convolutions) is left to its own gradient, i.e. treated as gradient x input.

    Models that implement InterpretDL's ``relprop`` are used as they are: see ``use_model_relprop``.

    Parameters
    ----------
    classifier : Classifier
        Needs a differentiable ``forward`` and ``named_layers()`` (e.g. ``PaddleLayerClassifier``).
    rule : {'epsilon', 'alpha_beta', 'zplus'}, default 'epsilon'
        'epsilon': ``R_j = sum_k a_j w_jk / (z_k + eps sign(z_k)) R_k``. 'alpha_beta': positive and
        negative contributions weighted ``alpha`` and ``beta`` (bias parts in the denominators).
        'zplus': alpha-beta with ``alpha=1, beta=0`` (the ``alpha``/``beta`` arguments are then
        ignored): relevance keeps the sign of the target logit at every layer.
    epsilon : float, default 0.25
        The epsilon rule's stabiliser. With ``relative_epsilon`` (default) it is a multiple of the
        root mean square of each layer's outputs ``z`` for that image, so one value suits layers
        of any scale; 0.25 is the value of Montavon et al. 2019 ("eps = 0.25 std", VGG-16 example),
        enough to absorb weak, contradictory contributions and give sparser, less noisy maps. Near
        0 the rule is LRP-0, which equals gradient x input on ReLU networks.
    alpha, beta : float, default 1.0, 0.0
        For 'alpha_beta'; ``alpha - beta = 1`` is required, so that relevance is conserved where an
        output has both positive and negative contributions (up to the biases). Where it has
        contributions of one sign only, alpha-beta passes on ``alpha`` times (or ``-beta`` times)
        its relevance, as the rule is defined; z+ (``alpha=1, beta=0``) has no such excess.
    input_rule : {None, 'epsilon', 'alpha_beta', 'zplus', 'zb'}, default None
        Rule for the layer that reads the network input (None: ``rule``). 'zb' is the z^B rule for
        bounded inputs; the bounds are the preprocessing of pixel values 0 and 255.
    relative_epsilon : bool, default True
        False makes ``epsilon`` an absolute constant.
    use_model_relprop : bool, default True
        If the network has a ``relprop`` method, call it instead of the rules above. The contract
        (InterpretDL's ``LRPCVInterpreter``): after ``out = network(x)`` on the batch (the model
        caches what it needs), ``network.relprop(R, alpha=alpha)`` gets ``R = out * one_hot(target)``
        (``alpha`` only if ``relprop`` accepts it) and returns the relevance at the input, a tensor
        or array of shape ``(N, C, H, W)``; ``(N, 1, H, W)`` is returned as ``(N, H, W)``. The
        input has ``stop_gradient=False`` and gradients are enabled, for relprop implementations
        that use autograd. ``rule``, ``epsilon``, ``beta`` and ``input_rule`` do not apply then.
    batch_size : int, default 16
        Images per forward/backward pass.
    """

    method = "lrp"

    def __init__(self, classifier: Classifier, rule: str = "epsilon", epsilon: float = 0.25, alpha: float = 1.0,
                 beta: float = 0.0, input_rule: Optional[str] = None, relative_epsilon: bool = True,
                 use_model_relprop: bool = True, batch_size: int = 16):
        super().__init__(classifier)
        self.rule = check_rule(rule, "rule", RULES)
        self.input_rule = None if input_rule is None else check_rule(input_rule, "input_rule", INPUT_RULES)
        self.epsilon = _check_number(epsilon, "epsilon", minimum=0.0)
        self.alpha = _check_number(alpha, "alpha", minimum=1.0)
        self.beta = _check_number(beta, "beta", minimum=0.0)
        if "alpha_beta" in (self.rule, self.input_rule) and abs(self.alpha - self.beta - 1.0) > 1e-6:
            raise ValueError(f"the alpha-beta rule needs alpha - beta = 1 (e.g. alpha=2, beta=1); "
                             f"got alpha={self.alpha}, beta={self.beta}")
        self.relative_epsilon = bool(relative_epsilon)
        self.use_model_relprop = bool(use_model_relprop)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        network = getattr(classifier, "network", None)
        relprop = getattr(network, "relprop", None)
        self._relprop = relprop if (self.use_model_relprop and callable(relprop)) else None
        if self._relprop is None:
            try:
                classifier.named_layers()
            except NotImplementedError as exc:
                raise TypeError(f"LRP needs a classifier that exposes its layers (named_layers()); "
                                f"{type(classifier).__name__} does not") from exc

    # -- public API ----------------------------------------------------------------------------
    def params(self) -> Dict[str, Any]:
        return {"rule": self.rule, "epsilon": self.epsilon, "relative_epsilon": self.relative_epsilon,
                "alpha": self.alpha, "beta": self.beta, "input_rule": self.input_rule,
                "batch_size": self.batch_size,
                "backend": "model_relprop" if self._relprop is not None else "rules"}

    def attribute(self, images: np.ndarray, targets: Union[None, int, Sequence[int]] = None) -> np.ndarray:
        """Relevance ``(N, 3, H, W)`` in the normalised input space for a uint8 batch ``(N, H, W, 3)``."""
        images = check_images(images)
        targets = resolve_targets(self.classifier, images, targets, batch_size=self.batch_size)
        chunks = []
        for i in range(0, len(images), self.batch_size):
            batch = images[i : i + self.batch_size]
            inputs = np.ascontiguousarray(self.classifier.preprocess(batch), dtype=np.float32)
            if self._relprop is not None:
                chunks.append(self._model_relprop(inputs, targets[i : i + self.batch_size]))
            else:
                chunks.append(self._rules(batch, inputs, targets[i : i + self.batch_size]))
        return np.concatenate(chunks, axis=0)

    # -- LRP with rules on standard layers -------------------------------------------------------
    def _layers(self) -> List:
        layers = list(self.classifier.named_layers().values())
        network = getattr(self.classifier, "network", None)
        if isinstance(network, paddle.nn.Layer) and all(l is not network for l in layers):
            layers.append(network)
        seen, unique = set(), []
        for layer in layers:
            if id(layer) not in seen:
                seen.add(id(layer))
                unique.append(layer)
        return unique

    def _rules(self, images: np.ndarray, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        layers = self._layers()
        kinds = {id(l): canonize.layer_kind(l) for l in layers}
        _warn_unhandled(layers, kinds)
        x = paddle.to_tensor(inputs, stop_gradient=False)
        wrt = [x]
        low = high = None
        if self.input_rule == "zb":
            low, high = self._bounds(images)
            wrt += [low, high]
        t = paddle.to_tensor(np.asarray(targets, dtype=np.int64))
        with self.classifier.eval_context():
            fused = self._trace(x, layers, kinds)
            state = _PassState(self, x, low, high, fused, kinds)
            with _post_hooks([l for l in layers if kinds[id(l)] not in (None, "maxpool")], state.hook):
                out = self.classifier.forward(x)
            state.release()
            if self.input_rule is not None and not state.input_rule_used:
                warnings.warn(f"input_rule={self.input_rule!r} was not applied: no Conv/Linear/BatchNorm layer "
                              f"reads the network input (or a reshape of it)", stacklevel=3)
            objective = (out * F.one_hot(t, out.shape[1]).astype(out.dtype)).sum()
            grads = paddle.grad(objective, wrt, allow_unused=True)
        relevance = np.zeros(inputs.shape, dtype=np.float32)
        for tensor, grad in zip(wrt, grads):
            if grad is not None:
                relevance += tensor.numpy() * grad.numpy()
        return relevance

    def _trace(self, x, layers, kinds) -> set:
        """Ids of linear layers folded with the batch norm after them (one no-grad forward)."""
        hooked = [l for l in layers if kinds[id(l)] in ("linear", "batchnorm")]
        if not any(kinds[id(l)] == "batchnorm" for l in hooked):
            return set()
        calls, alive = [], []

        def record(layer, inputs, output):
            if inputs and isinstance(inputs[0], paddle.Tensor) and isinstance(output, paddle.Tensor):
                alive.append((inputs[0], output))
                calls.append((layer, kinds[id(layer)], id(inputs[0]), id(output), output.ndim))

        with paddle.no_grad(), _post_hooks(hooked, record):
            self.classifier.forward(x.detach())
        return canonize.find_fusions(calls)

    def _bounds(self, images: np.ndarray):
        """The input box of the z^B rule: the preprocessing of all-0 and all-255 images."""
        lo = np.asarray(self.classifier.preprocess(np.zeros_like(images)), dtype=np.float32)
        hi = np.asarray(self.classifier.preprocess(np.full_like(images, 255)), dtype=np.float32)
        return (paddle.to_tensor(np.minimum(lo, hi), stop_gradient=False),
                paddle.to_tensor(np.maximum(lo, hi), stop_gradient=False))

    # -- models with their own relprop --------------------------------------------------------------
    def _model_relprop(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        x = paddle.to_tensor(inputs, stop_gradient=False)
        t = paddle.to_tensor(np.asarray(targets, dtype=np.int64))
        with self.classifier.eval_context():
            out = self.classifier.forward(x)
            start = out * F.one_hot(t, out.shape[1]).astype(out.dtype)
            if _accepts_alpha(self._relprop):
                relevance = self._relprop(start, alpha=self.alpha)
            else:
                relevance = self._relprop(start)
        relevance = np.asarray(relevance.numpy() if hasattr(relevance, "numpy") else relevance, dtype=np.float32)
        if relevance.shape == inputs.shape:
            return relevance
        if relevance.ndim == inputs.ndim and relevance.shape[0] == len(inputs) and relevance.shape[1] == 1 \
                and relevance.shape[2:] == inputs.shape[2:]:
            return relevance[:, 0]
        raise ValueError(f"the model's relprop returned shape {relevance.shape}; expected the input's shape "
                         f"{inputs.shape} (or one channel)")


class _PassState:
    """What the hooks of one forward pass share: fused-layer records and lazily built views."""

    def __init__(self, lrp: LRP, x, low, high, fused: set, kinds: dict):
        self.lrp, self.x, self.low, self.high, self.fused, self.kinds = lrp, x, low, high, fused, kinds
        self.produced: Dict[int, tuple] = {}  # id(output of a folded layer) -> (output, layer, its input)
        self.views: Dict[tuple, canonize.LinearView] = {}
        self.input_rule_used = False

    def release(self):
        self.produced.clear()
        self.views.clear()

    def _view(self, key, build):
        if key not in self.views:
            self.views[key] = build()
        return self.views[key]

    def hook(self, layer, inputs, output):
        if not inputs or not isinstance(inputs[0], paddle.Tensor) or not isinstance(output, paddle.Tensor):
            return None
        kind, a = self.kinds[id(layer)], inputs[0]
        if kind == "activation":
            return pass_through(a, output) if a.shape == output.shape else None
        lrp = self.lrp
        if kind == "avgpool":
            if lrp.rule == "epsilon":
                return None  # its own gradient is LRP-0 (proportional), exactly
            # z+ on pooling: proportional for non-negative inputs, sign-preserving for any input
            view = self._view((id(layer),), lambda: canonize.view_of(layer, "avgpool"))
            return alpha_beta_rule(output, view, a, 1.0, 0.0)
        if kind == "linear":
            if id(layer) in self.fused:
                self.produced[id(output)] = (output, layer, a)
                return None
            build = lambda: canonize.view_of(layer, "linear")  # noqa: E731
            key = (id(layer),)
        else:  # batch norm: folded into the layer that produced its input, or on its own
            record = self.produced.get(id(a))
            if record is not None:
                prev, a = record[1], record[2]
                build = lambda: canonize.fused_view(prev, layer)  # noqa: E731
                key = (id(prev), id(layer))
            else:
                build = lambda: canonize.view_of(layer, "batchnorm")  # noqa: E731
                key = (id(layer),)
        bounds = self._reads_input(a)
        if bounds is None:
            return self._apply(lrp.rule, output, _Lazy(self, key, build), a)
        self.input_rule_used = True
        return self._apply(lrp.input_rule, output, _Lazy(self, key, build), a, *bounds)

    def _reads_input(self, a):
        """``(low, high)`` shaped like ``a`` if ``a`` is the network input (or a reshape of it, such
        as a flatten before a first Linear), else None. Only looked for when there is an input rule."""
        x = self.x
        if self.lrp.input_rule is None:
            return None
        if a is x:
            return self.low, self.high
        if a.dtype != x.dtype or a.shape[0] != x.shape[0] or np.prod(a.shape) != np.prod(x.shape):
            return None
        if not bool(paddle.equal_all(a.reshape(x.shape), x)):
            return None
        if self.low is None:
            return None, None
        return self.low.reshape(a.shape), self.high.reshape(a.shape)

    def _apply(self, rule, z, view, a, low=None, high=None):
        lrp = self.lrp
        if rule == "epsilon":
            return epsilon_rule(z, lrp.epsilon, lrp.relative_epsilon)
        if isinstance(view, _Lazy):
            view = view.get()
        if rule == "zplus":
            return alpha_beta_rule(z, view, a, 1.0, 0.0)
        if rule == "alpha_beta":
            return alpha_beta_rule(z, view, a, lrp.alpha, lrp.beta)
        return zb_rule(z, view, a, low, high)


class _Lazy:
    """A view built only when a rule needs weights (the epsilon rule does not)."""

    def __init__(self, state: _PassState, key, build):
        self.state, self.key, self.build = state, key, build

    def get(self):
        return self.state._view(self.key, self.build)


@contextlib.contextmanager
def _post_hooks(layers, hook):
    """Register ``hook`` on every layer; all handles are removed on exit, also on error."""
    handles = []
    try:
        for layer in layers:
            handles.append(layer.register_forward_post_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _warn_unhandled(layers, kinds):
    """Warn about leaf layers with parameters that LRP leaves to their own gradient."""
    names = sorted({type(l).__name__ for l in layers
                    if kinds[id(l)] is None and not l.sublayers() and l.parameters()})
    if names:
        warnings.warn(f"LRP has no rule for {', '.join(names)}: relevance goes through them as gradient x input",
                      stacklevel=4)


def _accepts_alpha(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "alpha" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _check_number(value, name: str, minimum: float) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not np.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value}")
    return float(value)
