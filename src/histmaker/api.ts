/**
 * What analysis modules import: `import { defineAnalysis, collection, vec4 } from "hepfit/histmaker"`
 * (package.json "exports"). The analysis-definition helpers plus the columnar toolkit.
 */
export { defineAnalysis, counts, pick, asFloat64, AnalysisError } from "./analysis.js";
export type {
  AnalysisDefinition,
  AxisSpec,
  ChunkContext,
  ColumnFunction,
  ColumnSet,
  DatasetSpec,
  HistogramSpec,
  MaskFunction,
  SelectionSpec,
  TensorWeightSpec,
  WeightFunction,
} from "./analysis.js";
export type { Column, JaggedColumn, NumericArray } from "./events.js";
export * from "./columnar/index.js";
