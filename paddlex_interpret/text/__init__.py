"""Text classifiers: the PaddleNLP sequence-classifier adapter, text LIME and its HTML page.

``from paddlex_interpret import interpret; interpret.lime_text("a good film", model, tokenizer)``
explains a PaddleNLP ``*ForSequenceClassification`` model. Nothing here imports paddlenlp.
"""
from .classifier import LabelCountError, TextClassifier, Tokenized, as_text_classifier, is_text_classifier
from .html import explanation_to_html
from .lime_text import MASK_TOKENS, LimeText, TextExplanation, TokenWeight

__all__ = ["TextClassifier", "LabelCountError", "Tokenized", "as_text_classifier", "is_text_classifier",
           "LimeText", "TextExplanation", "TokenWeight", "MASK_TOKENS", "explanation_to_html"]
