"""Each English page and its Chinese page (docs/<page>.md, docs/zh/<page>.md) have the same structure
outside code: the same headings (level by level, in order), the same tables (rows and columns),
the same images, the same link targets, the same admonitions, and in each section the same number
of paragraphs and list items (so an untranslated paragraph or a dropped pitfall shows up). The
code blocks themselves are compared by tests/test_docs_site.py; the words are a translation and
are not compared.

Link targets are compared after mapping each language onto the other: ``zh/x.md`` is the twin of
``x.md``, a resource the Chinese page reaches through the site's fallback (``gallery/f.png`` from
``zh/consensus.md`` is ``docs/gallery/f.png``) is the English page's resource, and an anchor is the
heading it names, counted in order (``transformers.md#the-methods`` and ``transformers.md#方法``
are both the second heading of their page). A Chinese page that links to an *English* page
(``../x.md``) is out of sync.
"""
from __future__ import annotations

import html
import os
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ZH = DOCS / "zh"
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ADMONITION = re.compile(r"^\s*(?:!!!|\?\?\?\+?)\s*([\w-]+)")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_LINK = re.compile(r"(?<![!\]])\[(?:[^\[\]]|\[[^\]]*\])*\]\[([^\]]+)\]")
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_IMG = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"")
EXPLICIT_ID = re.compile(r"\{[^}]*#([\w-]+)[^}]*\}\s*$")
LIST_ITEM = re.compile(r"^ {0,3}([-*+]|\d+[.)])\s")


def english_pages():
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if ZH not in p.parents)


def lines_outside_code(text: str):
    """The page's lines with fenced code blocks and HTML comments blanked (line numbers kept)."""
    text = re.sub(r"<!--.*?-->", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    kept, fence = [], None
    for line in text.splitlines():
        m = FENCE.match(line)
        if fence is None and m:
            fence = m["fence"]
            kept.append("")
            continue
        if fence is not None:
            if m and m["fence"][0] == fence[0] and len(m["fence"]) >= len(fence) and not m["info"].strip():
                fence = None
            kept.append("")
            continue
        kept.append(line)
    return kept


def _heading_text(raw: str) -> str:
    """A heading's text as the toc extension sees it: attribute list removed, inline markup reduced to text."""
    text = re.sub(r"\s*\{[^}]*\}\s*$", "", raw)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|_)(\S(?:.*?\S)?)\1", r"\2", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text)


def _unique(slug: str, used: set) -> str:
    while slug in used or not slug:
        m = re.match(r"^(.*)_([0-9]+)$", slug)
        slug = f"{m.group(1)}_{int(m.group(2)) + 1}" if m else f"{slug}_1"
    used.add(slug)
    return slug


@lru_cache(maxsize=None)
def heading_ids(path: Path):
    """``{id: ordinal}`` of a page's headings, with the ids mkdocs gives them (``{#id}`` if written,
    else the slug of mkdocs.yml's ``pymdownx.slugs.slugify(case='lower')``, made unique as toc does)."""
    try:
        from pymdownx.slugs import slugify
    except ImportError as exc:  # pymdownx comes with the 'docs' extra (mkdocs-material)
        if os.environ.get("CI"):
            pytest.fail(f"the documentation tools are missing ({exc}); install the 'docs' extra")
        pytest.skip(f"the 'docs' extra is not installed ({exc})")
    slugger = slugify(case="lower")
    used, ids = set(), {}
    for k, (_, raw) in enumerate(headings(path)):
        explicit = EXPLICIT_ID.search(raw)
        slug = explicit.group(1) if explicit else slugger(_heading_text(raw), "-")
        ids[_unique(slug, used)] = k
    return ids


@lru_cache(maxsize=None)
def headings(path: Path):
    found = []
    for line in lines_outside_code(path.read_text(encoding="utf-8")):
        m = HEADING.match(line)
        if m:
            found.append((len(m.group(1)), m.group(2)))
    return tuple(found)


def tables(lines):
    """(body rows, columns) of each table, in order: a block of lines starting with '|' with a rule row."""
    found, i = [], 0
    while i < len(lines):
        if not lines[i].lstrip().startswith("|"):
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].lstrip().startswith("|"):
            j += 1
        block = lines[i:j]
        rules = [line for line in block if TABLE_RULE.match(line)]
        if rules:
            columns = rules[0].strip().strip("|").count("|") + 1
            found.append((len(block) - 2, columns))
        i = j
    return found


