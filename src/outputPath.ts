/**
 * Output-path checks shared by every command that writes (fit, fit-gen, histmaker hist/run/merge/
 * tensor). They run before any work, so a bad `-o` costs nothing: one line (UserError, exit 2)
 * instead of a stack trace or an HDF5 diagnostic dump after an hour of filling, and never an input
 * overwritten by its own output.
 */
import { closeSync, lstatSync, openSync, realpathSync, statSync, statfsSync, unlinkSync, type Stats } from "node:fs";
import path from "node:path";
import { UserError } from "./errors.js";

export type OutputKind = "file" | "folder";

export interface OutputTarget {
  /** the path as the user gave it */
  path: string;
  /** a file replaced atomically, or a folder (created with its parents) that files are written into */
  kind: OutputKind;
  /** how the user named it, for the message: "-o", "--cutflow" */
  label: string;
  /** for a folder: the names of the files written into it (checked against the inputs as well) */
  files?: string[];
}

/** Mount points of kernel file systems: writing there is never what a user means (/proc/x can even hang). */
const VIRTUAL_ROOTS = ["/proc", "/sys", "/dev"];
/** /dev/shm is a real in-memory file system for files. */
const VIRTUAL_EXCEPTIONS = ["/dev/shm"];
/** statfs f_type of kernel file systems, for virtual ones mounted elsewhere (linux/magic.h). */
const VIRTUAL_FS_TYPES = new Map<number, string>([
  [0x9fa0, "proc"],
  [0x62656572, "sysfs"],
  [0x27e0eb, "cgroup"],
  [0x63677270, "cgroup2"],
  [0x64626720, "debugfs"],
  [0x74726163, "tracefs"],
  [0x73636673, "securityfs"],
  [0x1cd1, "devpts"],
  [0x6165676c, "pstore"],
  [0xcafe4a11, "bpf"],
  [0x62656570, "configfs"],
  [0xde5e81e4, "efivarfs"],
]);

function under(p: string, root: string): boolean {
  return p === root || p.startsWith(`${root}/`);
}

/** Why `p` (a real path) is on a kernel file system, or null. */
export function virtualFileSystem(p: string): string | null {
  if (!VIRTUAL_EXCEPTIONS.some((r) => under(p, r))) {
    const root = VIRTUAL_ROOTS.find((r) => under(p, r));
    if (root !== undefined) return `${root} is a virtual file system`;
  }
  try {
    const name = VIRTUAL_FS_TYPES.get(Number(statfsSync(p).type));
    if (name !== undefined) return `${p} is on a virtual file system (${name})`;
  } catch {
    // statfs unavailable: the prefix check above is what we have
  }
  return null;
}

function code(err: unknown): string {
  return String((err as { code?: unknown }).code ?? "");
}

function why(err: unknown): string {
  switch (code(err)) {
    case "EROFS":
      return "read-only file system";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOSPC":
      return "no space left on the device";
    case "EDQUOT":
      return "disk quota exceeded";
    default:
      return err instanceof Error ? err.message.split("\n")[0] : String(err);
  }
}

/** stat, or null when nothing is there (a dangling link counts as nothing). Other errors are the user's to see. */
function statOrNull(p: string, label: string): Stats | null {
  try {
    return statSync(p);
  } catch (err) {
    const c = code(err);
    if (c === "ENOENT") return null;
    if (c === "ENOTDIR") return null; // a component is a file: reported when walking up
    throw new UserError(`${label}: cannot use ${p} (${why(err)})`);
  }
}

/**
 * Whether a file can really be created in `dir`: creates and removes a probe file. access(W_OK) is not
 * enough: as root it says yes for a read-only mode, and it knows nothing of read-only mounts.
 */
