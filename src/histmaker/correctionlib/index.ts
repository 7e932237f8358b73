/**
 * A correctionlib (schema v2) evaluator for analysis modules: load CMS scale factors, pileup weights
 * and corrections from their published JSON and evaluate them on whole columns.
 */
export { CorrectionError } from "./errors.js";
export { Correction, CompoundCorrection, correctionSetFromJson, correctionSetFromString, loadCorrectionSet } from "./correctionSet.js";
export type { CorrectionArgument, CorrectionSet } from "./correctionSet.js";
export { loadAnalysisCorrections } from "./analysisCorrections.js";
export { parseFormula, FormulaSyntaxError } from "./formula.js";
export type * from "./schema.js";
