"""The documentation site (mkdocs.yml, docs/, docs/zh/): it builds with warnings as errors, every
English page has its Chinese page with the same code, and nothing is fetched from outside.

The rules checked here are described for writers in docs/site.md. The Python blocks are run by
tests/test_docs_code.py, the gallery is checked by tests/test_docs_gallery.py; the screenshots of
the built site are taken at the end of this file.
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tokenize
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ZH = DOCS / "zh"

#: the marker, on the line before a ```python fence (blank lines allowed between), that exempts the
#: block from being run; the reason is required
NOT_RUNNABLE = re.compile(r"<!--\s*not-runnable:\s*(?P<reason>\S.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


# -- reading pages ------------------------------------------------------------------------------------
def english_pages():
    """Every English page: docs/**/*.md outside docs/zh/, as paths relative to docs/."""
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if ZH not in p.parents)


def chinese_pages():
    return sorted(p.relative_to(ZH).as_posix() for p in ZH.rglob("*.md"))


class Block:
    """One fenced code block: its language, its code (indentation of the fence removed), the line of
    the opening fence (1-based) and the not-runnable reason written before it (None if none)."""

    def __init__(self, lang, code, line, reason):
        self.lang, self.code, self.line, self.reason = lang, code, line, reason

    def __repr__(self):
        return f"Block({self.lang!r}, line {self.line})"


def code_blocks(text: str):
    """The fenced code blocks of a Markdown text, in order (nested fences inside a longer fence are
    code). A fence indented under a list item is a block as well."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m["indent"]), m["fence"], m["info"].strip()
        start, body, i = i, [], i + 1
        while i < len(lines):
            close = FENCE.match(lines[i])
            if close and close["fence"][0] == fence[0] and len(close["fence"]) >= len(fence) \
                    and not close["info"].strip():
                break
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        reason, j = None, start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0:
            marker = NOT_RUNNABLE.search(lines[j])
            reason = marker["reason"] if marker else None
        lang = info.split()[0].lstrip(".{").rstrip("}") if info else ""
        blocks.append(Block(lang, "\n".join(body), start + 1, reason))
        i += 1
    return blocks


def _strip_python_comments(code: str) -> str:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return _strip_hash_comments(code)
    out = code.splitlines()
    for tok in reversed(tokens):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            out[row - 1] = out[row - 1][:col]
    return "\n".join(out)


def _strip_hash_comments(code: str) -> str:
    """``#`` to the end of the line, outside quotes, at the line start or after a blank (shell)."""
    result = []
    for line in code.splitlines():
        quote, cut = None, len(line)
        for k, ch in enumerate(line):
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "#" and (k == 0 or line[k - 1] in " \t"):
                cut = k
                break
        result.append(line[:cut])
    return "\n".join(result)


def comparable_code(block: Block) -> str:
    """The code of a block as compared between languages: comments removed (``#`` comments in
    python, bash, sh, console, yaml, toml and ini blocks), trailing spaces and blank lines dropped.
    Other blocks (text, output, json...) must be identical line by line."""
    code = block.code
    if block.lang in ("python", "py", "pycon"):
        code = _strip_python_comments(code)
    elif block.lang in ("bash", "sh", "shell", "console", "yaml", "yml", "toml", "ini", "cfg"):
        code = _strip_hash_comments(code)
    return "\n".join(line.rstrip() for line in code.splitlines() if line.strip())


