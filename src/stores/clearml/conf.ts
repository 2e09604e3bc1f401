/**
 * A reader for `clearml.conf` in the dialect the ClearML SDK's parser (pyhocon) accepts, which
 * is looser than the HOCON specification and which no npm HOCON parser reads (see
 * `../shared/clearml-api.md`): unquoted URLs with ports (`api_server: http://localhost:8008`),
 * `#` and `//` comments (never inside quotes, and `//` not in a URL's `://`), `=` or `:` or
 * nothing before `{`, dotted keys (`google.storage { }`), inline objects, arrays with trailing
 * commas, `True`/`False`, and objects that merge when a key repeats. Quoted values stay strings.
 *
 * As pyhocon also does: `${path}` and `${?path}` substitutions (a key of the file, else an
 * environment variable; the optional form drops the key when neither exists; `${x}` inside the
 * definition of `x` reads its earlier value), `key += value` (appends to a list), and
 * `include "file"` / `include file("...")` / `include required(...)` (relative to the including
 * file; a missing include is skipped unless `required`, as pyhocon skips it).
 *
 * Pure apart from the injected file reader: text in, a plain object out. Errors name the line
 * (and the included file), never the text on it: a value may be a secret.
 */
import { dirname, isAbsolute, join } from "node:path";

/** How deep objects and arrays may nest in a `clearml.conf`, and how many parts a dotted key may have (real files nest 4 or 5 levels). */
export const MAX_CONF_DEPTH = 64;

/** How deep `include`s may nest (a file that includes itself stops here). */
export const MAX_INCLUDE_DEPTH = 8;

/** The longest string substitutions may build, in characters: past it the file is refused (a chain of `${a}${a}` doubles at every step). */
const MAX_SUBSTITUTED_LENGTH = 1024 * 1024;
/** How many values substitutions may copy in all (a lone `${obj}` copies the object) before the file is refused. */
const MAX_COPIED_VALUES = 100_000;

/**
 * A parse error with its 1-based line, and the included file it is in (`undefined` for the file
 * parsed). Its message never quotes the file (a secret may be on that line).
 */
export class ConfSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly file?: string,
  ) {
    super(file === undefined ? `line ${line}: ${message}` : `line ${line} of the included ${file}: ${message}`);
    this.name = "ConfSyntaxError";
  }
}

export type ConfValue = string | number | boolean | null | ConfValue[] | ConfObject;
export interface ConfObject {
  [key: string]: ConfValue;
}

/** What {@link parseClearmlConf} may be given besides the text. */
export interface ConfParseOptions {
  /**
   * The environment `${VAR}` falls back to when the file has no such key. Default: none, so a
   * `${VAR}` that is not a key of the file is an error and a `${?VAR}` drops its key.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The file's own path: relative includes are read from its directory (default: the working directory's). */
  readonly path?: string;
  /**
   * Reads an included file: its text, or `undefined` when it does not exist; may throw (a
   * `code` such as `EACCES` is reported). Without it, an `include` is an error.
   */
  readonly readFile?: (path: string) => string | undefined;
}

/** One part of a value that holds substitutions: text, or a reference. */
type Piece = { readonly text: string; readonly quoted?: boolean } | { readonly ref: string; readonly optional: boolean };

/** A value with substitutions, resolved once the whole file (with its includes) is read. */
class Pending {
  /**
   * What the key held before, for a lone optional substitution of nothing: as in HOCON,
   * `api_server: ${?CLEARML_API_HOST}` after `api_server: http://...` keeps the earlier value.
   */
  fallback: Raw | undefined;

  constructor(
    readonly pieces: readonly Piece[],
    /** Where it starts, for the line of an error. */
    readonly source: string,
    readonly pos: number,
    readonly file: string | undefined,
  ) {}

  fail(message: string): never {
    throw new ConfSyntaxError(message, lineAt(this.source, this.pos), this.file);
  }
}

