import { renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Ranking, RankedStore, RankRequest } from "../../src/app/rank.js";
import { writeRankingJson } from "../../src/app/ranking-json.js";
import type { Experiment } from "../../src/core/experiment.js";
import { LEAN_RANKING_MAX_ROWS, rankExperiments } from "../../src/app/rank.js";
import { ExpflowError } from "../../src/core/errors.js";
import { MetricRegistry } from "../../src/core/metrics/registry.js";
import { LocalStore } from "../../src/stores/local/local-store.js";
import { tempDir } from "../helpers/cli.js";

// A ranking that shows few rows lists lean experiments (LocalStore.rankingListing) and reads the
// rows shown whole again. Its oracle is the same ranking from the whole listing (`list`).

/** A registry with an alias, so a ranking that names it reads the metric under either name. */
const REGISTRY = MetricRegistry.create({ pde_mean: { aliases: ["pde"] }, custom_x: { direction: "lower" } });

/** The store without its lean listing: rankExperiments then ranks what `list` gives. */
function wholeOnly(store: LocalStore): RankedStore {
  return { location: store.location, list: (f) => store.list(f) };
}

type Outcome = { ok: unknown; warnings: string[] } | { error: { code: string; message: string }; warnings: string[] };

/** An experiment's fields as plain data: a lean (held) experiment reads them from its listing's columns. */
function plain(e: Experiment): Experiment {
  return { id: e.id, name: e.name, status: e.status, project: e.project, tags: [...e.tags], created: e.created, metrics: { ...e.metrics }, params: { ...e.params }, archived: e.archived === true };
}

/** A ranking as plain data, and its JSON as `compare-scores --json` prints it. */
async function plainRanking(ranking: Ranking): Promise<unknown> {
  // The JSON first: it writes the rows one at a time, before `results` made them all.
  let json = "";
  await writeRankingJson(ranking.result, (t) => (json += t.toString("utf8")));
  const results = ranking.result.results.map((r) => ({ ...r, experiment: plain(r.experiment) }));
  return { ...ranking, result: { ...ranking.result, results }, json };
}

async function outcome(rank: (warn: (m: string) => void) => Promise<Ranking>): Promise<Outcome> {
  const warnings: string[] = [];
  try {
    return { ok: await plainRanking(await rank((m) => warnings.push(m))), warnings };
  } catch (e) {
    if (!(e instanceof ExpflowError)) throw e;
    return { error: { code: e.code, message: e.message }, warnings };
  }
}

const value = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 5 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, "7", 2.5, { nested: 1 }, [1]) },
);
const metrics = fc.dictionary(fc.constantFrom("pde_mean", "pde", "train_time_min", "seg_total", "custom_x", "val_mse", "__proto__", "2", "10"), value, { maxKeys: 5 });
const record = fc.record(
  {
    experiment_id: fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"),
    name: fc.constantFrom("n1", "n\u00e9", null, "\ud800", "", 7, "\ud83d\ude00"),
    status: fc.constantFrom("completed", "completed", "failed", "running", "odd"),
    project: fc.constantFrom("P", "P/sub", "Q", null, "\u00e9"),
    tags: fc.constantFrom(["x"], ["x", "y"], [], "x,y"),
    timestamp: fc.constantFrom("2026-01-01T00:00:00Z", "2026-01-02T00:00:00.000Z", "2026-01-30T00:00:00.000Z", 1767225600, "not a date", ""),
    metrics,
    params: fc.constantFrom({ "Args/lr": "0.1" }, { n: 3 }, { "Args/lr": "0.2" }, JSON.parse('{"__proto__":"x","b":null,"c":{"d":1}}') as object, [], "x"),
    archived: fc.boolean(),
    deleted: fc.constantFrom(false, false, false, true),
    command: fc.constantFrom("python train.py", ["python", "t.py"]),
  },
  { requiredKeys: ["experiment_id"] },
);
/** A registry's lines: records, the same experiment again, damaged and blank lines, CRLF and a BOM. */
const registryText = fc
  .tuple(
    fc.array(
      fc.oneof(
        { weight: 10, arbitrary: record.map((r) => JSON.stringify(r)) },
        { weight: 1, arbitrary: fc.constantFrom("not json", "{\"no_id\": 1}", "", "   ", "{\"experiment_id\": \"../x\"}", '{"experiment_id":"a","metrics":{"pde_mean":NaN}}') },
      ),
      { maxLength: 30 },
    ),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([lines, crlf, bom]) => (bom ? "\uFEFF" : "") + lines.join(crlf ? "\r\n" : "\n"));

