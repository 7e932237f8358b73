/**
 * What the HTML report embeds: everything the page draws, read from fitresults.json/.hdf5 and laid
 * out for the browser (columnar arrays, parameter order of the fit). Plain JSON values only.
 */

export interface AxisJson {
  name: string;
  label?: string;
  edges?: number[];
  categories?: (number | string)[];
}

/** Yields of one stage (prefit or postfit) of one channel: yields[bin][proc], totals with σ. */
export interface StageYields {
  yields: number[][];
  total: number[];
  totalErr: number[];
}

export interface ChannelPayload {
  name: string;
  axes: AxisJson[];
  /** under/overflow bins present (inferred from size vs. the axes) */
  flow: boolean;
  masked: boolean;
  size: number;
  data: number[] | null;
  prefit: StageYields | null;
  postfit: StageYields | null;
}

/** Per-nuisance impacts on one target, aligned with the parameter list (null: none). */
export interface ImpactColumns {
  up: (number | null)[];
  down: (number | null)[];
}

export interface GroupedImpacts {
  /** group names, then "stat" */
  names: string[];
  /** per target: values aligned with names */
  hessian: Record<string, (number | null)[]>;
  global: Record<string, (number | null)[]>;
}

/** The parameters and impacts of one fit (the report's fit or the reference). */
export interface FitPayload {
  label: string;
  names: string[];
  kinds: string[];
  value: (number | null)[];
  error: (number | null)[];
  prefit: (number | null)[];
  prefitError: (number | null)[];
  frozen: boolean[];
  minos: ({ lower: number | null; upper: number | null } | null)[];
  /** POIs and NOIs that have impacts */
  targets: string[];
  /** impact type ("hessian" | "global" | "refit") → target → columns */
  impacts: Record<string, Record<string, ImpactColumns>>;
  grouped: GroupedImpacts | null;
}

export interface CorrelationPayload {
  names: string[];
  /** row-major, names.length² values */
  matrix: (number | null)[];
  /** how the nuisances were chosen */
  note: string;
}

export interface ReportPayload {
  title: string;
  generated: string;
  summary: Record<string, unknown>;
  fit: FitPayload;
  reference: FitPayload | null;
  procs: string[];
  channels: ChannelPayload[];
  correlation: CorrelationPayload | null;
  /** post-fit results as in results.md, copied when present */
  post: Record<string, unknown>;
}
