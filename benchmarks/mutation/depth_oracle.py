"""Does a mutant of the depth pre-test ever miss depth? (docs/mutation.md, category S)

    python benchmarks/mutation/depth_oracle.py NAME [NAME ...]     # after run.sh

``too_deep`` (and its first step ``_at_most``) only decides how data is validated:
"not too deep" accepts it at once, "too deep" sends it to the exact walk, which accepts
valid data. So a mutant changes a verdict only where it answers "not too deep" (or
raises) for data deeper than the limit. This runs each named mutant of mutmut's mutated
``sessionstore.semantics`` on 8,000 seeded random documents full of escaped quotes,
backslashes and brackets, at limits 3, 5, 8 and 12, against the exact depth, and prints
the first document it misses, or ``never misses``.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any

MUTANTS = Path(__file__).resolve().parents[2] / "build" / "mutation" / "mutants" / "src"
TRICKY = ["[", "]]", "{", "}", '"', '\\"', "\\", '"]', '\\["', "a\\\\", '"{[', "", "\\\\"]
TRICKY += ['\\\\"', '"\\', "x\\", "[\\", "\\]"]


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def document(pick: random.Random) -> dict[str, Any]:
    def tree(levels: int) -> Any:
        if levels <= 0 or pick.random() < 0.25:
            return pick.choice([pick.choice(TRICKY) * 2, 1, None, True, pick.choice(TRICKY)])
        if pick.random() < 0.5:
            return [tree(levels - 1) for _ in range(pick.randint(0, 3))]
        return {pick.choice(TRICKY) + str(i): tree(levels - 1) for i in range(pick.randint(0, 3))}

    lists: list[Any] = []
    for _ in range(pick.randint(1, 14)):
        lists = [lists] if pick.random() < 0.7 else [lists, pick.choice(TRICKY)]
    wide: list[list[Any]] = [[] for _ in range(pick.randint(0, 12))]
    return {"k": tree(pick.randint(1, 14)), "l": lists, "w": wide, "s": pick.choice(TRICKY)}


def main() -> None:
    sys.path.insert(0, str(MUTANTS))
    os.environ["MUTANT_UNDER_TEST"] = ""
    import orjson

    from sessionstore import semantics

    pick = random.Random(7)
    cases = [(orjson.dumps(d), depth(d)) for d in (document(pick) for _ in range(8000))]
    for name in sys.argv[1:]:
        os.environ["MUTANT_UNDER_TEST"] = name  # mutmut's trampolines read it per call
        missed = None
        for encoded, deepest in cases:
            for limit in (3, 5, 8, 12):
                try:
                    says: object = semantics.too_deep(encoded, limit)
                except Exception as exc:  # a crash is a changed verdict too
                    says = repr(exc)
                if says is not True and says != (deepest > limit):
                    missed = (encoded[:160], deepest, limit, says)
                    break
            if missed:
                break
        print(f"{name}: {'misses ' + repr(missed) if missed else 'never misses'}", flush=True)


if __name__ == "__main__":
    main()
