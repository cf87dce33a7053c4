/**
 * The session store contract (spec/SPEC.md) as a TypeScript interface: the seed's
 * `SessionStore`, completed clause by clause. Any store implementing it can be served
 * to the conformance kit by `serve()` (protocol.ts).
 *
 * Conventions of this binding: times are `Date`s at millisecond precision (REC-5); a
 * ttl is a number of seconds (TTL-1); the store's clock returns epoch milliseconds, as
 * `Date.now` does (LIVE-4); errors are the classes below, named as in ERR-1.
 */

/** A JSON value as a session's data holds it (REC-2, VAL-2). */
export type JSONValue = null | boolean | number | string | JSONValue[] | JSONObject;
export interface JSONObject {
  [key: string]: JSONValue;
}

/** One session as a caller sees it (REC-1); `data` is the caller's own copy (COPY-1). */
export interface Session {
  readonly id: string;
  readonly data: JSONObject;
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** null: the session never expires (LIVE-1). */
  readonly expiresAt: Date | null;
  /** null: unowned (OWN-1). */
  readonly owner: string | null;
}

/** One page of `list` (LIST-1); pass `cursor` back for the next, null at the end. */
export interface Page {
  readonly sessions: Session[];
  readonly cursor: string | null;
}

/** What `import` did (IMPORT-6). */
export interface ImportReport {
  imported: number;
  skippedExpired: number;
  skippedConflict: number;
  replaced: number;
}

/** What a store guarantees (CAP-1); the kit verifies exactly what is declared. */
export interface Capabilities {
  injectableClock: boolean;
  durable: boolean;
  multiProcess: boolean;
  multiHost: boolean;
}

/** Validation limits (VAL-*); ttls in seconds. */
export interface Limits {
  maxIdLength: number;
  maxOwnerLength: number;
  maxDepth: number;
  maxDataBytes: number;
  minTtl: number;
  maxTtl: number;
  maxListLimit: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxIdLength: 128,
  maxOwnerLength: 256,
  maxDepth: 32,
  maxDataBytes: 1_048_576,
  minTtl: 0.001,
  maxTtl: 3650 * 86_400,
  maxListLimit: 1000,
});

/** The store's clock: epoch milliseconds, like `Date.now` (LIVE-4). */
export type Clock = () => number;
export type OnConflict = "error" | "skip" | "replace";
/** update's callback: gets a private copy of the data, returns the new data (UPDATE-1). */
export type Updater = (data: JSONObject) => JSONObject | Promise<JSONObject>;

/** A session in an export document (spec/schema/session.schema.json). */
export interface ExportedSession {
  id: string;
  data: JSONObject;
  version: number;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
  owner?: string | null;
}

/** An export document (spec/schema/export.schema.json). */
export interface ExportDocument {
  format: "sessionstore-export";
  format_version: 1;
  exported_at: string;
  sessions: ExportedSession[];
}

export interface SessionStore {
  readonly capabilities: Capabilities;
  readonly limits: Limits;
  /** Seconds, or null: sessions created without a ttl never expire (TTL-3). */
  readonly defaultTtl: number | null;

  create(
    data?: JSONObject | null,
    options?: { ttl?: number | null; id?: string | null; owner?: string | null },
  ): Promise<Session>;
  get(id: string, options?: { owner?: string | null }): Promise<Session | null>;
  replace(
    id: string,
    data: JSONObject,
    options?: { expectedVersion?: number | null; ttl?: number | null; owner?: string | null },
  ): Promise<Session>;
  update(
    id: string,
    fn: Updater,
    options?: { ttl?: number | null; owner?: string | null },
  ): Promise<Session>;
  touch(id: string, ttl: number, options?: { owner?: string | null }): Promise<Session>;
  delete(
    id: string,
    options?: { expectedVersion?: number | null; owner?: string | null },
  ): Promise<boolean>;
  list(options?: { cursor?: string | null; limit?: number }): Promise<Page>;
  count(): Promise<number>;
  purgeExpired(): Promise<number>;
  export(): Promise<ExportDocument>;
  /** `doc` is an export document, as a value or as JSON text. */
  import(doc: unknown, options?: { onConflict?: OnConflict }): Promise<ImportReport>;
  close(): Promise<void>;

  /** EXPORT-2 (optional): the UTF-8 JSON text of an export document, in pieces. */
  exportChunks?(): AsyncIterable<Uint8Array>;

  /** IMPORT-7 (optional): `import` of the JSON text the chunks join into, read as it comes. */
  importChunks?(
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    options?: { onConflict?: OnConflict },
  ): Promise<ImportReport>;

  /** Test hook (ERR-3): make the stored data of session `id` undecodable. */
  corruptForTesting?(id: string): Promise<void>;
}

/** What `serve()` passes to a store factory: the clock to obey, when it takes one. */
export interface StoreOptions {
  clock?: Clock;
}
export type StoreFactory = (options: StoreOptions) => SessionStore | Promise<SessionStore>;

/**
 * A session id as messages show it: an id is a bearer secret, so a message names a
 * session by its first characters only (at most 6, at most half of the id).
 */
export function shortId(id: string): string {
  return JSON.stringify(`${id.slice(0, Math.min(6, Math.floor(id.length / 2)))}…`);
}

// --- errors (ERR-1) ------------------------------------------------------------------

export class SessionStoreError extends Error {
  override name = "SessionStoreError";
}
export class SessionNotFound extends SessionStoreError {
  override name = "SessionNotFound";
}
export class SessionExists extends SessionStoreError {
  override name = "SessionExists";
}
export class VersionConflict extends SessionStoreError {
  override name = "VersionConflict";
  constructor(
    message: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(message);
  }
}
export class InvalidSession extends SessionStoreError {
  override name = "InvalidSession";
}
export class SessionTooLarge extends InvalidSession {
  override name = "SessionTooLarge";
}
export class CorruptSession extends SessionStoreError {
  override name = "CorruptSession";
}
export class StoreUnavailable extends SessionStoreError {
  override name = "StoreUnavailable";
}
/** One problem of a rejected import: the RFC 6901 pointer of the offending value. */
export interface Problem {
  pointer: string;
  message: string;
}
export class ImportRejected extends InvalidSession {
  override name = "ImportRejected";
  constructor(readonly problems: Problem[]) {
    super(
      `import rejected: ${problems.length} problem(s): ` +
        problems
          .slice(0, 3)
          .map((p) => `${p.pointer || "/"}: ${p.message}`)
          .join("; "),
    );
  }
}
