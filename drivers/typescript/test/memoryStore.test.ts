/** Unit tests of the memory store and the broken stores, clause by clause. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { RevivingTouchStore, UnlockedUpdateStore } from "../src/brokenStores.js";
import { parseJson, stringifyJson } from "../src/json.js";
import { MemoryStore } from "../src/memoryStore.js";
import {
  CorruptSession,
  ImportRejected,
  InvalidSession,
  type JSONObject,
  SessionExists,
  SessionNotFound,
  type SessionStore,
  SessionTooLarge,
  StoreUnavailable,
  VersionConflict,
} from "../src/store.js";

const T0 = Date.parse("2030-01-01T00:00:00.000Z");

/** A store on a clock the test moves by hand. */
function clocked<S extends MemoryStore>(make: (clock: () => number) => S): { store: S; advance: (ms: number) => void } {
  let now = T0;
  const store = make(() => now);
  return { store, advance: (ms) => void (now += ms) };
}

async function rejects(call: Promise<unknown>, error: new (...args: never[]) => Error): Promise<void> {
  await assert.rejects(call, (e: unknown) => e instanceof error);
}

/** n concurrent increments through update, each callback awaiting before it returns. */
async function increments(store: SessionStore, n: number): Promise<number> {
  const made = await store.create({ n: 0 });
  await Promise.all(
    Array.from({ length: n }, () =>
      store.update(made.id, async (data) => {
        await sleep(1);
        return { n: (data.n as number) + 1 };
      }),
    ),
  );
  return (await store.get(made.id))?.data.n as number;
}

