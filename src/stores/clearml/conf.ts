/**
 * A reader for `clearml.conf` in the dialect the ClearML SDK's parser (pyhocon) accepts, which
 * is looser than the HOCON specification and which no npm HOCON parser reads (see
 * `../shared/clearml-api.md`): unquoted URLs with ports (`api_server: http://localhost:8008`),
 * `#` and `//` comments (never inside quotes, and `//` not in a URL's `://`), `=` or `:` or
 * nothing before `{`, dotted keys (`google.storage { }`), inline objects, arrays with trailing
 * commas, `True`/`False`, and objects that merge when a key repeats. Quoted values stay strings.
 * Pure: text in, a plain object out.
 */

/** How deep objects and arrays may nest in a `clearml.conf`, and how many parts a dotted key may have (real files nest 4 or 5 levels). */
export const MAX_CONF_DEPTH = 64;

/** A parse error with its 1-based line. Its message never quotes the file (a secret may be on that line). */
export class ConfSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = "ConfSyntaxError";
  }
}

export type ConfValue = string | number | boolean | null | ConfValue[] | ConfObject;
export interface ConfObject {
  [key: string]: ConfValue;
}

const KEY_STOP = new Set([" ", "\t", "\r", "\n", "=", ":", "{", "}", "[", "]", ",", '"', "#"]);

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly s: string) {}

  private line(): number {
    let n = 1;
    for (let k = 0; k < this.i && k < this.s.length; k++) if (this.s[k] === "\n") n++;
    return n;
  }

  private fail(message: string): never {
    throw new ConfSyntaxError(message, this.line());
  }

  private atComment(): boolean {
    const c = this.s[this.i];
    return c === "#" || (c === "/" && this.s[this.i + 1] === "/");
  }

  private skipLine(): void {
    while (this.i < this.s.length && this.s[this.i] !== "\n") this.i++;
  }

  /** Skips spaces, tabs and comments; with `newlines`, line breaks and commas too. */
  private skip(newlines: boolean, commas = newlines): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === " " || c === "\t" || c === "\r" || c === "\uFEFF") this.i++;
      else if (newlines && c === "\n") this.i++;
      else if (commas && c === ",") this.i++;
      else if (c !== undefined && this.atComment()) this.skipLine();
      else return;
    }
  }

  parseRoot(): ConfObject {
    this.skip(true);
    if (this.s[this.i] === "{") {
      this.i++;
      const o = this.members("}");
      this.skip(true);
      if (this.i < this.s.length) this.fail("unexpected text after the closing '}'");
      return o;
    }
    return this.members(undefined);
  }

  private members(close: "}" | undefined): ConfObject {
    const out: ConfObject = {};
    for (;;) {
      this.skip(true);
      const c = this.s[this.i];
      if (c === undefined) {
        if (close !== undefined) this.fail(`missing '${close}'`);
        return out;
      }
      if (c === close) {
        this.i++;
        return out;
      }
      if (c === "}" || c === "]") this.fail(c === "}" ? "unexpected '}'" : "unexpected ']'");
      const path = this.keyPath();
      this.skip(false, false);
      const sep = this.s[this.i];
      if (sep === "=" || sep === ":") {
        this.i++;
        this.skip(false, false);
      } else if (sep !== "{") {
        this.fail("expected '=', ':' or '{' after a key");
      }
      const value = this.value();
      assign(out, path, value);
    }
  }

  private keyPath(): string[] {
    const parts: string[] = [];
    for (;;) {
      let part = "";
      if (this.s[this.i] === '"') part = this.quoted();
      else {
        while (this.i < this.s.length && !KEY_STOP.has(this.s[this.i]!) && !(this.s[this.i] === "/" && this.s[this.i + 1] === "/") && this.s[this.i] !== ".") {
          part += this.s[this.i];
          this.i++;
        }
        if (part === "") this.fail("expected a key");
      }
      parts.push(part);
      if (parts.length > MAX_CONF_DEPTH) this.fail(`a dotted key has more than ${MAX_CONF_DEPTH} parts`);
      if (this.s[this.i] === ".") {
        this.i++;
        continue;
      }
      return parts;
    }
  }

  private quoted(): string {
    if (this.s.startsWith('"""', this.i)) {
      const end = this.s.indexOf('"""', this.i + 3);
      if (end < 0) this.fail("unterminated triple-quoted string");
      const text = this.s.slice(this.i + 3, end);
      this.i = end + 3;
      return text;
    }
    const start = this.i;
    this.i++;
    let out = "";
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined || c === "\n") {
        this.i = start;
        this.fail("unterminated quoted string");
      }
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === "\\") {
        const n = this.s[this.i + 1];
        const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", '"': '"', "\\": "\\", "/": "/" };
        if (n === "u") {
          const hex = this.s.slice(this.i + 2, this.i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          this.i += 6;
          continue;
        }
        if (n === undefined || map[n] === undefined) this.fail("bad escape in a quoted string");
        out += map[n]!;
        this.i += 2;
        continue;
      }
      out += c;
      this.i++;
    }
  }

  private value(): ConfValue {
    const c = this.s[this.i];
    if (c === "{" || c === "[") {
      if (this.depth >= MAX_CONF_DEPTH) this.fail(`objects and arrays nest deeper than ${MAX_CONF_DEPTH} levels`);
      this.i++;
      this.depth++;
      try {
        return c === "{" ? this.members("}") : this.array();
      } finally {
        this.depth--;
      }
    }
    if (c === '"') {
      const q = this.quoted();
      // A quoted string followed by more text on the line concatenates, as in HOCON.
      const rest = this.unquotedText();
      return rest.trim() === "" ? q : q + rest.trimEnd();
    }
    const text = this.unquotedText().trim();
    if (text === "") this.fail("expected a value");
    return scalar(text);
  }

  /** Unquoted text up to the end of the line, a separator or a comment; `//` after `:` stays (URLs). */
  private unquotedText(): string {
    let out = "";
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined || c === "\n" || c === "," || c === "}" || c === "]") return out;
      if (c === "#") return out;
      if (c === "/" && this.s[this.i + 1] === "/" && this.s[this.i - 1] !== ":") return out;
      out += c;
      this.i++;
    }
  }

  private array(): ConfValue[] {
    const out: ConfValue[] = [];
    for (;;) {
      this.skip(true);
      const c = this.s[this.i];
      if (c === undefined) this.fail("missing ']'");
      if (c === "]") {
        this.i++;
        return out;
      }
      out.push(this.value());
    }
  }
}

