import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Spans } from "../../../src/stores/local/lean-line.js";
import { LeanLineReader } from "../../../src/stores/local/lean-line.js";
import { checkedRecordId, experimentFromRecord, plainObject, statusOf } from "../../../src/stores/local/record.js";
import { MAX_LINE_DEPTH, parseObjectLine } from "../../../src/util/jsonl.js";

// The reader takes a line from its bytes or declines it. Its oracle is the general way:
// parseObjectLine, then the record helpers. Whatever it takes, it must read as they do.

const NAMES = ["pde_mean", "train_time_min", "__proto__", "caf\u00e9"];

interface Read {
  id: string;
  deleted: boolean;
  archived: boolean;
  status: string;
  created: string | null;
  values: number[];
}

/** What the general way reads of `line`, or why it reads no record from it. */
function general(line: string, names: readonly string[]): Read | { reason: string } {
  const parsed = parseObjectLine(line);
  if ("reason" in parsed) return parsed;
  const o = parsed.value;
  const checked = checkedRecordId(o);
  if ("reason" in checked) return checked;
  const metrics = plainObject(o["metrics"]);
  return {
    id: checked.id,
    deleted: o["deleted"] === true,
    archived: o["archived"] === true,
    status: statusOf(o),
    created: experimentFromRecord(o, checked.id).created,
    values: names.map((n) => {
      const v = metrics !== null && Object.hasOwn(metrics, n) ? metrics[n] : undefined;
      return typeof v === "number" && Number.isFinite(v) ? v : Number.NaN;
    }),
  };
}

/** The text of `line`'s UTF-8 bytes, as a reader of the file decodes them. */
function decoded(line: string): string {
  return Buffer.from(line, "utf8").toString("utf8");
}

/** What the reader reads of `line` (`null`: declined), with the line placed inside other bytes. */
function fast(line: string, names: readonly string[]): Read | null {
  const bytes = Buffer.from(`\n"x":1\n${line}\n{"experiment_id":"tail"}`, "utf8");
  const start = Buffer.byteLength('\n"x":1\n');
  const end = start + Buffer.byteLength(line);
  const r = new LeanLineReader(names);
  if (!r.read(bytes, start, end)) return null;
  return {
    id: bytes.toString("utf8", r.idStart, r.idEnd),
    deleted: r.deleted,
    archived: r.archived,
    status: r.hasStatus ? bytes.toString("latin1", r.statusStart, r.statusEnd) : "unknown",
    created: r.hasCreated ? bytes.toString("latin1", r.createdStart, r.createdEnd) : null,
    values: [...r.values],
  };
}

/** The reader takes `line` only as the general way reads it. */
function agrees(line: string, names: readonly string[] = NAMES): Read | null {
  const got = fast(line, names);
  if (got !== null) {
    // The general way reads the line's bytes decoded (a lone surrogate in `line` is U+FFFD in them).
    const want = general(decoded(line), names);
    expect(want, line).not.toHaveProperty("reason");
    expect(got, line).toEqual(want);
    // toEqual takes -0 for 0.
    got.values.forEach((v, i) => expect(Object.is(v, (want as Read).values[i]), `${line}: value ${i}`).toBe(true));
  }
  return got;
}

/** What a holding listing keeps of the rest of a record: `null` when a key of the parameters or metrics repeats (left to the key shapes, which decline it). */
interface Held {
  name: string | null;
  project: string | null;
  tags: string[];
  params: [string, string][] | null;
  metrics: [string, number][] | null;
}

function generalHeld(line: string): Held | null {
  const parsed = parseObjectLine(line);
  if ("reason" in parsed) return null;
  const id = checkedRecordId(parsed.value);
  if ("reason" in id) return null;
  const e = experimentFromRecord(parsed.value, id.id);
  return { name: e.name, project: e.project, tags: [...e.tags], params: Object.entries(e.params), metrics: Object.entries(e.metrics) as [string, number][] };
}

