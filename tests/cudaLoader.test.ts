/**
 * The CUDA engine's library discovery and loader, everywhere (no GPU needed): the search order
 * (HEPFIT_CUDA_LIBS, CUDA_HOME, /usr/local/cuda*, python nvidia wheels, the loader path), version
 * ordering, and the one-line "what is missing and what was tried" message for missing libraries,
 * unloadable files and libraries without the CUDA symbols; the fit CLI's --engine choices and
 * errors. Where a GPU with CUDA exists, --engine cuda runs a fit instead of failing.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CudaEvaluator, CudaUnavailableError, cudaUnavailableMessage, probeCuda } from "../fitter/cuda/CudaEvaluator.js";
import { cudaSearchDirs, kernelCacheDir, libraryCandidates, libraryFilesIn, pythonSitePackages } from "../fitter/cuda/discovery.js";
import { buildLikelihoodSpec } from "../fitter/likelihoodSpec.js";
import { main } from "../src/cli/fit.js";
import { resolveEngineOption } from "../src/cli/engineOption.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { runCommand } from "./helpers/cli.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, "fixtures", "ref_dense.hdf5");
const work = mkdtempSync(join(tmpdir(), "cudaloader-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function touch(path: string, content = "not a library"): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** a real shared library of the system without any CUDA symbol (libm) */
const libm = ["/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6", "/usr/lib64/libm.so.6"].find((p) => existsSync(p));

