/**
 * Writes a ROOT file (small-file format, 32-bit seeks, fVersion 62206) holding already-streamed
 * objects in the top directory and one level of subdirectories:
 *
 *   header (0..100) | TFile key + top TDirectory | StreamerInfo (TList) key | per subdirectory: its
 *   TDirectory key, then its objects' keys | top-level objects | keys lists | free-segments record
 *
 * Object payloads are zlib-compressed in ROOT's blocks ("ZL", method 8, 3-byte little-endian sizes)
 * when that makes them smaller, else stored raw (nbytes - keylen == objlen tells readers which).
 * The file is written to `<path>.tmp-<pid>` and renamed.
 */
import { randomBytes } from "node:crypto";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { deflateSync } from "node:zlib";
import { UserError } from "../../errors.js";
import { WBuffer } from "./WBuffer.js";

export interface RootObjectEntry {
  /** subdirectory name, or "" for the top directory */
  dir: string;
  name: string;
  title: string;
  className: string;
  /** the streamed object (what the key's data decompresses to) */
  payload: Uint8Array;
}

export interface RootWriteOptions {
  /** zlib level 1-9, or 0 for uncompressed (default 1, ROOT's default setting 101) */
  compression?: number;
  /** the file's title (TFile key title) */
  title?: string;
}

const BEGIN = 100;
const FILE_VERSION = 62206;
const DIR_VERSION = 5;
const KEY_VERSION = 4;
/** TDirectory record of a small file: version, 2 dates, nbytesKeys, nbytesName, 3 seeks, UUID, 12 spare bytes */
const DIR_RECORD = 2 + 4 + 4 + 4 + 4 + 4 * 3 + 18 + 12;
const BLOCK = 0xffffff;

function datime(d: Date): number {
  return (
    (((d.getUTCFullYear() - 1995) << 26) | ((d.getUTCMonth() + 1) << 22) | (d.getUTCDate() << 17) | (d.getUTCHours() << 12) | (d.getUTCMinutes() << 6) | d.getUTCSeconds()) >>>
    0
  );
}

interface KeyFields {
  nbytes: number;
  objlen: number;
  keylen: number;
  seekKey: number;
  seekPdir: number;
  className: string;
  name: string;
  title: string;
}

function tstringLength(s: string): number {
  const n = Buffer.byteLength(s, "latin1");
  return n < 255 ? 1 + n : 5 + n;
}

function keyLength(className: string, name: string, title: string): number {
  return 4 + 2 + 4 + 4 + 2 + 2 + 4 + 4 + tstringLength(className) + tstringLength(name) + tstringLength(title);
}

function writeKeyHeader(b: WBuffer, k: KeyFields, stamp: number): void {
  b.i32(k.nbytes);
  b.i16(KEY_VERSION);
  b.i32(k.objlen);
  b.u32(stamp);
  b.i16(k.keylen);
  b.i16(1); // cycle
  b.u32(k.seekKey);
  b.u32(k.seekPdir);
  b.tstring(k.className);
  b.tstring(k.name);
  b.tstring(k.title);
}

/** ROOT's compressed-record layout; null when compressing does not make it smaller. */
export function compressRecord(data: Uint8Array, level: number): Uint8Array | null {
  if (level <= 0 || data.length < 64) return null;
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let at = 0; at < data.length; at += BLOCK) {
    const chunk = data.subarray(at, Math.min(data.length, at + BLOCK));
    const z = deflateSync(chunk, { level });
    if (z.length > BLOCK) return null;
    const head = new Uint8Array(9);
    head[0] = 0x5a; // "Z"
    head[1] = 0x4c; // "L"
    head[2] = 8; // Z_DEFLATED
    head[3] = z.length & 0xff;
    head[4] = (z.length >> 8) & 0xff;
    head[5] = (z.length >> 16) & 0xff;
    head[6] = chunk.length & 0xff;
    head[7] = (chunk.length >> 8) & 0xff;
    head[8] = (chunk.length >> 16) & 0xff;
    parts.push(head, z);
    total += 9 + z.length;
  }
  if (total >= data.length) return null;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function dirRecord(b: WBuffer, f: { stamp: number; nbytesKeys: number; nbytesName: number; seekDir: number; seekParent: number; seekKeys: number; uuid: Uint8Array }): void {
  b.i16(DIR_VERSION);
  b.u32(f.stamp);
  b.u32(f.stamp);
  b.i32(f.nbytesKeys);
  b.i32(f.nbytesName);
  b.u32(f.seekDir);
  b.u32(f.seekParent);
  b.u32(f.seekKeys);
  b.i16(1); // TUUID version
  b.raw(f.uuid);
  for (let i = 0; i < 3; i++) b.i32(0); // room for 64-bit seeks, as ROOT leaves it
}

