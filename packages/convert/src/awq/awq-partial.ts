/**
 * `moeq awq`'s resume state: `<output>.partial/` holds one safetensors file per finished layer (`layer-<n>`,
 * `layer-rest` for the tensors outside the decoder, `layer-vision` for the vision tower) and, written after it,
 * `layer-<n>.json` with what the summary needs from that layer. A `key.json` with the run's arguments guards
 * against resuming another run's layers: a different key starts over. Every file is written atomically (temp
 * name, fsync, rename), so a SIGKILL leaves either a whole layer or none.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeFileAtomicSync } from "@moeq/formats";
import type { AwqGroupChoice } from "./awq-convert.js";

/** What one finished layer contributes to the summary. */
export interface AwqLayerDone {
  readonly textBytes: number;
  readonly textElements: number;
  readonly quantized: number;
  readonly choices: AwqGroupChoice[];
  readonly noTokens: string[];
  readonly calibration?: { readonly windows: number; readonly tokens: number };
}

export class AwqPartial {
  readonly dir: string;

  /** Opens (or starts over) `<output>.partial` for a run with these arguments. */
  constructor(output: string, key: unknown) {
    this.dir = `${resolve(output)}.partial`;
    const keyPath = join(this.dir, "key.json");
    const text = JSON.stringify(key);
    let same: boolean;
    try {
      same = readFileSync(keyPath, "utf8") === text;
    } catch {
      same = false; // no partial run, or an unreadable one: start over
    }
    if (!same) {
      rmSync(this.dir, { recursive: true, force: true });
      mkdirSync(this.dir, { recursive: true });
      writeFileAtomicSync(keyPath, text);
    }
  }

  private name(layer: number): string {
    return layer === Infinity ? "layer-vision" : layer < 0 ? "layer-rest" : `layer-${layer}`;
  }

  tensorsPath(layer: number): string {
    return join(this.dir, `${this.name(layer)}.safetensors`);
  }

  /** The finished layer's record, or undefined when it is still to do. */
  done(layer: number): AwqLayerDone | undefined {
    const p = join(this.dir, `${this.name(layer)}.json`);
    if (!existsSync(p) || !existsSync(this.tensorsPath(layer))) return undefined;
    return JSON.parse(readFileSync(p, "utf8")) as AwqLayerDone;
  }

  /** Records a layer whose tensors file is complete. */
  markDone(layer: number, d: AwqLayerDone): void {
    writeFileAtomicSync(join(this.dir, `${this.name(layer)}.json`), JSON.stringify(d));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
