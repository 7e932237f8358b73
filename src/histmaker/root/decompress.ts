/**
 * ROOT record decompression. A compressed key or basket payload is a series of blocks, each with a
 * 9-byte header: a 2-letter algorithm tag ("ZL" zlib, "XZ" lzma/xz, "L4" lz4, "ZS" zstd), a method
 * byte, then the block's compressed and uncompressed sizes as 3-byte little-endian numbers.
 * LZ4 blocks start with an 8-byte xxhash64 checksum (counted in the compressed size) before the raw
 * LZ4 block; XZ blocks are whole .xz streams; ZL blocks are zlib streams; ZS blocks are zstd frames.
 */
import { inflateSync } from "node:zlib";
import { decompress as zstdDecompress } from "fzstd";
import { decompressBlock as lz4DecompressBlock } from "lz4js";
import xz from "xz-decompress";
import { UserError } from "../../errors.js";

const HEADER = 9;

/** Names of the algorithms seen in a payload, for diagnostics and tests. */
export type RootCompression = "zlib" | "lzma" | "lz4" | "zstd";

function tagOf(a: number, b: number): string {
  return String.fromCharCode(a, b);
}

async function xzDecompress(block: Uint8Array): Promise<Uint8Array> {
  // xz-decompress is a streaming WebAssembly decoder (no native code); feed it the whole block
  const input = new Blob([new Uint8Array(block)]).stream() as ReadableStream<Uint8Array>;
  const stream = new xz.XzReadableStream(input);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    total += value.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Lists the algorithm of each block of a compressed payload (no decoding). */
export function compressionBlocks(src: Uint8Array): RootCompression[] {
  const out: RootCompression[] = [];
  let ip = 0;
  while (ip + HEADER <= src.length) {
    const tag = tagOf(src[ip], src[ip + 1]);
    const csize = src[ip + 3] | (src[ip + 4] << 8) | (src[ip + 5] << 16);
    out.push(tag === "ZL" ? "zlib" : tag === "XZ" ? "lzma" : tag === "L4" ? "lz4" : "zstd");
    ip += HEADER + csize;
  }
  return out;
}

/**
 * Decompresses a ROOT payload of `expectedSize` uncompressed bytes. `label` names the file and
 * record in errors. Throws UserError for unknown algorithms, bad sizes or corrupt blocks.
 */
export async function decompressRoot(src: Uint8Array, expectedSize: number, label: string): Promise<Uint8Array> {
  const out = new Uint8Array(expectedSize);
  let ip = 0;
  let op = 0;
  while (op < expectedSize) {
    if (ip + HEADER > src.length) {
      throw new UserError(`${label}: compressed data ends after ${op} of ${expectedSize} bytes`);
    }
    const tag = tagOf(src[ip], src[ip + 1]);
    const csize = src[ip + 3] | (src[ip + 4] << 8) | (src[ip + 5] << 16);
    const usize = src[ip + 6] | (src[ip + 7] << 8) | (src[ip + 8] << 16);
    const start = ip + HEADER;
    if (start + csize > src.length || op + usize > expectedSize) {
      throw new UserError(`${label}: compressed block sizes (${csize} -> ${usize}) do not fit the record`);
    }
    const block = src.subarray(start, start + csize);
    let produced: number;
    try {
      switch (tag) {
        case "ZL": {
          const dec = inflateSync(block);
          out.set(dec.subarray(0, Math.min(dec.length, usize)), op);
          produced = dec.length;
          break;
        }
        case "ZS": {
          // letting fzstd allocate is ~3x faster than handing it the output slice
          const dec = zstdDecompress(block);
          out.set(dec.subarray(0, Math.min(dec.length, usize)), op);
          produced = dec.length;
          break;
        }
        case "L4": {
          // 8-byte checksum first; the raw LZ4 block follows
          produced = lz4DecompressBlock(block, out, 8, csize - 8, op) - op;
          break;
        }
        case "XZ": {
          const dec = await xzDecompress(block);
          out.set(dec.subarray(0, Math.min(dec.length, usize)), op);
          produced = dec.length;
          break;
        }
        case "CS":
          throw new UserError(`${label}: uses ROOT's old "CS" compression, which is not supported`);
        default:
          throw new UserError(`${label}: unknown compression algorithm tag "${tag.replace(/[^\x20-\x7e]/g, "?")}"`);
      }
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`${label}: corrupt ${tag} block: ${(err as Error).message}`);
    }
    if (produced !== usize) {
      throw new UserError(`${label}: ${tag} block gave ${produced} bytes, header says ${usize}`);
    }
    ip = start + csize;
    op += usize;
  }
  return out;
}