/** Writes the ROOT file atomically; a file past 2 GB or a failed write is a UserError naming the file. */
export function writeRootFile(file: string, streamerInfo: Uint8Array, objects: RootObjectEntry[], opts: RootWriteOptions = {}): void {
  const level = opts.compression ?? 1;
  const stamp = datime(new Date());
  const fileName = path.basename(file);
  const title = opts.title ?? "";
  const chunks: Uint8Array[] = [];
  let pos = BEGIN;
  const place = (bytes: Uint8Array): number => {
    const at = pos;
    chunks.push(bytes);
    pos += bytes.length;
    return at;
  };

  // ---- TFile key and top directory (patched at the end, sizes are fixed now)
  const fileKeylen = keyLength("TFile", fileName, title);
  const nbytesName = fileKeylen + tstringLength(fileName) + tstringLength(title);
  const topUuid = randomBytes(16);
  const topRecord = { at: 0, bytes: new Uint8Array(0) };
  const fileKeyLength = nbytesName + DIR_RECORD;
  topRecord.bytes = new Uint8Array(fileKeyLength);
  topRecord.at = place(topRecord.bytes);

  // ---- one key record: key header + (compressed) payload
  const keyRecord = (className: string, name: string, ttl: string, payload: Uint8Array, seekPdir: number): KeyFields => {
    const keylen = keyLength(className, name, ttl);
    const stored = compressRecord(payload, level) ?? payload;
    const k: KeyFields = { nbytes: keylen + stored.length, objlen: payload.length, keylen, seekKey: pos, seekPdir, className, name, title: ttl };
    const b = new WBuffer();
    writeKeyHeader(b, k, stamp);
    b.raw(stored);
    place(b.finish());
    return k;
  };

  const info = keyRecord("TList", "StreamerInfo", "Doubly linked list", streamerInfo, BEGIN);

  // ---- subdirectories and their objects
  const dirs = [...new Set(objects.map((o) => o.dir).filter((d) => d !== ""))];
  const topKeys: KeyFields[] = [];
  const subdirs: { name: string; key: KeyFields; record: Uint8Array; uuid: Uint8Array; keys: KeyFields[] }[] = [];
  for (const d of dirs) {
    const keylen = keyLength("TDirectory", d, "");
    const record = new Uint8Array(keylen + DIR_RECORD);
    const key: KeyFields = { nbytes: record.length, objlen: DIR_RECORD, keylen, seekKey: pos, seekPdir: BEGIN, className: "TDirectory", name: d, title: "" };
    place(record);
    const keys: KeyFields[] = [];
    for (const o of objects) if (o.dir === d) keys.push(keyRecord(o.className, o.name, o.title, o.payload, key.seekKey));
    subdirs.push({ name: d, key, record, uuid: randomBytes(16), keys });
    topKeys.push(key);
  }
  for (const o of objects) if (o.dir === "") topKeys.push(keyRecord(o.className, o.name, o.title, o.payload, BEGIN));

  // ---- keys lists: a key header (the directory's own) followed by nkeys and every key header
  const keysList = (className: string, name: string, ttl: string, seekPdir: number, keys: KeyFields[]): { seek: number; nbytes: number } => {
    const keylen = keyLength(className, name, ttl);
    const body = new WBuffer();
    body.i32(keys.length);
    for (const k of keys) writeKeyHeader(body, k, stamp);
    const payload = body.finish();
    const k: KeyFields = { nbytes: keylen + payload.length, objlen: payload.length, keylen, seekKey: pos, seekPdir, className, name, title: ttl };
    const b = new WBuffer();
    writeKeyHeader(b, k, stamp);
    b.raw(payload);
    place(b.finish());
    return { seek: k.seekKey, nbytes: k.nbytes };
  };
  for (const s of subdirs) {
    const list = keysList("TDirectory", s.name, "", s.key.seekKey, s.keys);
    const b = new WBuffer();
    writeKeyHeader(b, s.key, stamp);
    dirRecord(b, { stamp, nbytesKeys: list.nbytes, nbytesName: s.key.keylen, seekDir: s.key.seekKey, seekParent: BEGIN, seekKeys: list.seek, uuid: s.uuid });
    s.record.set(b.finish());
  }
  const topList = keysList("TFile", fileName, title, BEGIN, topKeys);

  // ---- free segments: one TFree covering everything after the end
  const freeKeylen = keyLength("TFile", fileName, title);
  const seekFree = pos;
  const nbytesFree = freeKeylen + 10;
  const end = seekFree + nbytesFree;
  if (end > 2 ** 31 - 1) throw new UserError(`${file}: the ROOT file would be ${end} bytes; the small-file format this writer uses stops at 2 GB (export fewer histograms per file)`);
  {
    const b = new WBuffer();
    writeKeyHeader(b, { nbytes: nbytesFree, objlen: 10, keylen: freeKeylen, seekKey: seekFree, seekPdir: BEGIN, className: "TFile", name: fileName, title }, stamp);
    b.i16(1);
    b.i32(end);
    b.i32(2000000000);
    place(b.finish());
  }

  // ---- TFile key + top directory record
  {
    const b = new WBuffer();
    writeKeyHeader(b, { nbytes: fileKeyLength, objlen: fileKeyLength - fileKeylen, keylen: fileKeylen, seekKey: BEGIN, seekPdir: 0, className: "TFile", name: fileName, title }, stamp);
    b.tstring(fileName);
    b.tstring(title);
    dirRecord(b, { stamp, nbytesKeys: topList.nbytes, nbytesName, seekDir: BEGIN, seekParent: 0, seekKeys: topList.seek, uuid: topUuid });
    topRecord.bytes.set(b.finish());
  }

  // ---- file header
  const head = new WBuffer();
  head.raw(Buffer.from("root", "latin1"));
  head.i32(FILE_VERSION);
  head.i32(BEGIN);
  head.i32(end); // fEND
  head.i32(seekFree);
  head.i32(nbytesFree);
  head.i32(1); // nfree
  head.i32(nbytesName);
  head.u8(4); // fUnits: 32-bit seeks
  head.i32(level > 0 ? 100 + level : 0); // fCompress: zlib (algorithm 1) × 100 + level
  head.i32(info.seekKey); // fSeekInfo
  head.i32(info.nbytes); // fNbytesInfo
  head.i16(4); // fUUID version
  head.raw(topUuid);
  const header = new Uint8Array(BEGIN);
  header.set(head.finish());

  const out = new Uint8Array(end);
  out.set(header, 0);
  let o = BEGIN;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  const target = path.resolve(file);
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, out);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new UserError(`${file}: cannot write (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`);
  }
}
