import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BackendError, UsageError } from "../../src/core/errors.js";
import { appendText } from "../../src/util/append-file.js";
import { makeDirs, storageError } from "../../src/util/fs-errors.js";

const temp = (): string => mkdtempSync(join(tmpdir(), "expflow-append-"));
const canMount = process.getuid?.() === 0 && spawnSync("mount", ["--version"]).status === 0;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
}

describe("appendText", () => {
  it("appends whole lines and starts on a fresh line after a torn one", () => {
    const path = join(temp(), "f.jsonl");
    appendText(path, "a\n");
    writeFileSync(path, "a\n{\"torn", { flag: "w" });
    appendText(path, "b\n");
    expect(readFileSync(path, "utf8")).toBe('a\n{"torn\nb\n');
  });

  it("a directory, or a path under a file, is a usage error (exit 2) naming the path", () => {
    const dir = temp();
    writeFileSync(join(dir, "file"), "x");
    const isDir = thrown(() => appendText(dir, "x\n"));
    expect(isDir).toBeInstanceOf(UsageError);
    expect((isDir as UsageError).message).toBe(`${dir} is a directory, not a file`);
    const under = thrown(() => appendText(join(dir, "file", "x"), "x\n"));
    expect((under as UsageError).code).toBe("E_NOT_DIRECTORY");
  });

  it.skipIf(!canMount)("on a full disk: exit 4 'no space left on device writing FILE', the file truncated back to its previous length", (test) => {
    const mnt = join(temp(), "m");
    mkdirSync(mnt);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=80k", "tmpfs", mnt]).status !== 0) return test.skip();
    try {
      const path = join(mnt, "f.jsonl");
      appendText(path, "first\n");
      spawnSync("sh", ["-c", `dd if=/dev/zero of='${join(mnt, "fill")}' bs=1k 2>/dev/null; true`]);
      const e = thrown(() => appendText(path, `${"x".repeat(20_000)}\n`));
      expect(e).toBeInstanceOf(BackendError);
      expect((e as BackendError).message).toBe(`no space left on device writing ${path}`);
      expect((e as BackendError).exitCode).toBe(4);
      expect(readFileSync(path, "utf8")).toBe("first\n");
    } finally {
      spawnSync("umount", ["-l", mnt]);
    }
  });
});

describe("makeDirs", () => {
  it("creates missing parents one level at a time, and says a file in the way", () => {
    const dir = temp();
    expect(makeDirs(join(dir, "a", "b", "c"))).toBe(true);
    expect(makeDirs(join(dir, "a", "b", "c"))).toBe(false);
    writeFileSync(join(dir, "f"), "x");
    expect((thrown(() => makeDirs(join(dir, "f", "g"))) as NodeJS.ErrnoException).code).toBe("ENOTDIR");
  });

  it("under /proc it fails at once instead of looping (Node 20's recursive mkdir hangs there)", () => {
    const e = thrown(() => makeDirs("/proc/nope/deeper"));
    expect(storageError(e, "/proc/nope/deeper/x.xml")).toBeInstanceOf(UsageError);
  });
});
