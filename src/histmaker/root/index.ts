/** The ROOT TTree reader: open a file, list its trees and branches, read columns chunk by chunk. */
export { RootFile, type KeyInfo } from "./RootFile.js";
export { TTreeReader, type BranchInfo, type IterateOptions } from "./TTreeReader.js";
export { decompressRoot, type RootCompression } from "./decompress.js";
