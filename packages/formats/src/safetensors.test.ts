import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeToFloat32, encodeFromFloat32, SAFETENSORS_DTYPE_SIZE, type SafetensorsDType } from "./dtypes.js";
import { openSafetensors } from "./safetensors-read.js";
import { SafetensorsWriter } from "./safetensors-write.js";
import { seededRandom } from "./seeded-random.js";

const DTYPES = Object.keys(SAFETENSORS_DTYPE_SIZE) as SafetensorsDType[];

interface T {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  data: Uint8Array;
}

function randomTensors(r: () => number, n: number): T[] {
  return Array.from({ length: n }, (_, i) => {
    const dtype = DTYPES[Math.floor(r() * DTYPES.length)]!;
    const shape = Array.from({ length: Math.floor(r() * 4) }, () => Math.floor(r() * 7)); // 0-d and empty tensors included
    const bytes = shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_SIZE[dtype];
    return { name: `model.layers.${i}.w${Math.floor(r() * 1000)}`, dtype, shape, data: new Uint8Array(bytes).map(() => Math.floor(r() * 256)) };
  });
}

async function write(path: string, tensors: T[], opts: ConstructorParameters<typeof SafetensorsWriter>[1] = {}) {
  const w = new SafetensorsWriter(path, opts);
  for (const t of tensors) w.addTensor(t.name, t.dtype, t.shape);
  await w.writeHeader();
  for (const t of tensors) {
    const cut = Math.floor(t.data.length / 2);
    await w.writeTensorData(t.name, t.data.subarray(0, cut));
    if (cut < t.data.length) await w.writeTensorData(t.name, t.data.subarray(cut));
  }
  return w.finish();
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "moeq-st-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("safetensors reader", () => {
  it("reads a file laid out exactly as the spec describes (hand-built bytes)", async () => {
    const header = JSON.stringify({
      __metadata__: { format: "pt" },
      b: { dtype: "BF16", shape: [2], data_offsets: [8, 12] },
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    });
    const h = new TextEncoder().encode(header);
    const bytes = new Uint8Array(8 + h.length + 12);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(h.length), true);
    bytes.set(h, 8);
    bytes.set(new Uint8Array(new Float32Array([1.5, -2]).buffer), 8 + h.length);
    bytes.set([0x80, 0x3f, 0x40, 0xc0], 8 + h.length + 8); // bf16 1.0, -3.0
    const path = join(dir, "hand.safetensors");
    await writeFile(path, bytes);
    const ck = await openSafetensors(path);
    try {
      expect([...ck.tensors.keys()]).toEqual(["a", "b"]); // file order = data order
      expect(ck.metadata).toEqual({ format: "pt" });
      expect(ck.tensors.get("b")).toMatchObject({ dtype: "BF16", shape: [2], offset: 8 + h.length + 8, byteLength: 4 });
      expect(Array.from(await ck.readFloat32("a"))).toEqual([1.5, -2]);
      expect(Array.from(await ck.readFloat32("b"))).toEqual([1, -3]);
      expect(await ck.readBytes("b", { start: 2, end: 4 })).toEqual(new Uint8Array([0x40, 0xc0]));
      await expect(ck.readBytes("b", { start: 2, end: 5 })).rejects.toThrow(RangeError);
      await expect(ck.readBytes("nope")).rejects.toMatchObject({ code: "SAFETENSORS_NO_TENSOR" });
    } finally {
      await ck.close();
    }
  });
});

