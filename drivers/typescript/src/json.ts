/**
 * JSON between the driver protocol's wire and JavaScript values, keeping what the
 * built-ins lose.
 *
 * `parseJson` reads JSON text, keeping what `JSON.parse` loses: an integer literal beyond
 * ±(2**53 - 1) becomes a `bigint` (so validation can refuse it, VAL-3, instead of
 * storing a rounded number), and Python's `NaN`, `Infinity` and `-Infinity` tokens are
 * read as numbers (so validation can refuse them too, rather than the message).
 *
 * `JSON.parse` does the work whenever the text holds no run of 16 digits (no unsafe
 * integer can hide there) and is plain JSON; only the rest takes the small parser below.
 *
 * `stringifyJson` writes JSON text as `JSON.stringify` does, but for a number that is
 * integral and beyond ±(2**53 - 1): that can only have been a float, and `JSON.stringify`
 * writes it as an integer literal with made-up trailing digits (6.011697093038469e16
 * as 60116970930384690), which a reader that keeps integers exact (Python) takes for
 * another number. It is written in exponent form instead, which every reader takes for
 * the same double.
 */

const LONG_DIGIT_RUN = /\d{16}/;

export class JSONSyntaxError extends SyntaxError {
  override name = "JSONSyntaxError";
}

export function parseJson(text: string): unknown {
  if (!LONG_DIGIT_RUN.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // Not plain JSON: maybe NaN or Infinity, which the parser below reads.
    }
  }
  return new Parser(text).document();
}

/** Define a key as an own data property, even "__proto__" (which `=` would not). */
export function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const WORDS: ReadonlyArray<[string, unknown]> = [
  ["true", true],
  ["false", false],
  ["null", null],
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
];
/** Nesting the parser follows; data deeper than this is far beyond any store's limit. */
const MAX_NESTING = 2000;

class Parser {
  private at = 0;
  constructor(private readonly text: string) {}

  document(): unknown {
    const value = this.value(0);
    this.space();
    if (this.at !== this.text.length) this.fail("unexpected text after the value");
    return value;
  }

  private fail(message: string): never {
    throw new JSONSyntaxError(`invalid JSON at offset ${this.at}: ${message}`);
  }

  private space(): void {
    while (" \t\n\r".includes(this.text[this.at] ?? "x")) this.at++;
  }

  private value(depth: number): unknown {
    if (depth > MAX_NESTING) this.fail(`nested deeper than ${MAX_NESTING}`);
    this.space();
    const c = this.text[this.at];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    for (const [word, value] of WORDS) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail("expected a value");
    this.at += match[0].length;
    const literal = match[0];
    if (match[1] === undefined && match[2] === undefined) {
      const n = Number(literal);
      return Number.isSafeInteger(n) ? n : BigInt(literal);
    }
    return Number(literal);
  }

  private object(depth: number): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    this.at++;
    this.space();
    if (this.text[this.at] === "}") {
      this.at++;
      return result;
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') this.fail("expected a key");
      const key = this.string();
      this.space();
      if (this.text[this.at++] !== ":") this.fail("expected ':'");
      setKey(result, key, this.value(depth + 1));
      this.space();
      const c = this.text[this.at++];
      if (c === "}") return result;
      if (c !== ",") this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): unknown[] {
    const result: unknown[] = [];
    this.at++;
    this.space();
    if (this.text[this.at] === "]") {
      this.at++;
      return result;
    }
    for (;;) {
      result.push(this.value(depth + 1));
      this.space();
      const c = this.text[this.at++];
      if (c === "]") return result;
      if (c !== ",") this.fail("expected ',' or ']'");
    }
  }

  /** A string token, decoded by JSON.parse itself (escapes, lone surrogates kept). */
  private string(): string {
    const start = this.at++;
    for (;;) {
      const c = this.text[this.at++];
      if (c === undefined) this.fail("unterminated string");
      if (c === "\\") this.at++;
      else if (c === '"') break;
    }
    try {
      return JSON.parse(this.text.slice(start, this.at)) as string;
    } catch {
      return this.fail("bad string");
    }
  }
}

/** A number as JSON text: an integral value beyond the safe range in exponent form. */
function numberText(value: number): string {
  if (!Number.isFinite(value)) return "null"; // as JSON.stringify
  return Number.isInteger(value) && !Number.isSafeInteger(value) ? value.toExponential() : JSON.stringify(value);
}

/** JSON text of `value`, as JSON.stringify(value) but for unsafe integral numbers. */
export function stringifyJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts);
  return parts.join("");
}

function write(value: unknown, parts: string[]): void {
  if (typeof value === "number") parts.push(numberText(value));
  else if (typeof value !== "object" || value === null) {
    const text = JSON.stringify(value); // strings, booleans, null; throws for a bigint
    if (text === undefined) throw new TypeError(`a ${typeof value} is not a JSON value`);
    parts.push(text);
  } else if (Array.isArray(value)) {
    parts.push("[");
    value.forEach((item: unknown, i) => {
      if (i > 0) parts.push(",");
      if (item === undefined || typeof item === "function") parts.push("null");
      else write(item, parts);
    });
    parts.push("]");
  } else if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    write((value as { toJSON: () => unknown }).toJSON(), parts);
  } else {
    parts.push("{");
    let first = true;
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined || typeof item === "function") continue;
      parts.push(first ? "" : ",", JSON.stringify(key), ":");
      first = false;
      write(item, parts);
    }
    parts.push("}");
  }
}
