/** The in-place weight edits AWQ makes (scales on columns and rows, the clip search), on f32 [rows, cols] matrices. */
import { awqApplyClip, awqSearchClip, type AwqQuantOptions } from "@moeq/quant";
import type { TapRows } from "./awq-activations.js";

export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

export function scaleColumns(m: Matrix, s: Float32Array, divide: boolean): void {
  for (let i = 0; i < m.data.length; i++) m.data[i] = Math.fround(divide ? m.data[i]! / s[i % m.cols]! : m.data[i]! * s[i % m.cols]!);
}

export function scaleRows(m: Matrix, s: Float32Array): void {
  for (let i = 0; i < m.data.length; i++) m.data[i] = Math.fround(m.data[i]! / s[Math.floor(i / m.cols)]!);
}

export function divideRows(x: TapRows, s: Float32Array): TapRows {
  return { ...x, x: x.x.map((v, i) => Math.fround(v / s[i % x.cols]!)) };
}

/** AWQ's clip search on one Linear (in place), given the (scaled) inputs it sees; nothing without inputs. */
export function clipLinear(m: Matrix, x: TapRows | undefined, o: AwqQuantOptions): void {
  if (!x) return;
  awqApplyClip(m.data, m.rows, m.cols, awqSearchClip({ w: m.data, rows: m.rows, x: x.x, nTokens: x.nTokens }, m.cols, o), o.groupSize);
}
