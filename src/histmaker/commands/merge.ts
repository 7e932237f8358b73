import type { Command } from "commander";
import { UserError } from "../../errors.js";

// Placeholder until the subcommand is written; it refuses rather than pretending to work.
export function registerMerge(program: Command): void {
  program
    .command("merge")
    .description("(not yet available)")
    .allowUnknownOption()
    .action(() => {
      throw new UserError("histmaker merge: not yet available in this version");
    });
}
