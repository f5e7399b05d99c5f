/**
 * Calibration text → token windows for the activation-tap drivers (FP8 static scales, AWQ): the file is
 * tokenized once and cut into consecutive windows of `ctx` tokens, each starting with BOS (as
 * llama-perplexity's chunks do). Too little text for one window is bad input.
 */
import { readFileSync } from "node:fs";
import { InputError } from "@moeq/formats";
import type { Llama4Model } from "@moeq/runtime";

export interface CalibrationOptions {
  /** Tokens per window, BOS included (default 256). */
  readonly ctx?: number;
  /** Use at most this many windows (default: all). */
  readonly maxWindows?: number;
}

export const DEFAULT_CALIBRATION_CTX = 256;

export function calibrationWindows(model: Llama4Model, dataPath: string, opts: CalibrationOptions = {}): number[][] {
  const ctx = opts.ctx ?? DEFAULT_CALIBRATION_CTX;
  if (!Number.isInteger(ctx) || ctx < 2) throw new InputError("BAD_CTX", `calibration window must be an integer ≥ 2, got ${ctx}`);
  let text: string;
  try {
    text = readFileSync(dataPath, "utf8");
  } catch (cause) {
    throw new InputError("NOT_FOUND", "cannot read calibration data", { file: dataPath, cause });
  }
  const ids = model.tokenize(text, { addBos: false });
  const per = model.bosId === null ? ctx : ctx - 1;
  const n = Math.min(Math.floor(ids.length / per), opts.maxWindows ?? Infinity);
  if (n < 1) {
    throw new InputError("CALIBRATION_TOO_SHORT", `calibration data has ${ids.length} tokens; one window needs ${per}`, { file: dataPath });
  }
  const windows: number[][] = [];
  for (let w = 0; w < n; w++) {
    const body = ids.slice(w * per, (w + 1) * per);
    windows.push(model.bosId === null ? body : [model.bosId, ...body]);
  }
  return windows;
}
