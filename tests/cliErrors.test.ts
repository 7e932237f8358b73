import { afterEach, describe, expect, it, vi } from "vitest";
import { INTERNAL_ERROR_EXIT, USER_ERROR_EXIT, UserError, runCli } from "../src/errors.js";

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

async function exitCodeOf(body: () => Promise<void>): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  vi.spyOn(process, "exit").mockImplementation((code?: string | number | null) => {
    throw new Exit(Number(code ?? 0));
  });
  try {
    await runCli(body);
    return { code: 0, stderr };
  } catch (err) {
    if (err instanceof Exit) return { code: err.code, stderr };
    throw err;
  }
}

afterEach(() => vi.restoreAllMocks());

describe("runCli", () => {
  it("prints a user error as one line and exits 2, without a trace", async () => {
    const r = await exitCodeOf(async () => {
      throw new UserError("in.hdf5: dataset hdata_obs: missing");
    });
    expect(r.code).toBe(USER_ERROR_EXIT);
    expect(r.stderr).toBe("error: in.hdf5: dataset hdata_obs: missing\n");
  });
  it("reports a bug with its trace and exit code 3 (not 1, which means a failed fit)", async () => {
    const r = await exitCodeOf(async () => {
      throw new TypeError("boom");
    });
    expect(r.code).toBe(INTERNAL_ERROR_EXIT);
    expect(r.stderr).toContain("internal error");
    expect(r.stderr).toContain("TypeError: boom");
  });
  it("exits 2 on commander's usage errors and 0 on --help", async () => {
    const usage = Object.assign(new Error("unknown option"), { code: "commander.unknownOption", exitCode: 1 });
    expect((await exitCodeOf(async () => Promise.reject(usage))).code).toBe(USER_ERROR_EXIT);
    const help = Object.assign(new Error("(outputHelp)"), { code: "commander.helpDisplayed", exitCode: 0 });
    expect((await exitCodeOf(async () => Promise.reject(help))).code).toBe(0);
  });
  it("returns normally when the body succeeds", async () => {
    expect((await exitCodeOf(async () => undefined)).code).toBe(0);
  });
});
