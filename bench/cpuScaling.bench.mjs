// Control experiment for the `--jobs` benchmark: does this machine give two copies of a job twice
// the throughput of one? Runs a fixed amount of single-threaded work — a compute-bound loop (integer
// and float arithmetic in registers) and a memory-bound one (sums over a 256 MB array, far beyond
// the caches) — in 1 process alone, then in COPIES processes at once, and prints for each: wall
// time, CPU time per process, and the speed-up of COPIES copies over one (COPIES = perfect scaling).
// If independent processes also need more CPU time for the same work when they run together, the
// cores are shared (SMT siblings or an oversubscribed VM host: see steal time) or memory bandwidth is
// the limit, and no worker scheme can scale better than this.
// Steal time (from /proc/stat, Linux) is CPU time the hypervisor gave to other guests while this
// VM wanted to run; "cores obtained" = the copies' CPU time / wall time. Usage: node bench/cpuScaling.bench.mjs [COPIES=2] [ROUNDS=2]
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** xorshift + float arithmetic, no memory traffic: ~1 s of one core */
function computeWork() {
  let x = 0x9e3779b9 | 0;
  let s = 0;
  for (let i = 0; i < 300_000_000; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s += (x & 0xffff) * 1e-5;
  }
  return s;
}

/** streaming sums over 256 MB (32 M doubles), several passes: memory bandwidth, not arithmetic */
function memoryWork() {
  const a = new Float64Array(32 * 1024 * 1024);
  for (let i = 0; i < a.length; i++) a[i] = i & 1023;
  let s = 0;
  for (let pass = 0; pass < 12; pass++) for (let i = 0; i < a.length; i += 2) s += a[i] + a[i + 1];
  return s;
}

if (process.argv[2] === "child") {
  const kind = process.argv[3];
  process.on("message", () => {
    const w0 = performance.now();
    const c0 = cpuMs();
    const r = kind === "compute" ? computeWork() : memoryWork();
    process.send({ wall: performance.now() - w0, cpu: cpuMs() - c0, r });
    process.exit(0);
  });
  process.send("ready");
} else {
  const COPIES = Number(process.argv[2] ?? 2);
  const ROUNDS = Number(process.argv[3] ?? 2);

  /** [total, steal] jiffies of all CPUs */
  const cpuStat = () => {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return [f.reduce((a, b) => a + b, 0), f[7] ?? 0];
  };

  /** Starts n children, waits until all are loaded, then starts their work together. */
  async function runTogether(kind, n) {
    const kids = Array.from({ length: n }, () => fork(self, ["child", kind]));
    await Promise.all(kids.map((k) => new Promise((res) => k.once("message", res))));
    const s0 = cpuStat();
    const t0 = performance.now();
    const results = await Promise.all(
      kids.map((k) => {
        const p = new Promise((res) => k.once("message", res));
        k.send("go");
        return p;
      }),
    );
    const wall = performance.now() - t0;
    const s1 = cpuStat();
    const steal = (s1[1] - s0[1]) / Math.max(1, s1[0] - s0[0]);
    return { wall, cpu: results.map((r) => r.cpu), steal };
  }

  console.log(`${COPIES} copies vs 1; best of ${ROUNDS} rounds; times in s (CPU = per process)`);
  for (const kind of ["compute", "memory"]) {
    let one;
    let many;
    for (let r = 0; r < ROUNDS; r++) {
      const a = await runTogether(kind, 1);
      const b = await runTogether(kind, COPIES);
      if (!one || a.wall < one.wall) one = a;
      if (!many || b.wall < many.wall) many = b;
    }
    const cpuMany = many.cpu.reduce((x, y) => x + y, 0) / many.cpu.length;
    console.log(
      `${kind.padEnd(8)} 1 copy: wall ${(one.wall / 1000).toFixed(2)} CPU ${(one.cpu[0] / 1000).toFixed(2)} steal ${(100 * one.steal).toFixed(0)}%` +
        ` | ${COPIES} copies: wall ${(many.wall / 1000).toFixed(2)} CPU ${(cpuMany / 1000).toFixed(2)} each, steal ${(100 * many.steal).toFixed(0)}%` +
        ` | CPU per copy ×${(cpuMany / one.cpu[0]).toFixed(2)}, throughput ×${((COPIES * one.wall) / many.wall).toFixed(2)} of ${COPIES}` +
        `, cores obtained ${(many.cpu.reduce((x, y) => x + y, 0) / many.wall).toFixed(2)}`,
    );
    // copies that were not running at the same time (time-sliced on a core another job holds) say
    // nothing about whether two running copies slow each other
    if (many.cpu.reduce((x, y) => x + y, 0) / many.wall < 0.9 * COPIES)
      console.log(`  (the ${COPIES} copies did not get ${COPIES} cores at once: the machine is busy; re-run on a quiet one)`);
  }
}
