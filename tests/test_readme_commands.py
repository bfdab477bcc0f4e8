"""The README's two commands are the ones CI and the getting-started pages run."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(path: Path):
    return re.findall(r"```bash\n(.*?)\n```", path.read_text(encoding="utf-8"), re.S)


def test_ci_runs_the_readme_test_command_verbatim():
    demo, tests = _bash_blocks(ROOT / "README.md")[:2]
    assert "paddlex-interpret demo" in demo and "pytest" in tests
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_getting_started_pages_show_the_readme_commands():
    readme = _bash_blocks(ROOT / "README.md")[:2]
    for page in ("docs/getting_started.md", "docs/zh/getting_started.md"):
        assert _bash_blocks(ROOT / page)[:2] == readme, page
