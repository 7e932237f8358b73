/**
 * A ROOT file opened for reading TTrees: the file header, the key lists of the top directory and its
 * subdirectories, and the TTree records (read and parsed at open, so `trees()` and `tree()` are
 * immediate). Bytes are read with positioned reads on a file handle, never the whole file.
 */
import { open, type FileHandle } from "node:fs/promises";
import { UserError } from "../../errors.js";
import { RBuffer } from "./RBuffer.js";
import { decompressRoot } from "./decompress.js";
import { readTTree, type TreeMeta } from "./streamers.js";
import { TTreeReader } from "./TTreeReader.js";

/** A TKey header: where an object lives and how big it is. */
export interface KeyInfo {
  nbytes: number;
  objlen: number;
  keylen: number;
  cycle: number;
  seekKey: number;
  className: string;
  name: string;
  title: string;
}

const TREE_CLASSES = new Set(["TTree", "TNtuple", "TNtupleD"]);
const DIRECTORY_CLASSES = new Set(["TDirectory", "TDirectoryFile"]);

function readKeyHeader(buf: RBuffer): KeyInfo {
  const nbytes = buf.i32();
  const version = buf.i16();
  const objlen = buf.i32();
  buf.u32(); // fDatime
  const keylen = buf.i16();
  const cycle = buf.i16();
  const big = version > 1000;
  const seekKey = big ? buf.i64() : buf.u32();
  if (big) buf.i64();
  else buf.u32(); // fSeekPdir
  const className = buf.tstring();
  const name = buf.tstring();
  const title = buf.tstring();
  return { nbytes, objlen, keylen, cycle, seekKey, className, name, title };
}

export class RootFile {
  readonly path: string;
  readonly size: number;
  private fh: FileHandle | null;
  private readonly treeMetas: Map<string, TreeMeta>;
  /** keys that are neither trees nor directories (histograms...), by path ("dir/name") */
  private readonly otherKeys = new Map<string, KeyInfo>();

  private constructor(path: string, fh: FileHandle, size: number) {
    this.path = path;
    this.fh = fh;
    this.size = size;
    this.treeMetas = new Map();
  }

