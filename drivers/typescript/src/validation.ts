/**
 * The contract's validation limits (VAL-1..VAL-7, TTL-1, LIST-3) and the export
 * document's schema (IMPORT-1), as Zod schemas built once per store from its `Limits`.
 *
 * Arguments are checked by `Validator.check`, which turns a Zod failure into
 * `InvalidSession`. Session data takes a hand-written walk instead (`dataProblem`):
 * it must name the offending value by JSON pointer (for import's problems), stop at
 * the depth limit, and tell `SessionTooLarge` (VAL-5) from `InvalidSession`.
 */

import { z } from "zod";

import {
  DEFAULT_LIMITS,
  ImportRejected,
  InvalidSession,
  type Limits,
  type OnConflict,
  type Problem,
  SessionTooLarge,
  shortId,
} from "./store.js";

/** A UTF-16 code unit of a surrogate pair's half, standing alone (the `u` flag reads
 * a proper pair as one code point, which this does not match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Valid Unicode text: no lone surrogates (VAL-3, VAL-7). String.isWellFormed is Node 20+. */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** I-JSON's safe integers (VAL-3). */
export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;
const ID_ALPHABET = /^[A-Za-z0-9_-]+$/;
/** REC-5: RFC 3339, UTC, exactly three fractional digits, years 0001..9999. */
const TIMESTAMP =
  /^(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

// --- time ----------------------------------------------------------------------------

/** Epoch milliseconds of an RFC 3339 timestamp, or null when it is not a real instant
 * (February 30 passes the pattern; Date.parse would roll it over to March). */
export function parseTimestamp(text: string): number | null {
  if (!TIMESTAMP.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) || new Date(ms).toISOString() !== text ? null : ms;
}

export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}

/** Round half to even, as the spec rounds a ttl to whole microseconds (TTL-1). */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor; // exact for doubles
  if (rest !== 0.5) return rest < 0.5 ? floor : floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

// --- data ----------------------------------------------------------------------------

function escapePointer(key: string | number): string {
  return String(key).replace(/~/g, "~0").replace(/\//g, "~1");
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return (
    (proto === Object.prototype || proto === null) &&
    Object.getOwnPropertySymbols(value).length === 0
  );
}

interface DataProblem {
  pointer: string;
  message: string;
  tooLarge: boolean;
}

/** Why a scalar is not a JSON value this store keeps (VAL-2, VAL-3), or null. */
function scalarProblem(value: unknown): string | null {
  switch (typeof value) {
    case "string":
      return isWellFormed(value) ? null : "a string holds a lone surrogate";
    case "boolean":
      return null;
    case "number":
      return Number.isFinite(value) ? null : `${value} is not a JSON number`;
    case "bigint":
      return `integer ${value} is outside +-(2**53-1)`;
    default:
      return value === null ? null : `a ${typeof value} is not a JSON value`;
  }
}

/** The first problem of `value` as the container at depth `depth` (the top object is 1). */
function walk(value: unknown, depth: number, maxDepth: number, path: string): DataProblem | null {
  if (depth > maxDepth)
    return { pointer: path, message: `nesting is deeper than ${maxDepth} levels`, tooLarge: false };
  const entries: Array<[string | number, unknown]> = [];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return { pointer: path, message: "an array has a hole", tooLarge: false };
      entries.push([i, value[i]]);
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      if (!isWellFormed(key))
        return { pointer: path, message: "a key holds a lone surrogate", tooLarge: false };
      entries.push([key, value[key]]);
    }
  } else {
    return { pointer: path, message: "not a plain object or array", tooLarge: false };
  }
  for (const [key, item] of entries) {
    const at = `${path}/${escapePointer(key)}`;
    if (typeof item === "object" && item !== null) {
      const problem = walk(item, depth + 1, maxDepth, at);
      if (problem) return problem;
    } else {
      const message = scalarProblem(item);
      if (message !== null) return { pointer: at, message, tooLarge: false };
    }
  }
  return null;
}

// --- the validator -------------------------------------------------------------------

/** A store's validation, built once from its limits. */
export class Validator {
  readonly id;
  readonly owner;
  readonly expectedVersion;
  readonly ttl;
  readonly listLimit;
  readonly onConflict = z.enum(["error", "skip", "replace"]);
  private readonly head;
  private readonly record;

  constructor(readonly limits: Limits = DEFAULT_LIMITS) {
    this.id = z.string().max(limits.maxIdLength).regex(ID_ALPHABET, "must be A-Z a-z 0-9 _ -");
    const ownerText = z
      .string()
      .min(1)
      .max(limits.maxOwnerLength)
      .refine(isWellFormed, "must be valid Unicode text (no lone surrogates)");
    this.owner = ownerText.nullable();
    this.expectedVersion = z.number().int().min(1).max(MAX_SAFE_INTEGER).nullable();
    this.ttl = z.number(); // finite: Zod 4 refuses NaN and the infinities
    this.listLimit = z.number().int().min(1).max(limits.maxListLimit);
    const timestamp = z.string().refine((s) => parseTimestamp(s) !== null, "not an RFC 3339 UTC timestamp with milliseconds");
    this.record = z.strictObject({
      id: this.id,
      data: z.record(z.string(), z.unknown()),
      version: z.number().int().min(1).max(MAX_SAFE_INTEGER),
      created_at: timestamp,
      updated_at: timestamp,
      expires_at: timestamp.nullable(),
      owner: ownerText.nullable().optional(),
    });
    this.head = z.strictObject({
      format: z.literal("sessionstore-export"),
      format_version: z.literal(1),
      exported_at: timestamp,
      sessions: z.array(z.unknown()), // each one checked as a record
    });
  }

