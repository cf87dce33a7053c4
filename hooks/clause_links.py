"""MkDocs hook: every clause id in the prose of every page links to its clause.

A word such as ``TOUCH-2`` or ``VAL-2..VAL-5`` that names a clause of spec/SPEC.md
becomes a link to the clause's anchor on the spec page (``spec.md#TOUCH-2``, relative
to the page). Left alone: code (fenced blocks and inline spans), headings, existing
links, HTML tags and attribute lists, and ids the spec does not have. The spec page
itself links within the page; its clauses are headings by then (hooks/spec_site.py
runs first), so a clause never links to itself. Each link has the class
``clause-link`` (docs/stylesheets/fit.css keeps it on one line).
"""

from __future__ import annotations

import posixpath
import re
from functools import cache
from typing import Any

from mkdocs.structure.files import Files
from spec_site import CLAUSE_LINE, SPEC

CLAUSE_ID = re.compile(r"(?<![\w#/-])([A-Z]+-[0-9]+)(?![\w-])")
#: What is never rewritten inside a line: inline code, a link (text and target), an HTML
#: tag or comment, an attribute list.
KEPT = re.compile(r"(`+).*?\1|!?\[[^\]]*\]\([^)]*\)|<!--.*?-->|<[^>\n]+>|\{[^}\n]*\}")
FENCE = re.compile(r"^\s*(```|~~~)")


@cache
def clause_ids() -> frozenset[str]:
    lines = SPEC.read_text(encoding="utf-8").splitlines()
    return frozenset(m[1] for m in map(CLAUSE_LINE.match, lines) if m)


def _link_text(text: str, target: str) -> str:
    known = clause_ids()

    def link(match: re.Match[str]) -> str:
        cid = match[1]
        return f"[{cid}]({target}#{cid}){{.clause-link}}" if cid in known else cid

    return CLAUSE_ID.sub(link, text)


def link_clauses(markdown: str, target: str) -> str:
    """``markdown`` with each clause id of its prose linked to ``target#ID``."""
    out, fence = [], None
    for line in markdown.split("\n"):
        opened = FENCE.match(line)
        if fence is not None:
            if opened and opened[1] == fence:
                fence = None
        elif opened:
            fence = opened[1]
        elif not line.lstrip().startswith("#"):
            pieces, last = [], 0
            for kept in KEPT.finditer(line):
                pieces += [_link_text(line[last : kept.start()], target), kept[0]]
                last = kept.end()
            line = "".join(pieces) + _link_text(line[last:], target)
        out.append(line)
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    here = page.file.src_uri
    target = (
        "" if here == "spec.md" else posixpath.relpath("spec.md", posixpath.dirname(here) or ".")
    )
    return link_clauses(markdown, target)
