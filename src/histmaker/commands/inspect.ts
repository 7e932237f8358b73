import type { Command } from "commander";
import { UserError } from "../../errors.js";

// Placeholder until the subcommand is written; it refuses rather than pretending to work.
export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("(not yet available)")
    .allowUnknownOption()
    .action(() => {
      throw new UserError("histmaker inspect: not yet available in this version");
    });
}
