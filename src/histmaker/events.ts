/**
 * Columnar event chunks: what every event source (ROOT TTrees, our columnar files) yields and
 * what the analysis runner consumes. A chunk holds `length` consecutive events of one file.
 */
import type { NumericArray } from "../numericArray.js";

export type { NumericArray };

/** A variable-length (per-event) branch: event i owns values[offsets[i] .. offsets[i+1]). */
export interface JaggedColumn {
  offsets: Int32Array;
  values: NumericArray;
}

export type Column = NumericArray | JaggedColumn;

export interface EventChunk {
  /** path of the file the events come from */
  file: string;
  /** index of the chunk's first event in its tree */
  start: number;
  length: number;
  columns: Record<string, Column>;
}

export function isJagged(c: Column): c is JaggedColumn {
  return (c as JaggedColumn).offsets !== undefined;
}
