// FitOptions.start: a fit started at an earlier best fit lands on the same minimum at once.
import { describe, expect, it } from "vitest";
import { generateModel } from "../src/tensor/modelGenerator.js";
import { fit } from "../fitter/fit.js";

describe("fit(…, { start })", () => {
  const model = generateModel({ bins: 60, procs: 3, systs: 12, seed: 7 });

  it("re-fits from the best fit in at most two iterations, same NLL and errors", async () => {
    const cold = await fit(model, { threads: 1 });
    expect(cold.status).toBe("converged");
    const warm = await fit(model, { threads: 1, start: cold.x });
    expect(warm.status).toBe("converged");
    expect(warm.iterations).toBeLessThanOrEqual(2);
    expect(warm.iterations).toBeLessThan(cold.iterations);
    expect(Math.abs(warm.nll - cold.nll)).toBeLessThan(1e-9 * Math.abs(cold.nll));
    for (let i = 0; i < cold.parameters.length; i++) {
      expect(Math.abs(warm.parameters[i].error - cold.parameters[i].error)).toBeLessThan(1e-8 * cold.parameters[i].error);
    }
  });

  it("refuses a start of the wrong length", async () => {
    await expect(fit(model, { threads: 1, start: new Float64Array(3) })).rejects.toThrow(/start has length 3/);
  });
});
