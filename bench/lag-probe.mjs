// Event-loop probe, preloaded with `node --import <this file> ...`: when the process exits,
// writes the longest event-loop delay seen (ms, perf_hooks.monitorEventLoopDelay at 10 ms
// resolution) to the file named by BENCH_LAG_FILE. A long delay is a time during which the
// process could not run timers or answer anything.
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

const out = process.env.BENCH_LAG_FILE;
if (out) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  process.on("exit", () => {
    h.disable();
    writeFileSync(out, `${(h.max / 1e6).toFixed(1)}\n`);
  });
}
