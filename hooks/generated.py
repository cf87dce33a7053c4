"""MkDocs hook: pages' generated sections, rebuilt at every build so they cannot go stale.

A page asks for one with a marker line, ``<!-- generated: NAME -->`` (NAME and any
arguments after it); the hook puts the Markdown of the module that makes it in its
place. An unknown NAME fails the build.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import backend_table
import cli_reference
import kill_table
import traceability
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files

MARKER = re.compile(r"^<!-- generated: ([a-z-]+)((?: [\w.:-]+)*) -->$", re.MULTILINE)
#: Markers hooks/spec_site.py fills (their NAME has a slash), left to it.
MAKERS: dict[str, Callable[..., str]] = {
    "traceability": traceability.markdown,
    "kill-table": kill_table.markdown,
    "backends": backend_table.markdown,
    "capabilities": backend_table.capabilities,
    "cli": cli_reference.markdown,
}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    def fill(match: re.Match[str]) -> str:
        maker = MAKERS.get(match[1])
        if maker is None:
            raise PluginError(f"{page.file.src_uri}: no generated section named {match[1]!r}")
        return maker(*match[2].split())

    return MARKER.sub(fill, markdown)
