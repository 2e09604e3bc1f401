import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { readRaw, RegistryWriter } from "../../../src/stores/local/registry-writer.js";
import { INDEX_TRUST_MS, RegistryIndex } from "../../../src/stores/local/registry-index.js";
import { appendLine } from "../../../src/stores/local/writer.js";

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
function tempPath(): string {
  const d = mkdtempSync(join(tmpdir(), "expflow-index-"));
  made.push(d);
  return join(d, "experiments.jsonl");
}

const IDS = ["exp-a", "exp-b", "exp-ab", "exp-c"] as const;

/** What one step of the model does to the registry file. */
type Step =
  | { kind: "own"; id: string; n: number }
  | { kind: "other"; id: string; n: number }
  | { kind: "mention"; id: string; n: number }
  | { kind: "damaged" }
  | { kind: "torn"; id: string; n: number }
  | { kind: "tombstone"; id: string }
  | { kind: "replace" }
  | { kind: "rewrite" }
  | { kind: "truncate" }
  | { kind: "bom" };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("own" as const), id: fc.constantFrom(...IDS), n: fc.nat(99) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("other" as const), id: fc.constantFrom(...IDS), n: fc.nat(99) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("mention" as const), id: fc.constantFrom(...IDS), n: fc.nat(99) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "damaged" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("torn" as const), id: fc.constantFrom(...IDS), n: fc.nat(99) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("tombstone" as const), id: fc.constantFrom(...IDS) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "replace" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "rewrite" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "truncate" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "bom" as const }) },
);

const line = (id: string, n: number, extra: object = {}): string => JSON.stringify({ experiment_id: id, n, ...extra });

/** Steps that edit the file by hand, not as a writer appends: done while no writer runs. */
const HAND_EDITS = new Set<Step["kind"]>(["rewrite", "bom"]);

/** Applies a step as another process (or a hand edit) would; "own" goes through the index. */
function apply(path: string, index: RegistryIndex, s: Step): void {
  switch (s.kind) {
    case "own": {
      index.sync(path);
      const text = line(s.id, s.n, { own: true });
      const at = appendLine(path, text);
      index.appended(s.id, at.offset, `${text}\n`);
      return;
    }
    case "other":
      return void appendLine(path, line(s.id, s.n));
    case "mention":
      // Another record whose text holds the id (a parent link): never the id's record.
      return void appendLine(path, line("exp-zzz", s.n, { parent: s.id }));
    case "damaged":
      return void appendLine(path, '{"experiment_id":"exp-a", broken');
    case "torn":
      // A writer that died mid-line; possibly a complete record without its line break.
      return appendFileSync(path, s.n % 2 === 0 ? line(s.id, s.n) : line(s.id, s.n).slice(0, 12));
    case "tombstone":
      return void appendLine(path, line(s.id, 0, { deleted: true }));
    case "replace": {
      // What `registry compact` does: a new file renamed over the old one.
      const records = readRaw(path).records;
      writeFileSync(`${path}.tmp`, [...records.values()].map((r) => `${JSON.stringify({ ...r, compacted: true })}\n`).join(""));
      return renameSync(`${path}.tmp`, path);
    }
    case "rewrite": {
      // A hand edit in place that keeps the length: every digit changed.
      const text = readFileSync(path, "utf8");
      return writeFileSync(path, text.replace(/[0-9]/g, (d) => String((Number(d) + 1) % 10)));
    }
    case "truncate": {
      const text = readFileSync(path, "utf8");
      return truncateSync(path, Math.floor(text.length / 2));
    }
    case "bom": {
      const text = readFileSync(path, "utf8");
      if (!text.startsWith("\uFEFF")) writeFileSync(path, `\uFEFF${text}`);
      return;
    }
  }
}

