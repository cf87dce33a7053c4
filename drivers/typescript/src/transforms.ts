/**
 * update's callback built from the driver protocol's closed vocabulary of transforms
 * (spec/driver-protocol.md, 5.14): `set`, `unset`, `merge`, `increment`, `return`,
 * `raise`. Steps mutate the callback's argument in place — a store that lets that
 * argument alias its state shows it (COPY-1) — and the callback returns it, unless a
 * `return` step hands back (a copy of) another value.
 *
 * The semantics follow the kit's own definition (sessionstore_conformance.wire.transforms),
 * which its model uses to predict the result.
 */

import { setKey } from "./json.js";
import { MAX_SAFE_INTEGER } from "./validation.js";

export type Step = Record<string, unknown>;

/** The steps are not the vocabulary's: the server answers ProtocolError. */
export class TransformError extends Error {
  override name = "TransformError";
}

/** What a `raise` step throws; the server recognises it by identity (5.13). */
export class TransformRaised extends Error {
  override name = "TransformRaised";
}

const FINAL = new Set(["return", "raise"]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSafeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

const VALID_ARGUMENT: Record<string, (arg: unknown) => boolean> = {
  set: isObject,
  unset: (arg) => Array.isArray(arg) && arg.every((k) => typeof k === "string"),
  merge: isObject,
  increment: (arg) =>
    isObject(arg) &&
    Object.keys(arg).sort().join() === "by,key" &&
    typeof arg.key === "string" &&
    isSafeInteger(arg.by),
  return: () => true,
  raise: (arg) => typeof arg === "string",
};

/** The steps, if they are the protocol's vocabulary; else TransformError. */
export function checkSteps(steps: unknown): Step[] {
  if (!Array.isArray(steps)) throw new TransformError("transforms must be an array of steps");
  steps.forEach((step: unknown, i) => {
    const names = isObject(step) ? Object.keys(step) : [];
    const name = names[0];
    const valid = name === undefined ? undefined : VALID_ARGUMENT[name];
    if (names.length !== 1 || name === undefined || valid === undefined)
      throw new TransformError(`step ${i} is not one of ${Object.keys(VALID_ARGUMENT).join(", ")}`);
    if (FINAL.has(name) && i !== steps.length - 1)
      throw new TransformError(`step ${i}: '${name}' must be the last step`);
    if (!valid((step as Step)[name])) throw new TransformError(`step ${i}: bad argument for '${name}'`);
  });
  return steps as Step[];
}

/** RFC 7396 JSON Merge Patch, in place (as the kit's model applies it). */
function merge(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = Object.hasOwn(target, key) ? target[key] : undefined;
    if (value === null) delete target[key];
    else if (isObject(value) && isObject(current)) merge(current, value);
    else setKey(target, key, structuredClone(value));
  }
}

/** `d[key] + by` where `d[key]` is an integer and the sum stays safe; else 0. */
function increment(data: Record<string, unknown>, key: string, by: number): void {
  const value = Object.hasOwn(data, key) ? data[key] : undefined;
  const sum = typeof value === "number" && Number.isInteger(value) ? value + by : NaN;
  setKey(data, key, Math.abs(sum) <= MAX_SAFE_INTEGER ? sum : 0);
}

/** Run the steps on `data` (in place) and return the callback's result. */
export function applySteps(steps: readonly Step[], data: Record<string, unknown>, raise: (message: string) => Error): unknown {
  for (const step of steps) {
    const [[name, arg]] = Object.entries(step) as [[string, unknown]];
    switch (name) {
      case "set":
        for (const [key, value] of Object.entries(arg as object)) setKey(data, key, structuredClone(value));
        break;
      case "unset":
        for (const key of arg as string[]) delete data[key];
        break;
      case "merge":
        merge(data, arg as Record<string, unknown>);
        break;
      case "increment": {
        const { key, by } = arg as { key: string; by: number };
        increment(data, key, by);
        break;
      }
      case "return":
        return structuredClone(arg);
      default:
        throw raise(arg as string);
    }
  }
  return data;
}
