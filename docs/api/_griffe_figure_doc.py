"""Griffe extension (mkdocs.yml, mkdocstrings ``extensions``): docstring placeholders.

``paddlex_interpret.interpret`` writes parameters shared by several functions once, in a module
string (``_FIGURE_DOC``, ...), and a decorator puts it in place of a placeholder line (``{figure}``)
with ``func.__doc__.replace("    {figure}\\n", _FIGURE_DOC...)`` when the module is imported. The site
reads the source statically (nothing is imported), so this extension finds those ``.replace``
calls in the source and does the same substitution on the parsed docstrings.
"""
from __future__ import annotations

import ast
import re
import textwrap

import griffe

MODULES = ("paddlex_interpret.interpret",)
PLACEHOLDER = re.compile(r"^\s*\{(\w+)\}\s*$")


def placeholders(path) -> dict:
    """``{placeholder name: replacement text (dedented)}`` from the ``.replace("{x}", NAME...)`` calls."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    strings = {}

    def value_of(node):
        """A module-level string expression: a literal, a name bound to one, or their ``+``."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return strings.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = value_of(node.left), value_of(node.right)
            return left + right if left is not None and right is not None else None
        return None

    for node in tree.body:  # in source order, as the module binds them
        if isinstance(node, ast.Assign):
            text = value_of(node.value)
            if text is not None:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        strings[target.id] = text
    found = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "replace"
                and len(node.args) == 2 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            continue
        match = PLACEHOLDER.match(node.args[0].value)
        value = node.args[1]
        while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):  # NAME.strip("\n")
            value = value.func.value
        if match and isinstance(value, ast.Name) and value.id in strings:
            found[match.group(1)] = textwrap.dedent(strings[value.id]).strip("\n")
    return found


class FigureDoc(griffe.Extension):
    def on_module(self, *, mod, loader, **kwargs):
        if mod.path not in MODULES:
            return
        table = None
        for member in mod.members.values():
            if member.is_alias or member.docstring is None or "{" not in member.docstring.value:
                continue
            table = placeholders(mod.filepath) if table is None else table
            lines = []
            for line in member.docstring.value.splitlines():
                match = PLACEHOLDER.match(line)
                lines.append(table.get(match.group(1), line) if match else line)
            member.docstring.value = "\n".join(lines)