describe("safetensors round trip (seeded property test)", () => {
  it.each([1, 2, 3, 4, 5, 6])("seed %i: single file", async (seed) => {
    const r = seededRandom(seed);
    const tensors = randomTensors(r, 1 + Math.floor(r() * 12));
    const path = join(dir, `single-${seed}.safetensors`);
    const res = await write(path, tensors, { metadata: { format: "pt", seed: String(seed) } });
    expect(res.files).toEqual([path]);
    const ck = await openSafetensors(path);
    try {
      expect(ck.metadata).toEqual({ format: "pt", seed: String(seed) });
      expect([...ck.tensors.values()].map((t) => [t.name, t.dtype, t.shape])).toEqual(tensors.map((t) => [t.name, t.dtype, t.shape]));
      for (const t of tensors) expect(await ck.readBytes(t.name)).toEqual(t.data);
    } finally {
      await ck.close();
    }
  });

  it.each([7, 8, 9, 10])("seed %i: sharded with model.safetensors.index.json", async (seed) => {
    const r = seededRandom(seed);
    // two fixed 40-byte tensors guarantee at least two shards whatever the random sizes are
    const fixed = (name: string): T => ({ name, dtype: "F32", shape: [10], data: new Uint8Array(40).fill(7) });
    const tensors = [fixed("fixed.a"), ...randomTensors(r, 15), fixed("fixed.b")];
    const sub = join(dir, `sharded-${seed}`);
    await mkdir(sub);
    const res = await write(join(sub, "model.safetensors"), tensors, { maxShardBytes: 64 });
    const files = (await readdir(sub)).sort();
    expect(files).toContain("model.safetensors.index.json");
    expect(files.filter((f) => f.endsWith(".safetensors")).length).toBe(res.files.length - 1);
    expect(files.every((f) => !f.includes(".tmp-"))).toBe(true);
    const index = JSON.parse(await readFile(join(sub, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata.total_size).toBe(tensors.reduce((a, t) => a + t.data.length, 0));
    expect(Object.keys(index.weight_map)).toEqual(tensors.map((t) => t.name));
    const nShards = res.files.length - 1;
    expect(nShards).toBeGreaterThanOrEqual(2);
    expect(res.files[0]).toMatch(new RegExp(`model-00001-of-${String(nShards).padStart(5, "0")}\\.safetensors$`));
    const ck = await openSafetensors(sub);
    try {
      expect([...ck.tensors.keys()]).toEqual(tensors.map((t) => t.name)); // index order
      for (const t of tensors) {
        expect(await ck.readBytes(t.name)).toEqual(t.data);
        if (!["BOOL", "F8_E4M3", "F8_E5M2", "I64"].includes(t.dtype) && t.data.length > 0) {
          // decoding agrees with decoding the raw bytes
          expect(await ck.readFloat32(t.name)).toEqual(decodeToFloat32(t.data, t.dtype));
        }
      }
      // every shard but the last holds at most maxShardBytes unless it is a single tensor
      for (const f of res.files.slice(0, -1)) {
        const shard = await openSafetensors(f);
        const bytes = [...shard.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
        expect(bytes <= 64 || shard.tensors.size === 1).toBe(true);
        await shard.close();
      }
    } finally {
      await ck.close();
    }
  });

  it("writes a single file (no index) when everything fits one shard", async () => {
    const sub = join(dir, "fits");
    await mkdir(sub);
    const tensors: T[] = [{ name: "x", dtype: "F16", shape: [4], data: encodeFromFloat32(new Float32Array([1, 2, 3, 4]), "F16") }];
    const res = await write(join(sub, "model.safetensors"), tensors, { maxShardBytes: 1 << 20 });
    expect(await readdir(sub)).toEqual(["model.safetensors"]);
    expect(res.files).toEqual([join(sub, "model.safetensors")]);
    const ck = await openSafetensors(sub);
    expect(Array.from(await ck.readFloat32("x"))).toEqual([1, 2, 3, 4]);
    await ck.close();
  });

  it("rejects out-of-order data and an early finish, leaving no file behind", async () => {
    const sub = join(dir, "order");
    await mkdir(sub);
    const w = new SafetensorsWriter(join(sub, "model.safetensors"), { maxShardBytes: 8 });
    w.addTensor("a", "F32", [2]);
    w.addTensor("b", "F32", [2]);
    await expect(w.writeTensorData("b", new Uint8Array(8))).rejects.toMatchObject({ code: "SAFETENSORS_WRITE_ORDER" });
    await w.writeTensorData("a", new Uint8Array(8));
    await expect(w.finish()).rejects.toMatchObject({ code: "SAFETENSORS_WRITE_ORDER" });
    expect(await readdir(sub)).toEqual([]);
  });
});
