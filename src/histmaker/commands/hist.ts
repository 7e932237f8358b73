import type { Command } from "commander";
import { UserError } from "../../errors.js";

// Placeholder until the subcommand is written; it refuses rather than pretending to work.
export function registerHist(program: Command): void {
  program
    .command("hist")
    .description("(not yet available)")
    .allowUnknownOption()
    .action(() => {
      throw new UserError("histmaker hist: not yet available in this version");
    });
}
