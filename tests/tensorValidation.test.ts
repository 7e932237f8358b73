import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { writeTensor } from "../src/tensor/TensorWriter.js";
import {
  axisBins,
  channelBins,
  checkedSparsePairs,
  checkFinite,
  checkHdf5File,
  checkIndexRange,
  checkNotEmpty,
  checkShape,
  SparsePairCollector,
} from "../src/tensor/validate.js";
import {
  rawDenseEntries,
  rawSparseEntries,
  smallModel,
  tempDir,
  writeRawTensor,
  type RawDataset,
  type RawGroup,
} from "./fixtures/tensorFiles.js";

const tmp = tempDir("tensor-validate-");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
function tmpFile(label: string): string {
  counter++;
  return path.join(tmp, `${counter}_${label}.hdf5`);
}

/** Reading `file` fails with a one-line UserError naming the file and matching `pattern`. */
async function expectUserError(file: string, pattern: RegExp): Promise<void> {
  let caught: unknown = null;
  try {
    await readTensor(file);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UserError);
  const message = (caught as UserError).message;
  expect(message).not.toContain("\n");
  expect(message.startsWith(`${file}: `)).toBe(true);
  expect(message).toMatch(pattern);
}

type Entries = Record<string, RawDataset | RawGroup>;

async function brokenRaw(label: string, edit: (e: Entries) => void, base: () => Entries = rawDenseEntries): Promise<string> {
  const entries = base();
  edit(entries);
  const file = tmpFile(label);
  await writeRawTensor(file, entries);
  return file;
}

function member(e: Entries, group: string, name: string): RawDataset {
  return (e[group] as RawGroup).members[name];
}

