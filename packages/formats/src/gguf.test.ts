import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf as hfGguf } from "@huggingface/gguf";
import { GGML_TYPE_INFO, GGMLType } from "./ggml-types.js";
import { ggmlNDimsShape, GGUFValueType, type GGUFKV, type GGUFValue } from "./gguf-types.js";
import { openGguf } from "./gguf-read.js";
import { GGUFWriter } from "./gguf-write.js";
import { readGgufTensorDataWithLlama, readGgufWithLlama, writeGgufWithLlama, type CKV } from "@moeq/test-support/ggml-gguf";
import { seededRandom } from "./seeded-random.js";

const SCALAR_TYPES = [
  GGUFValueType.UINT8,
  GGUFValueType.INT8,
  GGUFValueType.UINT16,
  GGUFValueType.INT16,
  GGUFValueType.UINT32,
  GGUFValueType.INT32,
  GGUFValueType.FLOAT32,
  GGUFValueType.BOOL,
  GGUFValueType.STRING,
  GGUFValueType.UINT64,
  GGUFValueType.INT64,
  GGUFValueType.FLOAT64,
];

function randomScalar(r: () => number, t: GGUFValueType): GGUFValue {
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  switch (t) {
    case GGUFValueType.UINT8:
      return int(0, 255);
    case GGUFValueType.INT8:
      return int(-128, 127);
    case GGUFValueType.UINT16:
      return int(0, 65535);
    case GGUFValueType.INT16:
      return int(-32768, 32767);
    case GGUFValueType.UINT32:
      return int(0, 0xffffffff);
    case GGUFValueType.INT32:
      return int(-0x80000000, 0x7fffffff);
    case GGUFValueType.FLOAT32:
      return Math.fround((r() - 0.5) * 10 ** int(-5, 5));
    case GGUFValueType.FLOAT64:
      return (r() - 0.5) * 10 ** int(-30, 30);
    case GGUFValueType.BOOL:
      return r() < 0.5;
    case GGUFValueType.UINT64:
      return (BigInt(int(0, 0xffffffff)) << 32n) | BigInt(int(0, 0xffffffff));
    case GGUFValueType.INT64:
      return BigInt.asIntN(64, (BigInt(int(0, 0xffffffff)) << 32n) | BigInt(int(0, 0xffffffff)));
    case GGUFValueType.STRING: {
      const alphabet = Array.from('abcxyz_.- 0129ÄéΩ語🙂\n"'); // code points, not UTF-16 units
      return Array.from({ length: int(0, 12) }, () => alphabet[int(0, alphabet.length - 1)]).join("");
    }
    default:
      throw new Error("not scalar");
  }
}

function randomKV(r: () => number, allowNested: boolean, depth = 0): GGUFKV {
  const pick = r();
  if (pick < 0.6) {
    const type = SCALAR_TYPES[Math.floor(r() * SCALAR_TYPES.length)]!;
    return { type, value: randomScalar(r, type) };
  }
  if (allowNested && depth < 2 && pick < 0.75) {
    const items = Array.from({ length: Math.floor(r() * 4) }, () => {
      const inner = randomKV(r, true, depth + 1);
      return inner.type === GGUFValueType.ARRAY ? inner : { type: GGUFValueType.ARRAY, arrayType: inner.type, value: [inner.value] };
    });
    return { type: GGUFValueType.ARRAY, arrayType: GGUFValueType.ARRAY, value: items.map((i) => i.value), items };
  }
  const arrayType = SCALAR_TYPES[Math.floor(r() * SCALAR_TYPES.length)]!;
  const n = Math.floor(r() * (r() < 0.2 ? 40 : 6));
  return { type: GGUFValueType.ARRAY, arrayType, value: Array.from({ length: n }, () => randomScalar(r, arrayType)) };
}

const TENSOR_TYPES = [GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.I32, GGMLType.Q4_0];

interface PlannedTensor {
  name: string;
  shape: number[];
  type: GGMLType;
  data: Uint8Array;
}

