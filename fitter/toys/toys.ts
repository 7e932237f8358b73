/**
 * `fit --toys N`: generate and fit toys (toyGeneration.ts, toyTask.ts) on parallel workers
 * (workerPool.ts), checkpoint the finished ones for --resume, write toys.hdf5 (toyFile.ts) and
 * summarise them (pulls, bias, goodness of fit) for fitresults.json "toys".
 */
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { CholeskyFactor } from "../denseLinalg.js";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { UserError } from "../../src/errors.js";
import type { TensorModel } from "../../src/tensor/types.js";
import type { FitResult } from "../results.js";
import { RefitEngine, type RefitEngineOptions } from "./refitEngine.js";
import type { Job } from "./tasks.js";
import {
  TOYS_CHECKPOINT,
  TOYS_HDF5,
  makeIdentity,
  readCheckpoint,
  writeCheckpoint,
  writeToyFile,
  type ToySetIdentity,
  type ToyTable,
} from "./toyFile.js";
import { profiledBeta, type ToyDataMode, type ToyFrom, type ToySyst } from "./toyGeneration.js";
import { HEADER_LENGTH } from "./toyTask.js";
import { runTasks } from "./workerPool.js";

export interface ToysOptions {
  /** tensor file (workers read it) and its loaded model */
  input: string;
  model: TensorModel;
  inputSha256: string;
  /** the fit to the data (postfit centre, observed χ², the engine's options) */
  nominal: FitResult;
  engine: Omit<RefitEngineOptions, "data">;
  /** --freeze as given (part of the toy set's identity) */
  freeze?: string;
  expectSignal: number;
  seed: number;
  syst: ToySyst;
  data: ToyDataMode;
  from: ToyFrom;
  /** toys [first, end) of the set */
  first: number;
  end: number;
  /** keep every parameter (errors from the dense covariance) rather than the POIs and NOIs */
  allParams: boolean;
  workers: number;
  workerScript?: string;
  outDir: string;
  /** keep the finished toys of an interrupted run (checkpoint) */
  resume: boolean;
  /** checkpoint after this many new toys (default 10) or CHECKPOINT_SECONDS, whichever first */
  checkpointEvery?: number;
  /** stop handing out toys (Ctrl-C); finished ones are checkpointed */
  signal?: AbortSignal;
  /** progress lines */
  log?: (line: string) => void;
  /** threads of the one dense Hessian and inverse at the generation point (default: all cores) */
  hessianThreads?: number;
  /** called after each finished toy with (finished in this run, total to do) */
  onProgress?: (done: number, todo: number) => void;
}

export interface ParameterToyStats {
  mean: number | null;
  std: number | null;
  pull_mean: number | null;
  pull_std: number | null;
}

export interface ToysSummary {
  n: number;
  seed: number;
  failed: number;
  file: string;
  syst: string;
  data: string;
  from: string;
  /** first and one-past-last toy index in the file */
  range: [number, number];
  gof: { pvalue: number | null; observed_chi2: number };
  parameters: Record<string, ParameterToyStats>;
  /** mean minimiser iterations and Hessian-vector products per toy (errors included) */
  work: { iterations: number | null; hvps: number | null };
}

export interface ToysRun {
  summary: ToysSummary;
  /** false when stopped early (signal): toys.hdf5 not written, the checkpoint kept */
  complete: boolean;
  file: string | null;
  seconds: number;
  workers: number;
}

const CHECKPOINT_SECONDS = 30;

function meanStd(xs: number[]): { mean: number | null; std: number | null } {
  if (xs.length === 0) return { mean: null, std: null };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return { mean, std: null };
  const v = xs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (xs.length - 1);
  return { mean, std: Math.sqrt(v) };
}

