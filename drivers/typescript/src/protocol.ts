/**
 * The driver protocol's server side (spec/driver-protocol.md, version 1) for any store
 * implementing `SessionStore` (store.ts): `serve(factory)` lets the Python conformance
 * kit check that store through `sessionstore-conformance run "exec:COMMAND ARGS"`.
 *
 * Theory of operation. Requests are JSON lines on stdin; each is started as soon as its
 * line is read and answered, whenever it finishes, by one JSON line on stdout (2.3), so
 * concurrent requests reach the store concurrently and the store's own mutex is what
 * keeps them apart. Arguments go to the store exactly as JSON gave them (2.5), read by
 * `parseJson` so that an integer beyond 2**53 arrives as a bigint the store refuses
 * rather than a rounded number it would accept. `update`'s transforms become a callback
 * run inside the store's own `update` (5.13). The store's clock, when it takes one, is
 * the server's: an instant that only `clock.set` / `clock.advance` move (6). `reset`
 * asks the factory for a fresh store (4.2). Errors are named as the contract names them
 * (8); anything else a store throws is an `UnexpectedError`.
 */

import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

import { parseJson, stringifyJson } from "./json.js";
import {
  CorruptSession,
  ImportRejected,
  InvalidSession,
  type Session,
  SessionExists,
  SessionNotFound,
  type SessionStore,
  type StoreFactory,
  SessionTooLarge,
  StoreUnavailable,
  VersionConflict,
  type ImportReport,
  type OnConflict,
  type JSONObject,
} from "./store.js";
import { applySteps, checkSteps, TransformError, TransformRaised } from "./transforms.js";

export const PROTOCOL = 1;

/** Every op's argument names; a request with any other member is refused (2.4). */
const ARGUMENTS: Record<string, readonly string[]> = {
  hello: ["protocol", "client"],
  reset: ["clock_ms"],
  attach: ["url", "clock_ms"],
  close: [],
  shutdown: [],
  create: ["data", "ttl", "id", "owner"],
  get: ["id", "owner"],
  replace: ["id", "data", "expected_version", "ttl", "owner"],
  update: ["id", "transforms", "ttl", "owner"],
  touch: ["id", "ttl", "owner"],
  delete: ["id", "expected_version", "owner"],
  list: ["cursor", "limit"],
  count: [],
  purge_expired: [],
  export: [],
  import: ["doc", "text", "on_conflict"],
  export_chunks: [],
  import_chunks: ["chunks", "on_conflict"],
  "clock.set": ["ms"],
  "clock.advance": ["ms"],
  corrupt_for_testing: ["id"],
  disconnect_for_testing: [],
};

/** The store operations of section 5 (the rest: lifecycle, clock, hooks). */
const OPERATIONS = Object.fromEntries(
  ["create", "get", "replace", "update", "touch", "delete", "list", "count", "purge_expired", "export", "import", "export_chunks", "import_chunks"].map((op) => [op, true]),
);

/** The contract's errors, most specific first (8.1). */
const CONTRACT_ERRORS: ReadonlyArray<[string, abstract new (...args: never[]) => Error]> = [
  ["SessionTooLarge", SessionTooLarge],
  ["ImportRejected", ImportRejected],
  ["InvalidSession", InvalidSession],
  ["SessionNotFound", SessionNotFound],
  ["SessionExists", SessionExists],
  ["VersionConflict", VersionConflict],
  ["CorruptSession", CorruptSession],
  ["StoreUnavailable", StoreUnavailable],
];

/** A request the protocol refuses: ProtocolError or Unsupported (2.4). */
class Refused extends Error {
  constructor(
    readonly kind: "ProtocolError" | "Unsupported",
    message: string,
  ) {
    super(message);
  }
}

/** The update callback threw its `raise` step's error, and the store let it through. */
class CallbackRaised extends Error {}

type Args = Record<string, unknown>;
type Wire = Record<string, unknown>;

function timestamp(date: Date): string {
  return date.toISOString();
}

/** A session as the wire carries it (3.1), field by field as the store returned it. */
export function wireSession(session: Session | null): Wire | null {
  if (session === null) return null;
  return {
    id: session.id,
    data: session.data,
    version: session.version,
    created_at: timestamp(session.createdAt),
    updated_at: timestamp(session.updatedAt),
    expires_at: session.expiresAt === null ? null : timestamp(session.expiresAt),
    owner: session.owner,
  };
}

