/**
 * Rule-pack patterns: a regular-expression engine with RE2's semantics that runs in time linear
 * in the text (a Thompson NFA simulated one character at a time; no backtracking), so a pattern
 * such as `(a+)+$` cannot hang an audit, whatever key it meets.
 *
 * Syntax (a subset of RE2, which is also what JavaScript means by the same text):
 * literals; `.` (any character but a line break); classes `[abc]`, `[^a-z]` with ranges and the
 * escapes below; groups `( )`, `(?: )`, `(?P<name> )`, `(?<name> )`; alternation `|`;
 * repetition `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (at most 1000) and their lazy forms (`*?` ...);
 * anchors `^`, `$` (start and end of the text), `\A`, `\z`, `\b`, `\B`; escapes `\d \D \w \W \s
 * \S` (ASCII, as RE2), `\t \n \r \f \v`, `\xHH`, `\x{H...}` and any escaped punctuation; the flag
 * group `(?i)` / `(?i: )`. Matching ignores case. Not supported, as in RE2, and refused with a
 * message: backreferences (`\1`), lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`), other flags.
 * Pure.
 */

/** A pattern that cannot be compiled: the message says what and where (0-based offset). */
export class PatternSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PatternSyntaxError";
  }
}

/** A compiled pattern. */
export interface Pattern {
  /** The pattern's text. */
  readonly source: string;
  /** Whether the pattern matches anywhere in `text` (as `RegExp.prototype.test`), in linear time. */
  test(text: string): boolean;
}

/** The longest pattern accepted, in characters. */
export const MAX_PATTERN_LENGTH = 1_000;
/** The largest repetition count (`{n,m}`), as RE2. */
export const MAX_REPEAT = 1_000;
/** The largest compiled program, in instructions (repetitions expand). */
export const MAX_PROGRAM_SIZE = 20_000;

type Pred = (c: string) => boolean;
type AssertKind = "bot" | "eot" | "word" | "notword";
type Node =
  | { readonly t: "empty" }
  | { readonly t: "char"; readonly pred: Pred }
  | { readonly t: "cat"; readonly items: readonly Node[] }
  | { readonly t: "alt"; readonly items: readonly Node[] }
  | { readonly t: "rep"; readonly node: Node; readonly min: number; readonly max: number }
  | { readonly t: "assert"; readonly kind: AssertKind };

const isDigit: Pred = (c) => c >= "0" && c <= "9";
const isWord: Pred = (c) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || isDigit(c) || c === "_";
const isSpace: Pred = (c) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v";
const not =
  (p: Pred): Pred =>
  (c) =>
    !p(c);