function randomTensors(r: () => number, n: number): PlannedTensor[] {
  return Array.from({ length: n }, (_, i) => {
    const type = TENSOR_TYPES[Math.floor(r() * TENSOR_TYPES.length)]!;
    const info = GGML_TYPE_INFO[type];
    const nd = 1 + Math.floor(r() * 4);
    const shape = [info.blockSize * (1 + Math.floor(r() * 3))];
    for (let d = 1; d < nd; d++) shape.push(1 + Math.floor(r() * 3));
    const bytes = (shape.reduce((a, b) => a * b, 1) / info.blockSize) * info.typeSize;
    const data = new Uint8Array(bytes).map(() => Math.floor(r() * 256));
    return { name: `blk.${i}.t${i}.weight`, shape, type, data };
  });
}

async function writeOurs(path: string, kvs: [string, GGUFKV][], tensors: PlannedTensor[], alignment?: number): Promise<void> {
  const w = new GGUFWriter(path, alignment === undefined ? {} : { alignment });
  for (const [k, kv] of kvs) w.setKV(k, kv);
  for (const t of tensors) w.addTensor(t.name, t.shape, t.type);
  await w.writeHeader();
  for (const t of tensors) {
    // in two chunks, to exercise chunked writes
    const cut = Math.floor(t.data.length / 3);
    await w.writeTensorData(t.name, t.data.subarray(0, cut));
    await w.writeTensorData(t.name, t.data.subarray(cut));
  }
  await w.finish();
}

