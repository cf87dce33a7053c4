/** The protocol loop end to end: the driver executable spawned, JSON lines in and out. */

import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";

const DRIVER = fileURLToPath(new URL("../bin/driver.js", import.meta.url));
const T0 = Date.parse("2030-01-01T00:00:00.000Z");

type Response = { id: number | null; ok?: unknown; error?: { type: string; [key: string]: unknown } };

/** A driver process and a client that matches responses to requests by id. */
class Driver {
  readonly child: ChildProcessWithoutNullStreams;
  private next = 0;
  private readonly waiting = new Map<number | null, (r: Response) => void>();
  readonly stray: Response[] = [];
  /** Each response's line as the server wrote it, by request id. */
  readonly lines = new Map<number | null, string>();

  constructor(store: string) {
    this.child = spawn(process.execPath, [DRIVER, store]);
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const response = JSON.parse(line) as Response;
      this.lines.set(response.id, line);
      const resolve = this.waiting.get(response.id);
      this.waiting.delete(response.id);
      if (resolve) resolve(response);
      else this.stray.push(response);
    });
  }

  /** Send one request line (the text as given) and wait for the response to `id`. */
  raw(text: string, id: number | null): Promise<Response> {
    const answer = new Promise<Response>((resolve) => this.waiting.set(id, resolve));
    this.child.stdin.write(text + "\n");
    return answer;
  }

  call(op: string, args: Record<string, unknown> = {}): Promise<Response> {
    const id = this.next++;
    return this.raw(JSON.stringify({ id, op, args }), id);
  }

  async ok(op: string, args: Record<string, unknown> = {}): Promise<any> {
    const response = await this.call(op, args);
    assert.ok("ok" in response, `${op} answered ${JSON.stringify(response)}`);
    return response.ok;
  }

  async error(op: string, args: Record<string, unknown> = {}): Promise<{ type: string; [key: string]: unknown }> {
    const response = await this.call(op, args);
    assert.ok(response.error, `${op} answered ${JSON.stringify(response)}`);
    return response.error;
  }

  async start(): Promise<this> {
    await this.ok("hello", { protocol: [1], client: "test" });
    await this.ok("reset", { clock_ms: T0 });
    return this;
  }

  async end(): Promise<number | null> {
    this.child.stdin.end();
    const [code] = (await once(this.child, "exit")) as [number | null];
    return code;
  }
}

/** n update increments, all written at once; the final n. */
async function increments(driver: Driver, n: number): Promise<number> {
  const made = await driver.ok("create", { data: { n: 0 } });
  const transforms = [{ increment: { key: "n", by: 1 } }];
  const answers = await Promise.all(Array.from({ length: n }, () => driver.call("update", { id: made.id, transforms })));
  assert.ok(answers.every((a) => "ok" in a));
  return (await driver.ok("get", { id: made.id })).data.n;
}

