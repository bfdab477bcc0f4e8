"""MkDocs hook (see mkdocs.yml ``hooks``): fills ``<!-- api:registry-methods -->`` on the API pages.

The marker is replaced by one mkdocstrings block per row of the method table
(``paddlex_interpret.engine.registry.METHODS``), so the reference lists every registered method's
class and cannot drift from the table. The registry module imports neither Paddle nor the methods.
"""
from __future__ import annotations

import re

MARKER = "<!-- api:registry-methods -->"
_ALONE = re.compile(r"^" + re.escape(MARKER) + r"[ \t]*$", re.M)   # on a line of its own (not quoted in prose)


def registry_blocks() -> str:
    from paddlex_interpret.engine.registry import METHODS

    parts = []
    for spec in METHODS.values():
        parts.append(
            f"### `{spec.name}`\n\n"
            f"{spec.summary}. Explains: {spec.explains}; needs: {spec.needs}; figure: {spec.figure}; "
            f"task function: `interpret.{spec.function}`.\n\n"
            f"::: paddlex_interpret.engine.{spec.target.replace(':', '.')}\n"
            f"    options:\n"
            f"      heading_level: 4\n"
        )
    return "\n".join(parts)


def on_page_markdown(markdown, page, config, files):
    if _ALONE.search(markdown):
        markdown = _ALONE.sub(lambda _: registry_blocks(), markdown)
    return markdown