def prose(text: str) -> str:
    """The text of a page outside code blocks, inline code, HTML comments and link targets."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<[A-Za-z/][^>]*>", "", text)   # raw HTML tags (e.g. the gallery's iframes)
    kept, inside = [], None
    for line in text.splitlines():
        m = FENCE.match(line)
        if m and inside is None:
            inside = m["fence"]
            continue
        if inside is not None:
            if m and m["fence"][0] == inside[0] and not m["info"].strip():
                inside = None
            continue
        kept.append(line)
    text = "\n".join(kept)
    text = re.sub(r"`[^`]*`", "", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"^:::.*$(\n {4}.*$)*", "", text, flags=re.M)   # mkdocstrings blocks
    return text


# -- building -----------------------------------------------------------------------------------------
def build_site(site_dir: Path) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` into ``site_dir`` (a subprocess of this interpreter's mkdocs)."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
                           "-f", str(ROOT / "mkdocs.yml"), "-d", str(site_dir)],
                          cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=600)


def require_mkdocs():
    """Skip without the ``docs`` extra on a developer's machine; under CI (``$CI`` set) fail instead."""
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
        import mkdocs_static_i18n  # noqa: F401
        import mkdocstrings_handlers.python  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the documentation tools are missing ({exc}); install the 'docs' extra")
        pytest.skip(f"the 'docs' extra is not installed ({exc})")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_mkdocs()
    site_dir = tmp_path_factory.mktemp("site")
    result = build_site(site_dir)
    warnings, lines = [], (result.stdout + result.stderr).splitlines()
    for k, line in enumerate(lines):
        if line.startswith(("WARNING", "ERROR")):
            warnings.append(line)
            for more in lines[k + 1:]:  # the list that follows, e.g. of pages missing from the nav
                if not more.startswith("  - "):
                    break
                warnings.append(more)
    assert result.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(
        warnings or (result.stdout + result.stderr).splitlines()[-40:])
    return site_dir


# -- the checks ---------------------------------------------------------------------------------------
def test_the_site_builds_with_warnings_as_errors(site):
    """Broken links and anchors, pages missing from the nav, nav entries without a page and
    docstrings that do not parse are warnings, and --strict turns them into a failed build."""
    for page in english_pages():
        html = site / Path(page).with_suffix(".html")
        assert html.is_file(), f"{page} was not built ({html.relative_to(site)})"
        assert (site / "zh" / Path(page).with_suffix(".html")).is_file(), f"zh/{page} was not built"
    assert (site / "search" / "search_index.json").is_file()


def test_strict_build_fails_on_a_broken_link(tmp_path):
    """The build is really strict: the same configuration with one broken link fails, naming it."""
    require_mkdocs()
    docs = tmp_path / "docs"
    (docs / "zh").mkdir(parents=True)
    (docs / "index.md").write_text("# Home\n\nSee [the missing page](missing.md).\n", encoding="utf-8")
    (docs / "zh" / "index.md").write_text("# 首页\n", encoding="utf-8")
    config = tmp_path / "mkdocs.yml"
    config.write_text("site_name: t\ndocs_dir: docs\nstrict: true\ntheme:\n  name: material\n  font: false\n"
                      "plugins:\n  - search\n  - i18n:\n      docs_structure: folder\n      languages:\n"
                      "        - {locale: en, name: English, default: true}\n        - {locale: zh, name: 中文}\n",
                      encoding="utf-8")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                             "-d", str(tmp_path / "out")], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    assert "missing.md" in result.stdout + result.stderr


def test_every_english_page_has_its_chinese_page():
    """docs/<page>.md has docs/zh/<page>.md (same path), and docs/zh/ has no page without an English one."""
    english, chinese = set(english_pages()), set(chinese_pages())
    missing = sorted(english - chinese)
    assert not missing, f"pages without a Chinese version in docs/zh/: {missing}"
    orphans = sorted(chinese - english)
    assert not orphans, f"Chinese pages without an English page: {orphans}"


def test_chinese_pages_are_written_in_chinese():
    """A Chinese page is a translation, not a copy: most of its prose (outside code and tables, whose
    cells may quote English messages and names) is Chinese."""
    untranslated = []
    for page in sorted(set(english_pages()) & set(chinese_pages())):
        text = "\n".join(line for line in prose((ZH / page).read_text(encoding="utf-8")).splitlines()
                         if not line.lstrip().startswith("|"))
        cjk, latin = len(CJK.findall(text)), len(re.findall(r"[A-Za-z]", text))
        if cjk < 20 or cjk < 0.5 * latin:
            untranslated.append(f"{page} ({cjk} Chinese characters, {latin} Latin letters)")
    assert not untranslated, f"Chinese pages that are mostly untranslated: {untranslated}"


