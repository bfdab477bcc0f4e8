"""The text-methods tutorials (English and Chinese) run end to end and write their side-by-side page."""
import pytest

from test_tutorials import TUTORIALS, run_tutorial

pytestmark = pytest.mark.paddlenlp


@pytest.mark.parametrize("script, completeness", [("text_methods.py", "Integrated Gradients: attributions add up"),
                                                  ("text_methods_zh.py", "积分梯度：归因之和为")])
def test_text_methods_tutorial_writes_its_page(script, completeness, tmp_path):
    assert (TUTORIALS / script).is_file()
    result, output = run_tutorial(script, str(tmp_path), "--fast", "--no-progress")
    page = (tmp_path / "review_compare_text.html").read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and "<script" not in page.lower()
    for title in ("LIME", "Occlusion", "Integrated Gradients", "SmoothGrad", "GradientSHAP", "NormLIME"):
        assert f">{title}</td>" in page, title
    for method in ("lime_text", "occlusion_text", "intgrad_text", "smoothgrad_text", "gradshap_text", "normlime_text"):
        assert (tmp_path / f"review_{method}.npz").is_file(), output
    assert (tmp_path / "normlime_text_weights.npz").is_file()
    line = next(l for l in result.stdout.splitlines() if completeness in l)
    gap = float(line.rsplit(" ", 1)[-1].strip("%)）") if "%)" in line else line.split("差距 ")[1].split("%")[0])
    assert gap < 1.0, line                                 # IG's completeness on the trained tutorial model
