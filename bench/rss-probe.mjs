// Peak-memory probe, preloaded with `node --import <this file> ...`: when the process exits,
// writes its peak resident set size (process.resourceUsage().maxRSS, in KiB) to the file named
// by the BENCH_RSS_FILE environment variable.
import { writeFileSync } from "node:fs";

const out = process.env.BENCH_RSS_FILE;
if (out) {
  process.on("exit", () => {
    writeFileSync(out, `${process.resourceUsage().maxRSS}\n`);
  });
}
