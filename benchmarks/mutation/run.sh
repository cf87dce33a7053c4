#!/bin/sh
# Mutation testing of reference/sessionstore/backends/memory.py and semantics.py with the
# conformance kit as the only test suite (config: [tool.mutmut] in pyproject.toml; the
# kit as pytest items: benchmarks/mutation/kit_items.py; results: docs/mutation.md).
#
#   benchmarks/mutation/run.sh [MUTANT_NAME...]     # from anywhere in the repository
#
# The two packages are staged under build/mutation/src/ (with spec/ copied in for the
# package's _spec link): mutmut names a module after its file's path and strips only
# "src/". One mutant at a time (--max-children 1): each one runs the kit checks that
# reach the mutated function. MUTATION_EXAMPLES sets Hypothesis examples per search
# (default 30). Results stay in build/mutation/mutants/ (remove it to start over);
# `mutmut results` / `mutmut show NAME` there list survivors and show one.
set -eu
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python}
STAGE=build/mutation
mkdir -p "$STAGE/src" "$STAGE/benchmarks/mutation"
rm -rf "$STAGE/src/sessionstore" "$STAGE/src/sessionstore_conformance"
cp -RL reference/sessionstore "$STAGE/src/sessionstore"
cp -R conformance/sessionstore_conformance "$STAGE/src/sessionstore_conformance"
cp benchmarks/mutation/kit_items.py benchmarks/mutation/conftest.py benchmarks/mutation/configured.py \
  "$STAGE/benchmarks/mutation/"
cp pyproject.toml "$STAGE/"
find "$STAGE/src" -name __pycache__ -prune -exec rm -rf {} +
cd "$STAGE"
"$PYTHON" -m mutmut run --max-children 1 "$@"
"$PYTHON" -m mutmut results
