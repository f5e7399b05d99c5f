/**
 * The per-layer barrier of `moeq gptq --shard i/N`. Layer L+1's Hessians need the outputs of the quantized layer
 * L, all of it, so shards split each layer's Linears (LPT by solve cost) and meet after each layer through files
 * next to the output, in `<out>.parts/`: shard i writes `layer-L.part-i-of-N.safetensors` (its Linears' tensors),
 * then `layer-L.part-i-of-N.json` (its report entries and the run's key), both atomically; every shard then polls
 * until all N records of layer L with its key are there (or `timeoutMs` passes: EnvironmentError, exit 2) and
 * reads every part into its overlay before advancing the calibration inputs. A rerun of a killed shard reuses its
 * finished parts. The folder can be removed once `moeq merge` has run.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { EnvironmentError, openSafetensors, writeFileAtomicSync } from "@moeq/formats";
import type { ShardSpec } from "../shard/shard-spec.js";
import type { GptqLinearReport } from "./solve-linear.js";

/** A part's report entries, each with its Linear's index in the layer. */
export type PartReport = { readonly k: number; readonly entry: GptqLinearReport }[];

/** How often a waiting shard looks for the others' records. */
const POLL_MS = 200;

export class GptqShardParts {
  readonly dir: string;

  constructor(
    output: string,
    readonly spec: ShardSpec,
    readonly key: string,
    private readonly timeoutMs: number,
  ) {
    this.dir = `${output}.parts`;
  }

  private base(L: number, index: number): string {
    return join(this.dir, `layer-${L}.part-${index}-of-${this.spec.count}`);
  }

  /** Shard `index`'s tensors of layer L. */
  tensorsPath(L: number, index = this.spec.index): string {
    return `${this.base(L, index)}.safetensors`;
  }

  /** The record of shard `index`'s part of layer L, when it is there and of this run. */
  read(L: number, index = this.spec.index): PartReport | undefined {
    const p = `${this.base(L, index)}.json`;
    if (!existsSync(p) || !existsSync(this.tensorsPath(L, index))) return undefined;
    try {
      const r = JSON.parse(readFileSync(p, "utf8")) as { key: string; report: PartReport };
      return r.key === this.key ? r.report : undefined;
    } catch {
      return undefined; // another run's or unreadable: not this run's part
    }
  }

  /**
   * A safetensors index over every shard's part of layer L (written for this shard), so the runtime opens the layer
   * as one checkpoint: a routed expert's Linears may sit in different parts.
   */
  async layerIndex(L: number): Promise<string> {
    const weightMap: Record<string, string> = {};
    for (let i = 1; i <= this.spec.count; i++) {
      const st = await openSafetensors(this.tensorsPath(L, i));
      for (const name of st.tensors.keys()) weightMap[name] = basename(this.tensorsPath(L, i));
      await st.close();
    }
    const path = join(this.dir, `layer-${L}.view-${this.spec.index}-of-${this.spec.count}.index.json`);
    writeFileAtomicSync(path, JSON.stringify({ metadata: {}, weight_map: weightMap }));
    return path;
  }

  /** Records this shard's part of layer L (after its tensors file is complete). */
  write(L: number, report: PartReport): void {
    writeFileAtomicSync(`${this.base(L, this.spec.index)}.json`, JSON.stringify({ key: this.key, report }));
  }

  /** Waits until every shard's part of layer L is there; returns the layer's report in Linear order. */
  async waitForLayer(L: number): Promise<GptqLinearReport[]> {
    const t0 = Date.now();
    for (;;) {
      const parts = Array.from({ length: this.spec.count }, (_, i) => this.read(L, i + 1));
      if (parts.every((p) => p !== undefined)) {
        return parts
          .flat()
          .sort((a, b) => a.k - b.k)
          .map((p) => p.entry);
      }
      if (Date.now() - t0 >= this.timeoutMs) {
        const missing = parts.flatMap((p, i) => (p ? [] : [i + 1]));
        throw new EnvironmentError(
          "SHARD_TIMEOUT",
          `shard ${this.spec.index}/${this.spec.count} waited ${Math.round(this.timeoutMs / 1000)} s for shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")} ` +
            `to finish layer ${L} (are all ${this.spec.count} running with the same arguments and -o on a shared folder? raise --shard-timeout)`,
          { file: this.dir },
        );
      }
      await sleep(POLL_MS);
    }
  }
}
