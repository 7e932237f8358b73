// Builds the C++ N-API addons (fitter/native, histmaker-native) with node-gyp.
// Runs as the root package's install script, so `npm install` leaves working addons.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const addons = ["fitter/native", "histmaker-native"];
const localGyp = join(root, "node_modules", ".bin", "node-gyp");
const gyp = existsSync(localGyp) ? localGyp : "node-gyp";
for (const dir of addons) {
  const cwd = join(root, dir);
  if (!existsSync(join(cwd, "binding.gyp"))) continue;
  console.log(`building native addon ${dir}`);
  const r = spawnSync(gyp, ["rebuild", "-j", "max"], { cwd, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`native addon ${dir} failed to build (node-gyp exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}
