/**
 * Writing a variable-length int32 dataset (rabbit's `hsystgroupidxs`), which h5wasm cannot create.
 *
 * h5wasm can write variable-length strings, and HDF5 stores both kinds alike: each element is
 * (length, global-heap collection, object index) and the bytes live in a global heap object. So we
 * write placeholder strings of 4·n bytes, close the file, and then patch it in place:
 *  - the datatype message: vlen string of 1-byte chars -> vlen sequence of signed 4-byte integers
 *    (both messages are 20 bytes, so only a few bytes change);
 *  - each element's length: 4·n bytes -> n elements;
 *  - each heap object's bytes: the placeholder -> the int32 values (little-endian).
 * Locating the dataset walks the root group's symbol table (superblock v0, object headers v1: what
 * HDF5 writes with default settings, as h5wasm does). The writer reads the result back to check it.
 */
import fs from "node:fs";

const UNDEFINED_ADDRESS = 0xffffffffffffffffn;

/** Placeholder strings for the given lists: 4 bytes per index, any non-zero ASCII. */
export function vlenInt32Placeholders(lists: readonly (readonly number[])[]): string[] {
  return lists.map((l) => "I".repeat(4 * l.length));
}

class FileBytes {
  constructor(private readonly fd: number, private readonly file: string) {}

  read(offset: bigint | number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    const got = fs.readSync(this.fd, buf, 0, length, Number(offset));
    if (got !== length) throw this.error(`short read at ${offset}`);
    return buf;
  }

  /** Up to `length` bytes (fewer at the end of the file). */
  readUpTo(offset: bigint | number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    const got = fs.readSync(this.fd, buf, 0, length, Number(offset));
    return buf.subarray(0, got);
  }

  write(offset: bigint | number, bytes: Buffer): void {
    fs.writeSync(this.fd, bytes, 0, bytes.length, Number(offset));
  }

  error(what: string): Error {
    return new Error(`${this.file}: cannot patch variable-length int32 dataset: ${what}`);
  }
}

interface Message {
  type: number;
  /** file offset of the message body */
  body: bigint;
  size: number;
}

/** Messages of a version-1 object header, following continuation blocks. */
function objectHeaderMessages(f: FileBytes, address: bigint): Message[] {
  const prefix = f.read(address, 16);
  if (prefix[0] !== 1) throw f.error(`object header at ${address} is version ${prefix[0]}, only version 1 is handled`);
  const count = prefix.readUInt16LE(2);
  const blocks: [bigint, number][] = [[address + 16n, prefix.readUInt32LE(8)]];
  const messages: Message[] = [];
  while (blocks.length > 0 && messages.length < count) {
    const [start, length] = blocks.shift() as [bigint, number];
    const block = f.read(start, length);
    let pos = 0;
    while (pos + 8 <= length && messages.length < count) {
      const type = block.readUInt16LE(pos);
      const size = block.readUInt16LE(pos + 2);
      const body = start + BigInt(pos + 8);
      messages.push({ type, body, size });
      if (type === 0x10) {
        blocks.push([block.readBigUInt64LE(pos + 8), Number(block.readBigUInt64LE(pos + 16))]);
      }
      pos += 8 + size;
    }
  }
  return messages;
}

/** Object header address of a link in the root group (symbol-table groups: B-tree v1 + local heap). */
function rootLinkAddress(f: FileBytes, name: string): bigint {
  const sb = f.read(0, 0x60);
  if (sb.readUInt32BE(0) !== 0x89484446) throw f.error("no HDF5 signature at offset 0");
  if (sb[8] !== 0 && sb[8] !== 1) throw f.error(`superblock version ${sb[8]}, only 0 and 1 are handled`);
  if (sb[13] !== 8 || sb[14] !== 8) throw f.error("offsets and lengths must be 8 bytes");
  // Version 1 inserts 4 bytes (indexed-storage K + reserved) before the addresses.
  const rootEntry = 0x38 + (sb[8] === 1 ? 4 : 0);
  const entry = f.read(rootEntry, 40);
  const rootHeader = entry.readBigUInt64LE(8);
  const table = objectHeaderMessages(f, rootHeader).find((m) => m.type === 0x11);
  if (table === undefined) throw f.error("the root group has no symbol table");
  const tableBody = f.read(table.body, 16);
  const btree = tableBody.readBigUInt64LE(0);
  const heap = f.read(tableBody.readBigUInt64LE(8), 32);
  if (heap.toString("latin1", 0, 4) !== "HEAP") throw f.error("root group local heap not found");
  const heapData = heap.readBigUInt64LE(24);

  const linkName = (offset: bigint): string => {
    const raw = f.readUpTo(heapData + offset, Buffer.byteLength(name) + 1);
    const end = raw.indexOf(0);
    return raw.toString("utf8", 0, end < 0 ? raw.length : end);
  };
  const visit = (node: bigint): bigint | null => {
    const head = f.read(node, 24);
    const sig = head.toString("latin1", 0, 4);
    if (sig === "SNOD") {
      const nsym = head.readUInt16LE(6);
      const entries = f.read(node + 8n, 40 * nsym);
      for (let i = 0; i < nsym; i++) {
        if (linkName(entries.readBigUInt64LE(40 * i)) === name) return entries.readBigUInt64LE(40 * i + 8);
      }
      return null;
    }
    if (sig !== "TREE" || head[4] !== 0) throw f.error(`unexpected B-tree node at ${node}`);
    const used = head.readUInt16LE(6);
    const body = f.read(node + 24n, 8 + 16 * used);
    for (let i = 0; i < used; i++) {
      const found = visit(body.readBigUInt64LE(8 + 16 * i));
      if (found !== null) return found;
    }
    return null;
  };
  const found = visit(btree);
  if (found === null) throw f.error(`dataset '${name}' not found in the root group`);
  return found;
}