describe("driver protocol: memory store", () => {
  let driver: Driver;
  before(async () => {
    driver = await new Driver("memory").start();
  });
  after(async () => {
    assert.equal(await driver.end(), 0, "exits with status 0 at the end of input (1.4)");
    assert.deepEqual(driver.stray, []);
  });

  it("answers hello with the store's declarations (4.1)", async () => {
    const hello = await driver.ok("hello", { protocol: [1] });
    assert.equal(hello.protocol, 1);
    assert.deepEqual(hello.capabilities, { injectable_clock: true, durable: false, multi_process: false, multi_host: false });
    assert.deepEqual(hello.limits, {
      max_id_length: 128,
      max_owner_length: 256,
      max_depth: 32,
      max_data_bytes: 1_048_576,
      min_ttl_ms: 1,
      max_ttl_ms: 3650 * 86_400_000,
      max_list_limit: 1000,
    });
    assert.deepEqual([hello.clock, hello.hooks, hello.shared], [true, ["corrupt_for_testing"], false]);
    assert.deepEqual(hello.optional, ["export_chunks", "import_chunks"]);
  });

  it("runs the operations on the server's clock (3.1, 6)", async () => {
    await driver.ok("reset", { clock_ms: T0 });
    const made = await driver.ok("create", { data: { a: [1] }, id: "s", ttl: 1.5, owner: "o" });
    assert.deepEqual(made, {
      id: "s",
      data: { a: [1] },
      version: 1,
      created_at: "2030-01-01T00:00:00.000Z",
      updated_at: "2030-01-01T00:00:00.000Z",
      expires_at: "2030-01-01T00:00:01.500Z",
      owner: "o",
    });
    await driver.ok("clock.advance", { ms: 1499 });
    assert.equal((await driver.ok("get", { id: "s" })).version, 1);
    assert.equal(await driver.ok("count"), 1);
    await driver.ok("clock.advance", { ms: 1 });
    assert.equal(await driver.ok("get", { id: "s" }), null);
    assert.equal((await driver.error("touch", { id: "s", ttl: 5 })).type, "SessionNotFound");
    await driver.ok("clock.set", { ms: T0 });
    const listed = await driver.ok("list", { limit: null });
    assert.deepEqual([listed.sessions.length, listed.cursor], [1, null]);
  });

  it("applies transforms inside the store's update (5.13, 5.14)", async () => {
    await driver.ok("create", { data: { n: 1, keep: { a: 1, b: 2 }, gone: true, f: 2.5 }, id: "t" });
    const steps = [
      { set: { s: "x", ["__proto__"]: 1 } },
      { unset: ["gone", "absent"] },
      { merge: { keep: { a: null, c: 3 }, new: { d: 4 } } },
      { increment: { key: "n", by: 2 } },
      { increment: { key: "f", by: 1 } },
    ];
    const updated = await driver.ok("update", { id: "t", transforms: steps });
    assert.deepEqual(updated.data, JSON.parse('{"n":3,"keep":{"b":2,"c":3},"f":0,"s":"x","__proto__":1,"new":{"d":4}}'));
    assert.equal(updated.version, 2);
    const raised = await driver.error("update", { id: "t", transforms: [{ raise: "no" }] });
    assert.deepEqual(raised, { type: "CallbackRaised", message: "no" });
    for (const bad of [[1], null, "text", { deep: JSON.parse("[".repeat(40) + "]".repeat(40)) }]) {
      const error = await driver.error("update", { id: "t", transforms: [{ return: bad }] });
      assert.equal(error.type, "InvalidSession", JSON.stringify(bad));
    }
    assert.equal((await driver.ok("get", { id: "t" })).version, 2, "a failed update changes nothing");
    for (const transforms of [[{ nope: 1 }], [{ raise: "x" }, { set: {} }], [{ increment: { key: "n", by: 1.5 } }], {}]) {
      assert.equal((await driver.error("update", { id: "t", transforms })).type, "ProtocolError");
    }
  });

  it("passes bad JSON values to the store, whose validation answers (2.5, 9)", async () => {
    const invalid = async (op: string, args: Record<string, unknown>, type = "InvalidSession") =>
      assert.equal((await driver.error(op, args)).type, type, `${op} ${JSON.stringify(args)}`);
    for (const data of [[1], "text", 7]) await invalid("create", { data });
    for (const id of ["", "a b", "é", "a/b", 5, null]) await invalid("get", { id });
    for (const ttl of [true, "1", 0, -1, 0.0004, 3650 * 86_400 + 1]) await invalid("create", { data: {}, ttl });
    for (const owner of [5, "", "o".repeat(257)]) await invalid("create", { data: {}, owner });
    await invalid("list", { limit: 0 });
    await invalid("list", { cursor: 5 });
    await invalid("import", { doc: {}, on_conflict: "merge" });
    // Values JSON.stringify cannot write: unsafe integers and lone surrogates, as text.
    const id = 9000;
    for (const data of ['{"a":9007199254740992}', '{"a":-9007199254740992}', '{"a":1000000000000000000000000000000}', '{"a":"\\ud800"}', '{"\\ud800":1}']) {
      const response = await driver.raw(`{"id":${id},"op":"create","args":{"data":${data}}}`, id);
      assert.equal(response.error?.type, "InvalidSession", data);
    }
    const big = await driver.raw('{"id":9001,"op":"replace","args":{"id":"x","data":{},"expected_version":9007199254740992}}', 9001);
    assert.equal(big.error?.type, "InvalidSession");
    await invalid("create", { data: { k: "x".repeat(1_048_576) } }, "SessionTooLarge");
  });

  it("writes floats beyond 2**53 so that they read back as the same floats (3.1)", async () => {
    const made = await driver.raw('{"id":9100,"op":"create","args":{"data":{"f":6.011697093038469e16,"g":[1e300,-9007199254740992.0],"i":9007199254740991}}}', 9100);
    assert.ok("ok" in made);
    const line = driver.lines.get(9100) ?? "";
    // JSON.stringify would write 60116970930384690: an integer, and not this double.
    assert.match(line, /"data":\{"f":6\.011697093038469e\+16,"g":\[1e\+300,-9\.007199254740992e\+15\],"i":9007199254740991\}/);
    await driver.ok("reset", { clock_ms: T0 }); // this test's client, JSON.stringify, cannot send them back
  });

  it("carries the contract's errors with their members (8.1)", async () => {
    await driver.ok("create", { data: {}, id: "v" });
    assert.deepEqual(await driver.error("replace", { id: "v", data: {}, expected_version: 3 }), {
      type: "VersionConflict",
      message: 'session "…" is at version 1, not 3',
      expected: 3,
      actual: 1,
    });
    assert.equal((await driver.error("create", { data: {}, id: "v" })).type, "SessionExists");
    const rejected = await driver.error("import", { text: "{not json" });
    assert.equal(rejected.type, "ImportRejected");
    assert.ok(Array.isArray(rejected.problems) && rejected.problems.length === 1);
    const doc = await driver.ok("export");
    assert.equal((await driver.error("import", { doc })).type, "ImportRejected");
    assert.deepEqual(await driver.ok("import", { doc, on_conflict: "skip" }), {
      imported: 0,
      skipped_expired: 0,
      skipped_conflict: doc.sessions.length,
      replaced: 0,
    });
    const { chunks } = await driver.ok("export_chunks");
    const text = Buffer.concat(chunks.map((c: string) => Buffer.from(c, "base64"))).toString("utf8");
    assert.deepEqual(JSON.parse(text), doc);
    await driver.ok("reset", { clock_ms: T0 });
    assert.deepEqual(await driver.ok("import_chunks", { chunks }), { imported: 1, skipped_expired: 0, skipped_conflict: 0, replaced: 0 });
    assert.deepEqual(await driver.ok("export"), doc);
    await driver.ok("corrupt_for_testing", { id: "v" });
    assert.equal((await driver.error("get", { id: "v" })).type, "CorruptSession");
    assert.equal((await driver.error("export")).type, "CorruptSession");
    const streamed = await driver.error("export_chunks");
    assert.deepEqual([streamed.type, (streamed.chunks as string[]).length], ["CorruptSession", 1]);
    await driver.ok("close");
    assert.equal((await driver.error("count")).type, "StoreUnavailable");
    await driver.ok("reset", { clock_ms: T0 });
    assert.equal(await driver.ok("count"), 0, "reset gives a fresh, empty store");
  });

  it("refuses what the protocol refuses (2.4)", async () => {
    assert.deepEqual(await driver.raw("{not json", null), {
      id: null,
      error: { type: "ProtocolError", message: "not a JSON message: JSONSyntaxError: invalid JSON at offset 1: expected a key" },
    });
    assert.equal((await driver.raw('{"id":77,"op":"fly","args":{}}', 77)).error?.type, "ProtocolError");
    assert.equal((await driver.raw('{"id":78,"op":"count","args":[]}', 78)).error?.type, "ProtocolError");
    assert.equal((await driver.error("get", { id: "x", extra: 1 })).type, "ProtocolError");
    for (const op of ["attach", "disconnect_for_testing"]) {
      assert.equal((await driver.error(op, op === "attach" ? { url: "x" } : {})).type, "Unsupported");
    }
    assert.equal((await driver.error("import_chunks", { chunks: [1] })).type, "ProtocolError");
  });

  it("runs concurrent requests through the store's mutex: no lost update (2.3, CONC-1)", async () => {
    assert.equal(await increments(driver, 30), 30);
  });
});

