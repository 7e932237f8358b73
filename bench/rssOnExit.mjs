// Preloaded into a child by bench/scale.bench.mjs (node --import ./bench/rssOnExit.mjs ...): when the
// process exits, however it exits, its peak RSS (getrusage maxrss) is written as JSON to the file named
// by BENCH_RSS_FILE, so the CLI itself needs no hook.
import { writeFileSync } from "node:fs";

const target = process.env.BENCH_RSS_FILE;
if (target) {
  process.on("exit", (code) => {
    writeFileSync(target, JSON.stringify({ maxRssMB: process.resourceUsage().maxRSS / 1024, code }));
  });
}
