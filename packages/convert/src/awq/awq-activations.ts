/**
 * The calibration inputs AWQ needs, recorded once through the runtime's activation taps on the BF16 model (AutoAWQ
 * also feeds each layer the unquantized outputs of the layer before): per layer, the attention input, the o_proj
 * input, the FFN input (all tokens), the shared-expert / dense down_proj input, and per routed expert the
 * router-scaled rows of exactly the tokens routed to it and its down_proj input.
 */
import { loadModel } from "@moeq/runtime";
import { calibrationWindows, type CalibrationOptions } from "../calibration.js";
import { tapKey } from "../linear-plan.js";

/** Rows one tap saw, concatenated: [nTokens, cols]. */
export interface TapRows {
  readonly x: Float32Array;
  readonly nTokens: number;
  readonly cols: number;
}

export interface AwqActivations {
  get(tensor: string, expert?: number): TapRows | undefined;
  readonly windows: number;
  readonly tokens: number;
}

/** Taps whose inputs AWQ uses (k, v, up read the same rows as q and gate). */
const NEEDED = /\.(attn_q|attn_output|ffn_gate_inp|ffn_gate|ffn_down|ffn_gate_shexp|ffn_down_shexp|ffn_gate_exps|ffn_down_exps)\.weight$/;

export async function collectAwqActivations(hfDir: string, dataPath: string, opts: CalibrationOptions = {}): Promise<AwqActivations> {
  const model = await loadModel(hfDir);
  const chunks = new Map<string, { parts: Float32Array[]; rows: number; cols: number }>();
  try {
    const windows = calibrationWindows(model, dataPath, opts);
    model.setTap((ev) => {
      if (!NEEDED.test(ev.tensor)) return;
      const key = tapKey(ev);
      let c = chunks.get(key);
      if (!c) chunks.set(key, (c = { parts: [], rows: 0, cols: ev.nCols }));
      c.parts.push(ev.rows.slice(0, ev.nRows * ev.nCols));
      c.rows += ev.nRows;
    });
    for (const w of windows) await model.logits(w);
    model.setTap(null);
    const joined = new Map<string, TapRows>();
    for (const [k, c] of chunks) {
      const x = new Float32Array(c.rows * c.cols);
      let at = 0;
      for (const p of c.parts) {
        x.set(p, at);
        at += p.length;
      }
      joined.set(k, { x, nTokens: c.rows, cols: c.cols });
    }
    return { get: (tensor, expert) => joined.get(tapKey({ tensor, expert })), windows: windows.length, tokens: windows.reduce((a, w) => a + w.length, 0) };
  } finally {
    await model.close();
  }
}