/** fitresults.json "toys" from a table (a run's or a merged one). */
export function summarizeToys(table: ToyTable, file: string): ToysSummary {
  const id = table.identity;
  const ns = id.parameters.length;
  const ok = table.records.filter((r) => r[0] === 0);
  const parameters: Record<string, ParameterToyStats> = {};
  id.parameters.forEach((name, k) => {
    const values = ok.map((r) => r[HEADER_LENGTH + k]);
    const pulls = ok
      .filter((r) => r[HEADER_LENGTH + ns + k] > 0)
      .map((r) => (r[HEADER_LENGTH + k] - r[HEADER_LENGTH + 2 * ns + k]) / r[HEADER_LENGTH + ns + k]);
    const v = meanStd(values);
    const p = meanStd(pulls);
    parameters[name] = { mean: v.mean, std: v.std, pull_mean: p.mean, pull_std: p.std };
  });
  const obs = id.observed_chi2;
  const pvalue = ok.length > 0 && Number.isFinite(obs) ? ok.filter((r) => r[2] >= obs).length / ok.length : null;
  const work = (j: number): number | null => (table.records.length > 0 ? table.records.reduce((a, r) => a + r[j], 0) / table.records.length : null);
  const first = table.index.length > 0 ? table.index[0] : 0;
  const last = table.index.length > 0 ? table.index[table.index.length - 1] + 1 : 0;
  return {
    n: table.records.length,
    seed: id.seed,
    failed: table.records.length - ok.length,
    file,
    syst: id.syst,
    data: id.data,
    from: id.from,
    range: [first, last],
    gof: { pvalue, observed_chi2: obs },
    parameters,
    work: { iterations: work(4), hvps: work(5) },
  };
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * The covariance of the fit to the data in minimiser coordinates (square mode: divided by dμ/dx),
 * in a SharedArrayBuffer that the workers share: the refits' approximate inverse Hessian
 * (preconditionedNewton.ts). null when the fit has none.
 */
export function sharedInverseHessian(nominal: FitResult): Float64Array | null {
  if (nominal.status !== "converged") return null;
  const n = nominal.parameters.length;
  const jac = new Float64Array(n).fill(1);
  if (nominal.poiMode === "square") {
    nominal.parameters.forEach((p, i) => {
      if (p.kind === "poi") jac[i] = 2 * nominal.x[i];
    });
  }
  if (!jac.every((v) => v !== 0 && Number.isFinite(v))) return null;
  const c = new Float64Array(new SharedArrayBuffer(8 * n * n));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = nominal.covariance[i * n + j] / (jac[i] * jac[j]);
      if (!Number.isFinite(v)) return null;
      c[i * n + j] = v;
    }
  }
  return c;
}

/**
 * The inverse of the expected Hessian at the generation centre (Asimov data β^centre·ν(centre)),
 * in a SharedArrayBuffer for the workers: toys' minima lie around the centre, where the Hessian of
 * the fit to the data (taken at x̂) may differ a lot (prefit toys of a model whose data pull the
 * nuisances). One dense Hessian and Cholesky inverse per run; null when not positive definite.
 */
export function generationInverseHessian(
  model: TensorModel,
  engine: RefitEngineOptions,
  centre: Float64Array,
  betaCentre: Float64Array | null,
  threads: number,
): Float64Array | null {
  const probe = new RefitEngine(model, { ...engine, threads, inverseHessian: null });
  try {
    const nu = probe.binTotals(centre);
    if (betaCentre) for (let b = 0; b < nu.length; b++) nu[b] *= betaCentre[b];
    probe.setData(nu);
    const h = probe.session.hessian(centre);
    const n = probe.n;
    const held = new Set(probe.frozen);
    const free = Array.from({ length: n }, (_, i) => i).filter((i) => !held.has(i));
    const m = free.length;
    const hf = new Float64Array(m * m);
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) hf[a * m + b] = h[free[a] * n + free[b]];
    const chol = CholeskyFactor.factor(hf, m, { threads });
    if (!chol) return null;
    const inv = chol.inverse();
    const c = new Float64Array(new SharedArrayBuffer(8 * n * n));
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) c[free[a] * n + free[b]] = inv[a * m + b];
    return c;
  } finally {
    probe.dispose();
  }
}

