/**
 * The memory store, in the spirit of the seed's `memory-store.ts`: sessions in this
 * process's memory, Zod-validated inputs, a mutex, expiry, JSON export/import.
 *
 * Theory of operation:
 * - Every operation validates its arguments first (VAL-*), then runs under one
 *   `Mutex` (mutex.ts), so operations never interleave — `update` holds it across
 *   the `await` of its callback, which is what makes read-modify-write atomic
 *   (UPDATE-1, CONC-1).
 * - Data is kept as compact JSON text: encoding is the size check (VAL-5) and the
 *   private copy on the way in, decoding the private copy on the way out (COPY-1), and
 *   text that no longer decodes is a `CorruptSession` (ERR-3).
 * - Liveness is judged at every read by the store's clock (LIVE-1, LIVE-2); an
 *   expired record may still sit in memory until `purgeExpired` or the purge timer
 *   (unref'd, so it never keeps a process alive) removes it (LIVE-3).
 * - Ids are kept sorted for `list` (LIST-1) and an expiry index ordered by
 *   (expiry, id) makes `count` and `purgeExpired` cheap (PURGE-2).
 */

import { randomBytes } from "node:crypto";
import { setImmediate as yieldToLoop } from "node:timers/promises";

import { DocumentStream } from "./documentStream.js";
import { JSONSyntaxError, parseJson, stringifyJson } from "./json.js";
import { Mutex } from "./mutex.js";
import {
  type Capabilities,
  type Clock,
  CorruptSession,
  DEFAULT_LIMITS,
  type ExportDocument,
  type ExportedSession,
  ImportRejected,
  type ImportReport,
  type JSONObject,
  type Limits,
  type OnConflict,
  type Page,
  type Session,
  SessionExists,
  SessionNotFound,
  type SessionStore,
  shortId,
  StoreUnavailable,
  type Updater,
  VersionConflict,
} from "./store.js";
import { formatTimestamp, type StoredRecord, Validator } from "./validation.js";

export interface MemoryStoreOptions {
  clock?: Clock;
  /** Seconds, or null (the default): sessions created without a ttl never expire. */
  defaultTtl?: number | null;
  limits?: Partial<Limits>;
  /** How often the purge timer runs; null: no timer. The seed's 5 minutes by default. */
  purgeIntervalMs?: number | null;
}

/** Sessions removed per locked step of purgeExpired. */
const PURGE_BATCH = 1000;

/** Index of the first element of sorted `items` that is not before `key`. */
function bisectLeft<T>(items: readonly T[], key: T, before: (a: T, b: T) => boolean): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (before(items[mid] as T, key)) low = mid + 1;
    else high = mid;
  }
  return low;
}

type ExpiryEntry = readonly [number, string];
const idBefore = (a: string, b: string): boolean => a < b; // code units = code points for ids
const expiryBefore = (a: ExpiryEntry, b: ExpiryEntry): boolean =>
  a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

function isLive(record: StoredRecord, now: number): boolean {
  return record.expiresMs === null || now < record.expiresMs; // LIVE-1
}

export function visibleTo(record: StoredRecord, owner: string | null): boolean {
  return owner === null || record.owner === null || record.owner === owner; // OWN-2
}