type Raw = string | number | boolean | null | Raw[] | RawObject | Pending;
interface RawObject {
  [key: string]: Raw;
}

const KEY_STOP = new Set([" ", "\t", "\r", "\n", "=", ":", "{", "}", "[", "]", ",", '"', "#"]);
const INCLUDE = /^include[ \t]+(?="|(?:required|file|url|package|classpath)[ \t]*\()/i;

function lineAt(s: string, pos: number): number {
  let n = 1;
  for (let k = 0; k < pos && k < s.length; k++) if (s[k] === "\n") n++;
  return n;
}

function isRawObject(v: Raw | undefined): v is RawObject {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v) && !(v instanceof Pending);
}

function isObject(v: ConfValue | undefined): v is ConfObject {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);
}

/** A substitution's name as a message may show it: a plain name only, never arbitrary text. */
function refName(ref: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]{0,100}$/.test(ref) ? `\${${ref}}` : "a substitution";
}

function splitRef(ref: string): string[] {
  return ref.split(".").map((p) => p.trim().replace(/^"(.*)"$/, "$1"));
}

function samePrefix(path: readonly string[], of: readonly string[]): boolean {
  return path.length >= of.length && of.every((p, k) => path[k] === p);
}

/** State shared by a file and the files it includes. */
interface Shared {
  readonly root: RawObject;
  readonly options: ConfParseOptions;
  /**
   * Objects written over a value that is still a substitution (`d: ${a}` then `d.x: 1`): the
   * substitution, merged under the object once it is resolved, as HOCON merges objects.
   */
  readonly underlays: WeakMap<RawObject, Pending>;
}