  /** Opens a ROOT file and reads its directory and TTree metadata. */
  static async open(path: string): Promise<RootFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, "r");
    } catch (err) {
      throw new UserError(`${path}: cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    try {
      const { size } = await fh.stat();
      const file = new RootFile(path, fh, size);
      await file.readDirectoryTree();
      return file;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Trees in the file (subdirectory trees as "dir/name"), with their entry counts. */
  trees(): { name: string; entries: number }[] {
    return [...this.treeMetas.entries()].map(([name, t]) => ({ name, entries: t.entries }));
  }

  tree(name: string): TTreeReader {
    const meta = this.treeMetas.get(name);
    if (!meta) {
      const have = [...this.treeMetas.keys()];
      throw new UserError(`${this.path}: no TTree named '${name}' (trees: ${have.length ? have.join(", ") : "none"})`);
    }
    return new TTreeReader(this, name, meta);
  }

  /** Objects other than trees and directories (histograms...), as "dir/name" with their class. */
  objects(): { name: string; className: string; title: string }[] {
    return [...this.otherKeys.entries()].map(([name, k]) => ({ name, className: k.className, title: k.title }));
  }

  /** The key and uncompressed object bytes of a non-tree object listed by objects(). */
  async readObject(name: string): Promise<{ key: KeyInfo; payload: Uint8Array }> {
    const k = this.otherKeys.get(name);
    if (!k) throw new UserError(`${this.path}: no object named '${name}'`);
    const { key, payload } = await this.readRecord(k.seekKey, k.nbytes, `${k.className} '${name}'`);
    return { key, payload };
  }

  close(): void {
    const fh = this.fh;
    this.fh = null;
    if (fh) void fh.close();
  }

  /** Reads `length` bytes at `offset`; a range outside the file is a corrupt-file UserError. */
  async readBytes(offset: number, length: number, what: string): Promise<Uint8Array> {
    if (!this.fh) throw new UserError(`${this.path}: file already closed`);
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new UserError(`${this.path}: ${what} at bytes ${offset}..${offset + length} lies outside the file (${this.size} bytes); the file is truncated or corrupt`);
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(out, done, length - done, offset + done);
      if (bytesRead === 0) throw new UserError(`${this.path}: unexpected end of file reading ${what}`);
      done += bytesRead;
    }
    return out;
  }

  /** The uncompressed payload of a record whose key header starts at `seek`, and the key itself. */
  async readRecord(seek: number, nbytes: number, what: string): Promise<{ key: KeyInfo; payload: Uint8Array; keyBytes: Uint8Array }> {
    const raw = await this.readBytes(seek, nbytes, what);
    const key = readKeyHeader(new RBuffer(raw, `${this.path}: ${what}`));
    if (key.keylen <= 0 || key.keylen > nbytes || key.objlen < 0) {
      throw new UserError(`${this.path}: ${what} has a corrupt key header`);
    }
    const stored = raw.subarray(key.keylen, nbytes);
    const payload = key.objlen === stored.length ? stored : await decompressRoot(stored, key.objlen, `${this.path}: ${what}`);
    return { key, payload, keyBytes: raw.subarray(0, key.keylen) };
  }

  private async readDirectoryTree(): Promise<void> {
    const head = await this.readBytes(0, Math.min(this.size, 64), "file header");
    const hb = new RBuffer(head, `${this.path}: file header`);
    if (head.length < 4 || String.fromCharCode(head[0], head[1], head[2], head[3]) !== "root") {
      throw new UserError(`${this.path}: not a ROOT file (no 'root' magic at its start)`);
    }
    hb.skip(4);
    const version = hb.i32();
    const begin = hb.i32();
    const big = version >= 1000000;
    if (big) {
      hb.i64(); // fEND
      hb.i64(); // fSeekFree
    } else {
      hb.i32();
      hb.i32();
    }
    hb.i32(); // fNbytesFree
    hb.i32(); // nfree
    const nbytesName = hb.i32();
    const dirOffset = begin + nbytesName;
    await this.readDirectory(dirOffset, "");
  }

  /** Reads the TDirectory record at `offset` and walks its keys. */
  private async readDirectory(offset: number, prefix: string, depth = 0): Promise<void> {
    if (depth > 16) throw new UserError(`${this.path}: directories nested too deep (corrupt file?)`);
    const rec = await this.readBytes(offset, Math.min(42, this.size - offset), "directory record");
    await this.readDirectoryFrom(new RBuffer(rec, `${this.path}: directory record`), prefix, depth);
  }

  private async readDirectoryFrom(db: RBuffer, prefix: string, depth: number): Promise<void> {
    const dirVersion = db.i16();
    db.u32(); // fDatimeC
    db.u32(); // fDatimeM
    const nbytesKeys = db.i32();
    db.i32(); // fNbytesName
    const big = dirVersion > 1000;
    const read = (): number => (big ? db.i64() : db.u32());
    read(); // fSeekDir
    read(); // fSeekParent
    const seekKeys = read();
    if (seekKeys === 0 || nbytesKeys <= 0) return; // an empty directory
    const keysRaw = await this.readBytes(seekKeys, nbytesKeys, "key list");
    const kb = new RBuffer(keysRaw, `${this.path}: key list`);
    readKeyHeader(kb);
    const nkeys = kb.i32();
    if (nkeys < 0 || nkeys > keysRaw.length) kb.fail(`key list claims ${nkeys} keys`);
    const newest = new Map<string, KeyInfo>();
    for (let i = 0; i < nkeys; i++) {
      const key = readKeyHeader(kb);
      const old = newest.get(key.name);
      if (!old || old.cycle < key.cycle) newest.set(key.name, key);
    }
    for (const key of newest.values()) {
      const name = prefix + key.name;
      if (TREE_CLASSES.has(key.className)) {
        const what = `TTree '${name}'`;
        const { payload, key: k } = await this.readRecord(key.seekKey, key.nbytes, what);
        const buf = new RBuffer(payload, `${this.path}: ${what}`, k.keylen);
        this.treeMetas.set(name, readTTree(buf, key.className));
      } else if (DIRECTORY_CLASSES.has(key.className)) {
        const { payload } = await this.readRecord(key.seekKey, key.nbytes, `directory '${name}'`);
        await this.readDirectoryFrom(new RBuffer(payload, `${this.path}: directory '${name}'`), `${name}/`, depth + 1);
      } else {
        this.otherKeys.set(name, key);
      }
    }
  }
}
