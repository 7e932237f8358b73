// Minimal typing for the part of lz4js we use (the package ships no types).
declare module "lz4js" {
  /** Decodes one raw LZ4 block src[sIndex, sIndex+sLength) into dst from dIndex; returns the end index in dst. */
  export function decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
}