/** The stored data, decoded: a fresh copy. The text is JSON.stringify's, plain JSON. */
function decode(record: StoredRecord): JSONObject {
  let data: unknown;
  try {
    data = JSON.parse(record.json);
  } catch {
    throw new CorruptSession(`session ${shortId(record.id)} is corrupt: its stored data does not decode`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw new CorruptSession(`session ${shortId(record.id)} is corrupt: its stored data is not an object`);
  return data as JSONObject;
}

export function toSession(record: StoredRecord, data: JSONObject = decode(record)): Session {
  return {
    id: record.id,
    data,
    version: record.version,
    createdAt: new Date(record.createdMs),
    updatedAt: new Date(record.updatedMs),
    expiresAt: record.expiresMs === null ? null : new Date(record.expiresMs),
    owner: record.owner,
  };
}

function documentHead(now: number): Omit<ExportDocument, "sessions"> {
  return { format: "sessionstore-export", format_version: 1, exported_at: formatTimestamp(now) };
}

/** A record as an export document holds it; a corrupt one raises (EXPORT-3). */
function exported(record: StoredRecord): ExportedSession {
  return {
    id: record.id,
    data: decode(record),
    version: record.version,
    created_at: formatTimestamp(record.createdMs),
    updated_at: formatTimestamp(record.updatedMs),
    expires_at: record.expiresMs === null ? null : formatTimestamp(record.expiresMs),
    owner: record.owner,
  };
}

export class MemoryStore implements SessionStore {
  readonly capabilities: Capabilities = {
    injectableClock: true,
    durable: false,
    multiProcess: false,
    multiHost: false,
  };
  readonly limits: Limits;
  readonly defaultTtl: number | null;
  protected readonly validator: Validator;
  private readonly defaultTtlMs: number | null;
  private readonly clock: Clock;
  private readonly mutex = new Mutex();
  private readonly records = new Map<string, StoredRecord>(); // live or not yet purged
  private readonly ids: string[] = []; // the keys of `records`, sorted
  private readonly expiry: ExpiryEntry[] = []; // (expiresMs, id) of records that expire, sorted
  private readonly timer: NodeJS.Timeout | null;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.validator = new Validator(this.limits);
    this.defaultTtl = options.defaultTtl ?? null;
    this.defaultTtlMs = this.defaultTtl === null ? null : this.validator.ttlToMs(this.defaultTtl);
    this.clock = options.clock ?? Date.now;
    const interval = options.purgeIntervalMs === undefined ? 300_000 : options.purgeIntervalMs;
    this.timer = interval === null ? null : setInterval(() => this.purgeInBackground(), interval);
    this.timer?.unref();
  }

  // --- internals: the only code that touches the three indexes -------------------------

  /** REC-5: the clock truncated to whole milliseconds. */
  protected now(): number {
    return Math.floor(this.clock());
  }

  /** Run `task` alone, on an open store (CONC-1, CLOSE-2). */
  protected locked<T>(task: () => T | Promise<T>): Promise<T> {
    return this.mutex.run(() => {
      if (this.closed) throw new StoreUnavailable("the store is closed");
      return task();
    });
  }

  /** The stored record of `id`, live or not. */
  protected stored(id: string): StoredRecord | undefined {
    return this.records.get(id);
  }

  private live(id: string, now: number, owner: string | null = null): StoredRecord | null {
    const record = this.records.get(id);
    return record && isLive(record, now) && visibleTo(record, owner) ? record : null;
  }

  private require(id: string, now: number, owner: string | null): StoredRecord {
    const record = this.live(id, now, owner);
    if (record === null) throw new SessionNotFound(`no live session with id ${shortId(id)}`);
    return record;
  }

  protected put(record: StoredRecord): void {
    const old = this.records.get(record.id);
    if (old === undefined) this.ids.splice(bisectLeft(this.ids, record.id, idBefore), 0, record.id);
    else this.unindexExpiry(old);
    this.records.set(record.id, record);
    if (record.expiresMs !== null) {
      const entry: ExpiryEntry = [record.expiresMs, record.id];
      this.expiry.splice(bisectLeft(this.expiry, entry, expiryBefore), 0, entry);
    }
  }

  private remove(record: StoredRecord): void {
    this.records.delete(record.id);
    this.ids.splice(bisectLeft(this.ids, record.id, idBefore), 1);
    this.unindexExpiry(record);
  }

  /** put() for many records (an import): the indexes are sorted once, not per record. */
  private putMany(records: readonly StoredRecord[]): void {
    let added = false;
    for (const record of records) {
      const old = this.records.get(record.id);
      if (old === undefined) {
        this.ids.push(record.id);
        added = true;
      } else this.unindexExpiry(old);
      this.records.set(record.id, record);
      if (record.expiresMs !== null) this.expiry.push([record.expiresMs, record.id]);
    }
    if (added) this.ids.sort(); // UTF-16 order: code point order for ids
    this.expiry.sort((a, b) => (expiryBefore(a, b) ? -1 : expiryBefore(b, a) ? 1 : 0));
  }

  private unindexExpiry(record: StoredRecord): void {
    if (record.expiresMs === null) return;
    this.expiry.splice(bisectLeft(this.expiry, [record.expiresMs, record.id], expiryBefore), 1);
  }

  /** How many records have expired by `now`: they lead the expiry index. */
  private expiredCount(now: number): number {
    return bisectLeft(this.expiry, [now + 1, ""], expiryBefore);
  }

  /** REC-3, REC-4, TTL-3: a data write; a null ttl keeps the expiry. */
  private written(current: StoredRecord, json: string, now: number, ttlMs: number | null): StoredRecord {
    const record: StoredRecord = {
      ...current,
      json,
      version: current.version + 1,
      updatedMs: now,
      expiresMs: ttlMs === null ? current.expiresMs : now + ttlMs,
    };
    this.put(record);
    return record;
  }

  private checkVersion(record: StoredRecord, expected: number | null): void {
    if (expected !== null && expected !== record.version)
      throw new VersionConflict(
        `session ${shortId(record.id)} is at version ${record.version}, not ${expected}`,
        expected,
        record.version,
      );
  }

  private optionalTtlMs(ttl: number | null | undefined): number | null {
    return ttl === undefined || ttl === null ? null : this.validator.ttlToMs(ttl);
  }

  // --- the contract ----------------------------------------------------------------------

  async create(
    data?: JSONObject | null,
    options: { ttl?: number | null; id?: string | null; owner?: string | null } = {},
  ): Promise<Session> {
    const json = this.validator.encodeData(data ?? {});
    const id = options.id === undefined || options.id === null ? null : this.validator.checkId(options.id);
    const owner = this.validator.checkOwner(options.owner);
    const ttlMs = this.optionalTtlMs(options.ttl) ?? this.defaultTtlMs; // TTL-3
    const record = await this.locked(() => {
      const now = this.now();
      let sessionId = id;
      while (sessionId === null || (id === null && this.live(sessionId, now))) {
        sessionId = randomBytes(24).toString("base64url"); // CREATE-2: 192 bits
      }
      if (this.live(sessionId, now)) throw new SessionExists(`a live session with id ${shortId(sessionId)} exists`);
      const created: StoredRecord = {
        id: sessionId,
        json,
        version: 1,
        createdMs: now,
        updatedMs: now,
        expiresMs: ttlMs === null ? null : now + ttlMs,
        owner,
      };
      this.put(created); // CREATE-4: replaces an expired record whole
      return created;
    });
    return toSession(record);
  }

  async get(id: string, options: { owner?: string | null } = {}): Promise<Session | null> {
    this.validator.checkId(id);
    const owner = this.validator.checkOwner(options.owner);
    const record = await this.locked(() => this.live(id, this.now(), owner));
    return record === null ? null : toSession(record);
  }

  async replace(
    id: string,
    data: JSONObject,
    options: { expectedVersion?: number | null; ttl?: number | null; owner?: string | null } = {},
  ): Promise<Session> {
    this.validator.checkId(id);
    const json = this.validator.encodeData(data);
    const expected = this.validator.checkExpectedVersion(options.expectedVersion);
    const owner = this.validator.checkOwner(options.owner);
    const ttlMs = this.optionalTtlMs(options.ttl);
    const record = await this.locked(() => {
      const now = this.now();
      const current = this.require(id, now, owner);
      this.checkVersion(current, expected);
      return this.written(current, json, now, ttlMs);
    });
    return toSession(record);
  }

  async update(
    id: string,
    fn: Updater,
    options: { ttl?: number | null; owner?: string | null } = {},
  ): Promise<Session> {
    this.validator.checkId(id);
    const owner = this.validator.checkOwner(options.owner);
    const ttlMs = this.optionalTtlMs(options.ttl);
    const record = await this.locked(async () => {
      const now = this.now();
      const current = this.require(id, now, owner); // UPDATE-3: fn is not called
      const next = await fn(decode(current)); // a private copy; fn's errors propagate (UPDATE-2)
      return this.written(current, this.validator.encodeData(next), now, ttlMs);
    });
    return toSession(record);
  }

  async touch(id: string, ttl: number, options: { owner?: string | null } = {}): Promise<Session> {
    this.validator.checkId(id);
    const owner = this.validator.checkOwner(options.owner);
    const ttlMs = this.validator.ttlToMs(ttl);
    const [record, data] = await this.locked(() => {
      const now = this.now();
      const current = this.require(id, now, owner); // TOUCH-2: never revives
      const data = decode(current); // ERR-3 before any change (ERR-2)
      const touched = { ...current, expiresMs: now + ttlMs };
      this.put(touched);
      return [touched, data] as const;
    });
    return toSession(record, data);
  }

  async delete(
    id: string,
    options: { expectedVersion?: number | null; owner?: string | null } = {},
  ): Promise<boolean> {
    this.validator.checkId(id);
    const expected = this.validator.checkExpectedVersion(options.expectedVersion);
    const owner = this.validator.checkOwner(options.owner);
    return this.locked(() => {
      const current = this.live(id, this.now(), owner);
      if (current === null) return false; // DELETE-1
      this.checkVersion(current, expected);
      this.remove(current);
      return true;
    });
  }

  async list(options: { cursor?: string | null; limit?: number } = {}): Promise<Page> {
    const limit = this.validator.checkListLimit(options.limit);
    const cursor = options.cursor === undefined || options.cursor === null ? null : this.validator.checkId(options.cursor);
    const [found, next] = await this.locked(() => {
      const now = this.now();
      const found: StoredRecord[] = [];
      let at = cursor === null ? 0 : bisectLeft(this.ids, cursor, idBefore);
      if (cursor !== null && this.ids[at] === cursor) at++;
      for (; at < this.ids.length && found.length < limit; at++) {
        const record = this.records.get(this.ids[at] as string) as StoredRecord;
        if (isLive(record, now)) found.push(record);
      }
      // LIST-1: the cursor is the last id scanned, when anything follows it.
      const last = this.ids[at - 1];
      return [found, at < this.ids.length && last !== undefined ? last : null] as const;
    });
    return { sessions: found.map((r) => toSession(r)), cursor: next };
  }

  async count(): Promise<number> {
    return this.locked(() => this.records.size - this.expiredCount(this.now()));
  }

  /** PURGE-1 in locked steps of PURGE_BATCH, letting other calls run between them. */
  async purgeExpired(): Promise<number> {
    let removed = 0;
    for (;;) {
      const step = await this.locked(() => {
        const cut = Math.min(this.expiredCount(this.now()), PURGE_BATCH);
        for (const [, id] of this.expiry.slice(0, cut)) this.remove(this.records.get(id) as StoredRecord);
        return cut;
      });
      removed += step;
      if (step < PURGE_BATCH) return removed;
      await yieldToLoop();
    }
  }

  private purgeInBackground(): void {
    this.purgeExpired().catch(() => undefined); // a closed store: the next close clears the timer
  }

  /** The live records at one instant, in id order (EXPORT-1). Records are never
   * changed in place, only replaced, so the references stay a snapshot. */
  private snapshot(): Promise<[number, StoredRecord[]]> {
    return this.locked(() => {
      const now = this.now();
      const live = this.ids.map((id) => this.records.get(id) as StoredRecord).filter((r) => isLive(r, now));
      return [now, live];
    });
  }

  async export(): Promise<ExportDocument> {
    const [now, records] = await this.snapshot();
    return { ...documentHead(now), sessions: records.map(exported) };
  }

  /** EXPORT-2: the export document as UTF-8 JSON text, `batch` sessions a chunk, one
   * session a line; a corrupt session raises before the chunk that would hold it. */
  async *exportChunks(batch = 1000): AsyncGenerator<Uint8Array> {
    const [now, records] = await this.snapshot();
    const head = stringifyJson({ ...documentHead(now), sessions: [] });
    const encoder = new TextEncoder();
    yield encoder.encode(head.slice(0, -2)); // without the closing "]}"
    for (let start = 0; start < records.length; start += batch) {
      const lines = records.slice(start, start + batch).map((r, i) => (start + i > 0 ? ",\n" : "\n") + stringifyJson(exported(r)));
      yield encoder.encode(lines.join(""));
    }
    yield encoder.encode("\n]}");
  }

  /** IMPORT-1..IMPORT-6: everything checked before the lock; applied whole under it. */
  async import(doc: unknown, options: { onConflict?: OnConflict } = {}): Promise<ImportReport> {
    const onConflict = this.validator.checkOnConflict(options.onConflict);
    let value = doc;
    if (typeof doc === "string") {
      try {
        value = parseJson(doc);
      } catch (error) {
        throw new ImportRejected([{ pointer: "", message: String(error) }]);
      }
    }
    return this.apply(this.validator.importedRecords(value), onConflict);
  }

  /** IMPORT-7: import of the JSON text the chunks join into, read as it comes: one
   * session's text at a time is held, besides the records to write and their ids. */
  async importChunks(
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    options: { onConflict?: OnConflict } = {},
  ): Promise<ImportReport> {
    const onConflict = this.validator.checkOnConflict(options.onConflict);
    const stream = new DocumentStream();
    const check = this.validator.recordChecker();
    try {
      for await (const chunk of chunks) for (const [i, raw] of stream.push(chunk)) check.record(raw, i);
      check.head(stream.end());
    } catch (error) {
      if (!(error instanceof JSONSyntaxError)) throw error;
      throw new ImportRejected([{ pointer: "", message: String(error) }]);
    }
    return this.apply(check.records(), onConflict);
  }

  private apply(records: StoredRecord[], onConflict: OnConflict): Promise<ImportReport> {
    return this.locked(() => {
      const now = this.now();
      const fresh = records.filter((r) => isLive(r, now)); // IMPORT-3
      const clashes = new Set(fresh.filter((r) => this.live(r.id, now) !== null).map((r) => r.id));
      if (clashes.size > 0 && onConflict === "error")
        throw new ImportRejected(
          records.flatMap((r, i) =>
            clashes.has(r.id) && isLive(r, now)
              ? [{ pointer: `/sessions/${i}/id`, message: `a live session with id ${shortId(r.id)} exists` }]
              : [],
          ),
        );
      this.putMany(fresh.filter((r) => onConflict === "replace" || !clashes.has(r.id)));
      const kept = onConflict === "skip" ? clashes.size : 0;
      return {
        imported: fresh.length - clashes.size,
        skippedExpired: records.length - fresh.length,
        skippedConflict: kept,
        replaced: clashes.size - kept,
      };
    });
  }

  async close(): Promise<void> {
    this.closed = true; // CLOSE-1: idempotent
    if (this.timer !== null) clearInterval(this.timer);
  }

  /** Test hook (ERR-3): overwrite a session's stored text with something not JSON. */
  async corruptForTesting(id: string): Promise<void> {
    await this.locked(() => {
      const record = this.records.get(id);
      if (record !== undefined) this.records.set(id, { ...record, json: "\u00ff{not json" });
    });
  }
}
