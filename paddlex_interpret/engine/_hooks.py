"""Capturing a named layer's output during a forward pass; hooks never outlive the context."""
from __future__ import annotations

import contextlib
import difflib
from typing import Dict, Iterator, List

__all__ = ["capture_output", "find_layer"]


def find_layer(named_layers: Dict[str, object], name: str):
    """The layer called ``name``; a ValueError lists close and valid names otherwise."""
    if name in named_layers:
        return named_layers[name]
    close = difflib.get_close_matches(name, list(named_layers), n=5, cutoff=0.5)
    hint = f" Did you mean {close}?" if close else ""
    listing = ", ".join(list(named_layers)[-30:])
    raise ValueError(f"no layer named {name!r}.{hint} Valid names include (last 30): {listing}")


@contextlib.contextmanager
def capture_output(layer) -> Iterator[List]:
    """Yield a list that receives ``layer``'s output at every forward; the hook is removed on exit,
    also on error. Differentiate w.r.t. captured tensors with ``paddle.grad``."""
    captured: List = []

    def hook(_layer, _inputs, output):
        captured.append(output[0] if isinstance(output, (tuple, list)) else output)

    handle = layer.register_forward_post_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()