function scalar(text: string): ConfValue {
  if (/^(true|yes|on)$/i.test(text)) return true;
  if (/^(false|no|off)$/i.test(text)) return false;
  if (text === "null") return null;
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text);
  return text;
}

function isObject(v: ConfValue | undefined): v is ConfObject {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);
}

function assign(target: ConfObject, path: string[], value: ConfValue): void {
  let o = target;
  for (const part of path.slice(0, -1)) {
    const next = o[part];
    if (!isObject(next)) o[part] = {};
    o = o[part] as ConfObject;
  }
  const last = path[path.length - 1]!;
  const existing = o[last];
  // Objects given twice merge, key by key (a later scalar replaces).
  if (isObject(existing) && isObject(value)) {
    for (const [k, v] of Object.entries(value)) assign(existing, [k], v);
  } else {
    o[last] = value;
  }
}

/**
 * Parses a `clearml.conf`.
 *
 * @throws {ConfSyntaxError} with the line of the first problem.
 */
export function parseClearmlConf(text: string): ConfObject {
  return new Parser(text).parseRoot();
}

/** The value at a dotted path, or `undefined`. */
export function confGet(conf: ConfObject, path: string): ConfValue | undefined {
  let v: ConfValue | undefined = conf;
  for (const part of path.split(".")) {
    if (!isObject(v)) return undefined;
    v = v[part];
  }
  return v;
}
