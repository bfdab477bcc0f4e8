"""Loading PaddleNLP models and tokenizers from ``save_pretrained`` folders (no download), shared by
the text classifier adapter and the CLIP attention capture (its own module so neither imports the other)."""
from __future__ import annotations


def load_pretrained(model_class: str, what: str, model_dir, tokenizer_dir=None):
    """``(model in eval mode, tokenizer)``: PaddleNLP's ``model_class`` (a name in
    ``paddlenlp.transformers``) from ``model_dir`` and ``AutoTokenizer`` from ``tokenizer_dir`` (default:
    the same folder), both written by ``save_pretrained``. Errors name the folder and say what it lacks;
    ``what`` names the model in them."""
    import os

    for name, path in (("model_dir", model_dir), ("tokenizer_dir", tokenizer_dir or model_dir)):
        if not os.path.isdir(path):
            raise FileNotFoundError(f"{name} {os.fspath(path)!r} is not a folder written by save_pretrained")
    try:
        import paddlenlp.transformers as transformers
    except ImportError as exc:
        raise ImportError(f"loading a {what} needs paddlenlp: pip install 'paddlex_interpret[paddlenlp]' ({exc})") \
            from None
    try:
        model = getattr(transformers, model_class).from_pretrained(os.fspath(model_dir))
        tokenizer = transformers.AutoTokenizer.from_pretrained(os.fspath(tokenizer_dir or model_dir))
    except Exception as exc:  # PaddleNLP raises many kinds for a folder without a model / tokenizer
        raise ValueError(f"cannot load a PaddleNLP {what} and its tokenizer from {os.fspath(model_dir)!r} "
                         f"({type(exc).__name__}: {exc})") from exc
    model.eval()
    return model, tokenizer