/** Case-insensitive wrapper: a character matches when it, its lower or its upper case does. */
function folded(p: Pred): Pred {
  return (c) => p(c) || p(c.toLowerCase()) || p(c.toUpperCase());
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly s: string) {}

  private fail(message: string, at = this.i): never {
    throw new PatternSyntaxError(`${message} at offset ${at}`);
  }

  parse(): Node {
    const node = this.alt();
    if (this.i < this.s.length) this.fail(`unmatched ')'`);
    return node;
  }

  private alt(): Node {
    const items = [this.cat()];
    while (this.s[this.i] === "|") {
      this.i++;
      items.push(this.cat());
    }
    return items.length === 1 ? items[0]! : { t: "alt", items };
  }

  private cat(): Node {
    const items: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== "|" && this.s[this.i] !== ")") items.push(this.repeat());
    return items.length === 0 ? { t: "empty" } : items.length === 1 ? items[0]! : { t: "cat", items };
  }

  private repeat(): Node {
    const start = this.i;
    const atom = this.atom();
    const bounds = this.quantifier();
    if (bounds === undefined) return atom;
    // A bare `^*` or `\b+` has nothing to repeat; a group (`(?:\b)*`, `()*`) may be empty.
    if ((atom.t === "assert" || atom.t === "empty") && this.s[start] !== "(") this.fail("missing argument to repetition operator", start);
    if (this.s[this.i] === "?") this.i++; // lazy: the same answer for a yes/no match
    if (this.quantifierAhead()) this.fail("bad repetition operator (a repetition of a repetition)");
    return { t: "rep", node: atom, min: bounds.min, max: bounds.max };
  }

  private quantifierAhead(): boolean {
    const save = this.i;
    const q = this.quantifier();
    this.i = save;
    return q !== undefined;
  }

  private quantifier(): { min: number; max: number } | undefined {
    const c = this.s[this.i];
    if (c === "*") return this.i++, { min: 0, max: Infinity };
    if (c === "+") return this.i++, { min: 1, max: Infinity };
    if (c === "?") return this.i++, { min: 0, max: 1 };
    if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i, this.i + 20));
      if (m === null) return undefined; // a literal '{', as in RE2
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) this.fail(`repetition count over ${MAX_REPEAT}`);
      if (max < min) this.fail("bad repetition range (max below min)");
      this.i += m[0].length;
      return { min, max };
    }
    return undefined;
  }

  private atom(): Node {
    const c = this.s[this.i]!;
    if (c === "*" || c === "+" || c === "?") this.fail("missing argument to repetition operator");
    if (c === "(") return this.group();
    if (c === "[") return this.cls();
    this.i++;
    if (c === ".") return { t: "char", pred: (x) => x !== "\n" };
    if (c === "^") return { t: "assert", kind: "bot" };
    if (c === "$") return { t: "assert", kind: "eot" };
    if (c === "\\") return this.escapeAtom();
    return literal(c);
  }

  private group(): Node {
    const open = this.i;
    this.i++;
    if (++this.depth > 100) this.fail("groups nest deeper than 100 levels");
    if (this.s[this.i] === "?") {
      const rest = this.s.slice(this.i + 1);
      if (rest.startsWith("=") || rest.startsWith("!") || rest.startsWith("<=") || rest.startsWith("<!")) this.fail("lookaround is not supported (rule patterns use RE2 syntax)", open);
      const named = /^(P?<[A-Za-z_][A-Za-z0-9_]*>)/.exec(rest);
      const flags = /^([a-zA-Z-]*)([:)])/.exec(rest);
      if (named !== null) this.i += 1 + named[1]!.length;
      else if (flags !== null) {
        if (!/^i*$/.test(flags[1]!)) this.fail(`flags other than (?i) are not supported: (?${flags[1]}`, open);
        this.i += 1 + flags[0].length;
        if (flags[2] === ")") {
          this.depth--;
          return { t: "empty" }; // (?i): matching ignores case already
        }
      } else this.fail("invalid or unsupported group syntax '(?'", open);
    }
    const node = this.alt();
    if (this.s[this.i] !== ")") this.fail("missing ')'", open);
    this.i++;
    this.depth--;
    return node;
  }

  /** After a backslash: a class escape (`\d`), one character, or (outside classes) an assertion. */
  private escape(inClass: boolean): { pred: Pred } | { ch: string } | { assert: AssertKind } {
    const at = this.i - 1;
    const c = this.s[this.i];
    if (c === undefined) this.fail("trailing backslash", at);
    this.i++;
    const preds: Record<string, Pred> = { d: isDigit, D: not(isDigit), w: isWord, W: not(isWord), s: isSpace, S: not(isSpace) };
    const p = preds[c];
    if (p !== undefined) return { pred: p };
    const controls: Record<string, string> = { t: "\t", n: "\n", r: "\r", f: "\f", v: "\v", a: "\x07" };
    const control = controls[c];
    if (control !== undefined) return { ch: control };
    if (c === "x") {
      const m = /^(?:\{([0-9a-fA-F]{1,6})\}|([0-9a-fA-F]{2}))/.exec(this.s.slice(this.i, this.i + 8));
      if (m === null) this.fail("invalid \\x escape", at);
      this.i += m[0].length;
      const code = parseInt(m[1] ?? m[2]!, 16);
      if (code > 0x10ffff) this.fail("invalid \\x escape", at);
      return { ch: String.fromCodePoint(code) };
    }
    if (!inClass) {
      const asserts: Record<string, AssertKind> = { b: "word", B: "notword", A: "bot", z: "eot" };
      const a = asserts[c];
      if (a !== undefined) return { assert: a };
    }
    if (/[0-9]/.test(c)) this.fail("backreferences are not supported (rule patterns use RE2 syntax)", at);
    if (/[A-Za-z]/.test(c)) this.fail(`invalid escape \\${c}`, at);
    return { ch: c };
  }

  private escapeAtom(): Node {
    const e = this.escape(false);
    if ("pred" in e) return { t: "char", pred: e.pred };
    if ("assert" in e) return { t: "assert", kind: e.assert };
    return literal(e.ch);
  }

  private cls(): Node {
    const open = this.i;
    this.i++;
    let negate = false;
    if (this.s[this.i] === "^") {
      negate = true;
      this.i++;
    }
    const parts: Pred[] = [];
    let first = true;
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) this.fail("missing ']'", open);
      if (c === "]" && !first) {
        this.i++;
        break;
      }
      first = false;
      if (c === "[" && this.s[this.i + 1] === ":") this.fail("POSIX classes ([:alpha:]) are not supported: use \\w, \\d, \\s or a range");
      const lo = this.classChar();
      if (typeof lo !== "string") {
        parts.push(lo);
        continue;
      }
      if (this.s[this.i] === "-" && this.s[this.i + 1] !== "]" && this.s[this.i + 1] !== undefined) {
        this.i++;
        const hi = this.classChar();
        if (typeof hi !== "string") this.fail("bad character class range");
        if (hi.codePointAt(0)! < lo.codePointAt(0)!) this.fail(`bad character class range ${lo}-${hi}`);
        const from = lo.codePointAt(0)!;
        const to = hi.codePointAt(0)!;
        parts.push((x) => {
          const code = x.codePointAt(0)!;
          return x.length === String.fromCodePoint(code).length && code >= from && code <= to;
        });
      } else parts.push((x) => x === lo);
    }
    const any = folded((x) => parts.some((p) => p(x)));
    return { t: "char", pred: negate ? (x) => !any(x) : any };
  }

  /** One member of a class: a character, or a predicate for `\d` and the like. */
  private classChar(): string | Pred {
    const c = String.fromCodePoint(this.s.codePointAt(this.i)!);
    this.i += c.length;
    if (c !== "\\") return c;
    const e = this.escape(true);
    return "pred" in e ? e.pred : (e as { ch: string }).ch;
  }
}

