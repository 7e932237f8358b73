import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readTensor, TensorReader } from "../src/tensor/TensorReader.js";
import {
  denseLogk,
  expectModelMatchesDump,
  expectSameFloats,
  fixture,
  HAS_H5PY,
  HAS_HDF5PLUGIN,
  h5pyDump,
  loadDump,
  PYTHON,
  rawDenseEntries,
  rawSparseEntries,
  sharedDir,
  tempDir,
  writeRawTensor,
  type RawDataset,
} from "./fixtures/tensorFiles.js";

const tmp = tempDir("tensor-reader-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("TensorReader on tensor_model.py fixtures", () => {
  it("reads the dense symmetric fixture bit-exactly as h5py does", async () => {
    const model = await readTensor(fixture("tensor_dense_sym.hdf5"));
    expectModelMatchesDump(model, loadDump("tensor_dense_sym.expected.json"));
    expect(model.storage).toBe("dense");
    expect(model.symmetric).toBe(true);
    expect(model.logk.ncols).toBe(12);
    // zeros are dropped: the CSR holds fewer entries than the dense tensor
    expect(model.logk.values.length).toBeLessThan(40 * 3 * 12);
    expect(Array.from(model.logk.values).every((v) => v !== 0)).toBe(true);
    expect(model.channels).toEqual([
      expect.objectContaining({ name: "ch0", masked: false, flow: false, start: 0, size: 40 }),
    ]);
    expect(model.channels[0].axes[0].edges?.length).toBe(41);
    expect(model.systematicType).toBe("log_normal");
    expect(model.metaJson?.["symmetric_tensor"]).toBe(true);
  });

  it("reads the sparse asymmetric fixture (with MC stat) bit-exactly as h5py does", async () => {
    const model = await readTensor(fixture("tensor_sparse_asym_bbb.hdf5"));
    expectModelMatchesDump(model, loadDump("tensor_sparse_asym_bbb.expected.json"));
    expect(model.storage).toBe("sparse");
    expect(model.symmetric).toBe(false);
    expect(model.logk.ncols).toBe(24);
    // half-difference columns are present
    expect(Array.from(model.logk.cols).some((c) => c >= 12)).toBe(true);
    // columns sorted within each row
    for (let r = 0; r < model.logk.nrows; r++) {
      for (let k = model.logk.rowPtr[r] + 1; k < model.logk.rowPtr[r + 1]; k++) {
        expect(model.logk.cols[k]).toBeGreaterThan(model.logk.cols[k - 1]);
      }
    }
  });

  it.skipIf(!HAS_H5PY)("the committed expectations are what h5py reads now", () => {
    for (const name of ["tensor_dense_sym", "tensor_sparse_asym_bbb"]) {
      expect(h5pyDump(fixture(`${name}.hdf5`))).toEqual(loadDump(`${name}.expected.json`));
    }
  });

  // Current rabbit files are Blosc2-LZ4 compressed by h5py + hdf5plugin: copy the fixtures that way.
  it.skipIf(!HAS_HDF5PLUGIN)("reads Blosc2-LZ4 files written by h5py + hdf5plugin (as rabbit writes them)", async () => {
    const recompress = [
      "import sys, h5py, hdf5plugin",
      "def copy(s, d):",
      "    for k, v in s.attrs.items(): d.attrs[k] = v",
      "    for name, obj in s.items():",
      "        if isinstance(obj, h5py.Group):",
      "            copy(obj, d.create_group(name)); continue",
      "        kw = dict(hdf5plugin.Blosc2(cname='lz4', clevel=5, filters=hdf5plugin.Blosc2.SHUFFLE)) if obj.dtype.kind in 'fiu' and obj.size > 0 else {}",
      "        ds = d.create_dataset(name, data=obj[...], dtype=obj.dtype, **kw)",
      "        for k, v in obj.attrs.items(): ds.attrs[k] = v",
      "with h5py.File(sys.argv[1], 'r') as s, h5py.File(sys.argv[2], 'w') as d: copy(s, d)",
    ].join("\n");
    for (const name of ["tensor_dense_sym", "tensor_sparse_asym_bbb"]) {
      const file = path.join(tmp, `${name}_blosc2.hdf5`);
      const res = spawnSync(PYTHON, ["-c", recompress, fixture(`${name}.hdf5`), file], { encoding: "utf8" });
      expect(res.status, res.stderr).toBe(0);
      expectModelMatchesDump(await readTensor(file), loadDump(`${name}.expected.json`));
    }
  });

  it("gives the same CSR whatever the slab size of the dense stream", async () => {
    const reader = await TensorReader.open(fixture("tensor_dense_sym.hdf5"));
    try {
      const whole = reader.read();
      for (const chunkElements of [1, 7, 100, 1000]) {
        const sliced = reader.read({ chunkElements });
        expect(Array.from(sliced.logk.rowPtr)).toEqual(Array.from(whole.logk.rowPtr));
        expect(Array.from(sliced.logk.cols)).toEqual(Array.from(whole.logk.cols));
        expectSameFloats(sliced.logk.values, whole.logk.values, `values, chunkElements=${chunkElements}`);
      }
    } finally {
      reader.close();
    }
  });
});