/** The reader's held fields of `line` (`null`: declined), holding, with `names` read into `values` too. */
function fastHeld(line: string, names: readonly string[], fields: "held" | "filtered" = "held"): (Held & { values: number[] }) | null {
  const bytes = Buffer.from(`{}\n${line}\n`, "utf8");
  const start = 3;
  const end = start + Buffer.byteLength(line);
  const r = new LeanLineReader(names, fields);
  if (!r.read(bytes, start, end)) return null;
  const text = (spans: Spans, j: number): string => bytes.toString("utf8", spans.starts[j], spans.ends[j]);
  const all = (spans: Spans): string[] => Array.from({ length: spans.length }, (_, j) => text(spans, j));
  const distinct = (keys: string[]): boolean => new Set(keys).size === keys.length;
  const pk = all(r.paramKeys);
  const mk = all(r.metricKeys);
  return {
    name: r.hasName ? bytes.toString("utf8", r.nameStart, r.nameEnd) : null,
    project: r.hasProject ? bytes.toString("utf8", r.projectStart, r.projectEnd) : null,
    tags: all(r.tags),
    params: distinct(pk) ? pk.map((k, j) => [k, text(r.paramValues, j)]) : null,
    metrics: distinct(mk) ? mk.map((k, j) => [k, r.metricValues[j]!]) : null,
    values: [...r.values],
  };
}

/** Holding, the reader takes `line` only as the general way reads it. */
function agreesHeld(line: string): Held | null {
  const got = fastHeld(line, NAMES);
  if (got !== null) {
    const want = generalHeld(decoded(line));
    expect(want, line).not.toBeNull();
    expect(got.name, line).toBe(want!.name);
    expect(got.project, line).toBe(want!.project);
    expect(got.tags, line).toEqual(want!.tags);
    if (got.params !== null) expect(got.params, line).toEqual(want!.params);
    if (got.metrics !== null) {
      expect(got.metrics.map(([k]) => k), line).toEqual(want!.metrics!.map(([k]) => k));
      got.metrics.forEach(([, v], j) => expect(Object.is(v, want!.metrics![j]![1]), `${line}: metric ${j}`).toBe(true));
    }
    const lean = general(decoded(line), NAMES) as Read;
    got.values.forEach((v, i) => expect(Object.is(v, lean.values[i]), `${line}: value ${i}`).toBe(true));
  }
  return got;
}

// Values, as JSON text, of every kind a record's field may hold.
const numberText = fc.oneof(
  fc.double().filter(Number.isFinite).map((v) => JSON.stringify(v)),
  fc.integer().map(String),
  fc.constantFrom("-0", "0", "0.0", "-0.0e5", "1e400", "-1e400", "1E+2", "1e-2", "12.149", "0.0005151", "123456789012345678901", "9007199254740993", "4.35e-320", "1.7976931348623157e308", "0.1e-22", "5e22", "5e23", "01", "1.", ".5", "-", "1e", "+1", "0x10", "NaN", "Infinity", "-Infinity"),
);
const stringText = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: "binary", maxLength: 8 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"completed"', '"running"', '""', '"2025-01-01T08:02:09.689Z"', '"2025-02-30T00:00:00.000Z"', '"2025-01-01"', '"exp-1"', '"a\\u0062c"', '"tab\there"', '"\\x"', '"\u00e9"', '"caf\\u00e9"', '"\\ud800"', '"unterminated'),
);
const literalText = fc.constantFrom("true", "false", "null", "tru", "nul", "True");
const idText = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/).map((s) => JSON.stringify(s)),
  fc.constantFrom('"exp-1"', '"a..b"', '".hidden"', '"a/b"', '" "', '""', `"${"x".repeat(128)}"`, `"${"x".repeat(129)}"`, "12", '"exp\\u002d1"', '"\u00e9t\u00e9"'),
);
const nested: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    numberText,
    stringText,
    literalText,
    fc.array(tie("v"), { maxLength: 3 }).map((a) => `[${a.join(",")}]`),
    fc.array(fc.tuple(stringText, tie("v")), { maxLength: 3 }).map((m) => `{${m.map(([k, v]) => `${k}:${v}`).join(",")}}`),
  ),
})).v;
const white = fc.constantFrom("", "", "", " ", "\t", "\r", " \r\n ");
const metricsText = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...NAMES.map((n) => JSON.stringify(n)), '"seg1"', '"pde\\u005fmean"', '"pde_mea"'), stringText), fc.oneof(numberText, numberText, nested), white), { maxLength: 6 })
  .map((m) => `{${m.map(([k, v, w]) => `${w}${k}${w}:${w}${v}`).join(",")}}`);
