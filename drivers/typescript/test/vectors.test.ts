/**
 * The language-neutral behaviour vectors (spec/vectors/behaviour/sequences.json): each group's
 * requests sent to a protocol Server around a fresh MemoryStore, in process, and each
 * response compared with the one the kit's model predicted. Error messages are the
 * store's own, so only an error's type (and a VersionConflict's versions) is compared.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { MemoryStore } from "../src/memoryStore.js";
import { Server } from "../src/protocol.js";

interface Step {
  op: string;
  args: Record<string, unknown>;
  ok?: unknown;
  error?: Record<string, unknown>;
}
interface Group {
  description: string;
  clauses: string[];
  start_ms: number;
  steps: Step[];
}

// dist/test/ -> the repository's spec/vectors/
const FILE = new URL("../../../../spec/vectors/behaviour/sequences.json", import.meta.url);
const groups = JSON.parse(readFileSync(FILE, "utf8")) as Group[];

describe("behaviour vectors (spec/vectors/behaviour/sequences.json)", () => {
  it("has groups to run", () => assert.ok(groups.length > 0 && groups.every((g) => g.steps.length > 0)));

  for (const group of groups) {
    it(group.description, async () => {
      const server = new Server(({ clock }) => new MemoryStore({ clock, purgeIntervalMs: null }));
      let id = 0;
      const send = async (op: string, args: Record<string, unknown>) =>
        JSON.parse(await server.handle(JSON.stringify({ id: id++, op, args }))) as { ok?: unknown; error?: Record<string, unknown> };
      await send("hello", { protocol: [1] });
      await send("reset", { clock_ms: group.start_ms });
      for (const [n, step] of group.steps.entries()) {
        const got = await send(step.op, step.args);
        const where = `step ${n + 1}: ${JSON.stringify({ op: step.op, args: step.args })}`;
        if (step.error === undefined) assert.deepEqual(got, { id: id - 1, ok: step.ok }, where);
        else {
          const { message: _message, ...error } = got.error ?? {};
          assert.deepEqual(error, step.error, where);
        }
      }
    });
  }
});