describe("CUDA library discovery", () => {
  it("searches HEPFIT_CUDA_LIBS, CUDA_HOME, /usr/local/cuda* (newest first), python nvidia wheels, in that order", () => {
    const root = join(work, "root1");
    const home = join(work, "home1");
    const extra = join(work, "extra1");
    const cudaHome = join(work, "cudahome1");
    touch(join(extra, "libcuda.so.1"));
    touch(join(cudaHome, "lib64", "libnvrtc.so.12"));
    touch(join(root, "usr", "local", "cuda-12.4", "lib64", "libcublas.so.12"));
    touch(join(root, "usr", "local", "cuda-13.0", "lib64", "libcublas.so.13"));
    touch(join(root, "usr", "local", "cuda-9.2", "lib64", "libcublas.so.9"));
    touch(join(home, ".local", "lib", "python3.11", "site-packages", "nvidia", "cusolver", "lib", "libcusolver.so.11"));
    touch(join(root, "usr", "lib", "python3", "dist-packages", "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so.12"));
    const env = { HEPFIT_CUDA_LIBS: `${extra}:${join(work, "missing-dir")}`, CUDA_HOME: cudaHome };
    const dirs = cudaSearchDirs({ env, home, systemRoot: root });
    const names = dirs.map((d) => d.dir);
    expect(names[0]).toBe(extra);
    expect(names[1]).toBe(join(work, "missing-dir")); // kept: the error must name it
    expect(names.indexOf(join(cudaHome, "lib64"))).toBeGreaterThan(1);
    const c13 = names.indexOf(join(root, "usr", "local", "cuda-13.0", "lib64"));
    const c124 = names.indexOf(join(root, "usr", "local", "cuda-12.4", "lib64"));
    const c92 = names.indexOf(join(root, "usr", "local", "cuda-9.2", "lib64"));
    expect(c13).toBeGreaterThan(names.indexOf(join(cudaHome, "lib64")));
    expect(c13).toBeLessThan(c124);
    expect(c124).toBeLessThan(c92);
    const wheel = names.indexOf(join(home, ".local", "lib", "python3.11", "site-packages", "nvidia", "cusolver", "lib"));
    expect(wheel).toBeGreaterThan(c92);
    expect(names).toContain(join(root, "usr", "lib", "python3", "dist-packages", "nvidia", "cuda_nvrtc", "lib"));
    expect(dirs.find((d) => d.dir === extra)?.source).toBe("HEPFIT_CUDA_LIBS");
    const { libraries } = libraryCandidates({ env, home, systemRoot: root });
    const byName = Object.fromEntries(libraries.map((l) => [l.name, l.paths]));
    expect(byName.cuda[0]).toBe(join(extra, "libcuda.so.1"));
    expect(byName.cuda.slice(-2)).toEqual(["libcuda.so.1", "libcuda.so"]); // then the loader path
    expect(byName.nvrtc[0]).toBe(join(cudaHome, "lib64", "libnvrtc.so.12"));
    expect(byName.cublas.slice(0, 3)).toEqual([
      join(root, "usr", "local", "cuda-13.0", "lib64", "libcublas.so.13"),
      join(root, "usr", "local", "cuda-12.4", "lib64", "libcublas.so.12"),
      join(root, "usr", "local", "cuda-9.2", "lib64", "libcublas.so.9"),
    ]);
    expect(byName.cusolver[0]).toBe(join(home, ".local", "lib", "python3.11", "site-packages", "nvidia", "cusolver", "lib", "libcusolver.so.11"));
    expect(libraries.map((l) => l.name)).toEqual(["cuda", "nvrtc", "nvJitLink", "cublasLt", "cublas", "cusparse", "cusolver"]);
  });

  it("orders a folder's versions newest first and leaves out look-alikes (libnvrtc-builtins, libcublasLt for libcublas)", () => {
    const d = join(work, "versions");
    for (const f of ["libnvrtc.so", "libnvrtc.so.12", "libnvrtc.so.12.4.99", "libnvrtc.so.11.2", "libnvrtc-builtins.so.12", "libnvrtc.so.12.bak", "libcublasLt.so.12", "libcublas.so.12"]) touch(join(d, f));
    expect(libraryFilesIn(d, "libnvrtc.so").map((p) => p.slice(d.length + 1))).toEqual(["libnvrtc.so.12.4.99", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"]);
    expect(libraryFilesIn(d, "libcublas.so").map((p) => p.slice(d.length + 1))).toEqual(["libcublas.so.12"]);
  });

  it("finds site-packages of VIRTUAL_ENV, CONDA_PREFIX and PYTHONPATH without running python", () => {
    const venv = join(work, "venv");
    const conda = join(work, "conda");
    const pp = join(work, "pp");
    for (const d of [join(venv, "lib", "python3.12", "site-packages"), join(conda, "lib", "python3.10", "site-packages"), pp]) mkdirSync(d, { recursive: true });
    const sp = pythonSitePackages({ env: { VIRTUAL_ENV: venv, CONDA_PREFIX: conda, PYTHONPATH: pp }, home: join(work, "nohome"), systemRoot: join(work, "noroot") });
    expect(sp).toEqual([pp, join(venv, "lib", "python3.12", "site-packages"), join(conda, "lib", "python3.10", "site-packages")]);
  });

  it("finds the site-packages of the venv whose python3 is on PATH", () => {
    const venv = join(work, "pathvenv");
    touch(join(venv, "bin", "python3"), "#!/bin/sh\n");
    mkdirSync(join(venv, "lib", "python3.12", "site-packages", "nvidia", "cu13", "lib"), { recursive: true });
    touch(join(venv, "lib", "python3.12", "site-packages", "nvidia", "cu13", "lib", "libnvrtc.so.13"));
    const opts = { env: { PATH: `${join(work, "nobin")}:${join(venv, "bin")}` }, home: join(work, "nohome"), systemRoot: join(work, "noroot"), loaderPath: false };
    expect(pythonSitePackages(opts)).toEqual([join(venv, "lib", "python3.12", "site-packages")]);
    const nvrtc = libraryCandidates(opts).libraries.find((l) => l.name === "nvrtc");
    expect(nvrtc?.paths).toEqual([join(venv, "lib", "python3.12", "site-packages", "nvidia", "cu13", "lib", "libnvrtc.so.13")]);
  });

  it("caches kernels under HEPFIT_CUDA_CACHE, else $XDG_CACHE_HOME/hepfit/cuda, else ~/.cache/hepfit/cuda", () => {
    expect(kernelCacheDir({ env: { HEPFIT_CUDA_CACHE: "/x/y" } })).toBe("/x/y");
    expect(kernelCacheDir({ env: { XDG_CACHE_HOME: "/xdg" } })).toBe("/xdg/hepfit/cuda");
    expect(kernelCacheDir({ env: {}, home: "/h" })).toBe("/h/.cache/hepfit/cuda");
  });
});

describe("CUDA loader errors (one line: what is missing, what was tried)", () => {
  const isolated = (libsDir: string) => ({ env: { HEPFIT_CUDA_LIBS: libsDir }, home: join(work, "nohome"), systemRoot: join(work, "noroot"), loaderPath: false });

  it("HEPFIT_CUDA_LIBS pointing to a folder without the libraries", () => {
    const empty = join(work, "empty-libs");
    mkdirSync(empty, { recursive: true });
    const p = probeCuda(isolated(empty));
    expect(p.ok).toBe(false);
    expect(p.message).not.toContain("\n");
    expect(p.message).toMatch(/^CUDA engine unavailable: not found or not loadable: libcuda\.so\* \(the NVIDIA driver\), libnvrtc\.so\*, libcublas\.so\*, libcusolver\.so\*; searched HEPFIT_CUDA_LIBS=/);
    expect(p.message).toContain(`HEPFIT_CUDA_LIBS=${empty}`);
    expect(p.message).toMatch(/set HEPFIT_CUDA_LIBS/);
    expect(p.report?.libraries.every((l) => l.loaded === null)).toBe(true);
  });

  it("a file that is not a shared library: its path and dlopen's reason", () => {
    const dir = join(work, "bad-libs");
    touch(join(dir, "libcuda.so.1"), "garbage");
    const p = probeCuda(isolated(dir));
    expect(p.ok).toBe(false);
    expect(p.message).toContain(`${join(dir, "libcuda.so.1")}: `);
    expect(p.message).toMatch(/file too short|invalid ELF header|not an ELF/);
    const cuda = p.report?.libraries.find((l) => l.name === "cuda");
    expect(cuda?.tried).toEqual([{ path: join(dir, "libcuda.so.1"), error: expect.stringContaining(join(dir, "libcuda.so.1")) }]);
  });

  it.skipIf(!libm)("libraries that load but lack the CUDA entry points: the missing symbol", () => {
    const dir = join(work, "fake-libs");
    mkdirSync(dir, { recursive: true });
    for (const f of ["libcuda.so.1", "libnvrtc.so.12", "libcublas.so.12", "libcusolver.so.11"]) symlinkSync(libm as string, join(dir, f));
    const p = probeCuda(isolated(dir));
    expect(p.ok).toBe(false);
    expect(p.report?.libraries.filter((l) => l.required).every((l) => l.loaded !== null)).toBe(true);
    expect(p.message).toMatch(/^CUDA engine unavailable: symbol cuInit not found in the loaded CUDA libraries/);
    expect(p.message).not.toContain("\n");
  });

  it("the message of a report names every folder searched, or says there were none", () => {
    const report = { ok: false, libraries: [{ name: "cuda", required: true, loaded: null, tried: [{ path: "libcuda.so.1", error: "libcuda.so.1: cannot open shared object file: No such file or directory" }] }], error: null, driverVersion: 0, nvrtcVersion: "0.0", deviceCount: 0, deviceName: "", computeCapability: "0.0", totalMemory: 0 };
    expect(cudaUnavailableMessage(report, [])).toBe("CUDA engine unavailable: not found or not loadable: libcuda.so* (the NVIDIA driver); searched no CUDA folders, then the loader path; set HEPFIT_CUDA_LIBS to the folder(s) with these libraries or install the CUDA toolkit or the nvidia-* CUDA wheels");
    expect(cudaUnavailableMessage({ ...report, libraries: [], error: "cuInit failed: CUDA error 100 (no CUDA-capable device is detected)" }, [{ dir: "/usr/local/cuda/lib64", source: "/usr/local/cuda*" }])).toBe(
      "CUDA engine unavailable: cuInit failed: CUDA error 100 (no CUDA-capable device is detected); searched /usr/local/cuda/lib64, then the loader path",
    );
  });
});

describe("fit --engine", () => {
  let savedExitCode: typeof process.exitCode;
  beforeEach(() => {
    savedExitCode = process.exitCode;
    process.exitCode = undefined;
  });
  afterEach(() => {
    process.exitCode = savedExitCode;
  });

  it("resolves engine names with --backend and --gpu", () => {
    expect(resolveEngineOption(undefined, undefined, false)).toEqual({ float64: "native", backend: undefined });
    expect(resolveEngineOption(undefined, "wasm", false)).toEqual({ float64: "native", backend: "wasm" });
    expect(resolveEngineOption("native", undefined, false)).toEqual({ float64: "native", backend: "native" });
    expect(resolveEngineOption("cuda", undefined, false)).toEqual({ float64: "cuda", backend: "native" });
    expect(resolveEngineOption("tfjs-webgpu", undefined, true)).toEqual({ float64: "native", backend: "webgpu" });
    expect(resolveEngineOption("tfjs-cpu", "cpu", false)).toEqual({ float64: "native", backend: "cpu" });
    expect(() => resolveEngineOption("cuda", undefined, true)).toThrow(/--engine cuda conflicts with --gpu/);
    expect(() => resolveEngineOption("cuda", "wasm", false)).toThrow(/--engine cuda conflicts with --backend wasm/);
    expect(() => resolveEngineOption("tfjs-cpu", "wasm", false)).toThrow(/--engine tfjs-cpu conflicts with --backend wasm/);
    expect(() => resolveEngineOption("tfjs-cpu", undefined, true)).toThrow(/--gpu conflicts with --engine tfjs-cpu/);
    expect(() => resolveEngineOption("opencl", undefined, false)).toThrow(/--engine: unknown engine "opencl" \(choose one of native, cuda, tfjs-cpu/);
  });

  it("fit() rejects an unknown float64 engine before any work", async () => {
    const { fit } = await import("../fitter/fit.js");
    const model = await readTensor(fixture);
    await expect(fit(model, { engine: "opencl" as never })).rejects.toThrow(/--engine: unknown float64 engine "opencl"/);
  });

  it("--engine bogus: exit 2, one line, nothing written", async () => {
    const out = join(work, "bogus");
    const r = await runCommand(main, "fit", [fixture, "-o", out, "--engine", "bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--engine: unknown engine "bogus"/);
    expect(existsSync(out)).toBe(false);
  });

  it("--engine tfjs-cpu is --backend cpu; the results say the float64 engine was native on the CPU", async () => {
    const out = join(work, "tfjscpu");
    const r = await runCommand(main, "fit", [fixture, "-o", out, "--engine", "tfjs-cpu", "--no-html", "--threads", "1"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8"));
    expect(j.engine).toEqual({ backend: "cpu", precision: "float64", device: "cpu", float64_engine: "native", float64_device: "cpu (1 threads)" });
    expect(r.stdout).toMatch(/engine {5}cpu \(cpu\), results in float64, float64 by native on cpu \(1 threads\)/);
  }, 60_000);

  const cuda = probeCuda();
  it.skipIf(cuda.ok)("--engine cuda without CUDA: exit 2, the probe's one line, nothing written", async () => {
    const out = join(work, "nocuda");
    const empty = join(work, "empty-libs-cli");
    mkdirSync(empty, { recursive: true });
    const saved = process.env.HEPFIT_CUDA_LIBS;
    process.env.HEPFIT_CUDA_LIBS = empty;
    try {
      const r = await runCommand(main, "fit", [fixture, "-o", out, "--engine", "cuda"]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: --engine cuda: CUDA engine unavailable: /);
      expect(r.stderr).toContain(`HEPFIT_CUDA_LIBS=${empty}`);
      expect(existsSync(out)).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.HEPFIT_CUDA_LIBS;
      else process.env.HEPFIT_CUDA_LIBS = saved;
    }
  });

  it.skipIf(cuda.ok)("CudaEvaluator in mode cuda without CUDA throws CudaUnavailableError with the probe's line", async () => {
    const spec = buildLikelihoodSpec(await readTensor(fixture), { poiMode: "linear" });
    let err: unknown = null;
    try {
      new CudaEvaluator(spec, { mode: "cuda", discovery: { env: { HEPFIT_CUDA_LIBS: join(work, "nowhere") }, loaderPath: false, home: join(work, "nohome"), systemRoot: join(work, "noroot") } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CudaUnavailableError);
    expect((err as Error).message).toMatch(/^CUDA engine unavailable: .*HEPFIT_CUDA_LIBS=/);
  });

  if (!cuda.ok) console.log(`cudaLoader: no usable CUDA here (${cuda.message}); the --engine cuda fit runs where a GPU is`);
  it.skipIf(!cuda.ok)("--engine cuda on a GPU: the fit runs and the results name the CUDA engine and device", async () => {
    const out = join(work, "cudafit");
    const r = await runCommand(main, "fit", [fixture, "-o", out, "--engine", "cuda", "--no-html"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(readFileSync(join(out, "fitresults.json"), "utf8"));
    expect(j.engine.float64_engine).toBe("cuda");
    expect(j.engine.float64_device).toContain(cuda.report?.deviceName ?? "?");
    expect(readdirSync(out).sort()).toEqual(["fitresults.hdf5", "fitresults.json"]);
  }, 120_000);
});