describe("files that are not tensors", () => {
  it("a missing file", async () => {
    await expectUserError(path.join(tmp, "nope.hdf5"), /no such file/);
  });

  it("a file that is not HDF5", async () => {
    const file = tmpFile("text");
    fs.writeFileSync(file, "hello, this is not HDF5\n".repeat(100));
    await expectUserError(file, /not an HDF5 file/);
  });

  it("an HDF5 signature on a truncated file", async () => {
    const file = tmpFile("truncated");
    const good = tmpFile("good");
    await writeRawTensor(good, rawDenseEntries());
    fs.writeFileSync(file, fs.readFileSync(good).subarray(0, 100));
    await expectUserError(file, /cannot be opened as HDF5 \(truncated file/);
  });
});

describe("datasets missing or with inconsistent shapes", () => {
  for (const name of ["hprocs", "hsignals", "hsysts", "hdata_obs", "hlogk"]) {
    it(`required dataset ${name} missing`, async () => {
      const file = await brokenRaw(`no_${name}`, (e) => delete e[name]);
      await expectUserError(file, new RegExp(`dataset '${name}': required dataset is missing`));
    });
  }

  it("neither hnorm nor hnorm_sparse", async () => {
    const file = await brokenRaw("no_norm", (e) => delete e.hnorm);
    await expectUserError(file, /dataset 'hnorm': required dataset is missing \(nor is there hnorm_sparse\)/);
  });

  it("hnorm with a process count other than hprocs", async () => {
    const file = await brokenRaw("norm_nproc", (e) => {
      (e.hnorm as RawDataset).originalShape = [4, 3];
    });
    await expectUserError(file, /dataset 'hnorm': shape \[4, 3\] does not match \[4, 2\]/);
  });

  it("hlogk with a systematic count other than hsysts", async () => {
    const file = await brokenRaw("logk_nsyst", (e) => {
      e.hsysts = { values: ["a", "b", "free", "extra"] };
    });
    await expectUserError(file, /dataset 'hlogk': shape \[6, 2, 3\] does not match \[6, 2, 4\]/);
  });

  it("hnorm with fewer bins than hdata_obs", async () => {
    const file = await brokenRaw("norm_bins", (e) => {
      e.hdata_obs = { values: new Float64Array(8).fill(1), originalShape: [8] };
    });
    await expectUserError(file, /dataset 'hnorm': has 6 bins, fewer than the 8 of hdata_obs/);
  });

  it("original_shape that does not fit the stored values", async () => {
    const file = await brokenRaw("orig_shape", (e) => {
      (e.hdata_obs as RawDataset).originalShape = [5];
    });
    await expectUserError(file, /dataset 'hdata_obs': original_shape \[5\] does not fit its 4 stored values/);
  });

  it("hconstraintweights, hdata_var, hsumw2 of the wrong length", async () => {
    let file = await brokenRaw("cw", (e) => {
      e.hconstraintweights = { values: Float64Array.of(1, 1), originalShape: [2] };
    });
    await expectUserError(file, /dataset 'hconstraintweights': shape \[2\] does not match \[3\]/);
    file = await brokenRaw("var", (e) => {
      e.hdata_var = { values: Float64Array.of(1, 1, 1), originalShape: [3] };
    });
    await expectUserError(file, /dataset 'hdata_var': shape \[3\] does not match \[4\]/);
    file = await brokenRaw("sumw2", (e) => {
      e.hsumw2 = { values: new Float64Array(8), originalShape: [4, 2] };
    });
    await expectUserError(file, /dataset 'hsumw2': shape \[4, 2\] does not match \[6, 2\]/);
  });

  it("signals that are not the first processes", async () => {
    const file = await brokenRaw("signals", (e) => {
      e.hsignals = { values: ["bkg"] };
    });
    await expectUserError(file, /dataset 'hsignals': signal 'bkg' is not process 0/);
  });

  it("a noi index outside hsysts", async () => {
    const file = await brokenRaw("noi", (e) => {
      e.hnoiidxs = { values: Int32Array.of(3), originalShape: [1] };
    });
    await expectUserError(file, /dataset 'hnoiidxs': index 3 at position 0 is out of range \[0, 3\)/);
  });

  it("sparse dense_shape disagreeing with hprocs or hsysts", async () => {
    let file = await brokenRaw("sparse_nproc", (e) => {
      (e.hnorm_sparse as RawGroup).denseShape = [6, 3];
    }, rawSparseEntries);
    await expectUserError(file, /dataset 'hnorm_sparse': dense_shape \[6, 3\] has 3 processes, hprocs has 2/);
    file = await brokenRaw("sparse_ncols", (e) => {
      (e.hlogk_sparse as RawGroup).denseShape = [11, 5];
    }, rawSparseEntries);
    await expectUserError(file, /dataset 'hlogk_sparse': dense_shape \[11, 5\] has 5 columns, expected nsyst = 3/);
  });
});

describe("bad numbers", () => {
  it("NaN in hdata_obs", async () => {
    const file = await brokenRaw("nan_data", (e) => {
      (e.hdata_obs as RawDataset).values = Float64Array.of(1, NaN, 3, 4);
    });
    await expectUserError(file, /dataset 'hdata_obs': non-finite value NaN at flat index 1/);
  });

  it("Infinity in a dense hlogk, found while streaming", async () => {
    const file = await brokenRaw("inf_logk", (e) => {
      ((e.hlogk as RawDataset).values as Float64Array)[29] = -Infinity;
    });
    await expectUserError(file, /dataset 'hlogk': non-finite value -Infinity at flat index 29/);
  });

  it("NaN in sparse log κ values and Infinity in hsumw", async () => {
    let file = await brokenRaw("nan_sparse", (e) => {
      (member(e, "hlogk_sparse", "values").values as Float64Array)[2] = NaN;
    }, rawSparseEntries);
    await expectUserError(file, /dataset 'hlogk_sparse\/values': non-finite value NaN at flat index 2/);
    file = await brokenRaw("inf_sumw", (e) => {
      e.hsumw = { values: new Float64Array(12).fill(Infinity), originalShape: [6, 2] };
    });
    await expectUserError(file, /dataset 'hsumw': non-finite value Infinity at flat index 0/);
  });

  it("negative nominal yields (interference, allow_negative_expectation) are read, dense and sparse", async () => {
    let file = await brokenRaw("neg_norm", (e) => {
      ((e.hnorm as RawDataset).values as Float64Array)[5] = -1;
    });
    expect((await readTensor(file)).norm[5]).toBe(-1);
    file = await brokenRaw("neg_norm_sparse", (e) => {
      (member(e, "hnorm_sparse", "values").values as Float64Array)[0] = -0.5;
    }, rawSparseEntries);
    expect(Math.min(...(await readTensor(file)).norm)).toBe(-0.5);
  });

  it("a NaN written through writeTensor is caught on reading", async () => {
    const model = smallModel();
    model.norm[4] = NaN;
    const file = tmpFile("writer_nan");
    await writeTensor(file, model, { storage: "sparse" });
    await expectUserError(file, /dataset 'hnorm_sparse\/values': non-finite value NaN/);
  });
});

describe("bad sparse indices", () => {
  it("an index outside dense_shape", async () => {
    let file = await brokenRaw("sparse_oob", (e) => {
      (member(e, "hnorm_sparse", "indices").values as BigInt64Array)[1] = 2n;
    }, rawSparseEntries);
    await expectUserError(file, /dataset 'hnorm_sparse\/indices': entry 0 lies outside dense_shape \[6, 2\]/);
    file = await brokenRaw("sparse_neg", (e) => {
      (member(e, "hlogk_sparse", "indices").values as BigInt64Array)[0] = -1n;
    }, rawSparseEntries);
    await expectUserError(file, /dataset 'hlogk_sparse\/indices': entry 0 lies outside dense_shape/);
    file = await brokenRaw("sparse_huge", (e) => {
      (member(e, "hlogk_sparse", "indices").values as BigInt64Array)[1] = 1n << 33n;
    }, rawSparseEntries);
    await expectUserError(file, /dataset 'hlogk_sparse\/indices': entry 0 lies outside dense_shape/);
  });

  it("unsorted or duplicated indices", async () => {
    let file = await brokenRaw("sparse_unsorted", (e) => {
      const idx = member(e, "hlogk_sparse", "indices").values as BigInt64Array;
      [idx[2], idx[3], idx[4], idx[5]] = [idx[4], idx[5], idx[2], idx[3]];
    }, rawSparseEntries);
    await expectUserError(file, /dataset 'hlogk_sparse\/indices': indices are not in canonical order/);
    file = await brokenRaw("sparse_dup", (e) => {
      const idx = member(e, "hnorm_sparse", "indices").values as BigInt64Array;
      idx[2] = idx[0];
      idx[3] = idx[1];
    }, rawSparseEntries);
    await expectUserError(file, /dataset 'hnorm_sparse\/indices': indices are not in canonical order/);
  });

  it("a missing dense_shape", async () => {
    const file = await brokenRaw("no_dense_shape", (e) => {
      delete (e.hlogk_sparse as RawGroup).denseShape;
    }, rawSparseEntries);
    await expectUserError(file, /dataset 'hlogk_sparse': attribute dense_shape is missing/);
  });
});

describe("empty models", () => {
  it("no processes", async () => {
    const file = await brokenRaw("no_procs", (e) => {
      e.hprocs = { values: [] };
      e.hsignals = { values: [] };
      e.hnorm = { values: new Float64Array(0), originalShape: [6, 0] };
      e.hlogk = { values: new Float64Array(0), originalShape: [6, 0, 3] };
    });
    await expectUserError(file, /dataset 'hprocs': the model has no processes/);
  });

  it("no bins", async () => {
    const file = await brokenRaw("no_bins", (e) => {
      e.hdata_obs = { values: new Float64Array(0), originalShape: [0] };
    });
    await expectUserError(file, /dataset 'hdata_obs': the model has no bins/);
  });
});

describe("validate.ts checks on their own", () => {
  it("checkHdf5File accepts a signature after a user block", () => {
    const file = tmpFile("userblock");
    const bytes = Buffer.alloc(1024);
    Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes, 512);
    fs.writeFileSync(file, bytes);
    expect(() => checkHdf5File(file)).not.toThrow();
    expect(() => checkHdf5File(tmp)).toThrow(/not a regular file/);
  });

  it("the array checks name the dataset and position", () => {
    expect(() => checkFinite("f", "d", [1, 2, Infinity], 10)).toThrow("f: dataset 'd': non-finite value Infinity at flat index 12");
    expect(() => checkShape("f", "d", [2, 3], [2, 3], "x")).not.toThrow();
    expect(() => checkShape("f", "d", [6], [2, 3], "x")).toThrow("shape [6] does not match [2, 3] (x)");
    expect(() => checkIndexRange("f", "d", [0, 1.5], 3, "hsysts")).toThrow(/index 1.5 at position 1/);
    expect(() => checkNotEmpty("f", 1, 1)).not.toThrow();
  });

  it("channel bins: edges give len-1 (+2 with flow), categories len (+1 with flow), axes multiply", () => {
    expect(axisBins({ name: "pt", edges: [0, 1, 2, 3] }, false)).toBe(3);
    expect(axisBins({ name: "pt", edges: [0, 1, 2, 3] }, true)).toBe(5);
    expect(axisBins({ name: "q", categories: [-1, 1] }, false)).toBe(2);
    expect(axisBins({ name: "q", categories: [-1, 1] }, true)).toBe(3);
    expect(channelBins([{ name: "eta", edges: [0, 1, 2] }, { name: "q", categories: ["a", "b", "c"] }], false)).toBe(6);
  });

  it("checkedSparsePairs narrows int64 pairs and accepts canonical order", () => {
    const raw = BigInt64Array.of(0n, 1n, 0n, 2n, 3n, 0n);
    const { rows, cols } = checkedSparsePairs("f", "d", raw, [4, 3]);
    expect(Array.from(rows)).toEqual([0, 0, 3]);
    expect(Array.from(cols)).toEqual([1, 2, 0]);
    expect(() => checkedSparsePairs("f", "d", Int32Array.of(1, 0, 0, 0), [4, 3])).toThrow(/canonical order/);
    expect(() => checkedSparsePairs("f", "d", Int32Array.of(0, 3), [4, 3])).toThrow(/outside dense_shape \[4, 3\]/);
  });

  it("SparsePairCollector takes pieces that split pairs, and counts them", () => {
    const c = new SparsePairCollector("f", "d", 3, [4, 3]);
    c.add(BigInt64Array.of(0n));
    c.add(BigInt64Array.of(1n, 0n, 2n));
    c.add(BigInt64Array.of(3n, 0n));
    const { rows, cols } = c.finish();
    expect(Array.from(rows)).toEqual([0, 0, 3]);
    expect(Array.from(cols)).toEqual([1, 2, 0]);
    const short = new SparsePairCollector("f", "d", 2, [4, 3]);
    short.add(Int32Array.of(0, 1, 2));
    expect(() => short.finish()).toThrow("f: dataset 'd': holds 1 complete (row, col) pairs, expected 2");
    const long = new SparsePairCollector("f", "d", 1, [4, 3]);
    expect(() => long.add(Int32Array.of(0, 1, 2, 0))).toThrow(/holds more than 1 \(row, col\) pairs/);
  });
});
