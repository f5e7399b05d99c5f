/** Test helper: llama-imatrix-format GGUF files with random statistics, for the imatrix quantization tests. */
import { GGMLType, GGUFValueType, GGUFWriter, openGguf, ggmlNDimsShape, seededRandom } from "@moeq/formats";
import { kvArr, kvStr, kvU32 } from "../gguf-kv.js";

/** Writes a GGUF imatrix (llama-imatrix's format) with random sums for every ≥2-D weight of `model`; one expert gets no tokens. */
export async function writeImatrix(model: string, path: string): Promise<Map<string, { sums: Float32Array; counts: Float32Array }>> {
  const g = await openGguf(model);
  const entries = new Map<string, { sums: Float32Array; counts: Float32Array }>();
  const rnd = seededRandom(12345);
  for (const t of g.tensors) {
    if (t.shape.length < 2 || t.name.includes("_norm") || t.name.includes("ffn_gate_inp") || t.name === "token_embd.weight") continue;
    const nMat = t.shape.length >= 3 ? t.shape[2] : 1;
    const counts = new Float32Array(nMat).map((_, e) => (e === 1 && nMat > 1 ? 0 : 10 + Math.floor(rnd() * 500)));
    const sums = new Float32Array(t.shape[0] * nMat).map((_, i) => counts[Math.floor(i / t.shape[0])] * (0.01 + rnd() * 3));
    entries.set(t.name, { sums, counts });
  }
  await g.close();
  const names = [...entries.keys()].sort();
  const w = new GGUFWriter(path);
  w.setKV("general.type", kvStr("imatrix"));
  w.setKV("imatrix.datasets", kvArr(GGUFValueType.STRING, ["brown-validation.txt"]));
  w.setKV("imatrix.chunk_count", kvU32(7));
  w.setKV("imatrix.chunk_size", kvU32(512));
  for (const n of names) {
    const e = entries.get(n)!;
    const nMat = e.counts.length;
    // llama-imatrix's C writer stores ggml_n_dims dims
    w.addTensor(`${n}.in_sum2`, ggmlNDimsShape([e.sums.length / nMat, nMat]), GGMLType.F32);
    w.addTensor(`${n}.counts`, ggmlNDimsShape([1, nMat]), GGMLType.F32);
  }
  await w.writeHeader();
  for (const n of names) {
    const e = entries.get(n)!;
    await w.writeTensorData(`${n}.in_sum2`, new Uint8Array(e.sums.buffer));
    await w.writeTensorData(`${n}.counts`, new Uint8Array(e.counts.buffer));
  }
  await w.finish();
  return entries;
}
