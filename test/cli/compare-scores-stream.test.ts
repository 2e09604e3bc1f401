import { EventEmitter } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { runInProcess, tempDir } from "../helpers/cli.js";

// compare-scores of every row writes its output in chunks and waits for a full standard output
// (a pipe read slower than it is written) to drain: before, it queued the whole output in
// memory (on 100,000 experiments, 50 MB of JSON behind a slow reader: 416 MiB of memory).

/** A registry of `n` experiments, a tenth of them failed, some without the gated metric. */
function registry(n: number): string {
  const path = join(tempDir(), "experiments.jsonl");
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        experiment_id: `exp-${i.toString(16).padStart(6, "0")}`,
        name: i % 7 === 0 ? `r\u00e9sum\u00e9 ${i}` : `run-${i}`,
        status: i % 10 === 0 ? "failed" : "completed",
        timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        metrics: i % 13 === 0 ? { pde_mean: (i * 7) % 31 } : { pde_mean: (i * 7) % 31, train_time_min: (i * 11) % 90, seg_total: i / 3 },
        params: { "Args/seed": String(i) },
      }),
    );
  }
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

/**
 * A standard output that is always full: every write answers `false`, and it drains a turn of
 * the event loop later. Keeps the most bytes written to it between two drains.
 */
class FullStream extends EventEmitter {
  text = "";
  writes = 0;
  mostHeld = 0;
  private held = 0;
  private draining = false;

  write(chunk: string | Buffer): boolean {
    this.writes++;
    this.text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    this.held += Buffer.byteLength(chunk);
    this.mostHeld = Math.max(this.mostHeld, this.held);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => {
        this.draining = false;
        this.held = 0;
        this.emit("drain");
      });
    }
    return false;
  }
}

async function runTo(stdout: FullStream, args: string[]): Promise<number> {
  return run(args, { stdin: Readable.from([]), stdout, stderr: { write: () => true }, env: { ...process.env, EXPFLOW_HOME: tempDir(), NO_COLOR: "1" }, cwd: tempDir() });
}

describe("compare-scores of every row, to a full standard output", () => {
  const path = registry(3000);
  const base = ["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--gate", "train_time_min:lt:60"];

  it.each([["--json"], ["--csv"]])("%s waits for it to drain before each further chunk, and writes the same output", async (format) => {
    const full = new FullStream();
    const code = await runTo(full, [...base, format]);
    const plain = await runInProcess([...base, format]);
    expect(code).toBe(plain.code);
    expect(full.text).toBe(plain.stdout);
    // Several chunks (of 64 KiB), each written only once the one before had drained (the CSV's
    // in guarded pieces of a few lines).
    expect(Buffer.byteLength(full.text)).toBeGreaterThan(2 * 64 * 1024);
    expect(full.mostHeld).toBeLessThanOrEqual(64 * 1024);
  });
});
