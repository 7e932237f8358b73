/**
 * Natural ordering of names ("syst2" before "syst10", case-insensitive), as rabbit orders
 * systematics and groups, so that tensors we write list them in the same order.
 */

type KeyPart = string | number;

function naturalKey(name: string): KeyPart[] {
  // split keeps the digit runs at odd positions, so parts alternate string/number
  return name.split(/([0-9]+)/).map((part, i) => (i % 2 === 1 ? Number(part) : part.toLowerCase()));
}

function compareKeys(a: KeyPart[], b: KeyPart[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** A sorted copy of names in natural order; ties (names differing only in case) fall back to code-unit order. */
export function naturalSort(names: Iterable<string>): string[] {
  const keyed = [...names].map((name) => ({ name, key: naturalKey(name) }));
  keyed.sort((a, b) => compareKeys(a.key, b.key) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return keyed.map((k) => k.name);
}