class Parser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly shared: Shared,
    /** The included file's path, for errors; `undefined` for the file parsed. */
    private readonly file: string | undefined,
    /** This file's path, for relative includes. */
    private readonly path: string | undefined,
    private depth: number,
    private readonly includeDepth: number,
  ) {}

  private line(): number {
    return lineAt(this.s, this.i);
  }

  private fail(message: string): never {
    throw new ConfSyntaxError(message, this.line(), this.file);
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

  /** Parses the whole text into `target`, whose path from the root is `base` (`undefined` inside a list). */
  parseInto(target: RawObject, base: readonly string[] | undefined): void {
    this.skip(true);
    if (this.s[this.i] === "{") {
      this.i++;
      this.members(target, "}", base);
      this.skip(true);
      if (this.i < this.s.length) this.fail("unexpected text after the closing '}'");
      return;
    }
    if (this.s[this.i] === "[") this.fail(this.file === undefined ? "the file holds a list, not an object" : "an included file must hold an object, not a list");
    this.members(target, undefined, base);
  }

  /** Members up to `close`, written into `target` (objects given twice merge); `base` is its path from the root, or `undefined` inside a list. */
  private members(target: RawObject, close: "}" | undefined, base: readonly string[] | undefined): void {
    for (;;) {
      this.skip(true);
      const c = this.s[this.i];
      if (c === undefined) {
        if (close !== undefined) this.fail(`missing '${close}'`);
        return;
      }
      if (c === close) {
        this.i++;
        return;
      }
      if (c === "}" || c === "]") this.fail(c === "}" ? "unexpected '}'" : "unexpected ']'");
      if (INCLUDE.test(this.s.slice(this.i, this.i + 40))) {
        this.include(target, base);
        continue;
      }
      const path = this.keyPath();
      this.skip(false, false);
      const sep = this.s[this.i];
      let append = false;
      if (sep === "+" && this.s[this.i + 1] === "=") {
        append = true;
        this.i += 2;
        this.skip(false, false);
      } else if (sep === "=" || sep === ":") {
        this.i++;
        this.skip(false, false);
      } else if (sep !== "{") {
        this.fail("expected '=', ':', '+=' or '{' after a key");
      }
      const full = base === undefined ? undefined : [...base, ...path];
      if (!append && this.s[this.i] === "{") {
        // An object merges into what the key already holds, when that is an object.
        const parent = this.descend(target, path.slice(0, -1));
        const last = path[path.length - 1]!;
        const into = this.objectAt(parent, last);
        this.nested(() => this.members(into, "}", full));
        continue;
      }
      const start = this.i;
      const value = this.value(full);
      const parent = this.descend(target, path.slice(0, -1));
      const last = path[path.length - 1]!;
      if (!append) {
        // An optional substitution of nothing leaves the key as it was.
        if (value === undefined) continue;
        if (value instanceof Pending && isLone(value.pieces)) value.fallback = parent[last];
        parent[last] = value;
        continue;
      }
      const existing = parent[last];
      if (value === undefined) continue;
      if (existing === undefined) parent[last] = [value];
      else if (Array.isArray(existing)) parent[last] = [...existing, value];
      else {
        this.i = start;
        this.fail(existing instanceof Pending ? "'+=' after a substitution is not supported; write the whole list" : "'+=' appends to a list, and the key holds something else");
      }
    }
  }

  /** The object at `path` under `target`, made (or made an object) where needed. */
  private descend(target: RawObject, path: readonly string[]): RawObject {
    let o = target;
    for (const part of path) o = this.objectAt(o, part);
    return o;
  }

  /** The object `parent[key]`: the one there, or a new one (over a substitution, merged with it later). */
  private objectAt(parent: RawObject, key: string): RawObject {
    const v = parent[key];
    if (isRawObject(v)) return v;
    const o: RawObject = {};
    if (v instanceof Pending && isLone(v.pieces)) this.shared.underlays.set(o, v);
    parent[key] = o;
    return o;
  }

  private nested<T>(parse: () => T): T {
    if (this.depth >= MAX_CONF_DEPTH) this.fail(`objects and arrays nest deeper than ${MAX_CONF_DEPTH} levels`);
    this.i++;
    this.depth++;
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private include(target: RawObject, base: readonly string[] | undefined): void {
    const at = this.i;
    this.i += "include".length;
    this.skip(false, false);
    let required = false;
    let kind = "file";
    const word = (): string | undefined => {
      const m = /^(required|file|url|package|classpath)[ \t]*\(/.exec(this.s.slice(this.i, this.i + 20));
      if (!m) return undefined;
      this.i += m[0].length;
      this.skip(false, false);
      return m[1];
    };
    let w = word();
    let closers = 0;
    if (w === "required") {
      required = true;
      closers++;
      w = word();
    }
    if (w !== undefined) {
      kind = w;
      closers++;
    }
    if (this.s[this.i] !== '"') this.fail("expected a quoted file name after 'include'");
    const name = this.quoted();
    for (let k = 0; k < closers; k++) {
      this.skip(false, false);
      if (this.s[this.i] !== ")") this.fail("expected ')' after the included file's name");
      this.i++;
    }
    const end = this.i;
    this.i = at;
    if (kind === "file" && /^(https?|file):\/\//.test(name)) kind = "url";
    if (kind !== "file") this.fail(`include ${kind}(...) is not supported; include a file by its path`);
    if (name.includes("*") || name.includes("?")) this.fail("an include with a wildcard is not supported; include each file by its path");
    const read = this.shared.options.readFile;
    if (read === undefined) this.fail("include is not supported here");
    if (this.includeDepth >= MAX_INCLUDE_DEPTH) this.fail(`includes nest deeper than ${MAX_INCLUDE_DEPTH} levels (does a file include itself?)`);
    const path = isAbsolute(name) ? name : this.path === undefined ? name : join(dirname(this.path), name);
    let text: string | undefined;
    try {
      text = read(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      this.fail(`cannot read the included ${path}${typeof code === "string" && /^[A-Z0-9_]{1,40}$/.test(code) ? ` (${code})` : ""}`);
    }
    this.i = end;
    // pyhocon skips an include that does not exist, unless it is required.
    if (text === undefined) {
      if (required) {
        this.i = at;
        this.fail(`the required include ${path} does not exist`);
      }
      return;
    }
    new Parser(text, this.shared, path, path, this.depth, this.includeDepth + 1).parseInto(target, base);
  }

  private keyPath(): string[] {
    const parts: string[] = [];
    for (;;) {
      let part = "";
      if (this.s[this.i] === '"') part = this.quoted();
      else {
        while (
          this.i < this.s.length &&
          !KEY_STOP.has(this.s[this.i]!) &&
          !(this.s[this.i] === "/" && this.s[this.i + 1] === "/") &&
          !(this.s[this.i] === "+" && this.s[this.i + 1] === "=") &&
          this.s[this.i] !== "."
        ) {
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

  /**
   * A value; `self` is the path of the key it defines (`undefined` inside a list), so that a
   * substitution of that key (or of a key inside it) reads its earlier value. `undefined` when
   * the value is an optional substitution of nothing (the key is dropped).
   */
  private value(self: readonly string[] | undefined): Raw | undefined {
    const c = this.s[this.i];
    if (c === "{") return this.nested(() => {
      const o: RawObject = {};
      this.members(o, "}", undefined);
      return o;
    });
    if (c === "[") return this.nested(() => this.array());
    const start = this.i;
    const pieces: Piece[] = [];
    for (;;) {
      const ch = this.s[this.i];
      if (ch === '"') pieces.push({ text: this.quoted(), quoted: true });
      else if (ch === "$" && this.s[this.i + 1] === "{") pieces.push(this.substitution());
      else {
        const text = this.unquotedText();
        if (text === "") break;
        pieces.push({ text });
      }
    }
    // Trailing blanks belong to the line, not the value.
    const last = pieces[pieces.length - 1];
    if (last !== undefined && "text" in last && !last.quoted) {
      const trimmed = last.text.trimEnd();
      if (trimmed === "") pieces.pop();
      else pieces[pieces.length - 1] = { text: trimmed };
    }
    if (pieces.length === 0) this.fail("expected a value");
    if (pieces.every((p) => "text" in p)) {
      if (pieces.length === 1 && !(pieces[0] as { quoted?: boolean }).quoted) return scalar((pieces[0] as { text: string }).text.trim());
      return pieces.map((p) => (p as { text: string }).text).join("");
    }
    return this.withSelfReferences(pieces, self, start);
  }

  /** Replaces references to the key being defined by its earlier value (as pyhocon does), leaving the others for later. */
  private withSelfReferences(pieces: Piece[], self: readonly string[] | undefined, start: number): Raw | undefined {
    const pending = new Pending(pieces, this.s, start, this.file);
    const out: Piece[] = [];
    let loneValue: { value: Raw | undefined } | undefined;
    const lone = isLone(pieces);
    for (const p of pieces) {
      if ("text" in p || self === undefined || !samePrefix(splitRef(p.ref), self)) {
        out.push(p);
        continue;
      }
      const earlier = lookupRaw(this.shared.root, splitRef(p.ref));
      let value: Raw | undefined = earlier;
      if (value === undefined) value = this.shared.options.env?.[p.ref];
      if (value === undefined && !p.optional) pending.fail(`${refName(p.ref)} refers to the key it defines, which has no earlier value`);
      if (lone) {
        loneValue = { value: value === undefined ? undefined : copyRaw(value) };
        continue;
      }
      if (value === undefined) continue;
      if (value instanceof Pending) out.push(...value.pieces);
      else if (value !== null && typeof value === "object") pending.fail(`${refName(p.ref)} is an object or a list and cannot be joined with text`);
      else out.push({ text: String(value) });
    }
    if (loneValue !== undefined) return loneValue.value;
    if (out.every((p) => "text" in p)) return out.map((p) => (p as { text: string }).text).join("");
    return new Pending(out, this.s, start, this.file);
  }

  private substitution(): Piece {
    const start = this.i;
    this.i += 2;
    let optional = false;
    if (this.s[this.i] === "?") {
      optional = true;
      this.i++;
    }
    const end = this.s.indexOf("}", this.i);
    const newline = this.s.indexOf("\n", this.i);
    if (end < 0 || (newline >= 0 && newline < end)) {
      this.i = start;
      this.fail("unterminated substitution (a '${' without its '}')");
    }
    const ref = this.s.slice(this.i, end).trim();
    if (ref === "") {
      this.i = start;
      this.fail("an empty substitution");
    }
    this.i = end + 1;
    return { ref, optional };
  }

  /** Unquoted text up to the end of the line, a separator, a comment or a substitution; `//` after `:` stays (URLs). */
  private unquotedText(): string {
    let out = "";
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined || c === "\n" || c === "," || c === "}" || c === "]") return out;
      if (c === "#") return out;
      if (c === "/" && this.s[this.i + 1] === "/" && this.s[this.i - 1] !== ":") return out;
      if (c === "$" && this.s[this.i + 1] === "{") return out;
      if (c === '"' && out.trim() === "") return out;
      out += c;
      this.i++;
    }
  }

  private array(): Raw[] {
    const out: Raw[] = [];
    for (;;) {
      this.skip(true);
      const c = this.s[this.i];
      if (c === undefined) this.fail("missing ']'");
      if (c === "]") {
        this.i++;
        return out;
      }
      const v = this.value(undefined);
      if (v !== undefined) out.push(v);
    }
  }
}

function isLone(pieces: readonly Piece[]): boolean {
  return pieces.filter((p) => "ref" in p).length === 1 && pieces.every((p) => "ref" in p || (!p.quoted && p.text.trim() === ""));
}

function scalar(text: string): ConfValue {
  if (/^(true|yes|on)$/i.test(text)) return true;
  if (/^(false|no|off)$/i.test(text)) return false;
  if (text === "null") return null;
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text);
  return text;
}

function lookupRaw(root: RawObject, path: readonly string[]): Raw | undefined {
  let v: Raw | undefined = root;
  for (const part of path) {
    if (!isRawObject(v) || !Object.hasOwn(v, part)) return undefined;
    v = v[part];
  }
  return v;
}

function copyRaw(v: Raw): Raw {
  if (v instanceof Pending || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(copyRaw);
  const o: RawObject = {};
  for (const [k, x] of Object.entries(v)) o[k] = copyRaw(x);
  return o;
}

/** Resolves every substitution of the tree, in place, once the whole file is read. */
class Resolver {
  private readonly done = new Map<Pending, ConfValue | undefined>();
  private readonly active = new Set<Pending>();
  private readonly merged = new Map<RawObject, ConfObject>();
  private copied = 0;

  constructor(
    private readonly root: RawObject,
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly underlays: WeakMap<RawObject, Pending>,
  ) {}

  run(): ConfObject {
    return this.object(this.root);
  }

  private object(o: RawObject): ConfObject {
    const done = this.merged.get(o);
    if (done !== undefined) return done;
    for (const [k, v] of Object.entries(o)) {
      const r = this.value(v);
      if (r === undefined) delete o[k];
      else o[k] = r;
    }
    let out = o as ConfObject;
    const under = this.underlays.get(o);
    if (under !== undefined) {
      const base = this.pending(under);
      if (isObject(base)) out = mergeConf(base, out);
    }
    this.merged.set(o, out);
    return out;
  }

  private value(v: Raw): ConfValue | undefined {
    if (v instanceof Pending) return this.pending(v);
    if (Array.isArray(v)) {
      const out: ConfValue[] = [];
      for (const x of v) {
        const r = this.value(x);
        if (r !== undefined) out.push(r);
      }
      return out;
    }
    if (isRawObject(v)) return this.object(v);
    return v;
  }

  private pending(p: Pending): ConfValue | undefined {
    if (this.done.has(p)) return this.copy(p, this.done.get(p));
    if (this.active.has(p)) p.fail("substitutions refer to each other in a cycle");
    if (this.active.size >= MAX_CONF_DEPTH) p.fail(`substitutions refer to substitutions more than ${MAX_CONF_DEPTH} deep`);
    this.active.add(p);
    try {
      const lone = isLone(p.pieces);
      let text = "";
      let result: ConfValue | undefined;
      for (const piece of p.pieces) {
        if ("text" in piece) {
          if (!lone) text += piece.text;
          continue;
        }
        const found = this.lookup(splitRef(piece.ref), p);
        const value: ConfValue | undefined = found !== undefined ? found : this.env[piece.ref];
        if (value === undefined && !piece.optional) p.fail(`${refName(piece.ref)} is neither a key of the file nor a variable of the environment`);
        if (lone) {
          result = value === undefined && p.fallback !== undefined ? this.value(p.fallback) : value;
          continue;
        }
        if (value === undefined || value === null) continue;
        if (typeof value === "object") p.fail(`${refName(piece.ref)} is an object or a list and cannot be joined with text`);
        text += String(value);
        if (text.length > MAX_SUBSTITUTED_LENGTH) p.fail(`substitutions build a value longer than ${MAX_SUBSTITUTED_LENGTH} characters`);
      }
      if (!lone) result = text;
      this.done.set(p, result);
      return result;
    } finally {
      this.active.delete(p);
    }
  }

  /** A value a substitution reads, resolved first where it holds substitutions itself. */
  private lookup(path: readonly string[], from: Pending): ConfValue | undefined {
    let v: Raw | undefined = this.root;
    for (const part of path) {
      if (v instanceof Pending) v = this.pending(v);
      else if (isRawObject(v) && this.underlays.has(v)) v = this.object(v);
      if (!isRawObject(v) || !Object.hasOwn(v, part)) return undefined;
      v = v[part];
    }
    if (v === undefined) return undefined;
    const r = this.value(v);
    return r === undefined ? undefined : this.copyValue(r, from);
  }

  private copy(p: Pending, v: ConfValue | undefined): ConfValue | undefined {
    return v === undefined ? undefined : this.copyValue(v, p);
  }

  /** A copy of an object or list a substitution places somewhere else, within the budget of copies. */
  private copyValue(v: ConfValue, from: Pending): ConfValue {
    if (v === null || typeof v !== "object") return v;
    const walk = (x: ConfValue): ConfValue => {
      if (++this.copied > MAX_COPIED_VALUES) from.fail(`substitutions copy more than ${MAX_COPIED_VALUES} values`);
      if (x === null || typeof x !== "object") return x;
      if (Array.isArray(x)) return x.map(walk);
      const o: ConfObject = {};
      for (const [k, y] of Object.entries(x)) o[k] = walk(y);
      return o;
    };
    return walk(v);
  }
}

/**
 * Parses a `clearml.conf`. Without options (or without `env`) a `${VAR}` that is not a key of
 * the file is an error; without `readFile`, an `include` is.
 *
 * @throws {ConfSyntaxError} with the line (and the included file) of the first problem.
 */
export function parseClearmlConf(text: string, options: ConfParseOptions = {}): ConfObject {
  const root: RawObject = {};
  const underlays = new WeakMap<RawObject, Pending>();
  new Parser(text, { root, options, underlays }, undefined, options.path, 0, 0).parseInto(root, []);
  return new Resolver(root, options.env ?? {}, underlays).run();
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

/** `over` merged into `base` as pyhocon merges configuration files: objects key by key, anything else replaced. Neither is changed. */
export function mergeConf(base: ConfObject, over: ConfObject): ConfObject {
  const out: ConfObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? mergeConf(b, v) : v;
  }
  return out;
}