export function probeWritable(dir: string): string | null {
  const probe = path.join(dir, `.hepfit-write-probe-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  let fd: number;
  try {
    fd = openSync(probe, "wx");
  } catch (err) {
    return why(err);
  }
  closeSync(fd);
  try {
    unlinkSync(probe);
  } catch (err) {
    return `cannot remove a file there (${why(err)})`;
  }
  return null;
}

/** The nearest existing ancestor of `abs` (abs itself when it exists) and its stats. */
function nearestExisting(abs: string, label: string): { dir: string; stats: Stats } {
  let cur = abs;
  for (;;) {
    const st = statOrNull(cur, label);
    if (st !== null) return { dir: cur, stats: st };
    const up = path.dirname(cur);
    if (up === cur) throw new UserError(`${label}: no part of ${abs} exists`);
    cur = up;
  }
}

interface Identity {
  real: string;
  dev: number;
  ino: number;
}

function identity(p: string): Identity | null {
  try {
    const st = statSync(p);
    return { real: realpathSync(p), dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

function sameFile(a: Identity, b: Identity): boolean {
  return a.real === b.real || (a.dev === b.dev && a.ino === b.ino);
}

/** Checks one output; returns the files that will be written (absolute) for the cross-checks. */
function checkTarget(t: OutputTarget): string[] {
  const label = `${t.label} ${t.path}`;
  if (t.path.trim() === "") throw new UserError(`${t.label}: empty path`);
  const abs = path.resolve(t.path);
  // a dangling symbolic link: stat says missing, but a folder cannot be made there and a file would
  // replace the link rather than write where it points
  const link = (() => {
    try {
      return lstatSync(abs);
    } catch {
      return null;
    }
  })();
  if (link?.isSymbolicLink() && statOrNull(abs, label) === null) throw new UserError(`${label}: is a symbolic link to a missing path`);

  const { dir: existing, stats } = nearestExisting(abs, label);
  const real = realpathSync(existing);
  const virtual = virtualFileSystem(real);
  if (virtual !== null) throw new UserError(`${label}: ${virtual}; choose an output on a disk`);

  let writeDir: string;
  if (existing === abs) {
    if (t.kind === "folder") {
      if (!stats.isDirectory()) throw new UserError(`${label}: exists and is not a folder`);
      writeDir = abs;
    } else {
      if (stats.isDirectory()) throw new UserError(`${label}: is a folder; give a file name`);
      if (!stats.isFile()) throw new UserError(`${label}: exists and is not a regular file`);
      writeDir = path.dirname(abs);
    }
  } else {
    if (!stats.isDirectory()) throw new UserError(`${label}: ${existing} is a file, not a folder`);
    // a file goes into an existing folder (we do not guess folders for it); a folder is created with its parents
    if (t.kind === "file" && existing !== path.dirname(abs)) {
      throw new UserError(`${label}: folder ${path.dirname(abs)} does not exist`);
    }
    writeDir = existing;
  }
  const denied = probeWritable(writeDir);
  if (denied !== null) throw new UserError(`${label}: cannot write in ${writeDir} (${denied})`);

  if (t.kind === "file") return [abs];
  const files = (t.files ?? []).map((f) => path.join(abs, f));
  for (const f of files) {
    const st = statOrNull(f, label);
    if (st !== null && !st.isFile()) throw new UserError(`${label}: ${f} exists and is not a regular file`);
  }
  return files;
}

/**
 * Checks the outputs of a command before it does any work: each must be writable where it is, not on a
 * kernel file system, of the right kind (file or folder), distinct from the others, and not one of the
 * inputs (same real path or same device + inode, so symbolic and hard links count). Throws UserError.
 */
export function checkOutputs(targets: OutputTarget[], inputs: readonly string[] = []): void {
  const inputIds = inputs.map((p) => ({ p, id: identity(p) }));
  const seen: { label: string; real: string; id: Identity | null }[] = [];
  for (const t of targets) {
    for (const abs of checkTarget(t)) {
      const id = identity(abs);
      const real = canonical(abs, t.label);
      for (const inp of inputIds) {
        if (inp.id !== null && id !== null && sameFile(inp.id, id)) {
          throw new UserError(`${t.label} ${t.path}: ${abs === path.resolve(t.path) ? "is" : `would replace ${abs}, which is`} the input ${inp.p}; choose another output (inputs are never overwritten)`);
        }
      }
      for (const s of seen) {
        if (s.real === real || (s.id !== null && id !== null && sameFile(s.id, id))) {
          throw new UserError(`${t.label} ${t.path}: is the same file as ${s.label}; give them different names`);
        }
      }
      seen.push({ label: `${t.label} ${t.path}`, real, id });
    }
  }
}

/** The real path of a maybe-missing `abs`: its nearest existing ancestor resolved, the rest appended. */
function canonical(abs: string, label: string): string {
  const { dir } = nearestExisting(abs, label);
  return path.join(realpathSync(dir), path.relative(dir, abs));
}
