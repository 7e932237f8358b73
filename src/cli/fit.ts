/**
 * `fit INPUT`: maximum-likelihood fit of a tensor file; writes fitresults.json and fitresults.hdf5
 * into the output folder and prints a summary. Exit codes: 0 converged, 1 fit failed (results are
 * still written, with status "failed"), 2 user error (nothing written).
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { Command, Option } from "commander";
import { UserError, runCli } from "../errors.js";
import { checkOutputs } from "../outputPath.js";
import { gitHash, packageRoot, packageVersion } from "../packageInfo.js";
import { readTensor } from "../tensor/TensorReader.js";
import { readStartValues } from "./startValues.js";
import { FIT_BACKENDS, fit, type FitBackend } from "../../fitter/fit.js";
import { planErrorMethod } from "../../fitter/krylovErrors/memoryPlan.js";
import { formatFitSummary } from "../../fitter/results.js";
import { formatPostfitSummary } from "../../fitter/postfit/index.js";
import { initBackend } from "../../fitter/tfBackends.js";
import { RESULTS_HDF5, RESULTS_JSON, writeFitResults, type RunMeta } from "../../fitter/writeResults.js";
import { buildReport } from "../report/buildReport.js";
import { addToyOptions, planToys, runToyStages, writeToySubmit, type ToyCliOptions } from "./fitToys.js";
import { probeCuda } from "../../fitter/cuda/CudaEvaluator.js";
import { ENGINE_NAMES, resolveEngineOption } from "./engineOption.js";

interface FitCliOptions extends ToyCliOptions {
  output?: string;
  poiMode: string;
  bbb: boolean;
  asimov?: boolean;
  expectSignal?: string;
  pseudodata?: string;
  freeze?: string;
  backend?: string;
  gpu?: boolean;
  engine?: string;
  threads?: string;
  maxIter?: string;
  verbose?: boolean;
  impacts?: boolean;
  correlation?: boolean;
  html: boolean;
  // post-fit methods (fitter/postfit)
  scan: string[];
  scanPoints?: string;
  scanRange?: string;
  scan2d: string[];
  contour: string[];
  contourLevels?: string;
  contourPoints?: string;
  minos: string[];
  limits?: boolean;
  cl?: string;
  significance?: boolean;
  // no-dense-matrix errors (fitter/krylovErrors)
  hessian: boolean;
  errorsFor?: string;
  probes?: string;
  memoryLimit?: string;
  sparseHessian: boolean;
  startFrom?: string;
}

/** commander collector: a repeatable option's values in order */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** --contour-levels 1,2: positive numbers of σ */
function numberList(name: string, text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  return text.split(",").map((t) => {
    const v = Number(t);
    if (t.trim() === "" || !Number.isFinite(v) || v <= 0) throw new UserError(`${name}: must be positive numbers separated by commas, got "${text}"`);
    return v;
  });
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < 1) {
    throw new UserError(`${name}: must be a positive integer, got "${text}"`);
  }
  return v;
}

function nonNegativeInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v)) throw new UserError(`${name}: must be a non-negative integer, got "${text}"`);
  return v;
}

/** Options that need the dense covariance, refused in the Krylov mode (one line, exit 2). */
function checkKrylovConflicts(o: FitCliOptions, toys: boolean, why: string): void {
  const dense: string[] = [];
  if (o.correlation) dense.push("--correlation");
  if (toys) dense.push(o.refitImpacts !== undefined && o.refitImpacts !== false ? "--refit-impacts" : "--toys");
  if (o.scan.length > 0) dense.push("--scan");
  if (o.scan2d.length > 0) dense.push("--scan2d");
  if (o.contour.length > 0) dense.push("--contour");
  if (o.minos.length > 0) dense.push("--minos");
  if (o.limits) dense.push("--limits");
  if (o.significance) dense.push("--significance");
  if (dense.length > 0) throw new UserError(`${dense.join(", ")}: needs the dense covariance, not available with ${why}`);
}

function finiteNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v)) throw new UserError(`${name}: must be a number, got "${text}"`);
  return v;
}