@pytest.mark.parametrize("page", english_pages())
def test_english_and_chinese_code_blocks_agree(page):
    """Same number of fenced blocks, in the same order, same language, same code once comments are
    removed (see :func:`comparable_code`); the same blocks carry the not-runnable marker."""
    zh_path = ZH / page
    if not zh_path.is_file():
        pytest.fail(f"docs/zh/{page} is missing (test_every_english_page_has_its_chinese_page)")
    en = code_blocks((DOCS / page).read_text(encoding="utf-8"))
    zh = code_blocks(zh_path.read_text(encoding="utf-8"))
    assert len(en) == len(zh), (f"{page}: {len(en)} code blocks in English (lines {[b.line for b in en]}), "
                                f"{len(zh)} in Chinese (lines {[b.line for b in zh]})")
    for k, (a, b) in enumerate(zip(en, zh), 1):
        where = f"{page}, block {k} (English line {a.line}, Chinese line {b.line})"
        assert a.lang == b.lang, f"{where}: language {a.lang!r} vs {b.lang!r}"
        assert comparable_code(a) == comparable_code(b), (
            f"{where}: the code differs (comments may differ, code may not)\n--- en\n{a.code}\n--- zh\n{b.code}")
        assert (a.reason is None) == (b.reason is None), f"{where}: not-runnable marker in one language only"
    # the API reference's mkdocstrings blocks (``::: module.name``) are code too
    objects = [re.findall(r"^::: *(\S+)", path.read_text(encoding="utf-8"), flags=re.M) for path in (DOCS / page, zh_path)]
    assert objects[0] == objects[1], f"{page}: the ::: blocks differ:\nen {objects[0]}\nzh {objects[1]}"


def test_code_block_rules_on_known_examples():
    """The comparison ignores comments only: a changed argument or string is a difference."""
    a = code_blocks("```python\nx = f('a # b', n=3)   # three\n```\n")[0]
    b = code_blocks("<!-- not-runnable: placeholder model -->\n```python\nx = f('a # b', n=3)   # 三个\n```\n")[0]
    c = code_blocks("```python\nx = f('a # b', n=4)\n```\n")[0]
    d = code_blocks("```bash\nls out/  # list\n```")[0]
    assert comparable_code(a) == comparable_code(b) == "x = f('a # b', n=3)"
    assert comparable_code(a) != comparable_code(c)
    assert comparable_code(d) == "ls out/"
    assert a.reason is None and b.reason == "placeholder model"
    nested = code_blocks("- item\n\n  ```python\n  y = 1\n  ```\n````text\n```\ninner\n```\n````\n")
    assert [(blk.lang, blk.code) for blk in nested] == [("python", "y = 1"), ("text", "```\ninner\n```")]


def test_every_python_block_is_runnable_or_says_why_not():
    """A not-runnable marker gives a reason (the marker regex needs a non-blank one), and only
    python blocks carry it."""
    for page in english_pages():
        for block in code_blocks((DOCS / page).read_text(encoding="utf-8")):
            if block.reason is not None:
                assert block.lang == "python", f"{page} line {block.line}: the marker is for python blocks"
                assert len(block.reason) >= 10, f"{page} line {block.line}: say why the block cannot run"


