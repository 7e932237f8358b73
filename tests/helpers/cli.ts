/**
 * Runs a command's main() in-process for tests: stdout/stderr captured, process.exit turned into a
 * returned exit code (process.exitCode counts when main returns normally).
 */
import { vi } from "vitest";

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCommand(main: (argv: string[]) => Promise<void>, name: string, args: string[]): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const savedExitCode = process.exitCode;
  process.exitCode = undefined;
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  vi.spyOn(process, "exit").mockImplementation((code?: string | number | null) => {
    throw new Exit(Number(code ?? 0));
  });
  let code = 0;
  try {
    await main(["node", name, ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (err) {
    if (!(err instanceof Exit)) throw err;
    code = err.code;
  } finally {
    vi.restoreAllMocks();
    process.exitCode = savedExitCode;
  }
  return { code, stdout, stderr };
}
