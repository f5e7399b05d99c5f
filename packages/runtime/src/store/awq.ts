/**
 * AutoAWQ GEMM Linears (`X.qweight` int32 [in, out/8], `X.qzeros` int32 [in/g, out/8], `X.scales` fp16 [in/g, out],
 * 4-bit codes interleaved along the output dim) decoded to w = (q − z) · s with @moeq/quant `unpackAwqGemm`.
 * The group size is in.size / scales rows.
 */
import { InputError, type SafetensorsTensor } from "@moeq/formats";
import { unpackAwqGemm } from "@moeq/quant";
import type { FormatLinears, QuantizedLinear, ReadEntry } from "./quantized-linears.js";
import { int32sOf, uint16sOf } from "./typed-bytes.js";

export function awqLinears(entries: readonly SafetensorsTensor[], read: ReadEntry): FormatLinears {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const linears: QuantizedLinear[] = [];
  const consumed = new Set<string>();
  for (const qw of entries) {
    if (!qw.name.endsWith(".qweight")) continue;
    const module = qw.name.slice(0, -".qweight".length);
    const qz = byName.get(`${module}.qzeros`);
    const sc = byName.get(`${module}.scales`);
    const bad = (msg: string): never => {
      throw new InputError("AWQ_TENSORS", `AWQ tensor ${qw.name}: ${msg}`, { file: qw.file });
    };
    if (!qz || !sc) return bad("needs qzeros and scales next to it");
    if (qw.dtype !== "I32" || qz.dtype !== "I32" || sc.dtype !== "F16" || qw.shape.length !== 2 || qz.shape.length !== 2 || sc.shape.length !== 2) {
      bad(`expected I32 qweight/qzeros and F16 scales, 2-D; got ${qw.dtype}/${qz.dtype}/${sc.dtype}`);
    }
    const [cols, words] = qw.shape as [number, number];
    const rows = words * 8;
    const groups = sc.shape[0]!;
    if (sc.shape[1] !== rows || qz.shape[0] !== groups || qz.shape[1] !== words || groups === 0 || cols % groups !== 0) {
      bad(`shapes qweight [${qw.shape}], qzeros [${qz.shape}], scales [${sc.shape}] do not describe one [${rows}, ${cols}] weight`);
    }
    for (const t of [qw, qz, sc]) consumed.add(t.name);
    const g = cols / groups;
    linears.push({
      module,
      file: qw.file,
      rows,
      cols,
      decode: () => new Uint8Array(unpackAwqGemm(int32sOf(read(qw)), int32sOf(read(qz)), uint16sOf(read(sc)), rows, cols, g).buffer),
    });
  }
  return { linears, consumed };
}