/** --gpu: WebGPU when an adapter exists, else TensorFlow (tfjs-node-gpu). */
async function pickGpuBackend(threads: number | undefined): Promise<FitBackend> {
  // --gpu asks for a real GPU: a software WebGPU adapter (Mesa lavapipe) does not count
  let webgpuWhy: string;
  try {
    const info = await initBackend("webgpu", { threads });
    if (info.device === "gpu") return "webgpu";
    webgpuWhy = "the only WebGPU adapter is a software one (CPU)";
  } catch (errWebGpu) {
    webgpuWhy = errWebGpu instanceof Error ? errWebGpu.message : String(errWebGpu);
  }
  try {
    const info = await initBackend("tensorflow", { threads });
    if (info.device === "gpu") return "tensorflow";
  } catch {
    // fall through to the error below
  }
  throw new UserError(`--gpu: no GPU backend available (${webgpuWhy}; @tensorflow/tfjs-node-gpu not usable either)`);
}

async function runFit(input: string, o: FitCliOptions, argv: string[]): Promise<void> {
  const tStart = performance.now();
  if (o.poiMode !== "linear" && o.poiMode !== "square") {
    throw new UserError(`--poi-mode: must be linear or square, got "${o.poiMode}"`);
  }
  const threads = positiveInt("--threads", o.threads);
  const maxIter = positiveInt("--max-iter", o.maxIter);
  const expectSignal = finiteNumber("--expect-signal", o.expectSignal);
  if (o.backend !== undefined && !FIT_BACKENDS.includes(o.backend as FitBackend)) {
    throw new UserError(`--backend: unknown backend "${o.backend}" (choose one of ${FIT_BACKENDS.join(", ")})`);
  }
  if (o.gpu && o.backend !== undefined && o.backend !== "webgpu" && o.backend !== "tensorflow") {
    throw new UserError(`--gpu conflicts with --backend ${o.backend}`);
  }
  if (o.asimov && o.pseudodata !== undefined) throw new UserError("--asimov and --pseudodata: choose one of them");
  if (!existsSync(input)) throw new UserError(`${input}: no such file`);
  if (!statSync(input).isFile()) throw new UserError(`${input}: not a file`);
  const outArg = o.output ?? join("outputs", basename(input, extname(input)));
  const outDir = resolve(outArg);
  const outFiles = [RESULTS_HDF5, RESULTS_JSON, ...(o.html ? ["report.html", "report.log"] : []), ...(o.toys !== undefined ? ["toys.hdf5", "toys.checkpoint.json"] : [])];
  checkOutputs([{ path: outArg, kind: "folder", label: o.output !== undefined ? "-o" : "output folder", files: outFiles }], [input, ...(o.startFrom !== undefined ? [o.startFrom] : [])]);

  // --- toys and refit impacts: options checked before anything is read; --submit stops here
  const toyPlan = planToys(o);
  if (toyPlan?.submit) {
    const files = writeToySubmit(toyPlan, outDir, argv);
    process.stdout.write(`wrote ${files.join("\n      ")}\n`);
    return;
  }

  // --engine (cuda: the float64 engine on an NVIDIA GPU, checked before the model is read)
  const engineChoice = resolveEngineOption(o.engine, o.backend, o.gpu === true);
  if (engineChoice.float64 === "cuda") {
    const probe = probeCuda();
    if (!probe.ok) throw new UserError(`--engine cuda: ${probe.message}`);
  }
  const backend: FitBackend =
    o.gpu && engineChoice.backend === undefined ? await pickGpuBackend(threads) : (engineChoice.backend ?? "native");

  const probes = nonNegativeInt("--probes", o.probes);
  const memoryLimitGb = finiteNumber("--memory-limit", o.memoryLimit);
  if (memoryLimitGb !== undefined && !(memoryLimitGb > 0)) throw new UserError(`--memory-limit: must be a positive number of GiB, got "${o.memoryLimit}"`);
  if (o.errorsFor !== undefined && o.errorsFor.trim() === "") throw new UserError("--errors-for: empty; give parameter names (comma-separated) or a regular expression");
  if (o.hessian === false) checkKrylovConflicts(o, toyPlan !== null, "--no-hessian");

  const model = await readTensor(input);
  const loadSeconds = (performance.now() - tStart) / 1000;
  const startValues = o.startFrom !== undefined ? readStartValues(o.startFrom, [...model.signals, ...model.systs]) : undefined;
  // dense or Krylov errors, decided here so that conflicting options fail before the fit
  let errorMethod: "dense" | "krylov" = "krylov";
  if (o.hessian !== false) {
    const plan = planErrorMethod({
      nparams: model.signals.length + model.systs.length,
      impacts: o.impacts === true,
      limitBytes: memoryLimitGb !== undefined ? memoryLimitGb * 2 ** 30 : undefined,
    });
    errorMethod = plan.method;
    if (plan.method === "krylov") {
      checkKrylovConflicts(o, toyPlan !== null, "the automatic switch to Krylov errors (the dense covariance would not fit in memory)");
      process.stderr.write(`${plan.notice}\n`);
    }
  }
  const showProgress = o.verbose === true || process.stderr.isTTY === true;
  const result = await fit(model, {
    poiMode: o.poiMode,
    bbb: o.bbb ? undefined : false,
    asimov: o.asimov === true,
    expectSignal,
    pseudodata: o.pseudodata,
    freeze: o.freeze,
    backend,
    engine: engineChoice.float64,
    threads,
    maxIter,
    verbose: showProgress,
    log: (line) => process.stderr.write(`${line}\n`),
    loadSeconds,
    impacts: o.impacts === true,
    errorMethod,
    krylov: { exactFor: o.errorsFor, probes, ...(memoryLimitGb !== undefined ? { sparseMemoryLimit: memoryLimitGb * 2 ** 30 } : {}) },
    sparseHessian: o.sparseHessian !== false,
    ...(startValues ? { startValues } : {}),
    postfit: {
      scan: o.scan,
      scanPoints: positiveInt("--scan-points", o.scanPoints),
      scanRange: finiteNumber("--scan-range", o.scanRange),
      scan2d: o.scan2d,
      contour: o.contour,
      contourLevels: numberList("--contour-levels", o.contourLevels),
      contourPoints: positiveInt("--contour-points", o.contourPoints),
      minos: o.minos,
      limits: o.limits === true,
      cl: finiteNumber("--cl", o.cl),
      significance: o.significance === true,
    },
  });

  // --- toys and refit impacts after the fit to the data (Ctrl-C: finished toys are checkpointed)
  if (toyPlan) {
    const abort = new AbortController();
    const onSigint = (): void => {
      if (abort.signal.aborted) process.exit(130);
      process.stderr.write("interrupted: finishing the running toys and writing the checkpoint (Ctrl-C again to quit now)\n");
      abort.abort();
    };
    process.on("SIGINT", onSigint);
    try {
      const complete = await runToyStages({
        plan: toyPlan,
        input,
        model,
        inputSha256: await sha256File(input),
        result,
        engine: { poiMode: o.poiMode as "linear" | "square", bbb: o.bbb ? undefined : false, expectSignal, freeze: o.freeze, maxIter },
        freeze: o.freeze,
        expectSignal: expectSignal ?? 1,
        outDir,
        log: (line) => process.stderr.write(`${line}\n`),
        signal: abort.signal,
        threads,
      });
      if (!complete) {
        process.exitCode = 130;
        return;
      }
    } finally {
      process.off("SIGINT", onSigint);
    }
  }

  const root = packageRoot();
  const meta: RunMeta = {
    command: ["fit", ...argv.slice(2)].join(" "),
    version: packageVersion(root),
    git_hash: gitHash(root),
    time: new Date().toISOString(),
    input: resolve(input),
    input_sha256: await sha256File(input),
    input_meta_source: model.metaSource ?? null,
    input_meta_warning: model.metaWarning ?? null,
    input_meta_info: model.metaJson?.["meta_info"] ?? null,
  };
  const written = await writeFitResults(outDir, result, meta, {
    procs: model.procs,
    channels: model.channels,
    nbins: model.nbins,
    nbinsFull: model.nbinsFull,
  }, { correlation: o.correlation === true });
  process.stdout.write(`${formatFitSummary(result)}\n`);
  if (result.postfit) {
    const values = Object.fromEntries(result.parameters.map((p) => [p.name, p.value]));
    const lines = formatPostfitSummary(result.postfit, values);
    if (lines) process.stdout.write(`${lines}\n`);
  }
  process.stdout.write(`wrote ${written.json}\n      ${written.hdf5}\n`);
  if (o.html) process.stdout.write(`      ${(await buildReport(outDir, { command: meta.command })).html}\n`);
  if (result.status !== "converged") process.exitCode = 1;
}

