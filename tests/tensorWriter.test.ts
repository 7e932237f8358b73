import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { H5, h5Ready } from "../src/tensor/h5.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { TensorWriter, writeTensor, type Compression } from "../src/tensor/TensorWriter.js";
import type { TensorModel } from "../src/tensor/types.js";
import {
  denseLogk,
  expectModelMatchesDump,
  expectSameModel,
  fixture,
  HAS_H5PY,
  HAS_HDF5PLUGIN,
  h5pyDumpMany,
  PYTHON,
  repoRoot,
  sharedDir,
  smallModel,
  tempDir,
} from "./fixtures/tensorFiles.js";

const tmp = tempDir("tensor-writer-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const REF_FIT = path.join(sharedDir, "reference", "ref_fit.py");
const HAS_REF_FIT = HAS_H5PY && fs.existsSync(REF_FIT);
if (!HAS_REF_FIT) console.log(`skipping the ref_fit.py check: needs h5py and ${REF_FIT}`);

const compressions: Compression[] = ["gzip", "blosc2", "none"];
const storages = ["dense", "sparse"] as const;

/** The filter ids on a dataset of a written file. */
async function filtersOf(file: string, name: string): Promise<number[]> {
  await h5Ready();
  const f = new H5.File(file, "r");
  try {
    return (f.get(name) as InstanceType<typeof H5.Dataset>).filters.map((x) => x.id);
  } finally {
    f.close();
  }
}

describe("writeTensor round trips", () => {
  const forH5py: { file: string; model: TensorModel }[] = [];
  const sources: [string, () => Promise<TensorModel>][] = [
    ["dense symmetric fixture", () => readTensor(fixture("tensor_dense_sym.hdf5"))],
    ["sparse asymmetric fixture", () => readTensor(fixture("tensor_sparse_asym_bbb.hdf5"))],
    ["synthetic asymmetric model with masked bins and extras", async () => smallModel({ symmetric: false, nmasked: 3, extras: true })],
  ];
  for (const [label, load] of sources) {
    for (const storage of storages) {
      for (const compression of compressions) {
        it(`${label}: ${storage}, ${compression} reads back bit-exactly through TensorReader`, async () => {
          const model = await load();
          const file = path.join(tmp, `${label.replace(/\W+/g, "_")}_${storage}_${compression}.hdf5`);
          await writeTensor(file, model, { storage, compression });
          const back = await readTensor(file);
          expect(back.storage).toBe(storage);
          expectSameModel(back, model);

          const expectedFilter = compression === "gzip" ? [1] : compression === "blosc2" ? [32026] : [];
          expect(await filtersOf(file, "hdata_obs")).toEqual(expectedFilter);
          expect(await filtersOf(file, storage === "dense" ? "hlogk" : "hlogk_sparse/values")).toEqual(expectedFilter);

          if (compression !== "blosc2" || HAS_HDF5PLUGIN) forH5py.push({ file, model: { ...model, storage } });
        });
      }
    }
  }

  // One Python start-up for all files written above (each costs ~1 s otherwise).
  it.skipIf(!HAS_H5PY)("h5py reads every written file exactly as the model that was written", () => {
    if (!HAS_HDF5PLUGIN) console.log("h5py checks of the Blosc2 files skipped: h5py here cannot read Blosc2 (no hdf5plugin)");
    expect(forH5py.length).toBeGreaterThanOrEqual(HAS_HDF5PLUGIN ? 18 : 12);
    const dumps = h5pyDumpMany(forH5py.map((w) => w.file));
    for (const { file, model } of forH5py) expectModelMatchesDump(model, dumps[file]);
  });
});

describe("writeTensor layout", () => {
  it("writes rabbit's layout: flat datasets with int64 original_shape, vlen strings, vlen int32 groups, meta_json", async () => {
    const model = smallModel({ nmasked: 2 });
    const file = path.join(tmp, "layout.hdf5");
    await writeTensor(file, model, { storage: "dense", command: "fit-gen --test", extraMeta: { generator: "test" } });
    await h5Ready();
    const f = new H5.File(file, "r");
    try {
      const hlogk = f.get("hlogk") as InstanceType<typeof H5.Dataset>;
      expect(hlogk.shape).toEqual([14 * 3 * 5]);
      expect(hlogk.attrs["original_shape"].value).toEqual(BigInt64Array.of(14n, 3n, 5n));
      expect(hlogk.attrs["original_shape"].dtype).toBe("<q");
      const groups = f.get("hsystgroupidxs") as InstanceType<typeof H5.Dataset>;
      expect(groups.metadata.type).toBe(9); // H5T_VLEN
      expect(groups.metadata.vlen_type?.size).toBe(4);
      expect(groups.metadata.vlen_type?.signed).toBe(true);
      expect(groups.value).toEqual([Int32Array.of(0, 1, 2, 3, 4), Int32Array.of(0), new Int32Array(0)]);
      const procs = f.get("hprocs") as InstanceType<typeof H5.Dataset>;
      expect(procs.metadata.vlen).toBe(true);
      expect(procs.metadata.cset).toBe(1); // UTF-8
      const meta = JSON.parse(((f.get("meta_json") as InstanceType<typeof H5.Dataset>).value as string[])[0]) as Record<string, unknown>;
      const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string };
      const git = spawnSync("git", ["rev-parse", "HEAD"], { cwd: repoRoot, encoding: "utf8" });
      // other work may commit while the test runs: a commit hash when git works, else "unknown"
      const gitHashPattern = git.status === 0 ? /^[0-9a-f]{40}$/ : /^unknown$/;
      expect(meta).toMatchObject({
        generator: "test",
        symmetric_tensor: true,
        systematic_type: "log_normal",
        meta_info: { command: "fit-gen --test", version: pkg.version, git_hash: expect.stringMatching(gitHashPattern) },
        channel_info: {
          ch_a: { axes: [{ name: "x", label: "x [GeV]", edges: model.channels[0].axes[0].edges }], masked: false, flow: false },
          masked_ch: { axes: [{ name: "cat", categories: ["c0", "c1"] }], masked: true, flow: false },
        },
      });
      const time = (meta["meta_info"] as { time: string }).time;
      expect(new Date(time).toISOString()).toBe(time);
    } finally {
      f.close();
    }
  });

  it("writes canonical sparse tensors: only non-zero yields, rows by position, columns sorted, zeros dropped", async () => {
    const model = smallModel({ zeroYields: true, nbins: 6, nproc: 2, nsyst: 4, density: 0.8 });
    // scramble the column order inside each row and add explicit zeros: the writer must sort and drop them
    const { logk } = model;
    for (let r = 0; r < logk.nrows; r++) {
      const b = logk.rowPtr[r];
      const e = logk.rowPtr[r + 1];
      logk.cols.subarray(b, e).reverse();
      logk.values.subarray(b, e).reverse();
      if (e > b) logk.values[b] = 0;
    }
    const file = path.join(tmp, "canonical.hdf5");
    await writeTensor(file, model, { storage: "sparse", compression: "none" });
    await h5Ready();
    const f = new H5.File(file, "r");
    let normIdx: BigInt64Array;
    let logkIdx: BigInt64Array;
    let logkVals: Float64Array;
    try {
      normIdx = (f.get("hnorm_sparse/indices") as InstanceType<typeof H5.Dataset>).value as BigInt64Array;
      logkIdx = (f.get("hlogk_sparse/indices") as InstanceType<typeof H5.Dataset>).value as BigInt64Array;
      logkVals = (f.get("hlogk_sparse/values") as InstanceType<typeof H5.Dataset>).value as Float64Array;
      expect((f.get("hnorm_sparse") as InstanceType<typeof H5.Group>).attrs["dense_shape"].value).toEqual(BigInt64Array.of(6n, 2n));
    } finally {
      f.close();
    }
    const nonZero = Array.from(model.norm).map((v, r) => [v, r] as const).filter(([v]) => v !== 0);
    expect(normIdx.length / 2).toBe(nonZero.length);
    nonZero.forEach(([, r], k) => {
      expect(Number(normIdx[2 * k]) * 2 + Number(normIdx[2 * k + 1])).toBe(r);
    });
    expect(Array.from(logkVals).every((v) => v !== 0)).toBe(true);
    for (let k = 1; k < logkVals.length; k++) {
      const before = Number(logkIdx[2 * k - 2]) * 100 + Number(logkIdx[2 * k - 1]);
      expect(Number(logkIdx[2 * k]) * 100 + Number(logkIdx[2 * k + 1])).toBeGreaterThan(before);
    }
    // read back: rows with zero yield lose their log κ (they cannot contribute), the rest is unchanged
    const back = await readTensor(file);
    const expected = denseLogk(model);
    for (let r = 0; r < logk.nrows; r++) if (model.norm[r] === 0) expected.fill(0, r * logk.ncols, (r + 1) * logk.ncols);
    expect(Array.from(denseLogk(back))).toEqual(Array.from(expected));
  });

  it("keeps an asymmetric model without systematics asymmetric (dense by shape, sparse by meta_json)", async () => {
    for (const storage of storages) {
      const model = smallModel({ nsyst: 0, symmetric: false });
      model.systGroups = [];
      const file = path.join(tmp, `nosyst_${storage}.hdf5`);
      await writeTensor(file, model, { storage });
      const back = await readTensor(file);
      expect(back.symmetric).toBe(false);
      expect(back.logk.ncols).toBe(0);
    }
  });

  it("streams a log κ bigger than one write piece (4M elements) and reads it back exactly", async () => {
    const model = smallModel({ nbins: 700, nproc: 5, nsyst: 1300, density: 0.002, seed: 3 });
    const file = path.join(tmp, "big_dense.hdf5");
    await new TensorWriter(model, { storage: "dense", compression: "blosc2" }).write(file);
    const back = await readTensor(file);
    expect(back.logk.values.length).toBe(model.logk.values.length);
    expectSameModel(back, model);
  });

  it("refuses a model whose channels do not tile the bins (the file could not be read back)", async () => {
    const model = smallModel({ nmasked: 2 });
    model.channels[0].size = 11;
    await expect(writeTensor(path.join(tmp, "bad_channels.hdf5"), model)).rejects.toThrow(/channel ch_a has size 11 but its axes give 12 bins/);
    const dropped = smallModel({ nmasked: 2 });
    dropped.channels.pop();
    await expect(writeTensor(path.join(tmp, "bad_channels.hdf5"), dropped)).rejects.toThrow(/masked channels have 0 bins, nbinsFull - nbins is 2/);
  });

  it("writes atomically: no temporary file is left, and a failed write leaves nothing", async () => {
    const file = path.join(tmp, "atomic.hdf5");
    await writeTensor(file, smallModel());
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith("atomic.hdf5"))).toEqual(["atomic.hdf5"]);
    const broken = smallModel();
    broken.systGroups = [{ name: "bad", indices: [99] }];
    await expect(writeTensor(path.join(tmp, "broken.hdf5"), broken)).rejects.toThrow(/group bad has an index out of range/);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith("broken"))).toEqual([]);
    // a failure half-way through writing (grad values of the wrong length) removes the temporary file
    const halfway = smallModel({ extras: true });
    halfway.externalTerms[0].gradValues = Float64Array.of(1);
    await expect(writeTensor(path.join(tmp, "halfway.hdf5"), halfway)).rejects.toThrow(/grad_values has 1 values/);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith("halfway"))).toEqual([]);
    const missingDir = path.join(tmp, "no_such_dir", "x.hdf5");
    await expect(writeTensor(missingDir, smallModel())).rejects.toThrow(UserError);
    await expect(writeTensor(missingDir, smallModel())).rejects.toThrow(`${missingDir}: cannot write the output: folder`);
    expect(fs.existsSync(path.join(tmp, "no_such_dir"))).toBe(false);
  });
});

describe("writeTensor output in the Python reference fit", () => {
  it.skipIf(!HAS_REF_FIT)("loads in ref_fit.py and gives finite results", async () => {
    const model = await readTensor(fixture("tensor_sparse_asym_bbb.hdf5"));
    for (const storage of storages) {
      const file = path.join(tmp, `reffit_${storage}.hdf5`);
      await writeTensor(file, model, { storage, compression: "gzip" });
      const res = spawnSync(PYTHON, [REF_FIT, file, "--bbb"], { encoding: "utf8" });
      expect(res.status, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout) as { names: string[]; values: number[]; errors: number[]; nll: number };
      expect(out.names).toEqual([...model.signals, ...model.systs]);
      expect(out.values.every(Number.isFinite)).toBe(true);
      expect(out.errors.every((e) => Number.isFinite(e) && e > 0)).toBe(true);
      expect(Number.isFinite(out.nll)).toBe(true);
    }
  });
});
