"""Network definitions ported to Paddle."""
from .efficientnet_lite import LITE_VARIANTS, EfficientNetLite, EfficientNetLite0

__all__ = ["EfficientNetLite", "EfficientNetLite0", "LITE_VARIANTS"]