describe("memory store", () => {
  it("creates, reads, replaces, updates, touches and deletes (REC-3, REC-4)", async () => {
    const { store, advance } = clocked((clock) => new MemoryStore({ clock }));
    const made = await store.create({ a: 1 }, { ttl: 10, owner: "u" });
    assert.equal(made.version, 1);
    assert.equal(made.createdAt.getTime(), T0);
    assert.equal(made.expiresAt?.getTime(), T0 + 10_000);
    advance(5);
    const replaced = await store.replace(made.id, { b: 2 }, { expectedVersion: 1 });
    assert.deepEqual([replaced.version, replaced.updatedAt.getTime(), replaced.expiresAt?.getTime()], [2, T0 + 5, T0 + 10_000]);
    const updated = await store.update(made.id, (d) => ({ ...d, c: 3 }), { ttl: 1 });
    assert.deepEqual(updated.data, { b: 2, c: 3 });
    assert.equal(updated.expiresAt?.getTime(), T0 + 5 + 1000);
    const touched = await store.touch(made.id, 20);
    assert.deepEqual([touched.version, touched.updatedAt.getTime()], [3, T0 + 5]);
    await rejects(store.delete(made.id, { expectedVersion: 2 }), VersionConflict);
    assert.equal(await store.delete(made.id), true);
    assert.equal(await store.delete(made.id), false);
  });

  it("judges expiry at read time, at the exact boundary (LIVE-1, LIVE-2, TOUCH-2, CREATE-4)", async () => {
    const { store, advance } = clocked((clock) => new MemoryStore({ clock }));
    await store.create({ v: 1 }, { id: "s", ttl: 1 });
    advance(999);
    assert.notEqual(await store.get("s"), null);
    assert.equal(await store.count(), 1);
    advance(1);
    assert.equal(await store.get("s"), null);
    assert.equal(await store.count(), 0);
    await rejects(store.touch("s", 5), SessionNotFound);
    await rejects(store.update("s", (d) => d), SessionNotFound);
    assert.equal(await store.delete("s"), false);
    assert.deepEqual((await store.list()).sessions, []);
    const again = await store.create({ v: 2 }, { id: "s" });
    assert.deepEqual([again.version, again.data, again.expiresAt], [1, { v: 2 }, null]);
  });

  it("rounds a ttl to microseconds, then up to milliseconds (TTL-1, VAL-6)", async () => {
    const { store } = clocked((clock) => new MemoryStore({ clock }));
    const made = await store.create({}, { ttl: 0.0015 });
    assert.equal(made.expiresAt?.getTime(), T0 + 2);
    const half = await store.create({}, { ttl: 0.0020005 }); // 2000.5 us: half to even, 2000
    assert.equal(half.expiresAt?.getTime(), T0 + 2);
    for (const bad of [0, -1, 0.0004, 3650 * 86_400 + 1, NaN, Infinity, "1", true, null]) {
      await rejects(store.touch(made.id, bad as number), InvalidSession);
    }
  });

  it("validates ids, owners, versions, data (VAL-1..VAL-5, VAL-7)", async () => {
    const store = new MemoryStore();
    for (const id of ["", "a b", "é", "x".repeat(129), "a\n"]) await rejects(store.create({}, { id }), InvalidSession);
    await store.create({}, { id: "x".repeat(128) });
    for (const owner of ["", "o".repeat(257), "\ud800"]) await rejects(store.create({}, { owner }), InvalidSession);
    const deep = (n: number): JSONObject => (n === 1 ? {} : { d: deep(n - 1) });
    await store.create(deep(32));
    const bad: unknown[] = [
      deep(33),
      [],
      { a: NaN },
      { a: Infinity },
      { a: 2n ** 53n },
      { a: "\udc00" },
      { "\ud800": 1 },
      { a: new Date() },
      { a: undefined },
      { a: () => 1 },
      new Map(),
    ];
    for (const data of bad) await rejects(store.create(data as JSONObject), InvalidSession);
    await rejects(store.create({ k: "x".repeat(1_048_576) }), SessionTooLarge);
    await store.create({ k: "x".repeat(1_048_576 - '{"k":""}'.length) });
    const made = await store.create({});
    for (const version of [0, 1.5, 2 ** 53, "1"]) {
      await rejects(store.replace(made.id, {}, { expectedVersion: version as number }), InvalidSession);
    }
    await rejects(store.replace(made.id, {}, { expectedVersion: 2 }), VersionConflict);
  });

  it("keeps private copies (COPY-1) and integers beyond 2**53 out (VAL-3)", async () => {
    const store = new MemoryStore();
    const input = { list: [1, { x: 1 }] };
    const made = await store.create(input);
    (input.list[1] as { x: number }).x = 2;
    (made.data.list as JSONObject[]).push({});
    assert.deepEqual((await store.get(made.id))?.data, { list: [1, { x: 1 }] });
    await rejects(store.create(parseJson('{"a": 9007199254740992}') as JSONObject), InvalidSession);
    const edge = await store.create(parseJson('{"a": 9007199254740991, "f": 9007199254740992.0}') as JSONObject);
    assert.deepEqual(edge.data, { a: 2 ** 53 - 1, f: 2 ** 53 });
  });

  it("hides sessions of other owners (OWN-2) but not from create (CREATE-3)", async () => {
    const store = new MemoryStore();
    await store.create({}, { id: "mine", owner: "p" });
    assert.equal(await store.get("mine", { owner: "q" }), null);
    await rejects(store.touch("mine", 1, { owner: "q" }), SessionNotFound);
    assert.equal(await store.delete("mine", { owner: "q" }), false);
    assert.equal((await store.get("mine", { owner: "p" }))?.owner, "p");
    await rejects(store.create({}, { id: "mine", owner: "q" }), SessionExists);
  });

  it("lists by id with cursors (LIST-1, LIST-2, LIST-3)", async () => {
    const store = new MemoryStore();
    const ids = ["b", "a", "C", "_", "-", "z9"];
    for (const id of ids) await store.create({}, { id });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<MemoryStore["list"]>> = await store.list({ cursor, limit: 4 });
      assert.ok(page.sessions.length <= 4);
      seen.push(...page.sessions.map((s) => s.id));
      cursor = page.cursor;
    } while (cursor !== null);
    assert.deepEqual(seen, [...ids].sort());
    for (const limit of [0, 1001, 1.5]) await rejects(store.list({ limit }), InvalidSession);
    await rejects(store.list({ cursor: "not a cursor" }), InvalidSession);
  });

  it("purges only expired sessions (PURGE-1) and purges on a timer", async () => {
    const { store, advance } = clocked((clock) => new MemoryStore({ clock }));
    for (let i = 0; i < 2500; i++) await store.create({}, { id: `e${i}`, ttl: 1 });
    await store.create({}, { id: "keep" });
    advance(1000);
    assert.equal(await store.purgeExpired(), 2500);
    assert.equal(await store.count(), 1);
    const timed = new MemoryStore({ purgeIntervalMs: 10 });
    await timed.create({}, { id: "t", ttl: 0.005 });
    await sleep(100);
    assert.equal(await timed.purgeExpired(), 0, "the timer purged it already");
    await timed.close();
  });

  it("exports and imports whole, with conflicts and expiry (EXPORT-1, IMPORT-1..6)", async () => {
    const { store, advance } = clocked((clock) => new MemoryStore({ clock }));
    await store.create({ a: [1] }, { id: "a", owner: "o" });
    await store.create({}, { id: "b", ttl: 5 });
    const doc = await store.export();
    assert.equal(doc.exported_at, "2030-01-01T00:00:00.000Z");
    assert.deepEqual(doc.sessions.map((s) => [s.id, s.owner, s.expires_at]), [
      ["a", "o", null],
      ["b", null, "2030-01-01T00:00:05.000Z"],
    ]);
    const { store: other, advance: later } = clocked((clock) => new MemoryStore({ clock }));
    later(5000);
    assert.deepEqual(await other.import(JSON.stringify(doc)), { imported: 1, skippedExpired: 1, skippedConflict: 0, replaced: 0 });
    assert.deepEqual(await other.get("a"), await store.get("a"));
    await rejects(other.import(doc), ImportRejected);
    assert.deepEqual(await other.import(doc, { onConflict: "skip" }), { imported: 0, skippedExpired: 1, skippedConflict: 1, replaced: 0 });
    assert.deepEqual(await other.import(doc, { onConflict: "replace" }), { imported: 0, skippedExpired: 1, skippedConflict: 0, replaced: 1 });
    advance(0);
    const bad = structuredClone(doc) as unknown as { sessions: Record<string, unknown>[] };
    bad.sessions.push({ ...bad.sessions[0], id: "a" }, { ...bad.sessions[0], id: "c", version: 0, created_at: "2030-02-30T00:00:00.000Z" });
    bad.sessions.push({ ...bad.sessions[0], id: "d", data: { "x/y": { "~z": 2n ** 53n } } });
    try {
      await store.import(bad);
      assert.fail("imported");
    } catch (e) {
      assert.ok(e instanceof ImportRejected);
      assert.deepEqual(e.problems.map((p) => p.pointer).sort(), [
        "/sessions/2/id",
        "/sessions/3/created_at",
        "/sessions/3/version",
        "/sessions/4/data/x~1y/~0z",
      ]);
    }
    await rejects(store.import("{not json"), ImportRejected);
    const proto = JSON.parse('{"__proto__": {"x": 1}, "k": 2}') as JSONObject;
    const kept = await store.create(proto, { id: "proto" });
    const text = JSON.stringify(await store.export());
    const { store: third } = clocked((clock) => new MemoryStore({ clock }));
    await third.import(text);
    assert.deepEqual(Object.keys((await third.get("proto"))?.data ?? {}), ["__proto__", "k"]);
    assert.deepEqual((await third.get("proto"))?.data, kept.data);
    await rejects(store.import(doc, { onConflict: "merge" as "skip" }), InvalidSession);
  });

  it("streams the export a batch of sessions at a time (EXPORT-2, EXPORT-3)", async () => {
    const { store } = clocked((clock) => new MemoryStore({ clock }));
    for (let i = 0; i < 5; i++) await store.create({ i, f: 6.011697093038469e16 }, { id: `s${i}` });
    const chunks: Uint8Array[] = [];
    for await (const chunk of store.exportChunks(2)) chunks.push(chunk);
    assert.equal(chunks.length, 1 + 3 + 1); // head, 2 + 2 + 1 sessions, tail
    const text = Buffer.concat(chunks).toString("utf8");
    assert.deepEqual(JSON.parse(text), await store.export());
    assert.match(text, /"f":6\.011697093038469e\+16/);
    await store.corruptForTesting("s2");
    const before: Uint8Array[] = [];
    await assert.rejects(async () => {
      for await (const chunk of store.exportChunks(2)) before.push(chunk);
    }, CorruptSession);
    assert.equal(before.length, 2, "the head and s0, s1: never the chunk holding s2");
  });

  it("imports streamed text as import does, whatever the chunks' boundaries (IMPORT-7)", async () => {
    const { store } = clocked((clock) => new MemoryStore({ clock }));
    await store.create({ "a,]}\"[": ["]", { "}": "\\\"" }], e: "é😀" }, { id: "x", owner: "o" });
    await store.create({ f: 6.011697093038469e16 }, { id: "y", ttl: 5 });
    const doc = await store.export();
    const text = Buffer.from(stringifyJson({ sessions: doc.sessions, format: doc.format, exported_at: doc.exported_at, format_version: 1 }));
    const cut = (bytes: Buffer, size: number): Buffer[] =>
      Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
    for (const size of [1, 7, text.length]) {
      const { store: other } = clocked((clock) => new MemoryStore({ clock }));
      assert.deepEqual(await other.importChunks(cut(text, size)), { imported: 2, skippedExpired: 0, skippedConflict: 0, replaced: 0 });
      assert.deepEqual(await other.export(), doc);
    }
    const streamed: Uint8Array[] = [];
    for await (const chunk of store.exportChunks(1)) streamed.push(chunk);
    const { store: again } = clocked((clock) => new MemoryStore({ clock }));
    assert.equal((await again.importChunks(streamed)).imported, 2);
    const bad = stringifyJson({ ...doc, sessions: [doc.sessions[0], { ...doc.sessions[1], version: 0 }, doc.sessions[0], 5] });
    const pointers = async (call: Promise<unknown>): Promise<string[]> => {
      try {
        await call;
      } catch (e) {
        if (e instanceof ImportRejected) return e.problems.map((p) => p.pointer).sort();
      }
      return [];
    };
    const whole = await pointers(again.import(bad));
    assert.deepEqual(whole, ["/sessions/1/version", "/sessions/2/id", "/sessions/3"]);
    assert.deepEqual(await pointers(again.importChunks(cut(Buffer.from(bad), 7))), whole);
    for (const text of ['{"sessions":[1,]', '{"sessions":[,1]}', '{"sessions":[{]}', "[", ""]) {
      assert.deepEqual(await pointers(again.importChunks([Buffer.from(text)])), [""], text);
    }
    assert.deepEqual(await pointers(again.importChunks([Buffer.from([0x7b, 0xff])])), [""], "not UTF-8");
  });

  it("reports corrupt data and stays unchanged (ERR-3, EXPORT-3)", async () => {
    const store = new MemoryStore();
    await store.create({ a: 1 }, { id: "c", ttl: 5 });
    await store.corruptForTesting("c");
    await rejects(store.get("c"), CorruptSession);
    await rejects(store.touch("c", 50), CorruptSession);
    await rejects(store.export(), CorruptSession);
  });

  it("names sessions in messages by a short prefix only: an id is a bearer secret", async () => {
    const store = new MemoryStore();
    const made = await store.create({});
    const messages: string[] = [];
    for (const call of [
      () => store.create({}, { id: made.id }),
      () => store.replace(made.id, {}, { expectedVersion: 9 }),
      () => store.touch(`${made.id}x`, 1),
    ]) {
      await call().catch((e: Error) => messages.push(e.message));
    }
    assert.equal(messages.length, 3);
    for (const message of messages) {
      assert.ok(message.includes(`"${made.id.slice(0, 6)}…"`) && !message.includes(made.id.slice(0, 7)), message);
    }
  });

  it("refuses every call once closed (CLOSE-1, CLOSE-2)", async () => {
    const store = new MemoryStore();
    await store.close();
    await store.close();
    await rejects(store.count(), StoreUnavailable);
    await rejects(store.get("x"), StoreUnavailable);
  });

  it("holds the mutex across update's await: no lost update (UPDATE-1, CONC-1)", async () => {
    assert.equal(await increments(new MemoryStore(), 20), 20);
  });
});

describe("broken stores", () => {
  it("UnlockedUpdateStore loses concurrent updates (UPDATE-1)", async () => {
    assert.ok((await increments(new UnlockedUpdateStore(), 20)) < 20);
  });

  it("UnlockedUpdateStore is right when updates do not overlap", async () => {
    const store = new UnlockedUpdateStore();
    const made = await store.create({ n: 0 });
    for (let i = 0; i < 5; i++) await store.update(made.id, (d) => ({ n: (d.n as number) + 1 }));
    assert.deepEqual((await store.get(made.id))?.data, { n: 5 });
  });

  it("RevivingTouchStore revives an expired session (TOUCH-2), and only that", async () => {
    const { store, advance } = clocked((clock) => new RevivingTouchStore({ clock }));
    await store.create({}, { id: "s", ttl: 1 });
    await store.touch("s", 5); // live: right
    advance(5000);
    assert.equal(await store.get("s"), null);
    const revived = await store.touch("s", 5);
    assert.equal(revived.id, "s");
    await rejects(store.touch("never", 5), SessionNotFound);
  });
});
