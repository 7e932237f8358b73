import type { Command } from "commander";
import { UserError } from "../../errors.js";

// Placeholder until the subcommand is written; it refuses rather than pretending to work.
export function registerRun(program: Command): void {
  program
    .command("run")
    .description("(not yet available)")
    .allowUnknownOption()
    .action(() => {
      throw new UserError("histmaker run: not yet available in this version");
    });
}