/**
 * The refits' preconditioner in float32, in a SharedArrayBuffer for the workers: each of a toy's
 * 150–230 passes over M then reads half the bytes (the passes dominate a toy on a large model).
 * M only preconditions Newton-PCG, so its rounding changes iteration counts, never the minimum
 * (gradients, HVPs, EDM and residual checks stay float64). Converted once, after the inverse was
 * taken in float64; the float64 matrix is returned as it is when a value does not fit float32.
 */
export function float32Preconditioner(c: Float64Array | null): Float32Array | Float64Array | null {
  if (!c) return null;
  const f = new Float32Array(new SharedArrayBuffer(4 * c.length));
  for (let i = 0; i < c.length; i++) {
    f[i] = c[i];
    if (!Number.isFinite(f[i])) return c;
  }
  return f;
}

/** sha256 of the nominal fit's point and covariance: toys depend on both (start, preconditioner) */
export function nominalFingerprint(nominal: FitResult, inverse: Float64Array | Float32Array | null): string {
  const h = createHash("sha256");
  h.update(Buffer.from(nominal.x.buffer, nominal.x.byteOffset, nominal.x.byteLength));
  if (inverse) h.update(new Uint8Array(inverse.buffer, inverse.byteOffset, inverse.byteLength));
  return h.digest("hex");
}

/** The parameters kept per toy: POIs and NOIs, or all. */
export function storedParameters(model: TensorModel, allParams: boolean): number[] {
  const npoi = model.signals.length;
  const n = npoi + model.systs.length;
  if (allParams) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: npoi }, (_, i) => i), ...model.noiIndices.map((s) => npoi + s)];
}

