/**
 * The CUDA engine's kernels (fitter/cuda/kernels/likelihood.cu) and host logic, run on the CPU
 * emulation device (the same kernel source compiled by g++, launched serially), against the native
 * engine: NLL, gradient, HVP, Hessian, yields, yield variances, toys' data/θ0/β0, batched toys and the
 * SPD inverse agree to 1e-12 relative on synthetic models covering every option and on every
 * tensor fixture of tests/ and ../shared/data/rabbit. This checks the kernels' arithmetic, not
 * their execution on a GPU (tests/cudaDevice.test.ts does that where a GPU exists).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CudaEvaluator } from "../fitter/cuda/CudaEvaluator.js";
import { buildLikelihoodSpec, type LikelihoodSpec, type PoiMode } from "../fitter/likelihoodSpec.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import type { SystematicType } from "../src/tensor/types.js";
import { compareFits, compareWithNative, expectFitAgreement } from "./helpers/engineCompare.js";
import { rng } from "./helpers/random.js";

const here = dirname(fileURLToPath(import.meta.url));
const TOL = 1e-12;

interface Synth {
  symmetric: boolean;
  poiMode: PoiMode;
  bb: "off" | "plain" | "split";
  systematicType: SystematicType;
  density: number;
  seed: number;
}

/** nbins real + masked bins, n = 0 bins, an empty template, free and constrained θ, BB with k = ∞ bins */
function synthSpec(o: Synth): LikelihoodSpec {
  const NBINS = 13;
  const NMASKED = 3;
  const NPROC = 4;
  const NSIG = 2;
  const NSYST = 7;
  const r = rng(o.seed);
  const nbinsFull = NBINS + NMASKED;
  const nrows = nbinsFull * NPROC;
  const ncols = o.symmetric ? NSYST : 2 * NSYST;
  const norm = new Float64Array(nrows);
  for (let i = 0; i < nrows; i++) norm[i] = 5 + 60 * r();
  norm[3 * NPROC + 2] = 0;
  const rowPtr = new Int32Array(nrows + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  for (let row = 0; row < nrows; row++) {
    for (let c = 0; c < ncols; c++) {
      if (r() < o.density) {
        cols.push(c);
        vals.push((o.systematicType === "normal" ? 3 : 0.08) * (2 * r() - 1));
      }
    }
    rowPtr[row + 1] = cols.length;
  }
  const data = new Float64Array(NBINS);
  for (let b = 0; b < NBINS; b++) {
    let s = 0;
    for (let p = 0; p < NPROC; p++) s += norm[b * NPROC + p];
    data[b] = Math.round(s * (0.8 + 0.4 * r()));
  }
  data[1] = 0;
  data[6] = 0;
  let bbK: Float64Array | null = null;
  let bbActive: Uint8Array | null = null;
  if (o.bb !== "off") {
    bbK = new Float64Array(NBINS);
    for (let b = 0; b < NBINS; b++) bbK[b] = b % 5 === 2 ? Number.POSITIVE_INFINITY : 20 + 400 * r();
    if (o.bb === "split") {
      bbActive = new Uint8Array(NBINS * NPROC).fill(1);
      for (let b = 0; b < NBINS; b += 2) bbActive[b * NPROC + (b % NPROC)] = 0;
    }
  }
  const constraintWeights = new Float64Array(NSYST).fill(1);
  constraintWeights[0] = 0;
  constraintWeights[4] = 0;
  const theta0 = new Float64Array(NSYST);
  for (let s = 0; s < NSYST; s++) theta0[s] = 0.3 * (2 * r() - 1);
  return {
    nbins: NBINS,
    nbinsFull,
    nproc: NPROC,
    nsig: NSIG,
    nsyst: NSYST,
    norm,
    logk: { nrows, ncols, rowPtr, cols: Int32Array.from(cols), values: Float64Array.from(vals) },
    symmetric: o.symmetric,
    systematicType: o.systematicType,
    data,
    bbK,
    bbActive,
    constraintWeights,
    theta0,
    poiMode: o.poiMode,
  };
}

function emulated(spec: LikelihoodSpec): CudaEvaluator {
  return new CudaEvaluator(spec, { mode: "emulate" });
}

describe("CUDA kernels on the CPU emulation device vs the native engine", () => {
  const cases: Synth[] = [];
  let seed = 11;
  for (const symmetric of [true, false])
    for (const systematicType of ["log_normal", "normal"] as SystematicType[])
      for (const bb of ["off", "plain", "split"] as const)
        cases.push({ symmetric, systematicType, bb, poiMode: seed % 2 ? "linear" : "square", density: seed % 3 ? 0.45 : 1, seed: seed++ });
  for (const c of cases) {
    it(`synthetic ${c.symmetric ? "symmetric" : "asymmetric"} ${c.systematicType} BB ${c.bb} POI ${c.poiMode} density ${c.density}`, () => {
      const spec = synthSpec(c);
      const ev = emulated(spec);
      try {
        compareWithNative(spec, ev, TOL, c.seed);
      } finally {
        ev.dispose();
      }
    });
  }

  it("log κ in float32 storage is converted to float64 on upload (same numbers as the native engine given the same float32 values)", () => {
    const spec64 = synthSpec({ symmetric: false, systematicType: "log_normal", bb: "plain", poiMode: "linear", density: 0.5, seed: 99 });
    const values32 = Float32Array.from(spec64.logk.values);
    const spec32 = { ...spec64, logk: { ...spec64.logk, values: values32 as unknown as Float64Array } };
    const specRounded = { ...spec64, logk: { ...spec64.logk, values: Float64Array.from(values32) } };
    const ev = emulated(spec32);
    try {
      compareWithNative(specRounded, ev, TOL, 99);
    } finally {
      ev.dispose();
    }
  });

  it("16-bit columns and float64 row pointers (the reader's compact storage) give the same numbers as int32 indices", () => {
    const spec = synthSpec({ symmetric: true, systematicType: "log_normal", bb: "plain", poiMode: "linear", density: 0.5, seed: 101 });
    const compact = {
      ...spec,
      logk: { ...spec.logk, cols: Uint16Array.from(spec.logk.cols), rowPtr: Float64Array.from(spec.logk.rowPtr) },
    };
    const ev = emulated(compact);
    try {
      compareWithNative(spec, ev, TOL, 101);
    } finally {
      ev.dispose();
    }
  });

  it("refuses index arrays of another type in one clear error", () => {
    const spec = synthSpec({ symmetric: true, systematicType: "log_normal", bb: "off", poiMode: "linear", density: 0.5, seed: 102 });
    const bad = { ...spec, logk: { ...spec.logk, cols: Uint8Array.from(spec.logk.cols) as unknown as Int32Array } };
    expect(() => emulated(bad)).toThrow(/cols must be an Int32Array, Uint16Array or Float64Array/);
  });

  const fixtureFiles = [
    ...readdirSync(join(here, "fixtures")).filter((f) => f.endsWith(".hdf5")).map((f) => join(here, "fixtures", f)),
  ];
  const rabbitDir = resolve(here, "../../shared/data/rabbit");
  const rabbitFiles = existsSync(rabbitDir) ? readdirSync(rabbitDir).filter((f) => f.endsWith(".hdf5")).map((f) => join(rabbitDir, f)) : [];
  if (rabbitFiles.length === 0) console.log(`cudaEmulation: ${rabbitDir} absent, rabbit files skipped`);
  for (const file of [...fixtureFiles, ...rabbitFiles]) {
    it(`tensor file ${file.split("/").slice(-2).join("/")}`, async () => {
      const model = await readTensor(file);
      for (const poiMode of ["linear", "square"] as PoiMode[]) {
        const spec = buildLikelihoodSpec(model, { poiMode });
        const ev = emulated(spec);
        try {
          compareWithNative(spec, ev, TOL, 5);
        } finally {
          ev.dispose();
        }
      }
    }, 60_000);
  }

  for (const file of [...fixtureFiles, ...rabbitFiles]) {
    it(`whole fit of ${file.split("/").slice(-2).join("/")} with the emulated CUDA engine: values and errors within 1e-10 σ of the native engine`, async () => {
      const model = await readTensor(file);
      for (const poiMode of ["linear", "square"] as PoiMode[]) {
        const c = await compareFits(model, { poiMode, threads: 2 }, "cuda-emulate");
        expectFitAgreement(c, `${file} ${poiMode}`);
      }
    }, 120_000);
  }

  it("the CPU emulation reports itself as such", () => {
    const ev = emulated(synthSpec({ symmetric: true, systematicType: "log_normal", bb: "off", poiMode: "linear", density: 0.5, seed: 3 }));
    try {
      expect(ev.describe().engine).toBe("cuda-emulate");
      expect(ev.describe().device).toMatch(/emulation/);
    } finally {
      ev.dispose();
    }
  });

  it("rejects a bad CSR like the native engine", () => {
    const spec = synthSpec({ symmetric: true, systematicType: "log_normal", bb: "off", poiMode: "linear", density: 0.5, seed: 4 });
    const cols = Int32Array.from(spec.logk.cols);
    cols[0] = spec.nsyst + 5;
    expect(() => emulated({ ...spec, logk: { ...spec.logk, cols } })).toThrow(/column indices out of range/);
  });
});

describe("the kernel names the CUDA device looks up", () => {
  it("are exactly the kernels of likelihood.cu, in the order of the Kernel enum and the emulation's table", async () => {
    const { readFileSync } = await import("node:fs");
    const cu = readFileSync(resolve(here, "../fitter/cuda/kernels/likelihood.cu"), "utf8");
    const engine = readFileSync(resolve(here, "../fitter/cuda/src/engine.cpp"), "utf8");
    const emulate = readFileSync(resolve(here, "../fitter/cuda/src/emulate.cpp"), "utf8");
    const device = readFileSync(resolve(here, "../fitter/cuda/src/device.h"), "utf8");
    const inSource = [...cu.matchAll(/extern "C" __global__ void (\w+)\(/g)].map((m) => m[1]);
    const names = [...(/names\[\] = \{([^}]*)\}/.exec(engine)?.[1] ?? "").matchAll(/"(\w+)"/g)].map((m) => m[1]);
    const table = [...(/kEntries\[\] = \{([^}]*)\}/.exec(emulate)?.[1] ?? "").matchAll(/call<\w+, (\w+)>/g)].map((m) => m[1]);
    const enumCount = (/enum class Kernel \{([^}]*)\}/.exec(device)?.[1] ?? "").split(",").map((x) => x.trim()).filter((x) => x && x !== "Count").length;
    expect(names.length).toBe(enumCount);
    expect(table).toEqual(names);
    expect([...names].sort()).toEqual([...inSource].sort());
  });
});

describe("the kernel source compiles for a GPU", () => {
  const nvcc = ["/usr/local/cuda/bin/nvcc", "nvcc"].find((p) => spawnSync(p, ["--version"]).status === 0);
  it.skipIf(!nvcc)("nvcc -cubin -arch=sm_90 compiles fitter/cuda/kernels/likelihood.cu (NVRTC compiles the same source at run time)", () => {
    const dir = mkdtempSync(join(tmpdir(), "hepfit-nvcc-"));
    try {
      const r = spawnSync(nvcc as string, ["-cubin", "-arch=sm_90", "-std=c++14", "-Werror", "all-warnings", "-o", join(dir, "k.cubin"), resolve(here, "../fitter/cuda/kernels/likelihood.cu")], {
        encoding: "utf8",
      });
      expect(r.stderr + r.stdout).toBe("");
      expect(r.status).toBe(0);
      expect(existsSync(join(dir, "k.cubin"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
  if (!nvcc) console.log("cudaEmulation: nvcc not found, the GPU compile check is skipped");
});