const request = fc.record({
  sortBy: fc.constantFrom("pde_mean", "pde", "seg_total", "custom_x", "unregistered"),
  gates: fc.array(fc.constantFrom("pde_mean:lt:4", "pde:le:3", "train_time_min:lt:3", "seg_total:gt:1", "custom_x:lt:2"), { maxLength: 2 }),
  thenBy: fc.array(fc.constantFrom("train_time_min", "seg_total"), { maxLength: 1 }),
  useThresholds: fc.boolean(),
  onlyPassing: fc.boolean(),
  max: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(undefined), fc.constant(LEAN_RANKING_MAX_ROWS + 1)),
  statuses: fc.constantFrom([], ["completed", "failed"], ["odd"], ["bogus"]),
  filter: fc.constantFrom({}, { includeArchived: true }, { project: "P" }, { project: "P", includeSubprojects: true }, { tags: ["y"] }, { tags: ["x"], anyTag: true }),
});

describe("rankExperiments with a lean listing", () => {
  it("gives what ranking the whole listing gives, warnings and errors included (property)", async () => {
    await fc.assert(
      fc.asyncProperty(registryText, request, async (text, r) => {
        const path = join(tempDir(), "experiments.jsonl");
        writeFileSync(path, text);
        const req: RankRequest = { ...r, thenBy: r.thenBy };
        const lean = await outcome((warn) => rankExperiments(new LocalStore({ path, onWarning: warn }), req, REGISTRY));
        const whole = await outcome((warn) => rankExperiments(wholeOnly(new LocalStore({ path, onWarning: warn })), req, REGISTRY));
        expect(lean).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it("with pareto objectives, the same", async () => {
    await fc.assert(
      fc.asyncProperty(registryText, fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(undefined)), async (text, max) => {
        const path = join(tempDir(), "experiments.jsonl");
        writeFileSync(path, text);
        const req: RankRequest = { filter: {}, statuses: [], pareto: "pde:min,seg_total:max", gates: ["train_time_min:lt:4"], max };
        const lean = await outcome(() => rankExperiments(new LocalStore({ path }), req, REGISTRY));
        const whole = await outcome(() => rankExperiments(wholeOnly(new LocalStore({ path })), req, REGISTRY));
        expect(lean).toEqual(whole);
      }),
      { numRuns: 100 },
    );
  });

  it("reads the rows shown at their exact bytes after lines with invalid UTF-8 and multi-byte names", async () => {
    const path = join(tempDir(), "experiments.jsonl");
    const line = (id: string, name: string, pde: number): Buffer =>
      Buffer.from(`${JSON.stringify({ experiment_id: id, name, status: "completed", metrics: { pde_mean: pde } })}\n`);
    // A name holding the bytes FF FE (invalid UTF-8, read as U+FFFD): a reader counting decoded
    // characters instead of bytes would read the later lines at the wrong place.
    const bad = Buffer.concat([Buffer.from('{"experiment_id":"x","name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","status":"completed","metrics":{"pde_mean":5}}\n')]);
    // A sequence cut short by the closing quote, in a tag and a parameter (held rows keep them).
    const cut = Buffer.concat([Buffer.from('{"experiment_id":"y","tags":["t'), Buffer.from([0xe2, 0x82]), Buffer.from('"],"params":{"k":"'), Buffer.from([0xf0, 0x9f]), Buffer.from('"},"status":"completed","metrics":{"pde_mean":6}}\n')]);
    writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), line("a", "\u00e9t\u00e9 \ud83d\ude00", 3), bad, line("b", "\u4e2d\u6587", 1), cut, line("c", "plain", 2)]));
    for (const max of [5, undefined]) {
      const req: RankRequest = { filter: {}, statuses: [], sortBy: "pde_mean", gates: [], max };
      const lean = await rankExperiments(new LocalStore({ path }), req, REGISTRY);
      expect(await plainRanking(lean)).toEqual(await plainRanking(await rankExperiments(wholeOnly(new LocalStore({ path })), req, REGISTRY)));
      expect(lean.result.results.map((r) => [r.experiment.id, r.experiment.name, r.experiment.tags, r.experiment.params])).toEqual([
        ["b", "\u4e2d\u6587", [], {}],
        ["c", "plain", [], {}],
        ["a", "\u00e9t\u00e9 \ud83d\ude00", [], {}],
        ["x", "\ufffd\ufffd", [], {}],
        ["y", null, ["t\ufffd"], { k: "\ufffd" }],
      ]);
    }
  });

  it("reads statuses exactly past the few it compares byte by byte, whichever way each line was read", async () => {
    const path = join(tempDir(), "experiments.jsonl");
    const lines: string[] = [];
    // 40 statuses, each met again later; every third line is read the general way (its status
    // is given with an escape), so both ways meet statuses the other has coded.
    for (let i = 0; i < 120; i++) {
      const status = `s${i % 40}`;
      const line = JSON.stringify({ experiment_id: `e${i}`, status, metrics: { pde_mean: i % 7 } });
      lines.push(i % 3 === 0 ? line.replace(`"${status}"`, `"\\u0073${status.slice(1)}"`) : line);
    }
    writeFileSync(path, `${lines.join("\n")}\n`);
    for (const statuses of [["s1", "s39"], ["s17"], []]) {
      const req: RankRequest = { filter: {}, statuses, sortBy: "pde_mean", gates: [], max: 10 };
      const lean = await outcome(() => rankExperiments(new LocalStore({ path }), req, REGISTRY));
      expect(lean).toEqual(await outcome(() => rankExperiments(wholeOnly(new LocalStore({ path })), req, REGISTRY)));
      if (statuses.length > 0) expect((lean as { ok: { result: { results: unknown[] } } }).ok.result.results.length).toBe(3 * statuses.length);
    }
  });

  it("holds rows whose metrics or parameters repeat a key, or have keys JSON.parse reorders, as JSON.parse reads them", async () => {
    const path = join(tempDir(), "experiments.jsonl");
    const lines = [
      '{"experiment_id":"a","status":"completed","metrics":{"pde_mean":1,"x":2},"params":{"p":"1","q":"2"}}',
      '{"experiment_id":"b","status":"completed","metrics":{"pde_mean":5,"x":2,"pde_mean":3},"params":{"p":"1","q":"2","p":"3"}}',
      '{"experiment_id":"c","status":"completed","metrics":{"x":2,"10":4,"pde_mean":2,"2":1},"params":{"q":"2","1":"x"}}',
      '{"experiment_id":"d","status":"completed","metrics":{"pde_mean":0,"x":2},"params":{"p":"1","q":"2"},"metrics":{"x":9,"pde_mean":4}}',
    ];
    writeFileSync(path, `${lines.join("\n")}\n`);
    const req: RankRequest = { filter: {}, statuses: [], sortBy: "pde_mean", gates: [] };
    const held = await rankExperiments(new LocalStore({ path }), req, REGISTRY);
    expect(await plainRanking(held)).toEqual(await plainRanking(await rankExperiments(wholeOnly(new LocalStore({ path })), req, REGISTRY)));
    expect(held.result.results.map((r) => [r.experiment.id, Object.entries(r.experiment.metrics), Object.entries(r.experiment.params)])).toEqual([
      ["a", [["pde_mean", 1], ["x", 2]], [["p", "1"], ["q", "2"]]],
      ["c", [["2", 1], ["10", 4], ["x", 2], ["pde_mean", 2]], [["1", "x"], ["q", "2"]]],
      ["b", [["pde_mean", 3], ["x", 2]], [["p", "3"], ["q", "2"]]],
      ["d", [["x", 9], ["pde_mean", 4]], [["p", "1"], ["q", "2"]]],
    ]);
  });

  it("holds every row exactly past the limits of its shared key sequences (many metric and parameter names)", async () => {
    const path = join(tempDir(), "experiments.jsonl");
    const lines: string[] = [];
    // More distinct key sequences than are shared, then one of more keys than they may hold in all.
    for (let i = 0; i < 4200; i++) lines.push(JSON.stringify({ experiment_id: `e${i}`, status: "completed", metrics: { pde_mean: i % 50, [`m${i}`]: i }, params: { [`p${i}`]: `v${i}` } }));
    const wide = Object.fromEntries(Array.from({ length: 70_000 }, (_, k) => [`w${k}`, k]));
    lines.push(JSON.stringify({ experiment_id: "wide", status: "completed", metrics: { pde_mean: 0.5, ...wide }, params: Object.fromEntries(Object.keys(wide).map((k) => [k, "x"])) }));
    writeFileSync(path, `${lines.join("\n")}\n`);
    const req: RankRequest = { filter: {}, statuses: [], sortBy: "pde_mean", gates: ["pde_mean:lt:40"] };
    const held = await outcome(() => rankExperiments(new LocalStore({ path }), req, REGISTRY));
    const whole = await outcome(() => rankExperiments(wholeOnly(new LocalStore({ path })), req, REGISTRY));
    expect(held).toEqual(whole);
  });

  it("reads the rows shown from the file it listed, even when a compaction replaced it meanwhile", () => {
    const path = join(tempDir(), "experiments.jsonl");
    writeFileSync(path, `${JSON.stringify({ experiment_id: "a", name: "first", status: "completed", metrics: { pde_mean: 1 } })}\n`);
    const listing = new LocalStore({ path }).rankingListing({}, new Set(["pde_mean"]));
    const listed = Array.from({ length: listing.experiments.length }, (_, i) => listing.experiments.at(i)!);
    expect(listed.map((e) => [e.id, e.name, e.metrics])).toEqual([["a", null, { pde_mean: 1 }]]);
    // A compaction writes a new file and renames it over the old one.
    const next = `${path}.new`;
    writeFileSync(next, `${JSON.stringify({ experiment_id: "z", name: "other", status: "completed", metrics: { pde_mean: 9 } })}\n`);
    renameSync(next, path);
    expect(listing.whole(listed)?.map((e) => [e.id, e.name])).toEqual([["a", "first"]]);
    listing.close();
    listing.close();
    expect(() => listing.whole(listed)).toThrow(/after close/);
  });

  it("knows where each line is across the file's chunks, whichever way the line was read", () => {
    const path = join(tempDir(), "experiments.jsonl");
    // Over 3 MiB: lines cross the 1 MiB chunks the file is read in. Every fifth line is read the
    // general way (its name ends in an escape), one line is longer than a chunk, and one is deleted.
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const name = i === 2500 ? "x".repeat(1_200_000) : `run-${i}-${"n".repeat(600)}${i % 5 === 0 ? "\\u00e9" : ""}`;
      lines.push(`{"experiment_id":"e${i}","name":"${name}","status":"completed","metrics":{"pde_mean":${i}}}`);
    }
    lines.push('{"experiment_id":"e7","deleted":true}');
    writeFileSync(path, `${lines.join("\r\n")}\r\n`);
    const listing = new LocalStore({ path }).rankingListing({}, new Set(["pde_mean"]));
    expect(listing.experiments.length).toBe(4999);
    const listed = Array.from({ length: listing.experiments.length }, (_, i) => listing.experiments.at(i)!);
    expect(listed.some((e) => e.id === "e7")).toBe(false);
    const whole = listing.whole(listed);
    listing.close();
    expect(whole).not.toBeNull();
    expect(whole!.map((e) => [e.id, e.name, e.metrics["pde_mean"]])).toEqual(
      listed.map((e) => {
        const i = Number(e.id.slice(1));
        return [e.id, i === 2500 ? "x".repeat(1_200_000) : `run-${i}-${"n".repeat(600)}${i % 5 === 0 ? "\u00e9" : ""}`, i];
      }),
    );
  });

  it("ranks the whole listing again when the file was rewritten in place under it", async () => {
    const path = join(tempDir(), "experiments.jsonl");
    const line = (id: string, pde: number): string => JSON.stringify({ experiment_id: id, name: `run-${id}`, status: "completed", metrics: { pde_mean: pde } });
    writeFileSync(path, `${line("a", 1)}\n${line("b", 2)}\n`);
    const inode = statSync(path).ino;
    const store = new LocalStore({ path });
    let rewritten = false;
    const racing: RankedStore = {
      location: path,
      list: (f) => store.list(f),
      rankingListing: (filter, names) => {
        const listing = store.rankingListing(filter, names);
        return {
          experiments: listing.experiments,
          close: () => listing.close(),
          whole: (some) => {
            // An editor saving the file in place: same inode, a's value changed, same length.
            writeFileSync(path, `${line("a", 7)}\n${line("b", 2)}\n`);
            rewritten = true;
            return listing.whole(some);
          },
        };
      },
    };
    const ranking = await rankExperiments(racing, { filter: {}, statuses: [], sortBy: "pde_mean", gates: [], max: 1 }, REGISTRY);
    expect(rewritten).toBe(true);
    expect(statSync(path).ino).toBe(inode);
    // Ranked again from the file as it is now: b (2) leads, not a with its old value.
    expect(ranking.result.results.map((r) => [r.experiment.id, r.value, r.experiment.name])).toEqual([["b", 2, "run-b"]]);
  });

  it("lists only the metrics read for rankings that show at most LEAN_RANKING_MAX_ROWS rows, every field for the others", async () => {
    const path = join(tempDir(), "experiments.jsonl");
    writeFileSync(path, `${JSON.stringify({ experiment_id: "a", status: "completed", metrics: { pde_mean: 1 } })}\n`);
    const store = new LocalStore({ path });
    const used: (number | "all")[] = [];
    const counting: RankedStore = {
      location: path,
      list: (f) => store.list(f),
      rankingListing: (filter, names) => {
        used.push(names === "all" ? names : names.size);
        return store.rankingListing(filter, names);
      },
    };
    const base: RankRequest = { filter: {}, statuses: [], sortBy: "pde_mean", gates: [] };
    await rankExperiments(counting, { ...base, max: LEAN_RANKING_MAX_ROWS }, REGISTRY);
    await rankExperiments(counting, { ...base, max: LEAN_RANKING_MAX_ROWS + 1 }, REGISTRY);
    await rankExperiments(counting, base, REGISTRY);
    // An unregistered metric reads whatever the experiments report: every field.
    await rankExperiments(counting, { ...base, gates: ["custom_y:lt:1"], max: 3 }, REGISTRY).catch(() => undefined);
    // pde_mean and its alias.
    expect(used).toEqual([2, "all", "all", "all"]);
  });
});
