// Compiles the TypeScript sources into dist/ (tsc -p tsconfig.json). With --if-changed (the
// `prepare` script) it does nothing when dist/ was built from exactly the present sources, so that
// npm's re-runs of `prepare` (every `npm install`, and the first `npx fit` in the package root,
// which links the package into npx's cache) do not recompile an unchanged tree.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashInputs, listFiles, upToDate, writeStamp } from "./buildStamp.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ifChanged = process.argv.includes("--if-changed");
const require = createRequire(import.meta.url);
const tscVersion = (() => {
  try {
    return require("typescript/package.json").version;
  } catch {
    return "none";
  }
})();
// what tsconfig.json compiles: src/**/*.ts and fitter/**/*.ts
const sources = [...listFiles(join(root, "src"), (p) => p.endsWith(".ts")), ...listFiles(join(root, "fitter"), (p) => p.endsWith(".ts"))];
const hash = hashInputs(root, [join(root, "tsconfig.json"), ...sources], [tscVersion]);
const stamp = join(root, "dist", ".build-stamp");
const outputs = ["fit.js", "fitGen.js", "histmaker.js"].map((f) => join(root, "dist", "src", "cli", f));
if (ifChanged && upToDate(stamp, hash, outputs)) {
  console.log("dist/ is up to date with the sources (delete dist/.build-stamp or run `npm run build` to force)");
  process.exit(0);
}
const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", join(root, "tsconfig.json")], { cwd: root, stdio: "inherit" });
if (tsc.status !== 0) {
  console.error(`tsc failed (exit ${tsc.status ?? tsc.signal})`);
  process.exit(1);
}
writeStamp(stamp, hash);
