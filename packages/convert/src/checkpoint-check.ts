/**
 * An up-front check for pipelines that do not plan GGUF tensors themselves (gptq): the checkpoint's tensors must
 * match its config.json (names, shapes, layer count) before any output is written.
 */
import { planLlama4Tensors, readLlama4Config } from "./arch/llama4.js";
import { openCheckpoint } from "./checkpoint-index.js";

/** Throws the planner's typed error (CONFIG_MISMATCH naming config.json, MISSING_TENSOR, …) when they disagree. */
export async function checkCheckpointMatchesConfig(dir: string): Promise<void> {
  const { checkpoint, tensors } = await openCheckpoint(dir);
  try {
    planLlama4Tensors(readLlama4Config(dir), tensors, dir);
  } finally {
    await checkpoint.close();
  }
}
