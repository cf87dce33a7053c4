"""MkDocs hook: the normative spec and its JSON Schemas on the site, never copied by hand.

``docs/spec.md`` holds a marker; at build time it becomes the text of ``spec/SPEC.md``
with each clause line (``- **ID** (LEVEL) text``, the form the kit parses) turned into a
small heading, ``ID · LEVEL``, over its text. The heading's anchor is the clause id
(``spec/#TOUCH-2``, stable for as long as the clause is), and site search, which
indexes a page by its headings, gives the clause a result of its own, titled by its id. The spec's links into ``schema/`` point at the schemas published beside it: every
``spec/schema/*.json`` is copied to the site as a file (``schema/NAME.json``), and
``docs/schemas.md`` gets each one rendered (title, ``$id``, the JSON).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec" / "SPEC.md"
SCHEMAS = ROOT / "spec" / "schema"
SPEC_MARKER = "<!-- generated: spec/SPEC.md -->"
SCHEMAS_MARKER = "<!-- generated: spec/schema -->"

#: The kit's own pattern for a clause line (sessionstore_conformance.spec.CLAUSE_LINE).
CLAUSE_LINE = re.compile(r"^- \*\*([A-Z]+-[0-9]+)\*\* \((MUST|SHOULD|MAY)\) ")
#: Links of SPEC.md to places in the repository that are not pages of the site.
REPO_LINKS = {
    "[`schema/`](schema/)": "[`schema/`](schemas.md)",
    "[`vectors/`](vectors/README.md)": "`spec/vectors/` in the repository",
}


def spec_markdown() -> str:
    """SPEC.md with an anchor on every clause, its links pointed at the site's pages."""
    lines = []
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        match = CLAUSE_LINE.match(line)
        if match:
            cid, level = match[1], match[2]
            rest = line[match.end() :]
            line = f"#### {cid} · {level} {{#{cid} .clause-id}}\n\n{rest}\n"
        lines.append(line)
    text = "\n".join(lines) + "\n"
    for old, new in REPO_LINKS.items():
        text = text.replace(old, new)
    return text


def schema_markdown() -> str:
    """Every schema: its title, $id, a link to the file, and the schema itself."""
    parts = []
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        parts += [
            f"## {path.name}",
            "",
            f"**{schema.get('title', path.stem)}** — `$id` `{schema.get('$id', '')}`; "
            f"download: [{path.name}](schema/{path.name}).",
            "",
        ]
        if schema.get("description"):
            parts += [schema["description"], ""]
        parts += ["```json", path.read_text(encoding="utf-8").rstrip(), "```", ""]
    return "\n".join(parts)


def on_files(files: Files, config: Any) -> Files:
    for path in sorted(SCHEMAS.glob("*.json")):
        files.append(File.generated(config, f"schema/{path.name}", content=path.read_bytes()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if SPEC_MARKER in markdown:
        markdown = markdown.replace(SPEC_MARKER, spec_markdown())
    if SCHEMAS_MARKER in markdown:
        markdown = markdown.replace(SCHEMAS_MARKER, schema_markdown())
    return markdown
