/**
 * A mistake in what the user gave us (a file, a dataset, an option). The CLI prints its message
 * as one line and exits with code 2, without a stack trace; anything else is a bug and keeps its trace.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/** Exit code for user errors, shared by every command. */
export const USER_ERROR_EXIT = 2;

/** Exit code for a bug (an unexpected exception): distinct from a fit that failed (1). */
export const INTERNAL_ERROR_EXIT = 3;

let stdioGuarded = false;

/**
 * A reader that went away (`fit … | head -1`) is not a failure of the command: on EPIPE, stdout (or
 * stderr) stops being written and the command finishes its work with its own exit code, quietly.
 * Without this Node throws the EPIPE from the stream and exits 1, which reads as "fit failed".
 */
export function guardStdio(): void {
  if (stdioGuarded) return;
  stdioGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
      stream.write = (() => true) as typeof stream.write;
    });
  }
}

/**
 * Runs a CLI body: user errors become one line on stderr and exit code 2; anything else is a bug,
 * reported with its stack trace and exit code 3. A closed stdout ends quietly (guardStdio).
 */
export async function runCli(body: () => Promise<void>): Promise<void> {
  guardStdio();
  try {
    await body();
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(USER_ERROR_EXIT);
    }
    // commander (with exitOverride) has already printed its message, e.g. for an unknown option
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("commander.")) {
      const exitCode = (err as { exitCode?: number }).exitCode ?? USER_ERROR_EXIT;
      process.exit(exitCode === 0 ? 0 : USER_ERROR_EXIT);
    }
    const trace = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`internal error (a bug, please report it with this trace):\n${trace}\n`);
    process.exit(INTERNAL_ERROR_EXIT);
  }
}