def paragraphs_and_items(lines):
    """(paragraphs, list items) per section (the text before the first heading, then after each one).
    A paragraph is a run of text lines after a blank line, not a table, a list item or an indented
    continuation; list items are counted at the top level and one level down."""
    counts, paragraphs, items, after_blank = [], 0, 0, True
    for line in lines:
        if HEADING.match(line):
            counts.append((paragraphs, items))
            paragraphs, items, after_blank = 0, 0, True
        elif not line.strip():
            after_blank = True
        else:
            if LIST_ITEM.match(line):
                items += 1
            elif after_blank and not line.startswith((" ", "\t", "|")):
                paragraphs += 1
            after_blank = False
    counts.append((paragraphs, items))
    return counts


def _language_root(path: Path) -> Path:
    return ZH if ZH in path.parents else DOCS


def resolve(target: str, page: Path):
    """A link or image target of ``page`` in a form both languages share (see the module docstring)."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I):  # https:, mailto:, ...
        return target
    root = _language_root(page)
    path_part, _, anchor = target.partition("#")
    if path_part:
        resolved = (page.parent / path_part).resolve()
    else:
        resolved = page.resolve()
    if root == ZH and ZH.resolve() in resolved.parents:
        shared = resolved.relative_to(ZH.resolve())
        fallback = DOCS / shared
        if not resolved.exists() and fallback.exists() and fallback.suffix != ".md":
            resolved = fallback.resolve()
        where = ("page" if resolved.suffix == ".md" else "file", shared.as_posix())
    elif DOCS.resolve() in resolved.parents or resolved == DOCS.resolve():
        shared = resolved.relative_to(DOCS.resolve())
        kind = "page" if resolved.suffix == ".md" else "file"
        # from a Chinese page, an English page (outside docs/zh/) is another language's page
        where = (kind if root == DOCS or kind == "file" else "english page", shared.as_posix())
    else:
        where = ("outside docs", resolved.as_posix())
    if not anchor:
        return where
    target_page = resolved if resolved.suffix == ".md" else None
    if target_page is None or not target_page.is_file():
        return (*where, f"#{anchor}")
    ids = heading_ids(target_page)
    return (*where, f"heading {ids[anchor]}" if anchor in ids else f"unknown anchor #{anchor}")


def structure(path: Path) -> dict:
    lines = lines_outside_code(path.read_text(encoding="utf-8"))
    body = re.sub(r"``.+?``|`[^`\n]+`", "", "\n".join(lines))   # inline code holds no links
    return {
        "headings (levels in order)": [level for level, _ in headings(path)],
        "tables (rows, columns)": tables(lines),
        "images": [resolve(t, path) for t in IMAGE.findall(body) + HTML_IMG.findall(body)],
        "links": sorted(map(str, [resolve(t, path) for t in LINK.findall(body)] +
                            [("reference", ref) for ref in REF_LINK.findall(body)])),
        "admonitions": [m.group(1) for line in lines for m in [ADMONITION.match(line)] if m],
        "paragraphs and list items per section": paragraphs_and_items(lines),
    }


def differences(en: dict, zh: dict):
    out = []
    for key in en:
        if en[key] == zh[key]:
            continue
        if key == "links":
            a, b = Counter(en[key]), Counter(zh[key])
            out.append(f"{key}: only in English {sorted((a - b).elements())}, only in Chinese "
                       f"{sorted((b - a).elements())}")
        else:
            out.append(f"{key}: English {en[key]}, Chinese {zh[key]}")
    return out


@pytest.mark.parametrize("page", english_pages())
def test_the_chinese_page_has_the_structure_of_the_english_page(page):
    zh_page = ZH / page
    if not zh_page.is_file():
        pytest.fail(f"docs/zh/{page} is missing (tests/test_docs_site.py names every missing page)")
    en, zh = structure(DOCS / page), structure(zh_page)
    unresolved = [link for s in (en, zh) for link in s["links"] + list(map(str, s["images"]))
                  if "unknown anchor" in link]
    assert not unresolved, f"{page}: anchors that name no heading: {unresolved}"
    diff = differences(en, zh)
    assert not diff, f"docs/{page} and docs/zh/{page} are out of sync:\n  " + "\n  ".join(diff)


# -- the checker itself sees what it should -----------------------------------------------------------
EN_PAGE = """# Title

