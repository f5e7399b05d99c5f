/** The tensors an FP8 (compressed-tensors) checkpoint holds per planned item: `…weight` F8_E4M3 [out, in], `…weight_scale` F32 [+ `…input_scale`]. */
import { fp8ScaleShape, type Fp8Scheme } from "@moeq/quant";
import type { LinearPlanItem } from "../linear-plan.js";
import type { CheckpointTensor } from "../checkpoint-index.js";

export interface OutputTensor {
  readonly name: string;
  readonly dtype: "F8_E4M3" | "F32" | CheckpointTensor["dtype"];
  readonly shape: number[];
}

/** The tensors an item writes, in order. */
export function fp8OutputTensors(item: LinearPlanItem, scheme: Fp8Scheme, staticInputs: boolean): OutputTensor[] {
  if (item.kind === "copy") return [{ name: item.src.name, dtype: item.src.dtype, shape: [...item.src.shape] }];
  const out: OutputTensor[] = [
    { name: `${item.base}.weight`, dtype: "F8_E4M3", shape: [item.rows, item.cols] },
    { name: `${item.base}.weight_scale`, dtype: "F32", shape: fp8ScaleShape(scheme, item.rows, item.cols) },
  ];
  if (staticInputs) out.push({ name: `${item.base}.input_scale`, dtype: "F32", shape: [1] });
  return out;
}