function wireReport(report: ImportReport): Wire {
  return {
    imported: report.imported,
    skipped_expired: report.skippedExpired,
    skipped_conflict: report.skippedConflict,
    replaced: report.replaced,
  };
}

/** The error object of whatever was thrown (8). */
export function wireError(error: unknown): Wire {
  if (error instanceof Refused) return { type: error.kind, message: error.message };
  if (error instanceof CallbackRaised) return { type: "CallbackRaised", message: error.message };
  const kind = CONTRACT_ERRORS.find(([, cls]) => error instanceof cls)?.[0];
  if (kind === undefined || !(error instanceof Error)) {
    const name = error instanceof Error ? error.name : typeof error;
    const stack = error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {};
    return { type: "UnexpectedError", name, message: String(error instanceof Error ? error.message : error), ...stack };
  }
  const wire: Wire = { type: kind, message: error.message };
  if (error instanceof VersionConflict) Object.assign(wire, { expected: error.expected, actual: error.actual });
  if (error instanceof ImportRejected)
    wire.problems = error.problems.map((p) => ({ pointer: p.pointer, message: p.message }));
  const chunks = (error as { chunks?: unknown }).chunks;
  if (Array.isArray(chunks)) wire.chunks = chunks; // 8.3: what export_chunks yielded before
  return wire;
}

/** The protocol's null for a member the request left out (2.1). */
function arg(args: Args, name: string): unknown {
  return args[name] === undefined ? null : args[name];
}

function checkMs(value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min)
    throw new Refused("ProtocolError", `ms must be an integer of at least ${min}`);
  return value;
}

/** A request's members; ProtocolError (with no id) unless it is an object with a valid id. */
function parseRequest(line: string): { id: number; op: unknown; args: unknown } {
  let request: unknown;
  try {
    request = parseJson(line);
  } catch (error) {
    throw new Refused("ProtocolError", `not a JSON message: ${String(error)}`);
  }
  if (typeof request !== "object" || request === null || Array.isArray(request))
    throw new Refused("ProtocolError", "a request must be a JSON object");
  const { id, op, args } = request as Record<string, unknown>;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0)
    throw new Refused("ProtocolError", "a request needs an integer id from 0 to 2**53 - 1");
  return { id, op, args };
}

/** The op, if it is known and its args are an object of its members (2.4). */
function checkOp(op: unknown, args: unknown): string {
  const known = typeof op === "string" && Object.hasOwn(ARGUMENTS, op) ? ARGUMENTS[op] : undefined;
  if (known === undefined) throw new Refused("ProtocolError", `unknown op ${JSON.stringify(op)}`);
  if (typeof args !== "object" || args === null || Array.isArray(args))
    throw new Refused("ProtocolError", "args must be an object");
  const extra = Object.keys(args).filter((name) => !known.includes(name));
  if (extra.length > 0) throw new Refused("ProtocolError", `${op as string} takes no ${extra.join(", ")}`);
  return op as string;
}

/** One store at a time behind the protocol's operations. */
export class Server {
  private store: SessionStore | null = null;
  private greeted = false;
  private barrier: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Set<Promise<unknown>>();
  private clockMs = Date.now();
  private readonly clock = (): number => this.clockMs;
  /** Set by `shutdown`: the caller stops reading and exits. */
  shutdown = false;

  constructor(
    private readonly factory: StoreFactory,
    private readonly name = "sessionstore TypeScript driver",
  ) {}

  /** The response line to one request line. */
  async handle(line: string): Promise<string> {
    let id: number | null = null;
    let response: Wire;
    try {
      const request = parseRequest(line);
      id = request.id;
      response = { id, ok: await this.dispatch(checkOp(request.op, request.args), request.args as Args) };
    } catch (error) {
      response = { id, error: wireError(error) };
    }
    try {
      return stringifyJson(response);
    } catch (error) {
      // e.g. a store returned a bigint: still one answer, naming what went wrong.
      return stringifyJson({ id, error: wireError(error) });
    }
  }