const topKey = fc.constantFrom('"experiment_id"', '"status"', '"timestamp"', '"created_at"', '"deleted"', '"archived"', '"metrics"', '"name"', '"project"', '"tags"', '"params"', '"experiment\\u005fid"', '"statu"');
const paramsText = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom('"Args/--lr"', '"seed"', '"__proto__"', '"2"', '"10"', '"01"', '"\u00e9"', '"a\\u0062"'), stringText), fc.oneof(stringText, stringText, nested)), { maxLength: 4 })
  .map((m) => `{${m.map(([k, v]) => `${k}:${v}`).join(",")}}`);
const tagsText = fc.array(fc.oneof(stringText, stringText, nested), { maxLength: 4 }).map((a) => `[${a.join(",")}]`);
const member = fc.oneof(
  fc.tuple(fc.constant('"experiment_id"'), idText),
  fc.tuple(fc.constantFrom('"status"', '"timestamp"', '"created_at"'), fc.oneof(stringText, numberText, literalText, nested)),
  fc.tuple(fc.constantFrom('"deleted"', '"archived"'), fc.oneof(literalText, numberText, stringText)),
  fc.tuple(fc.constant('"metrics"'), fc.oneof(metricsText, metricsText, nested)),
  fc.tuple(fc.constantFrom('"name"', '"project"'), fc.oneof(stringText, stringText, numberText, literalText, nested)),
  fc.tuple(fc.constant('"tags"'), fc.oneof(tagsText, tagsText, stringText, nested)),
  fc.tuple(fc.constant('"params"'), fc.oneof(paramsText, paramsText, nested)),
  fc.tuple(fc.oneof(topKey, stringText), nested),
);
/** A line: members (keys may repeat), white space around them, with the id first most often. */
const line = fc
  .tuple(fc.option(idText, { freq: 4 }), fc.array(fc.tuple(member, white), { maxLength: 8 }), white)
  .map(([id, members, w]) => {
    const all = [...(id === null ? [] : [[['"experiment_id"', id], ""] as const]), ...members].map(([[k, v], w2]) => `${w2}${k}${w2}:${v}${w2}`);
    return `{${w}${all.join(",")}}${w}`;
  });
/** A line with a few characters of JSON's alphabet inserted, removed or replaced. */
const mutated = fc.tuple(line, fc.array(fc.tuple(fc.nat(), fc.nat(2), fc.constantFrom(..."{}[]\":,\\ -0123456789.eEtrufalsn\u00e9\t\u0000\u001f\u007f".split(""))), { minLength: 1, maxLength: 3 })).map(([l, edits]) => {
  let s = l;
  for (const [at, kind, ch] of edits) {
    const i = at % (s.length + 1);
    s = kind === 0 ? s.slice(0, i) + ch + s.slice(i) : kind === 1 ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + ch + s.slice(i + 1);
  }
  return s;
});

