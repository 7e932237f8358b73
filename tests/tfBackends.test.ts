import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { initBackend, wasmThreadsInUse } from "../fitter/tfBackends.js";
import { UserError } from "../src/errors.js";

/** a small computation whose float32 result we know exactly */
function checkArithmetic(): void {
  const y = tf.tidy(() => tf.sum(tf.mul(tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([0.5, 0.25, 2, -1]))));
  expect(y.dataSync()[0]).toBe(0.5 + 0.5 + 6 - 4);
  y.dispose();
}

function hasModule(name: string): boolean {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
}

describe("initBackend", () => {
  it("cpu", async () => {
    const info = await initBackend("cpu");
    expect(info).toEqual({ name: "cpu", device: "cpu", precision: "float32" });
    expect(tf.getBackend()).toBe("cpu");
    checkArithmetic();
  });

  it("wasm (with a thread count) and back to cpu", async () => {
    const info = await initBackend("wasm", { threads: 2 });
    expect(info).toEqual({ name: "wasm", device: "cpu", precision: "float32" });
    expect(tf.getBackend()).toBe("wasm");
    checkArithmetic();
    const threads = await wasmThreadsInUse();
    expect(threads).toBeGreaterThanOrEqual(1);
    await initBackend("cpu");
    expect(tf.getBackend()).toBe("cpu");
  });

  it("wasm rejects a bad thread count", async () => {
    await expect(initBackend("wasm", { threads: 0 })).rejects.toThrow(/threads/);
  });

  it("webgpu: runs when an adapter is found, else a UserError saying why", async () => {
    // whether an adapter exists depends on the machine (the `webgpu` package and a Vulkan driver,
    // e.g. Mesa lavapipe); tests/tfWebgpu.test.ts checks the numbers when it does
    const outcome = await initBackend("webgpu").catch((e: unknown) => e);
    if (outcome instanceof Error) {
      expect(outcome).toBeInstanceOf(UserError);
      expect(outcome.message).toMatch(/^backend webgpu: /);
    } else {
      expect(outcome).toMatchObject({ name: "webgpu", precision: "float32" });
      expect(tf.getBackend()).toBe("webgpu");
      // async read: webgpu's dataSync needs OffscreenCanvas, which Node lacks (the fitter never syncs)
      const y = tf.tidy(() => tf.sum(tf.mul(tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([0.5, 0.25, 2, -1]))));
      expect((await y.data())[0]).toBe(0.5 + 0.5 + 6 - 4);
      y.dispose();
      await initBackend("cpu");
    }
  });

  it.skipIf(hasModule("@tensorflow/tfjs-node") || hasModule("@tensorflow/tfjs-node-gpu"))(
    "tensorflow without tfjs-node is a UserError naming the package to install",
    async () => {
      const err = await initBackend("tensorflow").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/npm install @tensorflow\/tfjs-node-gpu/);
    },
  );

  it("unknown name is a UserError", async () => {
    await expect(initBackend("tpu" as never)).rejects.toBeInstanceOf(UserError);
  });
});