export async function runToys(opts: ToysOptions): Promise<ToysRun> {
  const t0 = performance.now();
  const { model, nominal } = opts;
  if (!(Number.isInteger(opts.first) && Number.isInteger(opts.end) && 0 <= opts.first && opts.first < opts.end)) {
    throw new UserError(`--toy-range: need 0 <= A < B, got ${opts.first}:${opts.end}`);
  }
  if (opts.from === "postfit" && nominal.status !== "converged") {
    throw new UserError(`--toys-from postfit: the fit to the data failed (${nominal.message}); no postfit point to generate from`);
  }
  const stored = storedParameters(model, opts.allParams);
  const engineOpts: RefitEngineOptions = { ...opts.engine, data: nominal.data };
  // the generation centre and β^centre (postfit: at the best fit to the data)
  let centre: Float64Array;
  let betaCentre: Float64Array | null = null;
  let bbK: Float64Array | null;
  let constraintWeights: Float64Array;
  {
    const probe = new RefitEngine(model, { ...engineOpts, inverseHessian: null });
    try {
      centre = opts.from === "postfit" ? Float64Array.from(nominal.x) : Float64Array.from(probe.x0);
      bbK = probe.bbK;
      constraintWeights = Float64Array.from(probe.spec.constraintWeights);
      if (opts.from === "postfit") betaCentre = profiledBeta(nominal.data, probe.binTotals(centre), bbK);
    } finally {
      probe.dispose();
    }
  }
  // toys and their errors: Newton steps and preconditioned CG with the inverse Hessian at the centre
  const tHess = performance.now();
  engineOpts.inverseHessian = float32Preconditioner(generationInverseHessian(model, engineOpts, centre, betaCentre, opts.hessianThreads ?? availableParallelism()));
  opts.log?.(`toys: inverse Hessian at the generation point in ${((performance.now() - tHess) / 1000).toFixed(2)} s${engineOpts.inverseHessian ? "" : " (not positive definite: trust region and plain CG)"}`);
  const identity: ToySetIdentity = makeIdentity({
    input_sha256: opts.inputSha256,
    seed: opts.seed,
    syst: opts.syst,
    data: opts.data,
    from: opts.from,
    poi_mode: engineOpts.poiMode,
    bbb: bbK !== null,
    expect_signal: opts.expectSignal,
    freeze: opts.freeze ?? null,
    data_source: nominal.dataSource,
    parameters: stored.map((i) => nominal.parameters[i].name),
    dense_errors: opts.allParams,
    centre,
    observed_chi2: nominal.chi2,
    nominal_sha256: nominalFingerprint(nominal, engineOpts.inverseHessian ?? null),
  });
  const job: Job = {
    input: opts.input,
    engine: engineOpts,
    task: {
      kind: "toys",
      toys: {
        generation: { seed: opts.seed, syst: opts.syst, data: opts.data, npoi: model.signals.length, constraintWeights, bbK, centre, betaCentre },
        stored,
        denseErrors: opts.allParams,
      },
    },
  };

  mkdirSync(opts.outDir, { recursive: true });
  const checkpointPath = join(opts.outDir, TOYS_CHECKPOINT);
  const done = opts.resume ? readCheckpoint(checkpointPath, identity) : new Map<number, Float64Array>();
  if (!opts.resume && existsSync(checkpointPath)) {
    throw new UserError(`${checkpointPath}: a checkpoint of an interrupted run exists; add --resume to continue it or remove it`);
  }
  for (const k of [...done.keys()]) if (k < opts.first || k >= opts.end) done.delete(k);
  const todo: number[] = [];
  for (let i = opts.first; i < opts.end; i++) if (!done.has(i)) todo.push(i);
  const log = opts.log;
  if (log && done.size > 0) log(`toys: resuming, ${done.size} finished toys from ${checkpointPath}`);

  const every = opts.checkpointEvery ?? 10;
  let sinceCheckpoint = 0;
  let lastCheckpoint = performance.now();
  let lastLine = 0;
  let finished = 0;
  let failed = 0;
  const tRun = performance.now();
  await runTasks(job, todo, {
    workers: opts.workers,
    model,
    workerScript: opts.workerScript,
    signal: opts.signal,
    onResult: (id, record) => {
      done.set(id, record);
      finished++;
      if (record[0] !== 0) failed++;
      sinceCheckpoint++;
      const now = performance.now();
      if (sinceCheckpoint >= every || (now - lastCheckpoint) / 1000 > CHECKPOINT_SECONDS) {
        writeCheckpoint(checkpointPath, identity, done);
        sinceCheckpoint = 0;
        lastCheckpoint = now;
      }
      if (log && (now - lastLine > 2000 || finished === todo.length)) {
        lastLine = now;
        const perToy = (now - tRun) / 1000 / finished;
        const eta = perToy * (todo.length - finished);
        log(`toys ${finished}/${todo.length} (${failed} failed)  ${perToy.toFixed(3)} s/toy on ${opts.workers} worker(s)  ETA ${formatDuration(eta)}`);
      }
      opts.onProgress?.(finished, todo.length);
    },
  });
  const complete = todo.every((i) => done.has(i));
  const rows = [...done.entries()].sort((a, b) => a[0] - b[0]);
  const table: ToyTable = { identity, index: Int32Array.from(rows, (r) => r[0]), records: rows.map((r) => r[1]) };
  let file: string | null = null;
  if (complete) {
    file = join(opts.outDir, TOYS_HDF5);
    await writeToyFile(file, table);
    rmSync(checkpointPath, { force: true });
  } else {
    writeCheckpoint(checkpointPath, identity, done);
    log?.(`toys: stopped after ${done.size} of ${opts.end - opts.first} toys; ${checkpointPath} keeps them (rerun with --resume)`);
  }
  return {
    summary: summarizeToys(table, TOYS_HDF5),
    complete,
    file,
    seconds: (performance.now() - t0) / 1000,
    workers: opts.workers,
  };
}