describe("LeanLineReader", () => {
  it("takes a line only as the general way reads it: same id, flags, status, creation time and metric values (property)", () => {
    fc.assert(
      fc.property(line, (l) => {
        agrees(l);
      }),
      { numRuns: 3000 },
    );
  });

  it("holding, takes a line only as the general way reads its name, project, tags, parameters and metrics (property)", () => {
    fc.assert(
      fc.property(fc.oneof(line, mutated), (l) => {
        if (agreesHeld(l) !== null) agrees(l);
      }),
      { numRuns: 4000 },
    );
  });

  it("for a filter, takes a line only as the general way reads its project and tags, and more lines than holding does (property)", () => {
    let more = 0;
    fc.assert(
      fc.property(fc.oneof(line, mutated), (l) => {
        const got = fastHeld(l, NAMES, "filtered");
        if (got === null) {
          expect(fastHeld(l, NAMES, "held"), l).toBeNull();
          return;
        }
        if (fastHeld(l, NAMES, "held") === null) more++;
        const want = generalHeld(decoded(l));
        expect(want, l).not.toBeNull();
        expect([got.project, got.tags], l).toEqual([want!.project, want!.tags]);
        expect(agrees(l), l).not.toBeNull();
      }),
      { numRuns: 3000 },
    );
    expect(more).toBeGreaterThan(10);
  });

  it("holding, takes the common line and declines what it would keep another way", () => {
    const base = '"experiment_id":"e1","name":"n","project":"p","tags":["a",1,"b"],"params":{"lr":"0.1"},"metrics":{"pde_mean":2,"x":1e400}';
    expect(agreesHeld(`{${base}}`)).toEqual({ name: "n", project: "p", tags: ["a", "b"], params: [["lr", "0.1"]], metrics: [["pde_mean", 2], ["x", Infinity]], values: [2, Number.NaN, Number.NaN, Number.NaN] });
    expect(agreesHeld(`{${base},"name":null,"tags":{},"params":[],"metrics":null}`)).toMatchObject({ name: null, tags: [], params: [], metrics: [] });
    // A name or project that is a number, tags as one text, a parameter that is not text, a
    // metric that is not a number, a key that is an array index (JSON.parse puts those first).
    for (const other of ['"name":3', '"project":-1', '"tags":"a,b"', '"params":{"lr":0.1}', '"metrics":{"m":"1"}', '"metrics":{"10":1}', '"params":{"2":"x"}', '"name":"\\u00e9"']) {
      expect(agreesHeld(`{${base},${other}}`), other).toBeNull();
    }
    // Any key of digits only (01 is no index, but is declined all the same).
    expect(agreesHeld(`{${base},"params":{"b":"1","01":"2"}}`)).toBeNull();
  });

  it("declines every line the general way finds damaged, however it is broken (property)", () => {
    fc.assert(
      fc.property(mutated, (l) => {
        agrees(l);
      }),
      { numRuns: 3000 },
    );
  });

  it("takes the lines expflow writes: ids, statuses and times in ASCII, metrics as numbers", () => {
    const record = fc.record({
      experiment_id: fc.stringMatching(/^exp-[0-9a-f]{8}$/),
      name: fc.string(),
      status: fc.constantFrom("completed", "failed", "running"),
      tags: fc.array(fc.string(), { maxLength: 3 }),
      timestamp: fc.date({ min: new Date("1970-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString()),
      metrics: fc.dictionary(fc.constantFrom("pde_mean", "train_time_min", "seg1", "epochs"), fc.double({ noNaN: true, noDefaultInfinity: true })),
      params: fc.dictionary(fc.string(), fc.string()),
      archived: fc.boolean(),
    });
    fc.assert(
      fc.property(record, (r) => {
        const got = agrees(JSON.stringify(r));
        expect(got).not.toBeNull();
        expect(got!.id).toBe(r.experiment_id);
      }),
      { numRuns: 500 },
    );
  });

  it("reads each case as JSON.parse and the record helpers do", () => {
    const cases: [string, Partial<Read> | null][] = [
      ['{"experiment_id":"e1","metrics":{"pde_mean":12.149,"train_time_min":37.86}}', { status: "unknown", created: null, values: [12.149, 37.86, Number.NaN, Number.NaN] }],
      // A later key replaces an earlier one, a later `metrics` the whole earlier object.
      ['{"experiment_id":"e1","metrics":{"pde_mean":1,"pde_mean":2},"status":"a","status":"b"}', { status: "b", values: [2, Number.NaN, Number.NaN, Number.NaN] }],
      ['{"experiment_id":"e1","metrics":{"pde_mean":1,"train_time_min":5},"metrics":{"train_time_min":3}}', { values: [Number.NaN, 3, Number.NaN, Number.NaN] }],
      ['{"experiment_id":"e1","metrics":{"pde_mean":1},"metrics":[1]}', { values: [Number.NaN, Number.NaN, Number.NaN, Number.NaN] }],
      ['{"experiment_id":"e1","metrics":{"pde_mean":1,"pde_mean":"1","train_time_min":{"v":1}}}', { values: [Number.NaN, Number.NaN, Number.NaN, Number.NaN] }],
      // Values that are not finite numbers are missing; -0 stays -0.
      ['{"experiment_id":"e1","metrics":{"pde_mean":"3","train_time_min":1e400,"__proto__":-0,"seg1":null}}', { values: [Number.NaN, Number.NaN, -0, Number.NaN] }],
      // A metric key outside ASCII, when a name asked for is too: declined (the general way decodes).
      ['{"experiment_id":"e1","metrics":{"caf\u00e9":1}}', null],
      // timestamp ?? created_at: null goes on, "" and false do not.
      ['{"experiment_id":"e1","timestamp":null,"created_at":"2025-01-01T00:00:00.000Z"}', { created: "2025-01-01T00:00:00.000Z" }],
      ['{"experiment_id":"e1","timestamp":"","created_at":"2025-01-01T00:00:00.000Z"}', { created: null }],
      ['{"experiment_id":"e1","timestamp":false,"created_at":"2025-01-01T00:00:00.000Z"}', { created: null }],
      ['{"experiment_id":"e1","deleted":true,"archived":"true"}', { deleted: true, archived: false }],
      ['{"experiment_id":"e1","status":""} \r', { status: "" }],
      // Declined: the general way decides (numbers as text, escapes, repairs, a BOM, white space first).
      ['{"experiment_id":"e1","status":3}', null],
      ['{"experiment_id":"e1","timestamp":1735689600}', null],
      ['{"experiment_id":"e1","status":"d\\u006fne"}', null],
      ['{"experiment_id":"e1","metrics":{"pde\\u005fmean":1}}', null],
      // Python's bare NaN and Infinity read as null, as the general way's repair reads them.
      ['{"experiment_id":"e1","metrics":{"pde_mean":NaN,"train_time_min":-Infinity,"seg1":[Infinity]},"timestamp":NaN,"created_at":"2025-01-01T00:00:00.000Z","status":Infinity}', { status: "unknown", created: "2025-01-01T00:00:00.000Z", values: [Number.NaN, Number.NaN, Number.NaN, Number.NaN] }],
      ['{"experiment_id":"e1","metrics":{"pde_mean":-NaN}}', null],
      ['{"experiment_id":"e1","metrics":{"pde_mean":NaNa}}', null],
      ['\ufeff{"experiment_id":"e1"}', null],
      [' {"experiment_id":"e1"}', null],
      ['{"experiment_id":"a..b"}', null],
      ['{"experiment_id":"e1"}x', null],
      ['{"experiment_id":"e1",}', null],
      // A control character in a string is not JSON (U+007F is).
      ['{"experiment_id":"e1","name":"a\u001fb"}', null],
      ['{"experiment_id":"e1","name":"a\u007fb"}', {}],
    ];
    for (const [l, want] of cases) {
      const got = agrees(l);
      if (want === null) expect(got, l).toBeNull();
      else {
        expect(got, l).not.toBeNull();
        const picked = Object.fromEntries(Object.keys(want).map((k) => [k, got![k as keyof Read]]));
        expect(picked, l).toEqual(want);
        if (want.values !== undefined) want.values.forEach((v, i) => expect(Object.is(got!.values[i], v), `${l}: value ${i}`).toBe(true));
      }
    }
  });

  it("takes a metric key outside ASCII when every name asked for is ASCII (it cannot be one of them)", () => {
    expect(agrees('{"experiment_id":"e1","metrics":{"caf\u00e9":1,"pde_mean":2}}', ["pde_mean"])?.values).toEqual([2]);
  });

  it(`declines a line nested deeper than ${MAX_LINE_DEPTH} levels, in the record or in its metrics, and takes one at the limit`, () => {
    const deep = (levels: number): string => `${"[".repeat(levels)}${"]".repeat(levels)}`;
    // The record is one level, its metrics a second.
    expect(agrees(`{"experiment_id":"e1","x":${deep(MAX_LINE_DEPTH - 1)}}`)).not.toBeNull();
    expect(agrees(`{"experiment_id":"e1","x":${deep(MAX_LINE_DEPTH)}}`)).toBeNull();
    expect(agrees(`{"experiment_id":"e1","metrics":{"seg1":${deep(MAX_LINE_DEPTH - 2)}}}`)).not.toBeNull();
    expect(agrees(`{"experiment_id":"e1","metrics":{"seg1":${deep(MAX_LINE_DEPTH - 1)}}}`)).toBeNull();
    expect(agrees(`{"experiment_id":"e1","metrics":{"pde_mean":${deep(MAX_LINE_DEPTH - 1)}}}`)).toBeNull();
  });
});
