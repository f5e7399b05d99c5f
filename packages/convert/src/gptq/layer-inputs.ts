/**
 * The calibration samples' hidden states at the input of the layer being calibrated, advanced one decoder layer
 * at a time (GPTQModel's layer-wise order): layer L's inputs are the outputs of the already-quantized layers
 * 0..L−1, so each layer runs twice per sample (once as stored to gather its Hessians, once quantized to advance),
 * instead of re-running layers 0..L−1 for every L. Holds nsamples × seqlen × hidden f32.
 */
import type { Llama4TextModel, WeightStore } from "@moeq/runtime";

export class LayerInputs {
  private readonly hidden: Float32Array[];
  /** The layer whose inputs `hidden` holds. */
  private layer = 0;

  constructor(samples: readonly (readonly number[])[], hiddenSize: number, embeddings: WeightStore) {
    this.hidden = samples.map((ids) => {
      const h = new Float32Array(ids.length * hiddenSize);
      embeddings.gatherRows("token_embd.weight", ids, h);
      return h;
    });
  }

  /** Runs layer `layer` (whose inputs these are) on copies of the inputs, e.g. with an activation tap set. */
  observe(model: Llama4TextModel, layer: number): void {
    this.run(model, layer, (h) => h.slice());
  }

  /** Replaces the inputs of `layer` by its outputs under `model` (the quantized layer): they become layer+1's. */
  advance(model: Llama4TextModel, layer: number): void {
    this.run(model, layer, (h) => h);
    this.layer = layer + 1;
  }

  private run(model: Llama4TextModel, layer: number, states: (h: Float32Array) => Float32Array): void {
    if (layer !== this.layer) throw new Error(`LayerInputs hold layer ${this.layer}'s inputs, not layer ${layer}'s`);
    for (const h of this.hidden) {
      model.cache.reset();
      model.forwardLayers(states(h), layer, layer + 1);
    }
  }
}