describe("TensorReader on rabbit-style files without meta_json", () => {
  it("reads a dense file with masked bins and derives channels, weights and shapes", async () => {
    const file = path.join(tmp, "rabbit_dense.hdf5");
    const entries = rawDenseEntries();
    await writeRawTensor(file, entries);
    const model = await readTensor(file);
    expect(model.nbins).toBe(4);
    expect(model.nbinsFull).toBe(6);
    expect(model.metaJson).toBeNull();
    expect(model.channels).toEqual([
      { name: "ch0", axes: [{ name: "obs", edges: [0, 1, 2, 3, 4] }], masked: false, flow: false, start: 0, size: 4 },
      { name: "ch1_masked", axes: [{ name: "obs", edges: [0, 1, 2] }], masked: true, flow: false, start: 4, size: 2 },
    ]);
    // no hconstraintweights: 0 for the unconstrained systematic, 1 otherwise
    expect(Array.from(model.constraintWeights)).toEqual([1, 1, 0]);
    expect(model.systGroups).toEqual([]);
    expect(model.sumw).toBeNull();
    expectSameFloats(model.norm, (entries.hnorm as RawDataset).values as Float64Array, "norm");
    expectSameFloats(denseLogk(model), (entries.hlogk as RawDataset).values as Float64Array, "logk");
    // the flat dataset is contiguous, so slabs of 5 and 7 elements end inside log κ rows of 3
    const reader = await TensorReader.open(file);
    try {
      for (const chunkElements of [1, 5, 7]) {
        expectSameFloats(denseLogk(reader.read({ chunkElements })), denseLogk(model), `logk, slabs of ${chunkElements}`);
      }
    } finally {
      reader.close();
    }
  });

  it("reads datasets stored N-D without original_shape", async () => {
    const file = path.join(tmp, "rabbit_nd.hdf5");
    const entries = rawDenseEntries();
    for (const name of ["hnorm", "hlogk"]) {
      const d = entries[name] as RawDataset;
      entries[name] = { values: d.values, shape: d.originalShape };
    }
    await writeRawTensor(file, entries);
    const reader = await TensorReader.open(file);
    try {
      for (const chunkElements of [undefined, 5]) {
        const model = reader.read({ chunkElements });
        expectSameFloats(denseLogk(model), (rawDenseEntries().hlogk as RawDataset).values as Float64Array, "logk");
      }
    } finally {
      reader.close();
    }
  });

  it("maps sparse log κ rows (positions in hnorm_sparse) to bin*nproc+proc", async () => {
    const file = path.join(tmp, "rabbit_sparse.hdf5");
    await writeRawTensor(file, rawSparseEntries());
    const model = await readTensor(file);
    const dense = rawDenseEntries();
    const expectedNorm = Float64Array.from((dense.hnorm as RawDataset).values as Float64Array);
    expectedNorm[3] = 0;
    const expectedLogk = Float64Array.from((dense.hlogk as RawDataset).values as Float64Array);
    expectedLogk.fill(0, 3 * 3, 4 * 3);
    expect(model.storage).toBe("sparse");
    expectSameFloats(model.norm, expectedNorm, "norm");
    expectSameFloats(denseLogk(model), expectedLogk, "logk");
    // contiguous datasets: slabs of 1, 3 or 7 elements split (row, col) pairs between slabs
    const reader = await TensorReader.open(file);
    try {
      for (const chunkElements of [1, 3, 7]) {
        const sliced = reader.read({ chunkElements });
        expectSameFloats(sliced.norm, expectedNorm, `norm, slabs of ${chunkElements}`);
        expectSameFloats(denseLogk(sliced), expectedLogk, `logk, slabs of ${chunkElements}`);
      }
    } finally {
      reader.close();
    }
  });

  it("also accepts sparse log κ whose rows are bin*nproc+proc (dense_shape [nbinsfull*nproc, nsyst])", async () => {
    const file = path.join(tmp, "rabbit_sparse_rows.hdf5");
    const dense = rawDenseEntries();
    const logk = (dense.hlogk as RawDataset).values as Float64Array;
    const entries = rawSparseEntries();
    const idx: bigint[] = [];
    const vals: number[] = [];
    logk.forEach((v, i) => {
      if (v !== 0) {
        idx.push(BigInt(Math.floor(i / 3)), BigInt(i % 3));
        vals.push(v);
      }
    });
    entries.hlogk_sparse = {
      denseShape: [12, 3],
      members: {
        indices: { values: BigInt64Array.from(idx), originalShape: [vals.length, 2] },
        values: { values: Float64Array.from(vals), originalShape: [vals.length] },
      },
    };
    await writeRawTensor(file, entries);
    const model = await readTensor(file);
    expectSameFloats(denseLogk(model), logk, "logk");
  });

  it("reads the optional datasets: noi, groups, data variance, covariance, pseudodata, external terms", async () => {
    const file = path.join(tmp, "rabbit_extras.hdf5");
    const entries = rawDenseEntries();
    Object.assign(entries, {
      hnoiidxs: { values: BigInt64Array.of(2n), originalShape: [1] },
      hconstraintweights: { values: Float64Array.of(1, 0.5, 0), originalShape: [3] },
      hdata_var: { values: Float64Array.of(1, 2, 3, 4), originalShape: [4] },
      hdata_cov_inv: { values: Float64Array.from({ length: 16 }, (_, i) => i / 3), originalShape: [4, 4] },
      hpseudodata: { values: Float64Array.from({ length: 8 }, (_, i) => i), originalShape: [4, 2] },
      hpseudodatanames: { values: ["t0", "t1"] },
      hsumw: { values: Float64Array.from({ length: 12 }, (_, i) => i + 0.5), originalShape: [6, 2] },
      external_terms: {
        members: {},
      },
    });
    await writeRawTensor(file, entries);
    // external term group: written with h5wasm directly into the file
    const { H5 } = await import("../src/tensor/h5.js");
    const f = new H5.File(file, "a");
    const g = f.get("external_terms") as InstanceType<typeof H5.Group>;
    const t = g.create_group("constraint_x");
    t.create_dataset({ name: "params", data: ["a", "b"], dtype: "S" });
    t.create_dataset({ name: "grad_values", data: Float64Array.of(0.25, -1.5) });
    t.create_dataset({ name: "hess_dense", data: Float64Array.of(1, 0.5, 0.5, 2), shape: [2, 2], dtype: "<d" });
    f.close();

    const model = await readTensor(file);
    expect(model.noiIndices).toEqual([2]);
    expect(Array.from(model.constraintWeights)).toEqual([1, 0.5, 0]);
    expect(Array.from(model.dataVar ?? [])).toEqual([1, 2, 3, 4]);
    expect(model.dataCovInv?.[5]).toBe(5 / 3);
    expect(model.pseudodata?.names).toEqual(["t0", "t1"]);
    expect(Array.from(model.pseudodata?.values ?? [])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(model.sumw?.[11]).toBe(11.5);
    expect(model.sumw2).toBeNull();
    expect(model.externalTerms).toEqual([
      { name: "constraint_x", params: ["a", "b"], gradValues: Float64Array.of(0.25, -1.5), hessDense: Float64Array.of(1, 0.5, 0.5, 2), hessSparse: null },
    ]);
  });
});

describe("TensorReader channels from meta_json", () => {
  it("computes start/size from edges, categories and flow, real channels before masked ones", async () => {
    const file = path.join(tmp, "channels.hdf5");
    const entries = rawDenseEntries();
    // 4 real bins = 2 (edges, no flow) + 2 (one category with flow); 2 masked bins
    const meta = {
      channel_info: {
        a: { axes: [{ name: "pt", label: "p_T", edges: [0, 1, 2] }], masked: false, flow: false },
        m: { axes: [{ name: "y", edges: [0, 5, 10] }], masked: true, flow: false },
        b: { axes: [{ name: "q", categories: [1] }], masked: false, flow: true },
      },
      symmetric_tensor: true,
      systematic_type: "normal",
    };
    entries.meta_json = { values: [JSON.stringify(meta)] };
    await writeRawTensor(file, entries);
    const model = await readTensor(file);
    expect(model.channels.map((c) => [c.name, c.start, c.size, c.masked, c.flow])).toEqual([
      ["a", 0, 2, false, false],
      ["m", 4, 2, true, false],
      ["b", 2, 2, false, true],
    ]);
    expect(model.channels[0].axes[0]).toEqual({ name: "pt", label: "p_T", edges: [0, 1, 2] });
    expect(model.systematicType).toBe("normal");
  });

  it("reports channel_info that does not cover the bins", async () => {
    const file = path.join(tmp, "channels_bad.hdf5");
    const entries = rawDenseEntries();
    entries.meta_json = { values: [JSON.stringify({ channel_info: { a: { axes: [{ name: "x", edges: [0, 1, 2] }] } } })] };
    await writeRawTensor(file, entries);
    await expect(readTensor(file)).rejects.toThrow(/meta_json.*non-masked channels have 2 bins, hdata_obs has 4/);
  });
});

const WMASS_MODEL = path.join(sharedDir, "reference", "wmass_model.py");
const HAS_WMASS = HAS_H5PY && fs.existsSync(WMASS_MODEL);
if (!HAS_WMASS) console.log(`skipping the W-mass-size read: needs h5py and ${WMASS_MODEL}`);

describe("TensorReader at W-mass size", () => {
  it.skipIf(!HAS_WMASS)("reads the 5.9M-entry sparse model with the generator's counts", async () => {
    const file = path.join(tmp, "wmass_sparse.hdf5");
    const gen = spawnSync(PYTHON, [WMASS_MODEL, file], { encoding: "utf8" });
    expect(gen.status, gen.stderr).toBe(0);
    const made = JSON.parse(gen.stdout.trim().split("\n").pop() ?? "{}") as { bins: number; procs: number; systs: number; nnz: number };
    const t0 = performance.now();
    const model = await readTensor(file);
    console.log(`W-mass sparse model read in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    fs.rmSync(file);
    expect(model.nbins).toBe(made.bins);
    expect(model.procs.length).toBe(made.procs);
    expect(model.systs.length).toBe(made.systs);
    expect(model.logk.values.length).toBe(made.nnz);
    expect(model.logk.rowPtr[model.logk.nrows]).toBe(made.nnz);
    expect(model.noiIndices).toEqual([model.systs.indexOf("massShiftW100MeV")]);
    expect(model.channels.map((c) => c.size)).toEqual([made.bins]);
  });
});
