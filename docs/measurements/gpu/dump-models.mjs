#!/usr/bin/env node
// Writes the likelihood spec of every tensor file of tests/fixtures and ../shared/data/rabbit as a
// flat binary dump (models/<name>.bin) for harness.cpp, the Node-free device check. Needs dist/
// (node scripts/build-dist.mjs). Format (little-endian): "HFSPEC1\0", int32 nbins, nbinsFull, nproc,
// nsig, nsyst, ncols, symmetric, logNormal, hasBB, hasActive, nnz; then norm f64[nbinsFull·nproc],
// rowPtr i32[rows+1], cols i32[nnz], vals f64[nnz], data f64[nbins], bbK f64[nbins] (hasBB),
// active u8[nbins·nproc] (hasActive), constraint weights f64[nsyst], θ0 f64[nsyst].
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const dist = (p) => pathToFileURL(join(root, "dist", p)).href;
const { readTensor } = await import(dist("src/tensor/TensorReader.js"));
const { buildLikelihoodSpec } = await import(dist("fitter/likelihoodSpec.js"));
const outDir = join(here, "models");
mkdirSync(outDir, { recursive: true });
const dirs = [join(root, "tests", "fixtures"), resolve(root, "../shared/data/rabbit")];
for (const d of dirs) {
  if (!existsSync(d)) {
    console.log(`${d}: absent, skipped`);
    continue;
  }
  for (const f of readdirSync(d).filter((x) => x.endsWith(".hdf5")).sort()) {
    const spec = buildLikelihoodSpec(await readTensor(join(d, f)), { poiMode: "linear" });
    const nrows = spec.nbinsFull * spec.nproc;
    const nnz = spec.logk.rowPtr[nrows];
    const hasBB = spec.bbK ? 1 : 0;
    const hasActive = spec.bbK && spec.bbActive ? 1 : 0;
    const header = Int32Array.from([spec.nbins, spec.nbinsFull, spec.nproc, spec.nsig, spec.nsyst, spec.logk.ncols, spec.symmetric ? 1 : 0, spec.systematicType === "log_normal" ? 1 : 0, hasBB, hasActive, nnz]);
    const parts = [
      Buffer.from("HFSPEC1\0", "latin1"),
      header,
      Float64Array.from(spec.norm.subarray(0, nrows)),
      Int32Array.from(spec.logk.rowPtr.subarray(0, nrows + 1)),
      Int32Array.from(spec.logk.cols.subarray(0, nnz)),
      Float64Array.from(spec.logk.values.subarray(0, nnz)),
      Float64Array.from(spec.data),
      ...(hasBB ? [Float64Array.from(spec.bbK)] : []),
      ...(hasActive ? [Uint8Array.from(spec.bbActive)] : []),
      Float64Array.from(spec.constraintWeights),
      Float64Array.from(spec.theta0),
    ].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    const name = `${basename(d) === "fixtures" ? "fixture" : "rabbit"}_${f.replace(/\.hdf5$/, "")}.bin`;
    writeFileSync(join(outDir, name), Buffer.concat(parts));
    console.log(`${name}: ${spec.nbins} bins, ${spec.nproc} processes, ${spec.nsyst} systematics, ${nnz} log k entries`);
  }
}
