/**
 * What a Krylov-mode fit (fit --no-hessian) adds to fitresults.json and fitresults.hdf5 instead of
 * the dense covariance:
 *  - JSON "errors": method, preconditioner, solve tolerance, probes, how many errors are exact and
 *    how many estimated, the relative accuracy of the estimates (median and 90% quantile of
 *    stderr(σ²)/σ²), solves, HVPs, time; "poi_covariance" {names, matrix} (POIs/NOIs, reported units,
 *    exact up to the solve tolerance); per parameter with an estimated error: error_estimated and
 *    error_stderr;
 *  - HDF5: poi_covariance [k, k] with poi_covariance_names, parameters/errors_stderr and
 *    parameters/errors_exact, and under krylov/ the impacts' accuracy (traditional_stderr
 *    [ntargets, nnuisances], nuisance_exact). No n × n dataset.
 */
import type h5wasm from "h5wasm/node";
import type { FitResult } from "../results.js";

type H5File = InstanceType<typeof h5wasm.File>;
type H5Group = ReturnType<H5File["create_group"]>;

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

export function krylovErrorsJson(result: FitResult): Record<string, unknown> {
  const k = result.krylov;
  if (!k) return {};
  const names = k.targetIndices.map((i) => result.parameters[i].name);
  const nk = names.length;
  const matrix = Array.from({ length: nk }, (_, a) => Array.from({ length: nk }, (_, b) => finiteOrNull(k.targetCovariance[a * nk + b])));
  const impacts =
    k.impactsNuisanceExact !== undefined
      ? {
          traditional_exact_nuisances: k.impactsNuisanceExact.filter((e) => e).length,
          traditional_estimated_nuisances: k.impactsNuisanceExact.filter((e) => !e).length,
          // C_tj exact; C_jj estimated for the others: relative error of an impact = ½ that of C_jj
          note: "grouped, stat, global and data-stat impacts exact (CG solves); traditional impacts exact where the nuisance's variance is, else with standard errors in fitresults.hdf5 krylov/impacts_traditional_stderr",
        }
      : undefined;
  return {
    errors: {
      ...k.summary,
      ...(impacts ? { impacts } : {}),
    },
    poi_covariance: { names, matrix },
  };
}

export function writeKrylovHdf5(f: H5File, result: FitResult): void {
  const k = result.krylov;
  if (!k) return;
  const nk = k.targetIndices.length;
  if (nk > 0) {
    f.create_dataset({ name: "poi_covariance", data: Float64Array.from(k.targetCovariance), shape: [nk, nk] });
    f.create_dataset({ name: "poi_covariance_names", data: k.targetIndices.map((i) => result.parameters[i].name) });
  }
  const params = f.get("parameters") as H5Group | null;
  if (params) {
    params.create_dataset({ name: "errors_stderr", data: Float64Array.from(k.errorStdErr) });
    params.create_dataset({ name: "errors_exact", data: Int8Array.from(k.exact), dtype: "<b" });
  }
  const g = f.create_group("krylov");
  g.create_attribute("summary_json", JSON.stringify(k.summary));
  if (k.impactsTraditionalStdErr && k.impactsNuisanceExact && result.impacts) {
    const nt = result.impacts.targets.length;
    const nn = result.impacts.nuisances.length;
    if (nt > 0 && nn > 0) {
      g.create_dataset({ name: "impacts_traditional_stderr", data: Float64Array.from(k.impactsTraditionalStdErr), shape: [nt, nn] });
      g.create_dataset({ name: "impacts_nuisance_exact", data: Int8Array.from(k.impactsNuisanceExact, (e) => (e ? 1 : 0)), dtype: "<b" });
    }
  }
}
