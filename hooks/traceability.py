"""The clause <-> check traceability tables, from the kit's registry.

Both directions come from the data the runner itself uses: ``REGISTRY`` (every check and
the clause ids it names, what it requires) and the clauses parsed from the spec. A
clause no check names shows "no check" (for a MUST clause, a kit bug the tests catch).
"""

from __future__ import annotations


def _first_sentence(doc: str) -> str:
    text = " ".join(doc.split())
    end = text.find(". ")
    return (text if end < 0 else text[: end + 1]).replace("|", "\\|")


def markdown() -> str:
    from sessionstore_conformance.checks import REGISTRY
    from sessionstore_conformance.spec import clauses

    by_clause: dict[str, list[str]] = {cid: [] for cid in clauses()}
    for check in REGISTRY:
        for cid in check.clauses:
            by_clause.setdefault(cid, []).append(check.name)
    lines = [
        f"{len(clauses())} clauses, {len(REGISTRY)} checks.",
        "",
        "## Clause → checks",
        "",
        "| clause | level | binds | checks that verify it |",
        "| --- | --- | --- | --- |",
    ]
    for clause in clauses().values():
        names = by_clause[clause.id]
        checks = ", ".join(f"[`{n}`](#check-{n})" for n in names) or "**no check**"
        binds = f"stores declaring `{clause.capability}`" if clause.capability else "every store"
        lines.append(f"| {clause.id} | {clause.level} | {binds} | {checks} |")
    lines += [
        "",
        "## Check → clauses",
        "",
        "| check | clauses | needs | what it does |",
        "| --- | --- | --- | --- |",
    ]
    for check in REGISTRY:
        needs = ", ".join(f"`{r}`" for r in check.requires) or "—"
        lines.append(
            f"| [`{check.name}`](#check-{check.name}){{#check-{check.name}}} | {', '.join(check.clauses)} | "
            f"{needs} | {_first_sentence(check.doc)} |"
        )
    return "\n".join(lines) + "\n"
