/**
 * Files written by the real rabbit TensorWriter (shared/data/rabbit, see its README): read with the
 * channels, axes, masked flags and systematic type of their pickled `meta`, and fitted in-process
 * against the float64 references in shared/data/rabbit/expected (values within 1e-5 of the error,
 * errors 1e-5 relative, NLL 1e-6 absolute, as compare_fit.py). ndf/chi2 are not compared: the
 * expected files predate the likelihood's ndf convention change.
 */
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { TensorModel } from "../src/tensor/types.js";
import { fit } from "../fitter/fit.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "shared", "data", "rabbit");
const have = existsSync(join(dir, "g16_normal_type.hdf5"));
if (!have) console.log(`rabbitFiles.test: skipped, ${dir} is not here`);

const read = (name: string): Promise<TensorModel> => readTensor(join(dir, `${name}.hdf5`), { onWarning: (l) => { throw new Error(`unexpected warning: ${l}`); } });

type Layout = [name: string, masked: boolean, flow: boolean, start: number, size: number, axes: [string, number][]][];

describe.skipIf(!have)("rabbit files: metadata from meta/pickle_data", () => {
  const cases: [string, "log_normal" | "normal", boolean, Layout][] = [
    ["g05_masked_2ch", "log_normal", true, [
      ["ch_a", false, false, 0, 20, [["x", 21]]],
      ["ch_b", false, false, 20, 24, [["eta", 7], ["pt", 5]]],
      ["gen_masked", true, true, 44, 7, [["genx", 6]]],
    ]],
    ["g10_external_sparsehess", "log_normal", true, [["ch0", false, false, 0, 30, [["x", 31]]]]],
    ["g16_normal_type", "normal", true, [["ch0", false, false, 0, 30, [["x", 31]]]]],
    ["mt_default.gzip", "log_normal", false, [
      ["ch0", false, false, 0, 10, [["x", 11]]],
      ["ch1", false, false, 10, 50, [["a", 11], ["b", 6]]],
      ["ch0_masked", true, false, 60, 10, [["x", 11]]],
    ]],
    ["mt_default.blosc2", "log_normal", false, [
      ["ch0", false, false, 0, 10, [["x", 11]]],
      ["ch1", false, false, 10, 50, [["a", 11], ["b", 6]]],
      ["ch0_masked", true, false, 60, 10, [["x", 11]]],
    ]],
  ];
  it.each(cases)("%s: systematic type %s, symmetric %s, channels", async (name, type, symmetric, layout) => {
    const m = await read(name);
    expect(m.metaSource).toBe("meta/pickle_data");
    expect(m.metaWarning).toBeNull();
    expect(m.systematicType).toBe(type);
    expect(m.symmetric).toBe(symmetric);
    expect(m.metaJson?.["meta_info"]).toEqual({});
    expect(m.channels.map((c) => [c.name, c.masked, c.flow, c.start, c.size, c.axes.map((a) => [a.name, a.edges?.length])])).toEqual(layout);
    const last = m.channels[m.channels.length - 1];
    expect(last.start + last.size).toBe(m.nbinsFull);
  });

  it("axis edges and labels come from the pickled numpy arrays", async () => {
    const m = await read("g05_masked_2ch");
    const [a, b, gen] = m.channels;
    expect(a.axes[0]).toMatchObject({ name: "x", label: "x", underflow: true, overflow: true });
    expect(a.axes[0].edges?.[1]).toBe(0.05);
    expect(a.axes[0].edges?.[20]).toBe(1);
    expect(b.axes[1].edges).toEqual([25, 30, 35, 45, 60]); // the Variable axis
    expect(b.axes[0].edges).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3]);
    // flow = true: 5 bins plus under- and overflow
    expect(gen.axes[0].edges).toHaveLength(6);
    expect(gen.size).toBe(7);
  });

  it("g10's sparse external Hessian is read entry by entry, both triangles as stored", async () => {
    const m = await read("g10_external_sparsehess");
    expect(m.externalTerms).toHaveLength(1);
    const t = m.externalTerms[0];
    expect(t.params).toEqual(["bkg_xsec", "bkg_shape", "lumi"]);
    expect(Array.from(t.gradValues ?? [])).toEqual([0.1, 0.4, -0.3]);
    expect(t.hessDense).toBeNull();
    expect(Array.from(t.hessSparse?.rows ?? [])).toEqual([0, 0, 1, 2, 2]);
    expect(Array.from(t.hessSparse?.cols ?? [])).toEqual([0, 2, 1, 0, 2]);
    expect(Array.from(t.hessSparse?.values ?? [])).toEqual([2, 0.7, 1, 0.7, 3]);
  });
});

interface Expected {
  names: string[];
  values: number[];
  errors: number[];
  nll: number;
  bbb: boolean;
  pseudodata: string | null;
}

describe.skipIf(!have)("rabbit files: fits agree with the float64 references", () => {
  const runs: [file: string, expected: string][] = [];
  for (const name of ["g05_masked_2ch", "g10_external_sparsehess", "g16_normal_type"]) {
    runs.push([name, `${name}.bbb`], [name, `${name}.nobbb`]);
  }
  for (const file of ["mt_default.gzip", "mt_default.blosc2"]) {
    runs.push([file, "mt_default.bbb"], [file, "mt_default.nobbb"], [file, "mt_default.pd_original.bbb"], [file, "mt_default.pd_original.nobbb"]);
  }
  it.each(runs)("%s vs expected/%s.json", async (file, exp) => {
    const ref = JSON.parse(readFileSync(join(dir, "expected", `${exp}.json`), "utf8")) as Expected;
    const model = await read(file);
    const r = await fit(model, { threads: 1, poiMode: "linear", bbb: ref.bbb, pseudodata: ref.pseudodata ?? undefined, skipYields: true });
    expect(r.status, r.message).toBe("converged");
    const byName = new Map(r.parameters.map((p) => [p.name, p]));
    let dv = 0;
    let de = 0;
    ref.names.forEach((n, i) => {
      const p = byName.get(n);
      expect(p, n).toBeDefined();
      dv = Math.max(dv, Math.abs(p!.value - ref.values[i]) / ref.errors[i]);
      de = Math.max(de, Math.abs(p!.error / ref.errors[i] - 1));
    });
    expect(r.parameters).toHaveLength(ref.names.length);
    expect(dv).toBeLessThan(1e-5);
    expect(de).toBeLessThan(1e-5);
    expect(Math.abs(r.nll - ref.nll)).toBeLessThan(1e-6);
  });
});