describe("RegistryIndex", () => {
  it("answers exactly what a scan of the whole file answers, whatever others append, tear, replace or rewrite", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: -3, max: IDS.length - 1 }), { minLength: 30, maxLength: 30 }), (steps, asks) => {
        const path = tempPath();
        writeFileSync(path, "");
        let clock = 0;
        const index = new RegistryIndex(() => clock);
        steps.forEach((s, k) => {
          // A hand edit happens while no writer runs: longer than the index trusts what it read.
          if (HAND_EDITS.has(s.kind)) clock += INDEX_TRUST_MS + 1;
          apply(path, index, s);
          // Not every step is followed by a look: several changes can come between two.
          const ask = asks[k]!;
          if (ask < 0) return;
          const id = IDS[ask]!;
          expect(index.lookup(path, id)).toEqual(readRaw(path).records.get(id));
        });
        for (const id of IDS) expect(index.lookup(path, id)).toEqual(readRaw(path).records.get(id));
      }),
      { numRuns: 300 },
    );
  });

  it("reads only what was appended since its last look: a lookup after others' appends parses their lines, not the file", () => {
    const path = tempPath();
    for (let i = 0; i < 2000; i++) appendLine(path, line(`exp-${i}`, i));
    const index = new RegistryIndex();
    expect(index.lookup(path, "exp-0")).toEqual({ experiment_id: "exp-0", n: 0 });
    appendLine(path, line("exp-0", 1));
    appendLine(path, line("exp-1", 2));
    // Found from the lines appended since, without a search.
    expect(index.lookup(path, "exp-0")).toEqual({ experiment_id: "exp-0", n: 1 });
    // The file's middle changed under the index (in place, same length): noticed at the record, searched again.
    const text = readFileSync(path, "utf8");
    writeFileSync(path, text.replace('"exp-0","n":1', '"exp-9","n":1'));
    expect(index.lookup(path, "exp-0")).toEqual(readRaw(path).records.get("exp-0"));
  });

  it("a hand edit in place that keeps the length and the end is read once the index's trust has run out", () => {
    const path = tempPath();
    appendLine(path, line("exp-a", 1));
    appendLine(path, line("exp-b", 1, { name: "long enough that the index's check of the end does not reach the first line" }));
    let clock = 0;
    const index = new RegistryIndex(() => clock);
    expect(index.lookup(path, "exp-a")).toEqual({ experiment_id: "exp-a", n: 1 });
    writeFileSync(path, readFileSync(path, "utf8").replace('"exp-a","n":1', '"exp-a","n":7'));
    // Within the trust the record is read again at its offset (and checked), so this one is seen at once...
    expect(index.lookup(path, "exp-a")).toEqual({ experiment_id: "exp-a", n: 7 });
    // ...but an id the index knows to be absent is believed absent until then.
    expect(index.lookup(path, "exp-c")).toBeUndefined();
    writeFileSync(path, readFileSync(path, "utf8").replace('"exp-a","n":7', '"exp-c","n":7'));
    expect(index.lookup(path, "exp-c")).toBeUndefined();
    clock += INDEX_TRUST_MS + 1;
    expect(index.lookup(path, "exp-c")).toEqual({ experiment_id: "exp-c", n: 7 });
  });
});

describe("RegistryWriter with other writers", () => {
  it("two writers of one registry (each its own index) interleaving changes never act on a stale record", async () => {
    const path = tempPath();
    const a = new RegistryWriter(path, { now: () => new Date(0), who: "a@h" });
    const b = new RegistryWriter(path, { now: () => new Date(0), who: "b@h" });
    await a.create({ experiment_id: "exp-shared", status: "running", metrics: {} });
    for (let i = 0; i < 20; i++) {
      const w = i % 3 === 0 ? a : b;
      await w.update("exp-shared", (r) => ({ ...r, metrics: { ...(r.metrics as object), [`m${i}`]: i } }));
    }
    const last = readRaw(path).records.get("exp-shared")!;
    expect(last.rev).toBe(21);
    expect(Object.keys(last.metrics as object)).toHaveLength(20);
  });
});