  /**
   * Store operations start at once, in arrival order. Lifecycle, clock and hook requests
   * are sent only while nothing else is in flight (2.3); still, each one waits for the
   * requests before it, and the requests after it wait for it, so that a client writing
   * them all at once gets them in order.
   */
  private dispatch(op: string, args: Args): Promise<unknown> {
    if (Object.hasOwn(OPERATIONS, op)) {
      const call = this.barrier.then(() => this.operation(op, args));
      const settled = call.catch(() => undefined);
      this.inFlight.add(settled);
      void settled.then(() => this.inFlight.delete(settled));
      return call;
    }
    const running = [...this.inFlight];
    const done = this.barrier.then(() => Promise.all(running)).then(() => this.control(op, args));
    this.barrier = done.catch(() => undefined);
    return done;
  }

  private async control(op: string, args: Args): Promise<unknown> {
    if (op === "hello") return this.hello(args);
    if (!this.greeted) throw new Refused("ProtocolError", "the first request must be hello");
    switch (op) {
      case "reset":
        return this.reset(arg(args, "clock_ms"));
      case "close":
        await this.current().close();
        return null;
      case "shutdown":
        this.shutdown = true;
        await this.store?.close();
        return null;
      case "clock.set":
      case "clock.advance": {
        if (!this.current().capabilities.injectableClock) throw new Refused("Unsupported", "the store takes no clock");
        const ms = checkMs(args.ms, op === "clock.set" ? Number.MIN_SAFE_INTEGER : 0);
        this.clockMs = op === "clock.set" ? ms : this.clockMs + ms;
        return null;
      }
      case "corrupt_for_testing": {
        const store = this.current();
        if (store.corruptForTesting === undefined) throw new Refused("Unsupported", `no ${op} hook`);
        await store.corruptForTesting(args.id as string);
        return null;
      }
      default: // attach, disconnect_for_testing
        throw new Refused("Unsupported", `this server does not offer ${op}`);
    }
  }

  /** Sections 5.1..5.11: one call of the store's operation, as JSON gave the arguments. */
  private async operation(op: string, args: Args): Promise<unknown> {
    if (!this.greeted) throw new Refused("ProtocolError", "the first request must be hello");
    const store = this.current();
    const a = (name: string): never => arg(args, name) as never; // the store validates (2.5)
    switch (op) {
      case "create":
        return wireSession(await store.create(a("data"), { ttl: a("ttl"), id: a("id"), owner: a("owner") }));
      case "get":
        return wireSession(await store.get(a("id"), { owner: a("owner") }));
      case "replace":
        return wireSession(
          await store.replace(a("id"), a("data"), { expectedVersion: a("expected_version"), ttl: a("ttl"), owner: a("owner") }),
        );
      case "update":
        return wireSession(await this.update(store, args));
      case "touch":
        return wireSession(await store.touch(a("id"), a("ttl"), { owner: a("owner") }));
      case "delete":
        return store.delete(a("id"), { expectedVersion: a("expected_version"), owner: a("owner") });
      case "list": {
        const limit = args.limit === undefined || args.limit === null ? undefined : a("limit");
        const page = await store.list({ cursor: a("cursor"), limit });
        return { sessions: page.sessions.map(wireSession), cursor: page.cursor };
      }
      case "count":
        return store.count();
      case "purge_expired":
        return store.purgeExpired();
      case "export":
        return store.export();
      case "import": {
        const onConflict = (args.on_conflict ?? undefined) as OnConflict | undefined;
        return wireReport(await store.import("text" in args ? args.text : a("doc"), { onConflict }));
      }
      case "export_chunks":
        return { chunks: await this.exportChunks(store) };
      default: {
        // import_chunks
        if (store.importChunks === undefined) throw new Refused("Unsupported", "the store offers no import_chunks");
        const { chunks } = args;
        if (!Array.isArray(chunks) || !chunks.every((c) => typeof c === "string"))
          throw new Refused("ProtocolError", "chunks must be an array of base64 strings");
        const bytes = chunks.map((c: string) => new Uint8Array(Buffer.from(c, "base64")));
        const onConflict = (args.on_conflict ?? undefined) as OnConflict | undefined;
        return wireReport(await store.importChunks(bytes, { onConflict }));
      }
    }
  }

  /** 5.12: every chunk of the store's streamed export, base64; an error carries the
   * chunks yielded before it (EXPORT-3). */
  private async exportChunks(store: SessionStore): Promise<string[]> {
    if (store.exportChunks === undefined) throw new Refused("Unsupported", "the store offers no export_chunks");
    const chunks: string[] = [];
    try {
      for await (const chunk of store.exportChunks()) chunks.push(Buffer.from(chunk).toString("base64"));
    } catch (error) {
      throw Object.assign(error instanceof Error ? error : new Error(String(error)), { chunks });
    }
    return chunks;
  }