/**
 * Turns the root-level vlen string dataset `name`, written from vlenInt32Placeholders(lists), into a
 * vlen int32 dataset holding `lists`. The file must be closed by HDF5.
 */
export function patchVlenInt32(file: string, name: string, lists: readonly (readonly number[])[]): void {
  const fd = fs.openSync(file, "r+");
  try {
    const f = new FileBytes(fd, file);
    const messages = objectHeaderMessages(f, rootLinkAddress(f, name));
    const dtype = messages.find((m) => m.type === 0x03);
    const layout = messages.find((m) => m.type === 0x08);
    if (dtype === undefined || layout === undefined) throw f.error(`'${name}' lacks a datatype or layout message`);

    const dt = f.read(dtype.body, 20);
    const isVlenString =
      dt[0] === 0x19 && (dt[1] & 0x0f) === 1 && dt.readUInt32LE(4) === 16 && dt[8] === 0x10 && dt.readUInt32LE(12) === 1;
    if (!isVlenString) throw f.error(`'${name}' is not a variable-length string dataset`);
    // vlen type 0 = sequence (no padding/charset bits); base: fixed-point, signed, 4 bytes, 32-bit precision.
    dt[1] = 0x00;
    dt[2] = 0x00;
    dt[9] = 0x08;
    dt.writeUInt32LE(4, 12);
    dt.writeUInt16LE(0, 16);
    dt.writeUInt16LE(32, 18);

    const lay = f.read(layout.body, 18);
    if (lay[0] !== 3 || lay[1] !== 1) throw f.error(`'${name}' layout is not contiguous (version ${lay[0]}, class ${lay[1]})`);
    const dataAddress = lay.readBigUInt64LE(2);
    const elements = lists.length > 0 && dataAddress !== UNDEFINED_ADDRESS ? f.read(dataAddress, 16 * lists.length) : Buffer.alloc(0);
    if (lists.length > 0 && elements.length === 0) throw f.error(`'${name}' has no data`);

    const collections = new Map<bigint, Buffer>();
    const heapWrites: [bigint, Buffer][] = [];
    lists.forEach((list, i) => {
      const nbytes = elements.readUInt32LE(16 * i);
      if (nbytes !== 4 * list.length) throw f.error(`element ${i} holds ${nbytes} bytes, expected ${4 * list.length}`);
      elements.writeUInt32LE(list.length, 16 * i);
      if (list.length === 0) return;
      const gcol = elements.readBigUInt64LE(16 * i + 4);
      const index = elements.readUInt32LE(16 * i + 12);
      let col = collections.get(gcol);
      if (col === undefined) {
        const head = f.read(gcol, 16);
        if (head.toString("latin1", 0, 4) !== "GCOL") throw f.error(`no global heap collection at ${gcol}`);
        col = f.read(gcol, Number(head.readBigUInt64LE(8)));
        collections.set(gcol, col);
      }
      let pos = 16;
      for (;;) {
        if (pos + 16 > col.length) throw f.error(`heap object ${index} not found`);
        const objIndex = col.readUInt16LE(pos);
        const size = Number(col.readBigUInt64LE(pos + 8));
        if (objIndex === 0) throw f.error(`heap object ${index} not found`);
        if (objIndex === index) {
          if (size !== 4 * list.length) throw f.error(`heap object ${index} has ${size} bytes`);
          const bytes = Buffer.alloc(size);
          list.forEach((v, j) => bytes.writeInt32LE(v, 4 * j));
          heapWrites.push([gcol + BigInt(pos + 16), bytes]);
          break;
        }
        pos += 16 + Math.ceil(size / 8) * 8;
      }
    });
    for (const [offset, bytes] of heapWrites) f.write(offset, bytes);
    if (elements.length > 0) f.write(dataAddress, elements);
    f.write(dtype.body, dt);
  } finally {
    fs.closeSync(fd);
  }
}
