/**
 * Static FP8 activation scales: the largest |input| each Linear (each routed expert separately) sees over the
 * calibration windows, recorded through the runtime's activation taps on the BF16 model. An expert that no
 * calibration token was routed to has no statistic; it takes the largest value of its layer's other experts
 * for the same projection (what vLLM collapses per-expert input scales to anyway) and is reported.
 */
import { absMax } from "@moeq/quant";
import { loadModel } from "@moeq/runtime";
import { calibrationWindows, type CalibrationOptions } from "../calibration.js";
import { tapKey } from "../linear-plan.js";

export interface ActivationAbsMax {
  /** tapKey → max |x| over every calibration row. */
  readonly absMax: Map<string, number>;
  readonly windows: number;
  readonly tokens: number;
}

export async function collectActivationAbsMax(
  hfDir: string,
  dataPath: string,
  opts: CalibrationOptions & { onWindow?: (i: number, n: number) => void } = {},
): Promise<ActivationAbsMax> {
  const model = await loadModel(hfDir);
  try {
    const windows = calibrationWindows(model, dataPath, opts);
    const stats = new Map<string, number>();
    model.setTap((ev) => {
      const key = tapKey(ev);
      const m = absMax(ev.rows);
      if (m > (stats.get(key) ?? -1)) stats.set(key, m);
    });
    for (let i = 0; i < windows.length; i++) {
      await model.logits(windows[i]!);
      opts.onWindow?.(i, windows.length);
    }
    model.setTap(null);
    return { absMax: stats, windows: windows.length, tokens: windows.reduce((a, w) => a + w.length, 0) };
  } finally {
    await model.close();
  }
}

/** The statistic for one tap, or the expert fallback (max over the layer's experts that saw tokens). */
export function activationAbsMaxFor(
  stats: ReadonlyMap<string, number>,
  tap: { tensor: string; expert?: number },
): { value: number; fallback: boolean } | undefined {
  const own = stats.get(tapKey(tap));
  if (own !== undefined) return { value: own, fallback: false };
  if (tap.expert === undefined) return undefined;
  let best: number | undefined;
  for (const [k, v] of stats) if (k.startsWith(`${tap.tensor}#`) && (best === undefined || v > best)) best = v;
  return best === undefined ? undefined : { value: best, fallback: true };
}
