/**
 * The executable the conformance kit runs: `node dist/bin/driver.js STORE`, STORE one
 * of the names below, serving that store over stdin/stdout (spec/driver-protocol.md).
 *
 *   sessionstore-conformance run "exec:node drivers/typescript/dist/bin/driver.js memory"
 */

import { RevivingTouchStore, UnlockedUpdateStore } from "../src/brokenStores.js";
import { MemoryStore } from "../src/memoryStore.js";
import { serve } from "../src/protocol.js";
import type { StoreFactory } from "../src/store.js";

const STORES: Record<string, StoreFactory> = {
  memory: ({ clock }) => new MemoryStore({ clock }),
  "broken-update": ({ clock }) => new UnlockedUpdateStore({ clock }),
  "broken-touch": ({ clock }) => new RevivingTouchStore({ clock }),
};

const name = process.argv[2] ?? "";
const factory = STORES[name];
if (factory === undefined) {
  process.stderr.write(`usage: driver.js STORE   (STORE: ${Object.keys(STORES).join(", ")})\n`);
  process.exit(2);
}
await serve(factory, { name: `sessionstore TypeScript driver: ${name}` });
// 1.4: at the end of input (or after shutdown) exit at once, abandoning work under way.
process.stdout.write("", () => process.exit(0));
