"""NormLIME's prior assets: PaddleX's ``pre_models.tar.gz`` (k-means model + ResNet50_vc stem).

* :func:`ensure_prior_assets` -- fetch / verify / extract / cache (see :mod:`.download`);
* :func:`read_lod_tensor` / :func:`write_lod_tensor` -- Paddle's legacy LoDTensor files;
* :func:`load_cluster_centres` / :func:`assign_clusters` -- the k-means model, read safely;
* :class:`PriorStem` / :func:`superpixel_features` -- the feature extractor (imports Paddle, so
  it is loaded on first use; the rest of this package needs only numpy).
"""
from .download import (
    DEFAULT_MD5,
    DEFAULT_URL,
    MD5_ENV,
    URL_ENV,
    PriorAssetsError,
    asset_problems,
    assets_valid,
    default_cache_dir,
    ensure_prior_assets,
    expected_tarball_path,
)
from .kmeans import KMeansFileError, assign_clusters, load_cluster_centres
from .legacy_tensor import LegacyTensorFormatError, read_lod_tensor, write_lod_tensor

__all__ = [
    "ensure_prior_assets",
    "asset_problems",
    "assets_valid",
    "default_cache_dir",
    "expected_tarball_path",
    "PriorAssetsError",
    "DEFAULT_URL",
    "DEFAULT_MD5",
    "URL_ENV",
    "MD5_ENV",
    "read_lod_tensor",
    "write_lod_tensor",
    "LegacyTensorFormatError",
    "load_cluster_centres",
    "assign_clusters",
    "KMeansFileError",
    "PriorStem",
    "superpixel_features",
]

_LAZY = {"PriorStem", "superpixel_features"}


def __getattr__(name):
    if name in _LAZY:
        from . import stem

        return getattr(stem, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