Intro with [a link](other.md#second-part) and [the API][paddlex_interpret.interpret.lime].

```python
# not a heading
x = "[not a link](nowhere.md)"
```

## First part

| a | b |
|---|---|
| 1 | 2 |

A paragraph
on two lines.

- one
- two

![figure](gallery/f.png)

!!! note "Note"
    Text.

## Second part
"""
ZH_PAGE = """# 标题

简介，含[链接](other.md#第二部分)和 [API][paddlex_interpret.interpret.lime]。

```python
# 不是标题
x = "[not a link](nowhere.md)"
```

## 第一部分

| a | b |
|---|---|
| 1 | 2 |

一个段落。

- 一
- 二

![图](gallery/f.png)

!!! note "注意"
    文字。

## 第二部分
"""
OTHER_EN = "# Other\n\n## First part\n\n## Second part\n"
OTHER_ZH = "# 其他\n\n## 第一部分\n\n## 第二部分\n"


@pytest.fixture
def tree(tmp_path):
    """A two-page site in ``tmp_path/docs``; the checker's DOCS and ZH point there for the test."""
    docs = tmp_path / "docs"
    (docs / "zh").mkdir(parents=True)
    (docs / "gallery").mkdir()
    (docs / "gallery" / "f.png").write_bytes(b"png")
    (docs / "other.md").write_text(OTHER_EN, encoding="utf-8")
    (docs / "zh" / "other.md").write_text(OTHER_ZH, encoding="utf-8")
    saved = globals()["DOCS"], globals()["ZH"]
    globals()["DOCS"], globals()["ZH"] = docs, docs / "zh"
    try:
        yield docs
    finally:
        globals()["DOCS"], globals()["ZH"] = saved
        heading_ids.cache_clear()
        headings.cache_clear()


def _diff(docs, en_text, zh_text):
    (docs / "page.md").write_text(en_text, encoding="utf-8")
    (docs / "zh" / "page.md").write_text(zh_text, encoding="utf-8")
    headings.cache_clear()
    heading_ids.cache_clear()
    return differences(structure(docs / "page.md"), structure(docs / "zh" / "page.md"))


def test_a_faithful_translation_is_in_sync(tree):
    """Different words, anchors in Chinese, an image reached through the fallback: in sync. Code
    blocks are not structure (their '#' lines are not headings, their brackets are not links)."""
    assert _diff(tree, EN_PAGE, ZH_PAGE) == []
    s = structure(tree / "page.md")
    assert s["headings (levels in order)"] == [1, 2, 2]
    assert s["tables (rows, columns)"] == [(1, 2)]
    assert s["images"] == [("file", "gallery/f.png")]
    assert s["admonitions"] == ["note"]
    assert s["paragraphs and list items per section"] == [(0, 0), (1, 0), (3, 2), (0, 0)]
    assert "('page', 'other.md', 'heading 2')" in s["links"]


@pytest.mark.parametrize("change, expected", [
    (("## 第二部分\n", ""), "headings"),
    (("## 第一部分", "### 第一部分"), "headings"),
    (("| 1 | 2 |\n", "| 1 | 2 |\n| 3 | 4 |\n"), "tables"),
    (("| a | b |\n|---|---|\n| 1 | 2 |", "| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |"), "tables"),
    (("gallery/f.png", "gallery/g.png"), "images"),
    (("(other.md#第二部分)", "(other.md#第一部分)"), "links"),
    (("(other.md#第二部分)", "(../other.md#second-part)"), "links"),
    (("!!! note", "!!! warning"), "admonitions"),
    (("- 二\n", ""), "paragraphs"),
    (("一个段落。\n\n", ""), "paragraphs"),
])
def test_each_kind_of_drift_is_seen(tree, change, expected):
    """A missing or re-levelled heading, an extra table row or column, another image, a link to another
    heading or to the English page, another admonition, a dropped list item or paragraph: each is
    reported under its name."""
    old, new = change
    assert old in ZH_PAGE
    diff = _diff(tree, EN_PAGE, ZH_PAGE.replace(old, new, 1))
    # a removed heading also merges two sections' paragraph counts: that is reported second
    assert diff and diff[0].startswith(expected), diff
    assert all(d.startswith("paragraphs") for d in diff[1:]) and (len(diff) == 1 or expected == "headings"), diff
