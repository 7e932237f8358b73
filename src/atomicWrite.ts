/**
 * One way to write an output file: to `<path>.tmp-<pid>` in the same folder, then rename over
 * `path`, so a reader never sees half a file and a failure leaves nothing behind.
 */
import { renameSync, rmSync, writeFileSync } from "node:fs";

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
