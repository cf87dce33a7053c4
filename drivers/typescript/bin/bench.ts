/**
 * The memory store's latency in-process, per operation, on a store of 500 small
 * sessions (as the kit's PERF-1 check measures it through the protocol): subtracting
 * these from the kit's figures for `exec:` gives the protocol's cost per call.
 *
 *   node dist/bin/bench.js [ROUNDS]
 */

import { MemoryStore } from "../src/memoryStore.js";

const rounds = Number(process.argv[2] ?? 2000);
const store = new MemoryStore();
const ids: string[] = [];
for (let i = 0; i < 500; i++) ids.push((await store.create({ user: `u${i}`, cart: [i, i + 1], n: 0 })).id);

const pick = (i: number): string => ids[i % ids.length] as string;
const operations: Record<string, (i: number) => Promise<unknown>> = {
  create: () => store.create({ user: "x", cart: [1, 2] }),
  get: (i) => store.get(pick(i)),
  replace: (i) => store.replace(pick(i), { user: "y", cart: [i] }),
  update: (i) => store.update(pick(i), (d) => ({ ...d, n: ((d.n as number) ?? 0) + 1 })),
  touch: (i) => store.touch(pick(i), 60),
  delete: (i) => store.delete(`missing${i}`),
  list: () => store.list({ limit: 20 }),
  count: () => store.count(),
};

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
console.log("operation  p50 us  p99 us");
for (const [name, call] of Object.entries(operations)) {
  for (let i = 0; i < 200; i++) await call(i); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    await call(i);
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  samples.sort((a, b) => a - b);
  console.log(`${name.padEnd(9)} ${quantile(samples, 0.5).toFixed(1).padStart(7)} ${quantile(samples, 0.99).toFixed(1).padStart(7)}`);
}
