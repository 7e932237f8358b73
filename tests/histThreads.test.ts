import { describe, expect, it } from "vitest";
import { type AtomicMode, Hist, type StorageType } from "../src/histmaker/Hist.js";
import { categoryInt, regular, variable } from "../src/histmaker/axes.js";
import { rng } from "./helpers/random.js";


function events(n: number, K: number, seed: number, integerWeights: boolean) {
  const r = rng(seed);
  const draw = () => (integerWeights ? Math.floor(r() * 5) : r() * 2 - 0.3);
  return {
    cols: {
      x: Float64Array.from({ length: n }, () => r() * 1.2 - 0.1),
      // few bins so threads often hit the same bin at once
      y: Int32Array.from({ length: n }, () => Math.floor(r() * 3)),
    },
    weight: Float64Array.from({ length: n }, draw),
    tensorWeights: Float64Array.from({ length: n * K }, draw),
  };
}

function make(storage: StorageType, K: number, atomicMode: AtomicMode = "auto"): Hist {
  const axes = [regular(4, 0, 1, { name: "x" }), categoryInt([0, 1, 2], { name: "y" })];
  return new Hist(axes, { storage, atomicMode, ...(K > 1 ? { tensor: { name: "syst", size: K } } : {}) });
}

function expectClose(a: Float64Array, b: Float64Array, rel: number): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const scale = Math.max(1, Math.abs(a[i]), Math.abs(b[i]));
    if (Math.abs(a[i] - b[i]) > rel * scale) expect(a[i]).toBe(b[i]);
  }
}

describe("multi-threaded fills into one shared histogram", () => {
  const n = 200_000;
  const cases: [StorageType, number, AtomicMode][] = [
    ["double", 1, "auto"],
    ["weighted", 1, "auto"],
    ["weighted", 6, "auto"],
    ["weighted", 6, "cas"],
    ["double", 2, "bin-lock"],
  ];
  for (const [storage, K, mode] of cases) {
    it(`${storage} K=${K} ${mode}: 1, 2, 4 and 8 threads agree (exactly for integer weights)`, async () => {
      for (const integerWeights of [true, false]) {
        const ev = events(n, K, 11, integerWeights);
        const opts = { weight: ev.weight, ...(K > 1 ? { tensorWeights: ev.tensorWeights } : {}) };
        const single = make(storage, K, mode);
        single.fillSync(ev.cols, opts);
        for (const threads of [2, 4, 8]) {
          const multi = make(storage, K, mode);
          await multi.fill(ev.cols, { ...opts, threads });
          if (integerWeights) {
            expect(Array.from(multi.values({ flow: true }))).toEqual(Array.from(single.values({ flow: true })));
            expect(Array.from(multi.variances({ flow: true }))).toEqual(Array.from(single.variances({ flow: true })));
          } else {
            expectClose(multi.values({ flow: true }), single.values({ flow: true }), 1e-12);
            expectClose(multi.variances({ flow: true }), single.variances({ flow: true }), 1e-12);
          }
        }
      }
    });
  }

  it("count storage: threads agree exactly", async () => {
    const ev = events(n, 1, 12, true);
    const single = make("count", 1);
    single.fillSync(ev.cols);
    const multi = make("count", 1);
    await multi.fill(ev.cols, { threads: 4 });
    expect(Array.from(multi.values({ flow: true }))).toEqual(Array.from(single.values({ flow: true })));
    expect(multi.sum({ flow: true })).toBe(n);
  });

  it("concurrent async fills of the same histogram add up to the sequential result", async () => {
    const K = 5;
    const parts = [0, 1, 2, 3].map((s) => events(50_000, K, 20 + s, true));
    const sequential = make("weighted", K);
    for (const p of parts) sequential.fillSync(p.cols, { weight: p.weight, tensorWeights: p.tensorWeights });
    const concurrent = make("weighted", K);
    await Promise.all(parts.map((p, i) => concurrent.fill(p.cols, { weight: p.weight, tensorWeights: p.tensorWeights, threads: 1 + (i % 2) })));
    expect(Array.from(concurrent.values({ flow: true }))).toEqual(Array.from(sequential.values({ flow: true })));
    expect(Array.from(concurrent.variances({ flow: true }))).toEqual(Array.from(sequential.variances({ flow: true })));
  });

  it("a big async fill runs off the main thread: a timer keeps ticking meanwhile", async () => {
    const K = 64;
    const N = 400_000;
    const r = rng(7);
    const cols = { pt: Float64Array.from({ length: N }, () => 20 + 40 * r()), eta: Float64Array.from({ length: N }, () => 5 * r() - 2.5) };
    const tensorWeights = new Float64Array(N * K).fill(1);
    const h = new Hist([regular(60, 20, 60, { name: "pt" }), variable([-2.5, -1.5, 0, 1.5, 2.5], { name: "eta" })], {
      storage: "weighted",
      tensor: { name: "syst", size: K },
    });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const t0 = performance.now();
    let rounds = 0;
    // keep filling until the fills took long enough for the timer to have fired many times
    while (performance.now() - t0 < 150) {
      await h.fill(cols, { tensorWeights, threads: 2 });
      rounds++;
    }
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    expect(h.sumTensor({ flow: true })[K - 1]).toBe(N * rounds);
    // a blocked event loop would see at most one tick per fill round
    expect(ticks).toBeGreaterThan(rounds + 5);
    console.log(`async fill: ${rounds} rounds of ${N} events × ${K} in ${elapsed.toFixed(0)} ms, ${ticks} timer ticks meanwhile`);
  });

  it("a fill that grows a category axis waits for running async fills", async () => {
    const h = new Hist([categoryInt([], { name: "run", growth: true })], { storage: "weighted" });
    const N = 300_000;
    const runs = Int32Array.from({ length: N }, (_, i) => i % 3);
    const first = h.fill({ run: runs }, { threads: 2 });
    const second = h.fill({ run: Int32Array.from([5, 0]) });
    await Promise.all([first, second]);
    const ax = h.axes[0];
    expect(ax.type === "category_int" && ax.categories).toEqual([0, 1, 2, 5]);
    expect(Array.from(h.values())).toEqual([N / 3 + 1, N / 3, N / 3, 1]);
  });
});
