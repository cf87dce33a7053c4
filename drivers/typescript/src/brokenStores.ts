/**
 * Deliberately broken stores, each with exactly one defect, so that the kit can be
 * seen to catch it with the right clause. Everything else is the memory store's.
 *
 * - `UnlockedUpdateStore` (UPDATE-1, CONC-1): the seed's update written the naive way
 *   — a locked read, an `await`, a locked write — without holding the mutex across
 *   the `await`. Two concurrent updates both read version n and both write n + 1:
 *   one increment is lost. The `await` stands for any real asynchronous step between
 *   the read and the write (a log write, a remote check); it lasts a few
 *   milliseconds so that requests arriving meanwhile interleave whatever the load.
 * - `RevivingTouchStore` (TOUCH-2): touch finds the record whether or not it has
 *   expired, so touching an expired (unpurged) session brings it back to life.
 */

import { setTimeout as sleep } from "node:timers/promises";

import { MemoryStore, toSession, visibleTo } from "./memoryStore.js";
import { type Session, SessionNotFound, shortId, type Updater } from "./store.js";

/** The asynchronous step between update's read and its write, in milliseconds. */
export const UNLOCKED_WINDOW_MS = 5;

export class UnlockedUpdateStore extends MemoryStore {
  override async update(
    id: string,
    fn: Updater,
    options: { ttl?: number | null; owner?: string | null } = {},
  ): Promise<Session> {
    const current = await this.get(id, { owner: options.owner ?? null });
    if (current === null) throw new SessionNotFound(`no live session with id ${shortId(id)}`);
    const next = await fn(current.data);
    await sleep(UNLOCKED_WINDOW_MS); // BROKEN: the lock is not held here
    return this.replace(id, next, { ttl: options.ttl ?? null, owner: options.owner ?? null });
  }
}

export class RevivingTouchStore extends MemoryStore {
  override async touch(id: string, ttl: number, options: { owner?: string | null } = {}): Promise<Session> {
    this.validator.checkId(id);
    const owner = this.validator.checkOwner(options.owner);
    const ttlMs = this.validator.ttlToMs(ttl);
    const record = await this.locked(() => {
      const current = this.stored(id); // BROKEN: live or not (TOUCH-2)
      if (current === undefined || !visibleTo(current, owner))
        throw new SessionNotFound(`no session with id ${shortId(id)}`);
      const touched = { ...current, expiresMs: this.now() + ttlMs };
      this.put(touched);
      return touched;
    });
    return toSession(record);
  }
}
