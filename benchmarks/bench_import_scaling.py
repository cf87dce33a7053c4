"""Streamed import time against the size of one value (issue 12, item 4).

    python benchmarks/bench_import_scaling.py [--mb 10 20 40 100] [--runs 3]

For each size, an export file holding one session whose data is a string of that many
MiB is imported with ``transfer.import_file`` (what the CLI ``import`` and the
service's restore use) into a memory store; the best of ``--runs`` times is printed,
with the time per MiB. The session is over the default 1 MiB data limit, so the import
is rejected (VAL-3) — after the whole file has been read, which is what is timed. A
linear reader keeps the time per MiB flat as the size doubles.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from sessionstore import ImportRejected, open_store
from sessionstore.transfer import import_file

STAMP = '"2030-01-01T00:00:00.000Z"'


def document(mib: int) -> bytes:
    head = (
        f'{{"format":"sessionstore-export","format_version":1,"exported_at":{STAMP},"sessions":[\n'
    )
    record = (
        f'{{"id":"big","data":{{"blob":"{"x" * (mib << 20)}"}},"version":1,'
        f'"created_at":{STAMP},"updated_at":{STAMP},"expires_at":null,"owner":null}}'
    )
    return (head + record + "\n]}").encode()


async def timed(path: Path) -> float:
    async with open_store("memory://") as store:
        start = time.perf_counter()
        with contextlib.suppress(ImportRejected):  # over the data limit, once it is all read
            await import_file(store, path)
        return time.perf_counter() - start


async def main(sizes: list[int], runs: int) -> None:
    print(f"| value (MiB) | seconds (best of {runs}) | s per MiB |")
    print("| --- | --- | --- |", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.json"
        for mib in sizes:
            path.write_bytes(document(mib))
            best = min([await timed(path) for _ in range(runs)])
            print(f"| {mib} | {best:.2f} | {best / mib:.3f} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[10, 20, 40, 100])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.mb, args.runs))
