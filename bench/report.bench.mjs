// The HTML report of the W-mass-scale fit (2880 bins, 10 processes, 4860 parameters, impacts):
// time to build report.html with the CLI (`fit-report FITDIR`, a fresh process each run), the file
// size, and in headless Chromium the time to the first render (the tables: overview, pulls and
// impacts) and to plotly's plots being drawn, from navigation start.
//
//   node bench/report.bench.mjs               fit made once under BENCH_REPORT_DIR and reused
//   BENCH_REPORT_DIR=/path                     where the model and fit live (default /tmp/hepfit-bench-report)
//   BENCH_REPORT_RUNS=3                        repetitions
// Needs `npx tsc` first (imports ../dist); the browser part needs /usr/bin/chromium.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import os from "node:os";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const workDir = process.env.BENCH_REPORT_DIR ?? "/tmp/hepfit-bench-report";
const runs = Number(process.env.BENCH_REPORT_RUNS ?? 3);
const chromiumPath = "/usr/bin/chromium";

function run(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

const model = join(workDir, "wmass.hdf5");
const fitDir = join(workDir, "wmfit");
mkdirSync(workDir, { recursive: true });
if (!existsSync(model)) {
  console.log(`generating ${model} (fit-gen --preset wmass) ...`);
  run([join(root, "bin/fit-gen.js"), "--preset", "wmass", "-o", model]);
}
if (!existsSync(join(fitDir, "fitresults.hdf5"))) {
  console.log(`fitting it once (fit --impacts --no-html -o ${fitDir}) ...`);
  run([join(root, "bin/fit.js"), model, "--impacts", "--no-html", "-o", fitDir]);
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const fmt = (a) => `median ${median(a).toFixed(2)} s, min ${Math.min(...a).toFixed(2)} s (${a.length} runs)`;
console.log(`machine: ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);

const build = [];
const cpu = [];
const timeBin = "/usr/bin/time";
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  if (existsSync(timeBin)) {
    // CPU time (user + sys) of the whole process: what the build costs on a machine shared with others
    const r = spawnSync(timeBin, ["-f", "CPU %U %S", process.execPath, join(root, "bin/fit-report.js"), fitDir], { cwd: root, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`fit-report failed:\n${r.stderr}`);
    const m = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
    if (m) cpu.push(Number(m[1]) + Number(m[2]));
  } else run([join(root, "bin/fit-report.js"), fitDir]);
  build.push((performance.now() - t0) / 1000);
}
const html = join(fitDir, "report.html");
console.log(`report build (node bin/fit-report.js ${fitDir}, whole process): ${fmt(build)}  [goal < 5 s]`);
if (cpu.length) console.log(`report build CPU time (user + sys): ${fmt(cpu)}`);
console.log(`report.html size: ${(statSync(html).size / 1e6).toFixed(2)} MB (plotly.js ${(statSync(join(root, "node_modules/plotly.js-dist/plotly.js")).size / 1e6).toFixed(2)} MB of it)`);

if (!existsSync(chromiumPath)) {
  console.log(`${chromiumPath} not found: browser timings skipped`);
} else {
  const { chromium } = await import("playwright-core");
  const first = [];
  const fcp = [];
  const plots = [];
  const wall = [];
  for (let i = 0; i < runs; i++) {
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const t0 = performance.now();
    await page.goto(`file://${html}`);
    await page.waitForSelector("body[data-ready='1']", { state: "attached", timeout: 300_000 });
    wall.push((performance.now() - t0) / 1000);
    const t = await page.evaluate(() => [
      Number(document.body.dataset.firstRenderMs),
      Number(document.body.dataset.renderMs),
      performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? Number.NaN,
    ]);
    first.push(t[0] / 1000);
    fcp.push(t[2] / 1000);
    plots.push(t[1] / 1000);
    await browser.close();
  }
  console.log(`first render in headless Chromium (tables drawn, from navigation start): ${fmt(first)}  [goal < 3 s]`);
  console.log(`first contentful paint (the painted tables): ${fmt(fcp)}`);
  console.log(`plots drawn (plotly run, overview/pulls/grouped plots): ${fmt(plots)}`);
  console.log(`goto → ready (playwright wall clock): ${fmt(wall)}`);
}
