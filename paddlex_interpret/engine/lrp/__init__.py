"""Layer-wise Relevance Propagation: rules applied to standard Paddle layers through temporary
forward hooks (gradient x input with modified gradients), or a model's own ``relprop``."""
from .lrp import LRP
from .rules import INPUT_RULES, RULES

__all__ = ["LRP", "RULES", "INPUT_RULES"]
