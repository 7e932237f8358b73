import type { Command } from "commander";
import { UserError } from "../../errors.js";

// Placeholder until the subcommand is written; it refuses rather than pretending to work.
export function registerTensor(program: Command): void {
  program
    .command("tensor")
    .description("(not yet available)")
    .allowUnknownOption()
    .action(() => {
      throw new UserError("histmaker tensor: not yet available in this version");
    });
}