describe("driver protocol: lifecycle and broken stores", () => {
  it("refuses every request before hello, and exits after shutdown (4.1, 4.5)", async () => {
    const driver = new Driver("memory");
    assert.equal((await driver.error("count")).type, "ProtocolError");
    assert.equal((await driver.error("hello", { protocol: [2] })).type, "ProtocolError");
    const [code] = (await once(driver.child, "exit")) as [number];
    assert.equal(code, 0, "no common version: the server exits");
    const other = await new Driver("memory").start();
    assert.equal(await other.ok("shutdown"), null);
    assert.equal(((await once(other.child, "exit")) as [number])[0], 0);
  });

  it("broken-update loses concurrent increments (UPDATE-1)", async () => {
    const driver = await new Driver("broken-update").start();
    assert.ok((await increments(driver, 30)) < 30);
    await driver.end();
  });

  it("broken-touch revives an expired session (TOUCH-2)", async () => {
    const driver = await new Driver("broken-touch").start();
    await driver.ok("create", { data: {}, id: "s", ttl: 1 });
    await driver.ok("clock.advance", { ms: 1000 });
    assert.equal(await driver.ok("get", { id: "s" }), null);
    assert.equal((await driver.ok("touch", { id: "s", ttl: 5 })).id, "s");
    await driver.end();
  });

  it("refuses an unknown store name", async () => {
    const child = spawn(process.execPath, [DRIVER, "nope"]);
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 2);
  });
});
