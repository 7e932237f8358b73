// Read throughput of the ROOT TTree reader (src/histmaker/root) on the shared test files:
// a set of NanoAOD muon branches (jagged, baskets embedded in the tree record), all 20 Zmumu
// branches in each compression (zlib, lz4, lzma, zstd, none) and HZZ muon branches (zlib, zstd).
// Each pass opens the file, reads the branches chunk by chunk and closes it; the files are small,
// so passes repeat until ~1 s has been spent and the median pass is reported, with open time apart.
// If jsroot is installed outside the project (JSROOT_DIR, default /tmp/jsroot-eval/node_modules/jsroot),
// the same reads are timed with it too (treeProcess with a TSelector) for comparison.
// Needs the compiled code: `npx tsc -p tsconfig.json`. Usage: node bench/rootread.bench.mjs [seconds=1]
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { RootFile } from "../dist/src/histmaker/root/RootFile.js";

const here = dirname(fileURLToPath(import.meta.url));
const data = resolve(here, "../../shared/data/root");
const SECONDS = Number(process.argv[2] ?? 1);
if (!existsSync(data)) {
  console.log(`skipped: ${data} not found`);
  process.exit(0);
}

const muonBranches = ["nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge", "Muon_pfRelIso04_all", "Muon_tightId", "Muon_dxy", "Muon_dz"];
const zmumuBranches = ["Type", "Run", "Event", "E1", "px1", "py1", "pz1", "pt1", "eta1", "phi1", "Q1", "E2", "px2", "py2", "pz2", "pt2", "eta2", "phi2", "Q2", "M"];
const hzzBranches = ["NMuon", "Muon_Px", "Muon_Py", "Muon_Pz", "Muon_E", "Muon_Charge", "Muon_Iso"];

const cases = [
  { label: "NanoAOD 10 muon branches", file: "nanoAOD_2015_CMS_Open_Data_ttbar.root", tree: "Events", branches: muonBranches },
  ...[
    ["zlib", "uproot-Zmumu.root"],
    ["lz4", "uproot-Zmumu-lz4.root"],
    ["lzma", "uproot-Zmumu-lzma.root"],
    ["zstd", "uproot-Zmumu-zstd.root"],
    ["none", "uproot-Zmumu-uncompressed.root"],
  ].map(([c, f]) => ({ label: `Zmumu 20 branches ${c}`, file: f, tree: "events", branches: zmumuBranches })),
  { label: "HZZ 7 muon branches zlib", file: "uproot-HZZ.root", tree: "events", branches: hzzBranches },
  { label: "HZZ 7 muon branches zstd", file: "uproot-HZZ-zstd.root", tree: "events", branches: hzzBranches },
];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function valueBytes(col) {
  return col.offsets ? col.values.byteLength + col.offsets.byteLength : col.byteLength;
}

async function oursPass(c) {
  const t0 = performance.now();
  const rf = await RootFile.open(join(data, c.file));
  const t1 = performance.now();
  let events = 0;
  let bytes = 0;
  for await (const ch of rf.tree(c.tree).iterate({ branches: c.branches, chunkEntries: 100_000 })) {
    events += ch.length;
    for (const b of c.branches) bytes += valueBytes(ch.columns[b]);
  }
  rf.close();
  const t2 = performance.now();
  return { open: t1 - t0, read: t2 - t1, total: t2 - t0, events, bytes };
}

async function loadJsroot() {
  const dir = process.env.JSROOT_DIR ?? "/tmp/jsroot-eval/node_modules/jsroot";
  if (!existsSync(join(dir, "modules/io.mjs"))) return null;
  const io = await import(pathToFileURL(join(dir, "modules/io.mjs")).href);
  const tree = await import(pathToFileURL(join(dir, "modules/tree.mjs")).href);
  return { openFile: io.openFile, treeProcess: tree.treeProcess, TSelector: tree.TSelector };
}

async function jsrootPass(js, c) {
  const t0 = performance.now();
  const f = await js.openFile(join(data, c.file));
  const tree = await f.readObject(c.tree);
  const t1 = performance.now();
  const sel = new js.TSelector();
  // jsroot adds count branches itself and refuses them twice
  for (const b of c.branches) if (!/^n[A-Z]|^N[A-Z]/.test(b)) sel.addBranch(b);
  let events = 0;
  sel.Process = () => {
    events++;
  };
  await js.treeProcess(tree, sel);
  const t2 = performance.now();
  return { open: t1 - t0, read: t2 - t1, total: t2 - t0, events };
}

// wall time and process CPU time (user + system, all threads) per pass: on a loaded machine the
// CPU time is the steadier of the two
async function measure(pass) {
  const first = await pass(); // warm-up
  const runs = [];
  const until = performance.now() + SECONDS * 1000;
  while (performance.now() < until || runs.length < 3) {
    const c0 = process.cpuUsage();
    const r = await pass();
    const c = process.cpuUsage(c0);
    runs.push({ ...r, cpu: (c.user + c.system) / 1000 });
  }
  const med = (k) => median(runs.map((r) => r[k]));
  return { events: first.events, bytes: first.bytes, open: med("open"), read: med("read"), total: med("total"), cpu: med("cpu"), passes: runs.length };
}

const js = await loadJsroot();
console.log(`ROOT reader throughput (median of passes over ~${SECONDS}s each; events/s counts open + read; cpu = process CPU per pass)`);
const head = ["case", "events", "open ms", "read ms", "cpu ms", "events/s", "MB/s out", ...(js ? ["jsroot ms", "jsroot cpu ms", "jsroot ev/s", "cpu ratio"] : [])];
console.log(head.join("\t"));
for (const c of cases) {
  const o = await measure(() => oursPass(c));
  const row = [c.label, o.events, o.open.toFixed(2), o.read.toFixed(2), o.cpu.toFixed(2), Math.round(o.events / (o.total / 1000)), (o.bytes / 1e6 / (o.read / 1000)).toFixed(0)];
  if (js) {
    const j = await measure(() => jsrootPass(js, c));
    if (j.events !== o.events) throw new Error(`${c.label}: jsroot saw ${j.events} events, we read ${o.events}`);
    row.push(j.total.toFixed(2), j.cpu.toFixed(2), Math.round(j.events / (j.total / 1000)), `${(j.cpu / o.cpu).toFixed(1)}x`);
  }
  console.log(row.join("\t"));
}
if (!js) console.log("(jsroot not found: set JSROOT_DIR to an installed jsroot package to compare)");
