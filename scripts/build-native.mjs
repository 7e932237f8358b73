// Builds the C++ N-API addons (fitter/native, fitter/cuda, histmaker-native) with node-gyp, g++ alone
// (fitter/cuda needs no CUDA to build: it dlopen()s the CUDA libraries at run time).
// Runs as the root package's install script (with --if-changed: skipped for an addon whose sources,
// Node ABI and CPU are those of its last build), so `npm install` leaves working addons without
// recompiling them each time npm re-runs the script. Run by hand, it always rebuilds.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { arch, cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashInputs, listFiles, upToDate, writeStamp } from "./buildStamp.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ifChanged = process.argv.includes("--if-changed");
const addons = [
  { dir: "fitter/native", target: "fitter_native" },
  // the kernels are compiled into the CPU emulation too: a kernel change rebuilds the addon
  { dir: "fitter/cuda", target: "fitter_cuda", extra: ["kernels"] },
  { dir: "histmaker-native", target: "histmaker_native" },
];
const localGyp = join(root, "node_modules", ".bin", "node-gyp");
const gyp = existsSync(localGyp) ? localGyp : "node-gyp";
// -march=native: a build is only good for this CPU (and this Node ABI)
const cpuFlags = (() => {
  try {
    return /^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "";
  } catch {
    return "";
  }
})();
const machine = [process.versions.modules, process.versions.napi, arch(), cpus()[0]?.model ?? "", cpuFlags];
for (const { dir, target, extra = [] } of addons) {
  const cwd = join(root, dir);
  if (!existsSync(join(cwd, "binding.gyp"))) continue;
  const inputs = [
    join(cwd, "binding.gyp"),
    ...["src", ...extra].flatMap((sub) => listFiles(join(cwd, sub), (p) => /\.(c|cc|cpp|cu|h|hpp)$/.test(p))),
  ];
  const hash = hashInputs(root, inputs, machine);
  const stamp = join(cwd, "build", ".build-stamp");
  if (ifChanged && upToDate(stamp, hash, [join(cwd, "build", "Release", `${target}.node`)])) {
    console.log(`native addon ${dir} is up to date (run \`node scripts/build-native.mjs\` to force a rebuild)`);
    continue;
  }
  console.log(`building native addon ${dir}`);
  const r = spawnSync(gyp, ["rebuild", "-j", "max"], { cwd, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`native addon ${dir} failed to build (node-gyp exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
  writeStamp(stamp, hash);
}
