/**
 * Refit ("non-profiled") impacts, Combine's Impacts method and rabbit's nonprofiled impacts: each
 * selected nuisance j is held at θ̂_j − σ̂_j (down) and θ̂_j + σ̂_j (up), everything else is
 * refitted from the best fit (warm start), and the shift of each POI and NOI from its best-fit
 * value is reported. For a quadratic NLL the shifts are ∓C_ij/√C_jj, the Hessian impacts
 * (impacts.ts). The 2 × (nuisances) refits run in parallel on the toy workers (toys/workerPool.ts).
 */
import { performance } from "node:perf_hooks";
import { UserError } from "../src/errors.js";
import type { TensorModel } from "../src/tensor/types.js";
import type { FitResult } from "./results.js";
import type { RefitEngineOptions } from "./toys/refitEngine.js";
import { IMPACT_HEADER_LENGTH, type Job } from "./toys/tasks.js";
import { float32Preconditioner, sharedInverseHessian } from "./toys/toys.js";
import { runTasks } from "./toys/workerPool.js";

export interface RefitImpactsOptions {
  input: string;
  model: TensorModel;
  /** the converged fit to the data */
  nominal: FitResult;
  engine: Omit<RefitEngineOptions, "data">;
  /** regular expression (whole name) selecting the nuisances; all when undefined or "" */
  selector?: string;
  workers: number;
  workerScript?: string;
  log?: (line: string) => void;
}

export interface RefitImpactTable {
  /** POIs and NOIs */
  targets: string[];
  nuisances: string[];
  /** shifts of target t when nuisance j is held at θ̂_j − σ̂_j / + σ̂_j, row-major [ntargets, nnuisances] */
  down: Float64Array;
  up: Float64Array;
  /** Hessian impacts C_tj/√C_jj beside them, same layout */
  hessian: Float64Array;
  /** nuisances whose refit failed (their shifts are NaN) */
  failed: string[];
  seconds: number;
  /** mean iterations and HVPs per refit */
  work: { iterations: number; hvps: number };
}

/** The nuisances a selector picks: systematics that are not NOIs and not frozen. */
export function selectImpactNuisances(nominal: FitResult, selector: string | undefined): number[] {
  const candidates: number[] = [];
  nominal.parameters.forEach((p, i) => {
    if ((p.kind === "nuisance" || p.kind === "free") && !p.frozen) candidates.push(i);
  });
  if (selector === undefined || selector.trim() === "") return candidates;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${selector})$`);
  } catch (err) {
    throw new UserError(`--refit-impacts ${selector}: not a regular expression (${err instanceof Error ? err.message : String(err)})`);
  }
  const chosen = candidates.filter((i) => re.test(nominal.parameters[i].name));
  if (chosen.length === 0) throw new UserError(`--refit-impacts ${selector}: matches no nuisance parameter`);
  return chosen;
}

export async function runRefitImpacts(opts: RefitImpactsOptions): Promise<RefitImpactTable> {
  const t0 = performance.now();
  const { nominal } = opts;
  if (nominal.status !== "converged") throw new UserError(`--refit-impacts: the fit to the data failed (${nominal.message})`);
  const nuis = selectImpactNuisances(nominal, opts.selector);
  const targets: number[] = [];
  nominal.parameters.forEach((p, i) => {
    if (p.kind === "poi" || p.kind === "noi") targets.push(i);
  });
  const n = nominal.parameters.length;
  const holds: Array<[number, number]> = [];
  for (const j of nuis) {
    const sigma = nominal.parameters[j].error;
    holds.push([j, nominal.x[j] - sigma], [j, nominal.x[j] + sigma]);
  }
  const job: Job = {
    input: opts.input,
    engine: { ...opts.engine, data: nominal.data, inverseHessian: float32Preconditioner(sharedInverseHessian(nominal)) },
    task: { kind: "impacts", start: Float64Array.from(nominal.x), holds, targets },
  };
  const nt = targets.length;
  const nn = nuis.length;
  const down = new Float64Array(nt * nn).fill(Number.NaN);
  const up = new Float64Array(nt * nn).fill(Number.NaN);
  const failed = new Set<string>();
  let iterations = 0;
  let hvps = 0;
  let finished = 0;
  let lastLine = 0;
  await runTasks(job, holds.map((_, id) => id), {
    workers: opts.workers,
    model: opts.model,
    workerScript: opts.workerScript,
    onResult: (id, rec) => {
      const k = id >> 1;
      const out = id % 2 === 0 ? down : up;
      iterations += rec[2];
      hvps += rec[3];
      if (rec[0] !== 0) failed.add(nominal.parameters[nuis[k]].name);
      else targets.forEach((t, a) => (out[a * nn + k] = rec[IMPACT_HEADER_LENGTH + a] - nominal.parameters[t].value));
      finished++;
      const now = performance.now();
      if (opts.log && (now - lastLine > 2000 || finished === holds.length)) {
        lastLine = now;
        const per = (now - t0) / 1000 / finished;
        opts.log(`refit impacts ${finished}/${holds.length} fits  ${per.toFixed(3)} s/fit  ETA ${(per * (holds.length - finished)).toFixed(0)}s`);
      }
    },
  });
  const hessian = new Float64Array(nt * nn);
  targets.forEach((t, a) =>
    nuis.forEach((j, k) => {
      hessian[a * nn + k] = nominal.covariance[t * n + j] / Math.sqrt(nominal.covariance[j * n + j]);
    }),
  );
  const nfits = Math.max(1, holds.length);
  return {
    targets: targets.map((t) => nominal.parameters[t].name),
    nuisances: nuis.map((j) => nominal.parameters[j].name),
    down,
    up,
    hessian,
    failed: [...failed],
    seconds: (performance.now() - t0) / 1000,
    work: { iterations: iterations / nfits, hvps: hvps / nfits },
  };
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** fitresults.json "refit_impacts": {target: {nuisance: {down, up}}} (results.md). */
export function refitImpactsJson(t: RefitImpactTable): Record<string, Record<string, { down: number | null; up: number | null }>> {
  const out: Record<string, Record<string, { down: number | null; up: number | null }>> = {};
  const nn = t.nuisances.length;
  t.targets.forEach((target, a) => {
    const row: Record<string, { down: number | null; up: number | null }> = {};
    t.nuisances.forEach((name, k) => (row[name] = { down: finiteOrNull(t.down[a * nn + k]), up: finiteOrNull(t.up[a * nn + k]) }));
    out[target] = row;
  });
  return out;
}

/** The Hessian impacts C_tj/√C_jj of the same nuisances, for comparison: {target: {nuisance: value}}. */
export function refitImpactsHessianJson(t: RefitImpactTable): Record<string, Record<string, number | null>> {
  const out: Record<string, Record<string, number | null>> = {};
  const nn = t.nuisances.length;
  t.targets.forEach((target, a) => {
    const row: Record<string, number | null> = {};
    t.nuisances.forEach((name, k) => (row[name] = finiteOrNull(t.hessian[a * nn + k])));
    out[target] = row;
  });
  return out;
}
