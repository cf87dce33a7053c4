"""Export and import of many sessions, against orjson encoding of the same data.

    python benchmarks/bench_transfer.py [--n 100000]

For each reference backend: import an export document (JSON text) of N ~1 KiB sessions,
export it again whole (export() + to_json) and streamed (export_chunks, EXPORT-2) into a
file, and report seconds, sessions per second, and the extra memory the streamed export
allocated at its peak (tracemalloc, measured in a separate pass).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
from bench_memory import SESSION

from sessionstore import open_store
from sessionstore.transfer import write_export


def document(n: int) -> dict[str, Any]:
    stamp = "2030-01-01T00:00:00.000Z"
    return {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": stamp,
        "sessions": [
            {"id": f"s{i}", "data": SESSION, "version": 1, "created_at": stamp,
             "updated_at": stamp, "expires_at": None, "owner": None}
            for i in range(n)
        ],
    }  # fmt: skip


async def main(n: int) -> None:
    doc = document(n)
    start = time.perf_counter()
    text = orjson.dumps(doc)
    encode = time.perf_counter() - start
    print(f"{n:,} sessions, {len(text) / 1e6:.0f} MB of JSON; orjson encodes it in {encode:.2f} s")
    print(
        f"{'backend':<8}{'import s':>10}{'export() s':>12}{'streamed s':>12}{'stream peak MB':>16}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in (("memory", "memory://"), ("sqlite", f"sqlite:///{tmp}/t.db")):
            async with open_store(url) as store:
                start = time.perf_counter()
                await store.import_(text)
                imported = time.perf_counter() - start
                start = time.perf_counter()
                (await store.export()).to_json()
                whole = time.perf_counter() - start
                out = Path(tmp) / f"{name}.json"
                start = time.perf_counter()
                with out.open("wb") as file:
                    await write_export(store, file)
                streamed = time.perf_counter() - start
                assert orjson.loads(out.read_bytes())["sessions"][-1]["data"] == SESSION
                tracemalloc.start()
                with out.open("wb") as file:
                    await write_export(store, file)
                peak = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
            print(f"{name:<8}{imported:>10.2f}{whole:>12.2f}{streamed:>12.2f}{peak:>16.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().n))
