/**
 * Columnar tools for analysis modules (`import { jagged, collection, vec4 } from "hepfit/histmaker"`):
 * jagged arrays, record-like collections, combinatorics, ΔR matching and four-vectors, all
 * operating on whole chunks.
 */
export { Jagged, jagged, argcombinations, argcartesian, concatJagged, toValues } from "./Jagged.js";
export type { Values, Operand, Selection } from "./Jagged.js";
export { Collection, collection, concat, combinations, cartesian } from "./Collection.js";
export type { CollectionOf, Takeable } from "./Collection.js";
export { Vec4, JaggedVec4, vec4, deltaPhi, deltaR, transverseMass, wrapPhi } from "./lorentz.js";
export type { PtEtaPhiMArrays } from "./lorentz.js";
export { nearest, minDeltaR, deltaRCleanMask, deltaRClean } from "./matching.js";
export type { EtaPhi } from "./matching.js";
export { allOf, anyOf, where, perChunk } from "./perEvent.js";
