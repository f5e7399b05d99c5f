/**
 * GPTQ v1 Linears (`moeq gptq`, AutoGPTQ / GPTQModel `checkpoint_format: "gptq"`): four tensors
 * `<module>.{qweight,qzeros,scales,g_idx}`, told apart from AutoAWQ's (which has no `g_idx`) by the `g_idx`.
 * Each decodes to f32 [out, in] as the v1 kernels compute it, w = scale · (q − (stored zero + 1))
 * (@moeq/quant `unpackGptqV1`). Bits come from the shapes (qweight rows = in · bits / 32). Routed experts are
 * unfused (`…experts.{e}.{gate,up,down}_proj.*`, digest §4.2) and stacked by quantized-linears.ts like every format's.
 */
import { InputError, type SafetensorsTensor } from "@moeq/formats";
import { unpackGptqV1 } from "@moeq/quant";
import type { FormatLinears, QuantizedLinear, ReadEntry } from "./quantized-linears.js";
import { int32sOf, uint16sOf } from "./typed-bytes.js";

export function gptqLinears(entries: readonly SafetensorsTensor[], read: ReadEntry): FormatLinears {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const linears: QuantizedLinear[] = [];
  const consumed = new Set<string>();
  for (const gi of entries) {
    if (!gi.name.endsWith(".g_idx")) continue;
    const module = gi.name.slice(0, -".g_idx".length);
    const file = gi.file;
    const part = (p: string) => {
      const t = byName.get(`${module}.${p}`);
      if (!t) throw new InputError("GPTQ_MISSING", `GPTQ module ${module} has no ${p}`, { file });
      return t;
    };
    const [qw, qz, sc] = ["qweight", "qzeros", "scales"].map(part) as [SafetensorsTensor, SafetensorsTensor, SafetensorsTensor];
    const cols = gi.shape[0]!;
    const rows = qw.shape[1]!;
    const bits = (qw.shape[0]! * 32) / cols;
    const groups = sc.shape[0];
    const ok =
      qw.dtype === "I32" &&
      qz.dtype === "I32" &&
      sc.dtype === "F16" &&
      gi.dtype === "I32" &&
      [2, 3, 4, 8].includes(bits) &&
      sc.shape[1] === rows &&
      qz.shape[0] === groups &&
      qz.shape[1] === (rows / 32) * bits;
    if (!ok) {
      throw new InputError(
        "GPTQ_LAYOUT",
        `GPTQ module ${module} has inconsistent tensors (qweight ${qw.dtype}[${qw.shape}], qzeros ${qz.dtype}[${qz.shape}], scales ${sc.dtype}[${sc.shape}], g_idx ${gi.dtype}[${gi.shape}])`,
        { file },
      );
    }
    for (const t of [qw, qz, sc, gi]) consumed.add(t.name);
    linears.push({
      module,
      file,
      rows,
      cols,
      decode: () => {
        const w = unpackGptqV1(
          { qweight: int32sOf(read(qw)), qzeros: int32sOf(read(qz)), scales: uint16sOf(read(sc)), gIdx: int32sOf(read(gi)) },
          rows,
          cols,
          bits,
        );
        return new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
      },
    });
  }
  return { linears, consumed };
}
