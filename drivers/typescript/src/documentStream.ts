/**
 * An export document's JSON text read as it comes, for a streamed import (IMPORT-7):
 * each element of the top-level `sessions` array is parsed and handed on as soon as its
 * text is complete, so that only one session's text is held at a time; the rest of the
 * document (its head) is kept with `"sessions": []` in place of the array, and parsed at
 * the end.
 *
 * The scanner follows strings (and their escapes) and bracket depth a character at a
 * time; it never decides validity itself: each piece it cuts out is parsed by
 * `parseJson`, which refuses malformed text, so a document is accepted exactly when
 * its text is JSON.
 */

import { JSONSyntaxError, parseJson } from "./json.js";

const WHITESPACE = " \t\n\r";

export class DocumentStream {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  private head = "";
  private element = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Depth 1, outside strings: whether the next string is a member's key. */
  private keyNext = false;
  private inKey = false;
  private key = "";
  private lastKey = "";
  private inSessions = false;
  private index = 0;

  /** The sessions completed by this chunk of bytes, with their index in the array. */
  push(chunk: Uint8Array, last = false): Array<[number, unknown]> {
    let text: string;
    try {
      text = this.decoder.decode(chunk, { stream: !last });
    } catch {
      throw new JSONSyntaxError("the document is not valid UTF-8");
    }
    const done: Array<[number, unknown]> = [];
    for (const c of text) {
      if (this.inSessions) this.sessionChar(c, done);
      else this.headChar(c);
    }
    return done;
  }

  /** The head of the document, `sessions` emptied, once every chunk has been pushed. */
  end(): unknown {
    this.push(new Uint8Array(), true);
    if (this.inSessions) throw new JSONSyntaxError("the document ends inside its sessions");
    return parseJson(this.head);
  }

  /** Follows strings and escapes; true while `c` is inside (or ends) a string. */
  private stringChar(c: string): boolean {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === "\\") this.escaped = true;
      else if (c === '"') this.inString = false;
      return true;
    }
    if (c === '"') {
      this.inString = true;
      return true;
    }
    return false;
  }

  private headChar(c: string): void {
    if (this.stringChar(c)) {
      if (this.keyNext && this.depth === 1) {
        this.keyNext = false;
        this.inKey = true;
      }
      if (this.inKey) {
        this.key += c;
        if (!this.inString) {
          this.inKey = false;
          this.lastKey = this.key;
        }
      }
      this.head += c;
      return;
    }
    if (this.depth === 1 && c === "[" && this.lastKeyIs("sessions")) {
      this.inSessions = true; // the array's elements go to sessionChar
      this.depth = 2;
      this.head += "[]";
      return;
    }
    if (c === "{" || c === "[") this.depth++;
    else if (c === "}" || c === "]") this.depth--;
    if (this.depth === 1 && (c === "{" || c === ",")) {
      this.keyNext = true;
      this.key = "";
    }
    this.head += c;
  }

  private lastKeyIs(name: string): boolean {
    try {
      return parseJson(this.lastKey) === name && this.head.trimEnd().endsWith(":");
    } catch {
      return false;
    }
  }

  private sessionChar(c: string, done: Array<[number, unknown]>): void {
    if (!this.stringChar(c)) {
      if (this.depth === 2 && (c === "," || c === "]")) {
        if (c === "," || this.element.trim() !== "" || this.index > 0) this.finishElement(done);
        if (c === "]") {
          this.inSessions = false;
          this.depth = 1;
        }
        return;
      }
      if (c === "{" || c === "[") this.depth++;
      else if (c === "}" || c === "]") this.depth--;
      if (this.depth === 2 && this.element === "" && WHITESPACE.includes(c)) return;
    }
    this.element += c;
  }

  private finishElement(done: Array<[number, unknown]>): void {
    done.push([this.index++, parseJson(this.element)]); // an empty element: a syntax error
    this.element = "";
  }
}