class _Assets(HTMLParser):
    """Collects what a browser would fetch on its own: script/img/iframe/source/... src, stylesheet,
    icon, preload and manifest links, and url(...) / @import in inline styles."""

    FETCHED_LINKS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload",
                     "prefetch", "preconnect", "dns-prefetch", "manifest"}

    def __init__(self):
        super().__init__()
        self.urls, self._style = [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video", "embed", "track", "input"):
            for key in ("src", "srcset", "poster"):
                if attrs.get(key):
                    self.urls.append((tag, attrs[key]))
        if tag == "object" and attrs.get("data"):
            self.urls.append((tag, attrs["data"]))
        if tag == "link" and set((attrs.get("rel") or "").lower().split()) & self.FETCHED_LINKS:
            self.urls.append((tag, attrs.get("href") or ""))
        if attrs.get("style"):
            self.urls += [("style", u) for u in css_urls(attrs["style"])]
        self._style = tag == "style"

    def handle_data(self, data):
        if self._style:
            self.urls += [("style", u) for u in css_urls(data)]

    def handle_endtag(self, tag):
        self._style = False


def css_urls(css: str):
    return [m.group(1).strip("'\" ") for m in re.finditer(r"url\(([^)]*)\)", css)] + \
        re.findall(r"@import\s+['\"]([^'\"]+)['\"]", css)


def is_external(url: str) -> bool:
    return bool(re.match(r"^\s*(https?:)?//", url, re.I))


#: CDN addresses inside Material's script bundle that it fetches only on a condition this site never
#: meets: mermaid for ```mermaid blocks (test_no_block_needs_a_cdn_script checks there are none), the
#: ResizeObserver polyfill for browsers without ResizeObserver (every current browser has it). The
#: browser test below also records every request the pages make.
MATERIAL_CONDITIONAL = ("https://unpkg.com/mermaid@", "https://unpkg.com/resize-observer-polyfill")


def test_no_block_needs_a_cdn_script():
    """Material loads mermaid from a CDN when a page has a ```mermaid block: the docs have none."""
    offending = [f"{page} line {b.line}" for page in english_pages() + [f"zh/{p}" for p in chinese_pages()]
                 for b in code_blocks((DOCS / page).read_text(encoding="utf-8")) if b.lang == "mermaid"]
    assert not offending, f"mermaid blocks (Material would fetch mermaid from unpkg.com): {offending}"


def test_nothing_is_fetched_from_outside(site):
    """No page, stylesheet or script of the built site loads anything from another host (no web fonts,
    no CDN scripts or stylesheets); links to other sites are fine (they are only followed on a click)."""
    external = []
    for html in site.rglob("*.html"):
        parser = _Assets()
        parser.feed(html.read_text(encoding="utf-8"))
        external += [f"{html.relative_to(site)}: <{tag}> {url}" for tag, url in parser.urls if is_external(url)]
    for css in site.rglob("*.css"):
        external += [f"{css.relative_to(site)}: {url}" for url in css_urls(css.read_text(encoding="utf-8"))
                     if is_external(url)]
    for js in site.rglob("*.js"):
        text = js.read_text(encoding="utf-8", errors="replace")
        external += [f"{js.relative_to(site)}: {m}" for m in
                     re.findall(r"https?://(?:fonts\.googleapis|fonts\.gstatic|cdn\.jsdelivr|unpkg|cdnjs)[^\"'\s)]*",
                                text)
                     if not m.startswith(MATERIAL_CONDITIONAL)]
    assert not external, "external assets:\n" + "\n".join(sorted(set(external))[:40])
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis" not in index and "fonts.gstatic" not in index


def test_the_detector_sees_external_assets():
    """The asset parser is not blind: it finds a CDN script, a web-font stylesheet and a css url()."""
    parser = _Assets()
    parser.feed('<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
                '<script src="//cdn.jsdelivr.net/x.js"></script><a href="https://example.org">a link</a>'
                '<style>@font-face { src: url("https://fonts.gstatic.com/r.woff2") }</style>'
                '<img src="gallery/chelsea_lime.png">')
    found = [url for _, url in parser.urls if is_external(url)]
    assert found == ["https://fonts.googleapis.com/css?family=Roboto", "//cdn.jsdelivr.net/x.js",
                     "https://fonts.gstatic.com/r.woff2"]


def test_language_switch_links_the_two_versions(site):
    """Each English page links to its Chinese version and back (mkdocs-static-i18n's switch)."""
    for page in ("index.html", "lime.html", "api/engine.html"):
        en = (site / page).read_text(encoding="utf-8")
        zh = (site / "zh" / page).read_text(encoding="utf-8")
        depth = "../" * page.count("/")
        assert f'href="{depth}zh/{page}"' in en, f"{page}: no link to zh/{page}"
        assert f'href="../{depth}{page}"' in zh, f"zh/{page}: no link back to {page}"
        assert 'lang="zh"' in zh and 'lang="en"' in en


def test_api_reference_lists_every_registered_method(site):
    """docs/api/engine.md has one mkdocstrings block per row of the method table (filled in at build
    time by docs/api/_registry_hook.py), so every method class is documented in both languages."""
    from paddlex_interpret.engine.registry import METHODS

    for prefix in ("", "zh/"):
        html = (site / prefix / "api" / "engine.html").read_text(encoding="utf-8")
        missing = [spec.name for spec in METHODS.values()
                   if f'id="paddlex_interpret.engine.{spec.target.replace(":", ".")}"' not in html]
        assert not missing, f"{prefix}api/engine.html lacks the classes of {missing}"
    interpret_html = (site / "api" / "interpret.html").read_text(encoding="utf-8")
    # the docstring placeholders ({figure}, {job}, ...) were filled by docs/api/_griffe_figure_doc.py
    left = re.findall(r">\s*\{\w+\}\s*<", interpret_html)
    assert not left and "save_dir" in interpret_html, f"placeholders left in the API page: {left}"


# -- the built site in a real browser -----------------------------------------------------------------
CHROMIUM = os.environ.get("PXI_CHROMIUM", "/usr/bin/chromium")
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-gpu", "--disable-dev-shm-usage"]
#: the two pages photographed: the English home page and the Chinese gallery (text, nav, images)
SCREENSHOT_PAGES = {"index.html": "docs_en_index.png", "zh/gallery/index.html": "docs_zh_gallery.png"}


def _browser_missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; CI must install it (apt-get install chromium; pip install playwright)")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def served(site):
    """The built site on http://127.0.0.1:<free port>/ (a thread of this process)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_two_pages_render_offline_in_a_headless_browser(served, tmp_path):
    """Chromium (Debian's, via playwright) opens two built pages with every request to another host
    blocked: the theme's stylesheet and scripts load, every image loads, the language switch is
    there, the search finds a word, nothing was requested from outside, no console error. The
    screenshots go to the test's tmp folder and to ``$PXI_DOCS_SCREENSHOTS`` (a folder) when set."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_missing("the playwright package")
    if not (os.path.isfile(CHROMIUM) or __import__("shutil").which(CHROMIUM)):
        _browser_missing(f"the browser {CHROMIUM}")
    from PIL import Image

    import numpy as np

    outside, errors, failed, shots = [], [], [], []
    with sync_playwright() as pw:
        try:
            chrome = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS, headless=True)
        except Exception as exc:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"chromium does not start here: {exc}")
        try:
            context = chrome.new_context(viewport={"width": 1280, "height": 900})

            def gate(route):
                if route.request.url.startswith(served) or route.request.url.startswith("data:"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            context.route("**/*", gate)
            page = context.new_page()
            # a failed load is reported below with its address (the console message has none)
            page.on("console", lambda msg: errors.append(msg.text)
                    if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            for path, shot_name in SCREENSHOT_PAGES.items():
                page.goto(served + path, wait_until="networkidle")
                # Material's stylesheet is applied: the header is fixed/sticky and coloured
                header = page.evaluate("() => { const h = document.querySelector('header.md-header');"
                                       " const s = getComputedStyle(h); return [s.position, s.backgroundColor]; }")
                assert header[0] in ("sticky", "fixed") and header[1] not in ("rgba(0, 0, 0, 0)", "transparent"), header
                images = page.evaluate("() => Array.from(document.images).filter(i => i.closest('article'))"
                                       ".map(i => [i.getAttribute('src'), i.complete && i.naturalWidth])")
                assert all(width for _, width in images), f"{path}: images that did not load: {images}"
                switch = page.evaluate("() => Array.from(document.querySelectorAll('a[hreflang]')).map(a => a.hreflang)")
                assert {"en", "zh"} <= set(switch), f"{path}: no language switch ({switch})"
                shot = tmp_path / shot_name
                page.screenshot(path=str(shot), full_page=False)
                shots.append(shot)
                if path.startswith("zh/"):
                    assert len(images) >= 3, f"{path}: the gallery shows {len(images)} figures"
                    assert "示例图库" in page.title()
                else:
                    assert "paddlex_interpret" in page.title()
            # the search (a web worker and an index, both served from the site) finds a word
            page.goto(served + "index.html", wait_until="networkidle")
            page.focus("input.md-search__input")
            page.keyboard.type("superpixel")
            page.wait_for_selector(".md-search-result__item", timeout=20000)
        finally:
            chrome.close()
    assert not outside, f"requests to other hosts: {outside}"
    assert not errors, f"console errors: {errors}"
    # Material's language switch looks for the other language's sitemap.xml to keep the reader on the
    # same page; mkdocs-static-i18n writes one sitemap for the whole site, and the switch then simply
    # follows its link. Any other missing file is a failure.
    failed = [f for f in failed if not f.endswith("/sitemap.xml")]
    assert not failed, f"files the pages asked for and did not get: {failed}"
    for shot in shots:
        pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
        assert pixels.shape == (900, 1280) and pixels.std() > 10, f"{shot.name} looks blank"
    target = os.environ.get("PXI_DOCS_SCREENSHOTS")
    if target:
        import shutil

        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in shots:
            tmp = Path(target) / f".{shot.name}.tmp"
            shutil.copyfile(shot, tmp)
            os.replace(tmp, Path(target) / shot.name)
