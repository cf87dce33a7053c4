"""One benchmark harness: our stores, their raw engines and the peers, measured in the
same run on the same data.

    python -m benchmarks.harness [--quick] [--sizes 1000,10000,100000]
        [--payloads 200,1024,4096,65536] [--subjects ours:memory,raw:memory,...]
        [--samples 200] [--max-bytes 67108864] [--out benchmarks/results]
    nox -s bench [-- OPTIONS]          # the same, with the peers installed
    python -m benchmarks.harness --plot-from benchmarks/results/bench.json   # redraw

Why a harness of our own rather than pyperf or pytest-benchmark: the measurement is
of many subjects *interleaved* in one process on one prepared store (a filled store
of 1e6 sessions is the expensive part, and must be shared by every op and subject), of
async calls, and of p99 rather than means; pyperf spawns a process per benchmark and
reports means and deviations, pytest-benchmark calibrates rounds per test and would
refill or share state between tests behind its back. What we need is ~300 lines:
adapters with one interface (:mod:`.subject`), a runner (:mod:`.runner`), a report
(:mod:`.report`).

Subjects (``--subjects``; default all): ``ours:memory``, ``ours:sqlite``, ``ours:redis``
(:mod:`.ours`); their raw engines ``raw:memory`` (a dict of orjson bytes),
``raw:sqlite`` (sqlite3, the store's schema, pragmas and statements), ``raw:redis``
(redis.asyncio; also the peer "plain Redis"); peers ``peer:cachetools`` (TTLCache),
``peer:diskcache``, ``peer:kv-memory`` and ``peer:kv-disk`` (py-key-value-aio's
MemoryStore and DiskStore). Redis subjects run on a throwaway redis-server
(tests/redis_server.py), ours on database 0 and raw on database 1.

Operations (workload.OPS): import (the bulk fill), create, get, replace, update, touch,
list (a page of 100 after a cursor), count, delete, purge (1% expired), export.

Cells: every store size x payload size whose product is at most ``--max-bytes``
(larger ones are listed under "skipped"); the default, 64 MiB, runs 8 cells (1e5
sessions at 200 B only) in about 10 minutes on a busy 2-core machine. For 1e6, say
``--sizes 1e6 --payloads 200 --max-bytes 300000000``: 30 minutes with every subject
(diskcache's export takes 10 of them, py-key-value DiskStore's import 5;
benchmarks/results/bench-1e6.txt). ``--quick``: sizes 1000 and 5000, payloads
200 and 1024, 60 samples: a smoke test of a minute or two.

Output, in ``--out`` (default benchmarks/results): the tables on stdout; ``bench.json``;
``latency_by_op_<payload>.png`` (p50 bars, p99 whiskers, per op and subject at the
largest size) and ``scaling_<payload>.png`` (p50 against store size, a panel per op).

bench.json (``schema`` 1; the docs' backend comparison page reads it)::

    {
      "schema": 1,
      "command": "python -m benchmarks.harness --quick",   # argv of the run
      "started": "2026-11-30T12:00:00Z", "elapsed_s": 93.1,
      "machine": {"platform": str, "machine": str, "cpus": int,
                  "load_before": [1m, 5m, 15m], "load_after": [1m, 5m, 15m]},
      "python": "3.11.7",
      "versions": {"sessionstore": str, "orjson": str, "sqlite": str, "redis-py": str,
                   "redis-server": str, "cachetools": str, "diskcache": str,
                   "py-key-value-aio": str},            # null when not installed
      "plan": {"sizes": [int], "payloads": [int], "samples": int, "warmup": int,
               "rounds": int, "max_bytes": int},
      "subjects": {"ours:memory": {"kind": "ours|raw|peer", "engine": "memory|sqlite|redis",
                                   "unsupported": {op: reason}}, ...},
      "results": [{"subject": str, "op": str, "payload": int (bytes of JSON data),
                   "size": int (sessions in the store), "p50_us": float|null,
                   "p99_us": float|null, "ops_per_s": float|null, "n": int (samples),
                   "reason": str (only when p50_us is null: unsupported / error)}],
      "ratios": [{"ours": str, "other": str, "against": "raw|peer", "op": str,
                  "payload": int, "size": int, "p50_ratio": float}],  # ours p50 / other p50
      "scaling": [{"subject": str, "op": str, "payload": int, "exponent": float,
                   "p50_us_by_size": {"1000": float, ...}}],          # p50 ~ size^exponent
      "skipped": [{"size": int, "payload": int, "reason": str}]
    }

Every subject has a row for every op in every cell it ran in. Bulk ops (import,
purge, export) are one call per sample over the whole store: their p50 is per call,
not per session.
"""
