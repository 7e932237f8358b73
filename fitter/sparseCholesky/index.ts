export { envelopeOrder, envelopeBytes, envelopeEntries, inversePermutation, type EnvelopeOrder } from "./envelopeOrder.js";
export {
  factorEnvelope,
  defaultEnvelopeThreads,
  type EnvelopeFactor,
  type EnvelopeFactorOptions,
  type EnvelopeFactorResult,
} from "./envelopeCholesky.js";