/** Converts our KV to what the C API reports (llama.cpp stores bools as bool, 64-bit ints as bigint). */
function asC(key: string, kv: GGUFKV): CKV {
  return kv.type === GGUFValueType.ARRAY
    ? { key, type: kv.type, value: kv.value as CKV["value"], arrayType: kv.arrayType! }
    : { key, type: kv.type, value: kv.value as CKV["value"] };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "moeq-gguf-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("GGUF files we write load in llama.cpp", () => {
  it.each([1, 2, 3])("seed %i: same keys, types, values, shapes, offsets and data offset in gguf_init_from_file", async (seed) => {
    const r = seededRandom(seed);
    const kvs: [string, GGUFKV][] = [["general.architecture", { type: GGUFValueType.STRING, value: "llama4" }]];
    for (let i = 0; i < 30; i++) kvs.push([`test.key_${i}`, randomKV(r, false)]);
    const tensors = randomTensors(r, 6);
    const alignment = seed === 3 ? 64 : undefined;
    const path = join(dir, `ours-${seed}.gguf`);
    await writeOurs(path, kvs, tensors, alignment);

    const c = readGgufWithLlama(path);
    expect(c).not.toBeNull();
    const ours = await openGguf(path);
    try {
      expect(c!.version).toBe(3);
      expect(c!.alignment).toBe(ours.alignment);
      expect(c!.dataOffset).toBe(ours.dataOffset);
      const expectedKvs = [...ours.metadata].map(([k, kv]) => asC(k, kv));
      expect(c!.kvs).toEqual(expectedKvs);
      expect(expectedKvs.slice(0, kvs.length + (alignment ? 1 : 0)).map((k) => k.key)).toEqual(
        alignment ? ["general.alignment", ...kvs.map(([k]) => k)] : kvs.map(([k]) => k),
      );
      expect(c!.tensors).toEqual(
        ours.tensors.map((t) => ({
          name: t.name,
          type: t.type,
          ne: [...t.shape, 1, 1, 1].slice(0, 4),
          offset: t.offset,
          size: t.byteLength,
        })),
      );
      for (const t of tensors) expect(await ours.readTensorBytes(t.name)).toEqual(t.data);
    } finally {
      await ours.close();
    }
    // llama.cpp loading the data too (no_alloc=false reads the whole padded blob) sees the same bytes
    const data = readGgufTensorDataWithLlama(
      path,
      tensors.map((t) => t.name),
    );
    expect(data).not.toBeNull();
    for (const t of tensors) expect(data!.get(t.name)).toEqual(t.data);

    const hf = await hfGguf(path, { allowLocalFile: true });
    expect(hf.metadata["general.architecture"]).toBe("llama4");
    expect(hf.tensorInfos.map((t) => [t.name, t.dtype as number, t.shape.map(Number), Number(t.offset)])).toEqual(
      tensors.map((t, i) => [t.name, t.type as number, t.shape, c!.tensors[i]!.offset]),
    );
  });

  it("a header far larger than the writer's initial buffer (60k-token vocabulary, > the 1 MiB read chunk) reads back in llama.cpp and in ours", async () => {
    const path = join(dir, "big-header.gguf");
    const tokens = Array.from({ length: 60_000 }, (_, i) => `tok_${i}_${"é".repeat(i % 5)}`);
    const scores = Array.from({ length: 60_000 }, (_, i) => Math.fround(i / 7));
    const kvs: [string, GGUFKV][] = [
      ["general.architecture", { type: GGUFValueType.STRING, value: "llama4" }],
      ["tokenizer.ggml.tokens", { type: GGUFValueType.ARRAY, arrayType: GGUFValueType.STRING, value: tokens }],
      ["tokenizer.ggml.scores", { type: GGUFValueType.ARRAY, arrayType: GGUFValueType.FLOAT32, value: scores }],
      ["general.name", { type: GGUFValueType.STRING, value: "after the big arrays" }],
    ];
    const tensors = randomTensors(seededRandom(5), 3);
    await writeOurs(path, kvs, tensors);
    const c = readGgufWithLlama(path)!;
    expect(c).not.toBeNull();
    expect(c.kvs.map((k) => k.key)).toEqual(kvs.map(([k]) => k));
    expect(c.kvs[1]!.value).toEqual(tokens);
    expect(c.kvs[2]!.value).toEqual(scores);
    expect(c.kvs[3]!.value).toBe("after the big arrays");
    const f = await openGguf(path);
    try {
      expect(new Map(f.metadata)).toEqual(new Map(kvs));
      expect(f.dataOffset).toBe(c.dataOffset);
      for (const t of tensors) expect(await f.readTensorBytes(t.name)).toEqual(t.data);
    } finally {
      await f.close();
    }
  });

  it("leaves no temporary file behind and writes nothing on abort", async () => {
    const w = new GGUFWriter(join(dir, "aborted.gguf"));
    w.setString("general.architecture", "llama4");
    w.addTensor("a", [32], GGMLType.F32);
    await w.writeHeader();
    await w.writeTensorData("a", new Uint8Array(64));
    await w.abort();
    const names = await readdir(dir);
    expect(names.filter((n) => n.includes("aborted"))).toEqual([]);
  });
});