function literal(ch: string): Node {
  const lower = ch.toLowerCase();
  return { t: "char", pred: (x) => x === ch || x.toLowerCase() === lower };
}

type Inst =
  | { op: "char"; pred: Pred; next: number }
  | { op: "split"; x: number; y: number }
  | { op: "jmp"; x: number }
  | { op: "assert"; kind: AssertKind; next: number }
  | { op: "match" };

/** Compiles the tree into a program; `-1` placeholders are patched as the code grows. */
class Compiler {
  readonly prog: Inst[] = [];

  private emit(inst: Inst): number {
    if (this.prog.length >= MAX_PROGRAM_SIZE) throw new PatternSyntaxError(`pattern too large once its repetitions are expanded (over ${MAX_PROGRAM_SIZE} steps)`);
    this.prog.push(inst);
    return this.prog.length - 1;
  }

  /** Emits `node` so that it continues at whatever `patch` later sets; returns its holes. */
  compile(node: Node): number[] {
    switch (node.t) {
      case "empty":
        return [this.emit({ op: "jmp", x: -1 })];
      case "char":
        return [this.emit({ op: "char", pred: node.pred, next: -1 })];
      case "assert":
        return [this.emit({ op: "assert", kind: node.kind, next: -1 })];
      case "cat": {
        let holes = this.compile(node.items[0]!);
        for (const item of node.items.slice(1)) {
          const start = this.prog.length;
          const next = this.compile(item);
          this.patch(holes, start);
          holes = next;
        }
        return holes;
      }
      case "alt": {
        let holes: number[] = [];
        let pendingSplit: number | undefined;
        node.items.forEach((item, k) => {
          const last = k === node.items.length - 1;
          const split = last ? undefined : this.emit({ op: "split", x: -1, y: -1 });
          const start = this.prog.length;
          if (pendingSplit !== undefined) (this.prog[pendingSplit] as { y: number }).y = split ?? start;
          if (split !== undefined) (this.prog[split] as { x: number }).x = start;
          holes = holes.concat(this.compile(item));
          pendingSplit = split;
        });
        return holes;
      }
      case "rep": {
        let holes: number[] = [];
        const startAt = (): number => this.prog.length;
        for (let k = 0; k < node.min; k++) {
          const start = startAt();
          const next = this.compile(node.node);
          this.patch(holes, start);
          holes = next;
        }
        if (node.max === Infinity) {
          const split = this.emit({ op: "split", x: -1, y: -1 });
          this.patch(holes, split);
          (this.prog[split] as { x: number }).x = startAt();
          const body = this.compile(node.node);
          this.patch(body, split);
          return [-(split + 2)]; // the split's `y` is the hole
        }
        const exits: number[] = [];
        for (let k = node.min; k < node.max; k++) {
          const split = this.emit({ op: "split", x: -1, y: -1 });
          this.patch(holes, split);
          (this.prog[split] as { x: number }).x = startAt();
          exits.push(-(split + 2));
          holes = this.compile(node.node);
        }
        return holes.concat(exits);
      }
    }
  }

