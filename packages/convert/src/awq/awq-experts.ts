/**
 * The routed experts of one MoE layer under AWQ, streamed: each expert Linear is read from the checkpoint when a
 * pass needs it and dropped after, so no more than one expert matrix (plus its activations) is held at a time.
 * Passes, in awq-convert's order: the post-attention-norm scale search (weight means, then losses, over every
 * expert's gate/up that saw tokens), the per-expert up→down search (down weights), then each Linear's final
 * weights when it is written (scaled, clipped). The same f32 operations in the same order as holding them all.
 */
import { awqInputMean, awqSearchScale, type AwqLinear, type AwqQuantOptions } from "@moeq/quant";
import type { ExpertProj } from "@moeq/runtime";
import type { AwqActivations } from "./awq-activations.js";
import { clipLinear, divideRows, scaleColumns, scaleRows, type Matrix } from "./awq-edits.js";

export class RoutedExperts {
  /** The post-attention-norm scales (set after the group search). */
  private gateUpScales: Float32Array | null = null;
  /** Per expert that saw down_proj tokens: its up→down scales. */
  private readonly downScales = new Map<number, Float32Array>();

  constructor(
    private readonly layer: number,
    private readonly count: number,
    private readonly load: (proj: ExpertProj, expert: number) => Promise<Matrix>,
    /** Undefined for round-to-nearest: the weights are quantized as stored. */
    private readonly act: AwqActivations | undefined,
    private readonly o: AwqQuantOptions,
  ) {}

  private tap(proj: ExpertProj, expert: number) {
    return this.act?.get(`blk.${this.layer}.ffn_${proj}_exps.weight`, expert);
  }

  /** Presents each expert's gate then up (experts with routed tokens, in order) as members of the norm's group. */
  async eachGateUp(add: (l: AwqLinear) => void): Promise<void> {
    for (let e = 0; e < this.count; e++) {
      const x = this.tap("gate", e);
      if (!x) continue;
      for (const proj of ["gate", "up"] as const) {
        const m = await this.load(proj, e);
        add({ w: m.data, rows: m.rows, x: x.x, nTokens: x.nTokens });
      }
    }
  }

  setGateUpScales(scales: Float32Array): void {
    this.gateUpScales = scales;
  }

  /** The up→down scale search of every expert that saw tokens; the others are listed in `noTokens`. */
  async searchDownScales(choices: { layer: number; group: string; ratio: number }[], noTokens: string[]): Promise<void> {
    for (let e = 0; e < this.count; e++) {
      const xd = this.tap("down", e);
      if (!xd) {
        noTokens.push(`layer ${this.layer} expert ${e}`);
        continue;
      }
      const m = await this.load("down", e);
      const r = awqSearchScale([{ w: m.data, rows: m.rows, x: xd.x, nTokens: xd.nTokens }], awqInputMean(xd.x, xd.nTokens, xd.cols), this.o);
      choices.push({ layer: this.layer, group: `up→down (expert ${e})`, ratio: r.ratio });
      this.downScales.set(e, r.scales);
    }
  }

  /** Expert `expert`'s `proj` weights ready to quantize: scaled and clipped (as stored for round-to-nearest). */
  async finalWeights(proj: ExpertProj, expert: number): Promise<Matrix> {
    const m = await this.load(proj, expert);
    if (!this.act) return m;
    if (!this.gateUpScales) throw new Error(`layer ${this.layer}: expert weights requested before the scale search`);
    const sd = this.downScales.get(expert);
    if (proj === "down") {
      if (sd) {
        scaleColumns(m, sd, false);
        clipLinear(m, divideRows(this.tap("down", expert)!, sd), this.o);
      }
      return m;
    }
    scaleColumns(m, this.gateUpScales, false);
    if (proj === "up" && sd) scaleRows(m, sd);
    const xg = this.tap("gate", expert);
    clipLinear(m, xg && divideRows(xg, this.gateUpScales), this.o);
    return m;
  }
}
