"""Every ```python block of the documentation runs (docs/*.md, English; the Chinese blocks have the
same code, which tests/test_docs_site.py checks), unless it is marked on the line before its fence
with ``<!-- not-runnable: reason -->``.

The blocks of one page run in order in one fresh interpreter (later blocks use the names of
earlier ones), in an empty temporary folder, with the package's caches in the test session's
private PADDLEX_INTERPRET_HOME (tests/conftest.py). A failing block fails the test with its page,
its line and the traceback (whose line numbers are the page's).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_docs_site import DOCS, code_blocks, english_pages  # noqa: E402

RUNNER = r'''
import json, sys, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
for block in blocks:
    # pad with blank lines so that traceback line numbers are the page's
    source = "\n" * block["line"] + block["code"]
    try:
        exec(compile(source, block["page"], "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"DOCS-BLOCK-FAILED {block['page']} line {block['line']}", flush=True)
        sys.exit(1)
    print(f"DOCS-BLOCK-OK {block['page']} line {block['line']}", flush=True)
'''


def runnable_blocks(page):
    return [b for b in code_blocks((DOCS / page).read_text(encoding="utf-8"))
            if b.lang in ("python", "py") and b.reason is None]


PAGES = [page for page in english_pages() if runnable_blocks(page)]


def test_some_blocks_run():
    """The runner is not idle: the getting-started page's example, at least, is run."""
    assert "getting_started.md" in PAGES, PAGES


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_of_the_page_run(page, tmp_path):
    blocks = [{"page": f"docs/{page}", "line": b.line, "code": b.code} for b in runnable_blocks(page)]
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps(blocks), encoding="utf-8")
    runner = tmp_path / "run_blocks.py"
    runner.write_text(RUNNER, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONIOENCODING="utf-8",
               PYTHONPATH=os.pathsep.join([str(DOCS.parent)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    result = subprocess.run([sys.executable, str(runner), str(spec)], cwd=work, env=env, capture_output=True,
                            text=True, encoding="utf-8", timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"a python block of docs/{page} failed:\n{output[-6000:]}"
    assert output.count("DOCS-BLOCK-OK") == len(blocks), output[-3000:]
