// Peak-memory probe, preloaded with `node --import <this file> ...`: when the process exits,
// writes its peak resident set size in KiB to the file named by BENCH_RSS_FILE.
//
// On Linux it reads VmHWM from /proc/self/status: the high-water mark of this program's own
// memory. process.resourceUsage().maxRSS (what bench/rss-probe.mjs records) is not that there:
// the kernel carries it across fork and exec, so a child started by a large parent (the harness,
// holding the generated registry) reports at least the parent's size at the fork. Elsewhere it
// falls back to maxRSS.
import { readFileSync, writeFileSync } from "node:fs";

const out = process.env.BENCH_RSS_FILE;
if (out) {
  process.on("exit", () => {
    let kib = process.resourceUsage().maxRSS;
    try {
      const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
      if (m) kib = Number(m[1]);
    } catch {
      // not Linux: keep maxRSS
    }
    writeFileSync(out, `${kib}\n`);
  });
}