  /** 5.13: the store's own update, with the transforms as its callback. */
  private async update(store: SessionStore, args: Args): Promise<Session> {
    let steps;
    try {
      steps = checkSteps(args.transforms);
    } catch (error) {
      if (error instanceof TransformError) throw new Refused("ProtocolError", error.message);
      throw error;
    }
    const raised = new Set<Error>();
    const raise = (message: string): Error => {
      const error = new TransformRaised(message);
      raised.add(error);
      return error;
    };
    try {
      return await store.update(
        arg(args, "id") as string,
        (data: JSONObject) => applySteps(steps, data, raise) as JSONObject,
        { ttl: arg(args, "ttl") as number | null, owner: arg(args, "owner") as string | null },
      );
    } catch (error) {
      if (error instanceof Error && raised.has(error)) throw new CallbackRaised(error.message);
      throw error;
    }
  }

  private async hello(args: Args): Promise<unknown> {
    const versions = args.protocol;
    if (!Array.isArray(versions) || !versions.includes(PROTOCOL)) {
      this.shutdown = true; // 4.1: no common version, and exit
      throw new Refused("ProtocolError", `this server speaks protocol ${PROTOCOL} only`);
    }
    const store = this.store ?? (this.store = await this.factory({ clock: this.clock }));
    this.greeted = true;
    const { capabilities: caps, limits } = store;
    const hooks = store.corruptForTesting === undefined ? [] : ["corrupt_for_testing"];
    return {
      protocol: PROTOCOL,
      server: `${this.name} (${store.constructor.name})`,
      capabilities: {
        injectable_clock: caps.injectableClock,
        durable: caps.durable,
        multi_process: caps.multiProcess,
        multi_host: caps.multiHost,
      },
      limits: {
        max_id_length: limits.maxIdLength,
        max_owner_length: limits.maxOwnerLength,
        max_depth: limits.maxDepth,
        max_data_bytes: limits.maxDataBytes,
        min_ttl_ms: Math.round(limits.minTtl * 1000),
        max_ttl_ms: Math.round(limits.maxTtl * 1000),
        max_list_limit: limits.maxListLimit,
      },
      default_ttl_ms: store.defaultTtl === null ? null : Math.ceil(store.defaultTtl * 1000),
      hooks,
      clock: caps.injectableClock,
      optional: (["export_chunks", "import_chunks"] as const).filter(
        (op) => store[op === "export_chunks" ? "exportChunks" : "importChunks"] !== undefined,
      ),
      shared: false,
    };
  }

  /** 4.2: a fresh store on a clock standing at `clock_ms`; the old one is closed. */
  private async reset(clockMs: unknown): Promise<unknown> {
    if (clockMs !== null) this.clockMs = checkMs(clockMs, Number.MIN_SAFE_INTEGER);
    else this.clockMs = Date.now();
    const old = this.store;
    this.store = null;
    await old?.close();
    this.store = await this.factory({ clock: this.clock });
    return { url: null };
  }

  private current(): SessionStore {
    if (this.store === null) throw new StoreUnavailable("no store: the last reset failed");
    return this.store;
  }

  /** Close the store, if any (at the end of input). */
  async close(): Promise<void> {
    await this.store?.close();
  }
}

/**
 * Serve the store `factory` makes over `input` and `output` (by default stdin and
 * stdout), one request per line, until the input ends or a `shutdown` request.
 * Resolves then; the caller exits (1.4: work still under way is abandoned).
 */
export async function serve(
  factory: StoreFactory,
  options: { input?: Readable; output?: Writable; name?: string } = {},
): Promise<void> {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const server = new Server(factory, options.name);
  const lines = createInterface({ input, crlfDelay: Infinity });
  await new Promise<void>((done) => {
    lines.on("line", (line) => {
      if (line.trim() === "") return;
      void server.handle(line).then((response) => {
        output.write(response + "\n");
        if (server.shutdown) {
          lines.close();
        }
      });
    });
    lines.on("close", () => done());
  });
  await server.close().catch(() => undefined);
}
