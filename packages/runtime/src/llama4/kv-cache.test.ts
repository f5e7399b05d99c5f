import { describe, expect, it } from "vitest";
import { KvCache } from "./kv-cache.js";
import { wasmHost } from "../ops/wasm-host.js";

describe("KvCache", () => {
  const host = wasmHost();
  const inKernel = (a: Float32Array) => host!.holds(new Uint8Array(a.buffer, a.byteOffset, 0));

  it("lives in the kernel memory with a host, keeps its rows when it grows, and falls back to plain arrays past the cap", () => {
    expect(host).not.toBeNull();
    const kvDim = 64;
    const c = new KvCache(2, kvDim, 4, host, 2 * 2 * 16 * kvDim * 4); // up to 16 positions in the kernel memory
    expect(c.k.every(inKernel) && c.v.every(inKernel)).toBe(true);
    for (let l = 0; l < 2; l++) for (let i = 0; i < 4 * kvDim; i++) [c.k[l][i], c.v[l][i]] = [l + i, -l - i];
    c.length = 4;
    c.ensure(9); // 16 positions
    expect(c.k[1].length).toBe(16 * kvDim);
    expect(c.k.every(inKernel)).toBe(true);
    expect(c.k[1][5]).toBe(6);
    expect(c.v[1][4 * kvDim - 1]).toBe(-(4 * kvDim));
    // positions whose whole cache exceeds the cap: plain arrays, rows copied over
    c.ensure(17);
    expect(c.k.some(inKernel) || c.v.some(inKernel)).toBe(false);
    expect(c.k[1][5]).toBe(6);
    c.close();
    expect(c.k[0].length).toBe(0);
  });

  it("uses plain arrays without a host", () => {
    const c = new KvCache(1, 8, 2);
    expect(c.k[0].buffer).toBeInstanceOf(ArrayBuffer);
    c.ensure(5);
    expect(c.k[0].length).toBe(8 * 8);
  });
});
