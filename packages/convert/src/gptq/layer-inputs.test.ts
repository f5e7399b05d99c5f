// Layer-wise calibration sees exactly what a full forward pass sees: every layer's activation taps, gathered from
// cached hidden states advanced one layer at a time, are bit-identical to those of Llama4TextModel.forward.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Llama4TextModel, WeightStore, llama4ConfigFromHf, openSafetensorsTensors } from "@moeq/runtime";
import type { ActivationEvent } from "@moeq/runtime";
import { LayerInputs } from "./layer-inputs.js";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4", import.meta.url));

describe("LayerInputs", () => {
  it("gives each layer the taps of a full forward pass, sample by sample", async () => {
    const cfg = llama4ConfigFromHf(JSON.parse(readFileSync(join(fixture, "config.json"), "utf8")), fixture);
    const st = await openSafetensorsTensors(fixture);
    try {
      const model = new Llama4TextModel(cfg, new WeightStore(fixture, st.tensors), { ggmlNumerics: false });
      const samples = [Array.from({ length: 24 }, (_, i) => (i * 37 + 5) % 200), Array.from({ length: 24 }, (_, i) => (i * 11 + 3) % 200)];
      const record = (into: ActivationEvent[]) => (ev: ActivationEvent) => into.push({ ...ev, rows: ev.rows.slice() });
      const full: ActivationEvent[] = [];
      model.setTap(record(full));
      for (const s of samples) {
        model.cache.reset();
        model.forward(s, { logitsFor: "last" });
      }
      const layered: ActivationEvent[][] = samples.map(() => []);
      const inputs = new LayerInputs(samples, cfg.hiddenSize, model.store);
      for (let L = 0; L < cfg.numLayers; L++) {
        let sample = 0;
        const perLayer: ActivationEvent[] = [];
        model.setTap(record(perLayer));
        inputs.observe(model, L);
        model.setTap(null);
        inputs.advance(model, L);
        // observe runs the samples in order: split this layer's events by sample (each starts at attn_q).
        perLayer.forEach((ev, j) => {
          if (ev.tensor === `blk.${L}.attn_q.weight` && j > 0) sample++;
          layered[sample]!.push(ev);
        });
      }
      const forwardLayers = full.filter((e) => e.tensor !== "output.weight");
      expect(forwardLayers.length).toBeGreaterThan(cfg.numLayers * samples.length * 4);
      expect(layered.flat().length).toBe(forwardLayers.length);
      expect(layered.flat().map((e) => e.tensor)).toEqual(forwardLayers.map((e) => e.tensor));
      layered.flat().forEach((e, i) => expect(e.rows).toEqual(forwardLayers[i]!.rows));
      expect(() => inputs.observe(model, 0)).toThrow(/hold layer 4's inputs/);
    } finally {
      st.close();
    }
  });
});