describe("GGUF files llama.cpp writes are read identically", () => {
  it("gguf_write_to_file output: same KVs, tensor infos and bytes; our writer reproduces the file byte for byte", async () => {
    const r = seededRandom(99);
    const cKvs: CKV[] = [{ key: "general.architecture", type: GGUFValueType.STRING, value: "llama4" }];
    for (let i = 0; i < 30; i++) {
      const kv = randomKV(r, false);
      cKvs.push(asC(`test.key_${i}`, kv));
    }
    const tensors = [...randomTensors(r, 5), { name: "trailing.ones", shape: [32, 4, 1], type: GGMLType.F32, data: new Uint8Array(512).fill(3) }];
    const path = join(dir, "llama-written.gguf");
    writeGgufWithLlama(
      path,
      cKvs,
      tensors.map((t) => ({ name: t.name, type: t.type, ne: t.shape, data: t.data })),
    );
    const c = readGgufWithLlama(path)!;
    const ours = await openGguf(path);
    try {
      expect([...ours.metadata].map(([k, kv]) => asC(k, kv))).toEqual(c.kvs);
      expect(ours.dataOffset).toBe(c.dataOffset);
      expect(ours.alignment).toBe(c.alignment);
      // the C writer trims trailing 1-sized dims (ggml_n_dims); compare padded to 4
      expect(ours.tensors.map((t) => ({ name: t.name, type: t.type, ne: [...t.shape, 1, 1, 1].slice(0, 4), offset: t.offset, size: t.byteLength }))).toEqual(
        c.tensors,
      );
      for (const t of tensors) expect(await ours.readTensorBytes(t.name)).toEqual(t.data);
      const t0 = tensors[0]!;
      expect(await ours.readTensorBytes(t0.name, { start: 3, end: 9 })).toEqual(t0.data.subarray(3, 9));
    } finally {
      await ours.close();
    }
    // Our writer given the same KVs and the C writer's trimmed shapes (ggml_n_dims) writes the same bytes.
    const trimmed = tensors.map((t) => ({ ...t, shape: ggmlNDimsShape(t.shape) }));
    expect(trimmed.some((t, i) => t.shape.length < tensors[i]!.shape.length)).toBe(true); // the case is exercised
    const oursPath = join(dir, "ours-same-content.gguf");
    const kvs: [string, GGUFKV][] = cKvs.map((kv) => [
      kv.key,
      kv.arrayType === undefined ? { type: kv.type, value: kv.value as GGUFValue } : { type: kv.type, arrayType: kv.arrayType, value: kv.value as GGUFValue },
    ]);
    await writeOurs(oursPath, kvs, trimmed);
    expect(Buffer.compare(await readFile(oursPath), await readFile(path))).toBe(0);
  });
});

describe("GGUF round trip (seeded property test)", () => {
  it.each([11, 12, 13, 14, 15, 16, 17, 18])("seed %i: write → read gives back every KV (nested arrays too), shape and byte", async (seed) => {
    const r = seededRandom(seed);
    const kvs: [string, GGUFKV][] = [];
    for (let i = 0; i < 25; i++) kvs.push([`rt.k${i}`, randomKV(r, true)]);
    const tensors = randomTensors(r, Math.floor(r() * 5));
    const alignment = [8, 32, 128][seed % 3]!;
    const path = join(dir, `rt-${seed}.gguf`);
    await writeOurs(path, kvs, tensors, alignment);
    const f = await openGguf(path);
    try {
      const expected = new Map<string, GGUFKV>(alignment === 32 ? kvs : [["general.alignment", { type: GGUFValueType.UINT32, value: alignment }], ...kvs]);
      expect(new Map(f.metadata)).toEqual(expected);
      expect(f.alignment).toBe(alignment);
      expect(f.tensors.map((t) => [t.name, t.shape, t.type])).toEqual(tensors.map((t) => [t.name, t.shape, t.type]));
      for (const t of tensors) expect(await f.readTensorBytes(t.name)).toEqual(t.data);
    } finally {
      await f.close();
    }
  });

  it("setKV on an existing key moves it to the end, like gguf_set_val_*", () => {
    const w = new GGUFWriter(join(dir, "order.gguf"));
    w.setUint32("a", 1);
    w.setUint32("b", 2);
    w.setUint32("a", 3);
    expect([...w.metadata.keys()]).toEqual(["b", "a"]);
  });

  it("rejects values that do not fit their declared type before creating a file", async () => {
    const w = new GGUFWriter(join(dir, "bad-value.gguf"));
    w.setUint8("x", 300);
    await expect(w.writeHeader()).rejects.toMatchObject({ code: "GGUF_BAD_VALUE" });
    expect((await readdir(dir)).some((n) => n.includes("bad-value"))).toBe(false);
  });

  it("rejects out-of-order tensor data and an early finish", async () => {
    const w = new GGUFWriter(join(dir, "order2.gguf"));
    w.addTensor("a", [32], GGMLType.F32);
    w.addTensor("b", [32], GGMLType.F32);
    await w.writeHeader();
    await expect(w.writeTensorData("b", new Uint8Array(128))).rejects.toMatchObject({ code: "GGUF_WRITE_ORDER" });
    await w.writeTensorData("a", new Uint8Array(128));
    await expect(w.finish()).rejects.toMatchObject({ code: "GGUF_WRITE_ORDER" });
  });
});
