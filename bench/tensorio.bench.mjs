// Tensor I/O: time to write and to read the W-mass-sized preset (2880 bins, 10 procs, 4859 systs),
// sparse and dense, with each compression, and the file sizes. Uses the compiled code in dist/.
// Usage: node bench/tensorio.bench.mjs [--quick]   (--quick: sparse only)
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readTensor } from "../dist/src/tensor/TensorReader.js";
import { writeTensor } from "../dist/src/tensor/TensorWriter.js";
import { generateWmassModel } from "../dist/src/tensor/wmassPreset.js";

const quick = process.argv.includes("--quick");
const dir = mkdtempSync(path.join(tmpdir(), "tensorio-bench-"));
const seconds = (t0) => ((performance.now() - t0) / 1000).toFixed(2);

try {
  let t0 = performance.now();
  const { model } = generateWmassModel({ seed: 1 });
  console.log(
    `wmass preset: ${model.nbins} bins, ${model.procs.length} procs, ${model.systs.length} systs, ` +
      `${model.logk.values.length} log κ non-zeros; generated in ${seconds(t0)} s`,
  );
  const cases = [
    ["sparse", "gzip"],
    ["sparse", "blosc2"],
    ["sparse", "none"],
    ...(quick ? [] : [["dense", "gzip"], ["dense", "blosc2"]]),
  ];
  console.log("storage  compression   write [s]   read [s]   file [MB]");
  for (const [storage, compression] of cases) {
    const file = path.join(dir, `wmass-${storage}-${compression}.hdf5`);
    globalThis.gc?.();
    t0 = performance.now();
    await writeTensor(file, model, { storage, compression, command: "tensorio.bench" });
    const tw = seconds(t0);
    const mb = (statSync(file).size / 1e6).toFixed(1);
    globalThis.gc?.();
    t0 = performance.now();
    const back = await readTensor(file);
    const tr = seconds(t0);
    if (back.logk.values.length !== model.logk.values.length || back.systs.length !== model.systs.length) {
      throw new Error(`${file}: read back ${back.logk.values.length} non-zeros, wrote ${model.logk.values.length}`);
    }
    console.log(`${storage.padEnd(8)} ${compression.padEnd(11)} ${tw.padStart(9)} ${tr.padStart(10)} ${mb.padStart(11)}`);
    rmSync(file, { force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