  /** Points every hole at `target`: a hole `h >= 0` is an instruction's `next`/`x`; `-(s+2)` a split's `y`. */
  patch(holes: readonly number[], target: number): void {
    for (const h of holes) {
      if (h < 0) {
        (this.prog[-h - 2] as { y: number }).y = target;
        continue;
      }
      const inst = this.prog[h]!;
      if (inst.op === "jmp") inst.x = target;
      else if (inst.op === "char" || inst.op === "assert") inst.next = target;
    }
  }
}

/**
 * Compiles a rule-pack pattern (see the module's description for the syntax). Matching ignores
 * case, as rule patterns always have.
 *
 * @throws {PatternSyntaxError} for a pattern outside the syntax, longer than
 *   {@link MAX_PATTERN_LENGTH}, or larger than {@link MAX_PROGRAM_SIZE} once expanded.
 */
export function compilePattern(source: string): Pattern {
  if (source.length > MAX_PATTERN_LENGTH) throw new PatternSyntaxError(`pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  const tree = new Parser(source).parse();
  const compiler = new Compiler();
  const holes = compiler.compile(tree);
  const match = compiler.prog.length;
  compiler.prog.push({ op: "match" });
  compiler.patch(holes, match);
  const prog = compiler.prog;
  return { source, test: (text) => run(prog, text) };
}

/** Thompson simulation: every thread advances one character at a time; each state once a step. */
function run(prog: readonly Inst[], text: string): boolean {
  const chars = Array.from(text);
  const seen = new Int32Array(prog.length).fill(-1);
  let current: number[] = [];
  let next: number[] = [];
  const stack: number[] = [];
  let generation = 0;
  const add = (list: number[], pc0: number, pos: number): boolean => {
    stack.push(pc0);
    while (stack.length > 0) {
      const pc = stack.pop()!;
      if (seen[pc] === generation) continue;
      seen[pc] = generation;
      const inst = prog[pc]!;
      switch (inst.op) {
        case "match":
          stack.length = 0;
          return true;
        case "jmp":
          stack.push(inst.x);
          break;
        case "split":
          stack.push(inst.y, inst.x);
          break;
        case "assert": {
          const before = pos > 0 ? chars[pos - 1]! : "";
          const after = pos < chars.length ? chars[pos]! : "";
          const boundary = (before !== "" && isWord(before)) !== (after !== "" && isWord(after));
          const ok = inst.kind === "bot" ? pos === 0 : inst.kind === "eot" ? pos === chars.length : inst.kind === "word" ? boundary : !boundary;
          if (ok) stack.push(inst.next);
          break;
        }
        case "char":
          list.push(pc);
          break;
      }
    }
    return false;
  };
  for (let pos = 0; ; pos++) {
    // Unanchored search: a new thread starts at every position.
    if (add(current, 0, pos)) return true;
    if (pos === chars.length) return false;
    const c = chars[pos]!;
    generation++;
    next = [];
    for (const pc of current) {
      const inst = prog[pc] as { op: "char"; pred: Pred; next: number };
      if (inst.pred(c) && add(next, inst.next, pos + 1)) return true;
    }
    current = next;
  }
}
