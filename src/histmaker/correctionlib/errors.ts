/**
 * Errors of the correctionlib evaluator. They extend AnalysisError so that a bad correction file or a
 * wrong input met inside `histmaker run` stops the run as a user error (exit 2) instead of being
 * taken for a failing event file and retried.
 */
import { AnalysisError } from "../analysis.js";

export class CorrectionError extends AnalysisError {
  constructor(message: string) {
    super(message);
    this.name = "CorrectionError";
  }
}