export async function main(argv: string[]): Promise<void> {
  await runCli(async () => {
    const program = new Command("fit")
      .description("maximum-likelihood fit of a tensor file (float64 results)")
      .version(packageVersion(), "-V, --version", "print the version")
      .argument("<input>", "tensor file (HDF5, rabbit layout)")
      .option("-o, --output <dir>", "output folder (default: outputs/<input name without extension>/)")
      .addOption(
        new Option("--poi-mode <mode>", "signal strengths enter as r = μ (linear) or r = x², μ = x² (square; rabbit's default)").default("linear"),
      )
      .option("--no-bbb", "switch off Barlow–Beeston-lite MC statistics (on by default when the input has sumw2)")
      .option("--asimov", "fit the Asimov data set (expected yields at μ = expect-signal, θ = 0)")
      .option("--expect-signal <mu>", "prefit signal strength for --asimov and the starting point (default 1)")
      .option("--pseudodata <name>", "fit the named pseudo-data set of the input")
      .option("--freeze <list|regex>", "hold parameters at their prefit values: comma-separated names or a regular expression")
      .option("--backend <name>", `native (float64 only, default) or a tfjs backend for a float32 first stage: ${FIT_BACKENDS.slice(1).join(", ")}`)
      .option("--gpu", "float32 first stage on the GPU (webgpu, else tensorflow via tfjs-node-gpu)")
      .option("--engine <name>", `engine: native (float64 on the CPU, default), cuda (float64 on an NVIDIA GPU; experimental, not yet verified on a GPU), or tfjs-<backend> (= --backend <backend>): ${ENGINE_NAMES.join(", ")}`)
      .option("--threads <n>", "worker threads (default: all cores)")
      .option("--max-iter <n>", "iteration limit of the minimiser (default 500)")
      .option("--verbose", "one progress line per iteration (default when stderr is a terminal)")
      .option("--impacts", "impacts on the POIs and NOIs: traditional, grouped, stat and global (fitresults.json \"impacts\", \"global_impacts\")")
      .option("--correlation", "also store the correlation matrix in fitresults.hdf5 (float64 n×n; by default readers derive it from the covariance)")
      .option("--no-hessian", "no dense Hessian or covariance (automatic when the dense matrices would not fit in memory): errors, correlations of the POIs/NOIs and impacts from a sparse Cholesky factor of the probed Hessian when it fits (every error exact), else from CG solves with other errors exact (--errors-for) or estimated")
      .option("--no-sparse-hessian", "with --no-hessian: CG solves only, no probed sparse Hessian and factor")
      .option("--start-from <fitresults.json>", "start the minimiser at an earlier fit's parameter values (same model): a re-run with other error options costs one convergence check")
      .option("--errors-for <list|regex>", "with Krylov errors: parameters whose error is computed exactly (one CG solve each; all when the fit has ≤ 500 free parameters)")
      .option("--probes <n>", "with Krylov errors: random probes of the stochastic variance estimate (default 32; 0: none)")
      .option("--memory-limit <GiB>", "memory the dense covariance path may use before switching to Krylov errors, and the sparse factor after it (default 70% of the free memory)")
      .option("--no-html", "do not write the HTML report")
      .option("--scan <names>", "profile-likelihood scan of these parameters (comma-separated; repeatable): fitresults.json \"scans\"", collect, [])
      .option("--scan-points <n>", "grid points of --scan and --scan2d per parameter (default 21)")
      .option("--scan-range <nsigma>", "scan grid half-width in Hessian errors around the best fit (default 3)")
      .option("--scan2d <a,b>", "2D profile scan of two parameters (repeatable): \"scans2d\"", collect, [])
      .option("--contour <a,b>", "2-dof profile-likelihood contours of two parameters (repeatable): \"contours\"", collect, [])
      .option("--contour-levels <list>", "contour levels in σ, 2 dof (default 1,2: 2ΔNLL = 2.2958, 6.1801)")
      .option("--contour-points <n>", "points per contour level (default 32)")
      .option("--minos <names|pois>", "MINOS errors (2ΔNLL = 1 crossings) of these parameters, or pois: parameters[].minos", collect, [])
      .option("--limits", "asymptotic CLs upper limits on the POIs (q̃μ; observed and expected ±1σ/±2σ): \"limits\"")
      .option("--cl <cl>", "confidence level of --limits (default 0.95)")
      .option("--significance", "asymptotic discovery significance of the POIs (q0; observed and expected at μ = expect-signal): \"significance\"")
      .exitOverride()
      .action(async (input: string, o: FitCliOptions) => runFit(input, o, argv));
    addToyOptions(program);
    await program.parseAsync(argv);
  });
}