  /** `value` checked against `schema`, or InvalidSession naming `what`. */
  check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
    const result = schema.safeParse(value);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new InvalidSession(`${what}: ${issue?.message ?? "invalid"}`);
    }
    return result.data;
  }

  checkId(id: unknown): string {
    return this.check(this.id, id, "session id");
  }
  checkOwner(owner: unknown): string | null {
    return this.check(this.owner, owner ?? null, "owner");
  }
  checkExpectedVersion(version: unknown): number | null {
    return this.check(this.expectedVersion, version ?? null, "expected_version");
  }
  checkOnConflict(onConflict: unknown): OnConflict {
    return this.check(this.onConflict, onConflict ?? "error", "on_conflict");
  }
  checkListLimit(limit: unknown): number {
    return this.check(this.listLimit, limit ?? 100, "limit");
  }

  /** A ttl in whole milliseconds (TTL-1): seconds rounded half to even to whole
   * microseconds, checked against the limits, then rounded up to milliseconds. */
  ttlToMs(ttl: unknown): number {
    const seconds = this.check(this.ttl, ttl, "ttl");
    const micros = roundHalfEven(Math.max(-1e18, Math.min(seconds, 1e18)) * 1e6);
    const low = roundHalfEven(this.limits.minTtl * 1e6);
    const high = roundHalfEven(this.limits.maxTtl * 1e6);
    if (micros < low || micros > high)
      throw new InvalidSession(
        `ttl must be between ${this.limits.minTtl} s and ${this.limits.maxTtl} s, got ${seconds}`,
      );
    return Math.ceil(micros / 1000);
  }

  /** The problem of session data, with the pointer of the offending value, or null. */
  dataProblem(data: unknown): DataProblem | null {
    if (!isPlainObject(data))
      return { pointer: "", message: "session data must be a JSON object", tooLarge: false };
    const problem = walk(data, 1, this.limits.maxDepth, "");
    if (problem) return problem;
    const bytes = Buffer.byteLength(JSON.stringify(data), "utf8");
    if (bytes > this.limits.maxDataBytes)
      return {
        pointer: "",
        message: `session data is ${bytes} bytes encoded; the limit is ${this.limits.maxDataBytes}`,
        tooLarge: true,
      };
    return null;
  }

  /** Session data validated (VAL-2..VAL-5) and encoded as compact JSON text. */
  encodeData(data: unknown): string {
    const problem = this.dataProblem(data);
    if (problem) {
      const at = problem.pointer || "/";
      if (problem.tooLarge) throw new SessionTooLarge(problem.message);
      throw new InvalidSession(`session data at '${at}': ${problem.message}`);
    }
    return JSON.stringify(data);
  }

  /** IMPORT-1: an export document checked whole. Returns its sessions, each with its
   * data encoded; raises ImportRejected listing every problem found. */
  importedRecords(doc: unknown): StoredRecord[] {
    const check = this.recordChecker();
    if (isPlainObject(doc) && Array.isArray(doc.sessions)) {
      check.head({ ...doc, sessions: [] });
      doc.sessions.forEach((raw: unknown, i) => check.record(raw, i));
    } else check.head(doc);
    return check.records();
  }

  /** Checks of a document's parts, as they come (a streamed import reads one record at
   * a time): every problem is kept with its pointer, every valid record encoded, and
   * `records()` returns them all, or raises ImportRejected with every problem. */
  recordChecker(): {
    head: (head: unknown) => void;
    record: (raw: unknown, index: number) => void;
    records: () => StoredRecord[];
  } {
    const problems: Problem[] = [];
    const records: StoredRecord[] = [];
    const seen = new Set<string>();
    const report = (error: z.ZodError, prefix: string): void => {
      for (const issue of error.issues) {
        const keys = issue.code === "unrecognized_keys" ? issue.keys : [undefined];
        for (const key of keys) {
          const path = key === undefined ? issue.path : [...issue.path, key];
          const pointer = prefix + path.map((p) => `/${escapePointer(String(p))}`).join("");
          problems.push({ pointer, message: issue.message });
        }
      }
    };
    return {
      head: (head) => {
        const result = this.head.safeParse(head);
        if (!result.success) report(result.error, "");
      },
      record: (raw, i) => {
        const at = `/sessions/${i}`;
        const result = this.record.safeParse(raw);
        if (!result.success) report(result.error, at);
        if (!isPlainObject(raw)) return;
        const { id, data } = raw;
        if (typeof id === "string") {
          if (seen.has(id)) problems.push({ pointer: `${at}/id`, message: `id ${shortId(id)} occurs twice` });
          seen.add(id);
        }
        const problem = isPlainObject(data) ? this.dataProblem(data) : null;
        if (problem) problems.push({ pointer: `${at}/data${problem.pointer}`, message: problem.message });
        if (!result.success || problem || problems.length > 0) return; // nothing will be written
        const s = result.data;
        records.push({
          id: s.id,
          // The document's own data: Zod's copy of a record assigns keys, so "__proto__" is lost.
          json: JSON.stringify(data),
          version: s.version,
          createdMs: parseTimestamp(s.created_at) as number,
          updatedMs: parseTimestamp(s.updated_at) as number,
          expiresMs: s.expires_at === null ? null : (parseTimestamp(s.expires_at) as number),
          owner: s.owner ?? null,
        });
      },
      records: () => {
        const unique = new Map(problems.map((p) => [p.pointer, p]));
        if (unique.size > 0) throw new ImportRejected([...unique.values()]);
        return records;
      },
    };
  }

}

/** A session as the memory store keeps it: data as compact JSON text (a private
 * copy, COPY-1), times in epoch milliseconds (REC-5). */
export interface StoredRecord {
  readonly id: string;
  readonly json: string;
  readonly version: number;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly expiresMs: number | null;
  readonly owner: string | null;
}
