/**
 * The CUDA engine on a real GPU (skipped with a printed reason where CUDA is not usable): the kernels
 * compiled by NVRTC and run on the device equal the native engine (NLL, gradient, HVP, Hessian, yields,
 * yield variances, toys' data/θ0/β0, batched toys, cuSOLVER inverse) to 1e-11 relative on every tensor
 * fixture of tests/ and ../shared/data/rabbit, whole fits agree to 1e-10 σ on values and errors
 * (errors of rounding-limited fixtures: 1e-8, see expectFitAgreement), and the compiled kernels are
 * cached per architecture.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CudaEvaluator, probeCuda } from "../fitter/cuda/CudaEvaluator.js";
import { buildLikelihoodSpec, type PoiMode } from "../fitter/likelihoodSpec.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { compareFits, compareWithNative, expectFitAgreement } from "./helpers/engineCompare.js";

const here = dirname(fileURLToPath(import.meta.url));
const probe = probeCuda();
if (!probe.ok) console.log(`cudaDevice: skipped, no usable CUDA GPU here: ${probe.message}`);
else console.log(`cudaDevice: ${probe.message}`);

// kernels cached in a fresh folder for this run, so the first engine compiles and the second loads
const cacheDir = mkdtempSync(join(tmpdir(), "hepfit-cuda-cache-"));
process.env.HEPFIT_CUDA_CACHE = cacheDir;
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const files = [
  ...readdirSync(join(here, "fixtures")).filter((f) => f.endsWith(".hdf5")).map((f) => join(here, "fixtures", f)),
  ...(() => {
    const d = resolve(here, "../../shared/data/rabbit");
    return existsSync(d) ? readdirSync(d).filter((f) => f.endsWith(".hdf5")).map((f) => join(d, f)) : [];
  })(),
];

describe.skipIf(!probe.ok)("CUDA engine on the GPU vs the native engine", () => {
  it("compiles the kernels once per architecture and then loads them from the cache", async () => {
    const spec = buildLikelihoodSpec(await readTensor(join(here, "fixtures", "ref_dense.hdf5")), { poiMode: "linear" });
    const a = new CudaEvaluator(spec, { mode: "cuda" });
    const da = a.describe();
    a.dispose();
    const b = new CudaEvaluator(spec, { mode: "cuda" });
    const db = b.describe();
    b.dispose();
    console.log(`cudaDevice: ${da.device} | ${db.device}`);
    expect(da.engine).toBe("cuda");
    expect(da.device).toMatch(/compiled by NVRTC/);
    expect(db.device).toMatch(/cached /);
    expect(readdirSync(cacheDir).some((f) => /-sm_\d+\.(cubin|ptx)$/.test(f))).toBe(true);
  }, 120_000);

  for (const file of files) {
    const label = file.split("/").slice(-2).join("/");
    it(`engine quantities of ${label} equal the native engine's to 1e-11`, async () => {
      const model = await readTensor(file);
      for (const poiMode of ["linear", "square"] as PoiMode[]) {
        const spec = buildLikelihoodSpec(model, { poiMode });
        const ev = new CudaEvaluator(spec, { mode: "cuda" });
        try {
          const r = compareWithNative(spec, ev, 1e-11, 5);
          console.log(`cudaDevice: ${label} ${poiMode} worst relative errors ${JSON.stringify(Object.fromEntries(Object.entries(r.errors).map(([k, v]) => [k, Number(v.toExponential(1))])))}`);
        } finally {
          ev.dispose();
        }
      }
    }, 120_000);
    it(`whole fit of ${label} on the GPU: values and errors within 1e-10 σ of the native engine`, async () => {
      const model = await readTensor(file);
      for (const poiMode of ["linear", "square"] as PoiMode[]) {
        const c = await compareFits(model, { poiMode, threads: 4 }, "cuda");
        console.log(`cudaDevice: fit ${label} ${poiMode}: Δvalue ${c.valueSigma.toExponential(2)} σ, Δerror ${c.errorSigma.toExponential(2)} (native 1 vs 4 threads: ${c.nativeValueSigma.toExponential(2)}, ${c.nativeErrorSigma.toExponential(2)})`);
        expectFitAgreement(c, `${label} ${poiMode}`);
      }
    }, 300_000);
  }
});

describe("the device tests' skip", () => {
  it("says why they are skipped (or which device ran them)", () => {
    expect(probe.message.length).toBeGreaterThan(0);
    expect(probe.message).not.toContain("\n");
    if (probe.ok) expect(probe.device).toMatch(/\(sm_\d+\)$/);
    else expect(probe.message).toMatch(/^CUDA engine unavailable: /);
  });
});
