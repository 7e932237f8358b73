// Measures how the fit covariance is best stored in fitresults.hdf5: file size and write time of a
// real covariance (read from an existing fitresults.hdf5) written contiguous, chunked, and chunked +
// gzip at a few levels, each to its own file with h5wasm (what fitter/writeResults.ts uses).
// usage: node scripts/measure-covariance-write.mjs FITRESULTS.hdf5 [OUTDIR]
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import h5wasm from "h5wasm/node";

const [input, outArg] = process.argv.slice(2);
if (!input) {
  console.error("usage: node scripts/measure-covariance-write.mjs FITRESULTS.hdf5 [OUTDIR]");
  process.exit(2);
}
await h5wasm.ready;
const src = new h5wasm.File(input, "r");
const ds = src.get("covariance");
const [n] = ds.shape;
const cov = ds.value;
src.close();
const out = outArg ?? mkdtempSync(join(tmpdir(), "covwrite-"));
const rowsPerMiB = Math.max(1, Math.floor((1 << 20) / (8 * n)));
const variants = [
  { name: "contiguous", opts: {} },
  { name: `chunked [${rowsPerMiB},${n}]`, opts: { chunks: [rowsPerMiB, n] } },
  { name: `gzip 1, chunks [${rowsPerMiB},${n}]`, opts: { chunks: [rowsPerMiB, n], compression: "gzip", compression_opts: 1 } },
  { name: `gzip 4, chunks [${rowsPerMiB},${n}]`, opts: { chunks: [rowsPerMiB, n], compression: "gzip", compression_opts: 4 } },
  { name: "gzip 4, chunks [256,256]", opts: { chunks: [Math.min(256, n), Math.min(256, n)], compression: "gzip", compression_opts: 4 } },
  { name: `gzip 9, chunks [${rowsPerMiB},${n}]`, opts: { chunks: [rowsPerMiB, n], compression: "gzip", compression_opts: 9 } },
];
console.log(`covariance ${n}×${n} float64 (${((n * n * 8) / 1e6).toFixed(1)} MB raw) from ${input}`);
for (const [i, v] of variants.entries()) {
  const file = join(out, `cov-${i}.hdf5`);
  const t0 = performance.now();
  const f = new h5wasm.File(file, "w");
  f.create_dataset({ name: "covariance", data: cov, shape: [n, n], ...v.opts });
  f.close();
  const s = (performance.now() - t0) / 1000;
  console.log(`${v.name.padEnd(32)} ${(statSync(file).size / 1e6).toFixed(1).padStart(7)} MB  write ${s.toFixed(2)} s`);
  rmSync(file);
}
if (!outArg) rmSync(out, { recursive: true, force: true });
