// Loads llama.cpp's own prebuilt libraries (shipped by node-llama-cpp) through koffi, so tests can
// compare our bytes with the reference implementation's. Test-only: no package imports this.
import koffi, { type LibraryHandle } from "koffi";

/** A library loaded through koffi, and one of its bound functions. */
export type KoffiLib = LibraryHandle;
export type KoffiFunction = ReturnType<LibraryHandle["func"]>;
import { join } from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** Folder holding libggml-base.so and libllama*.so for this platform. */
export function llamaBinDir(): string {
  const arch = process.arch === "arm64" ? "linux-arm64" : "linux-x64";
  const dir = join(repoRoot, "node_modules", "@node-llama-cpp", arch, "bins", arch);
  if (!existsSync(join(dir, "libggml-base.so"))) throw new Error(`libggml-base.so not found in ${dir}`);
  return dir;
}

let ggmlBase: KoffiLib | undefined;
/** libggml-base.so: quantization, fp16/bf16 conversion and the gguf API live here. */
export function ggmlBaseLib(): KoffiLib {
  ggmlBase ??= koffi.load(join(llamaBinDir(), "libggml-base.so"));
  return ggmlBase;
}

let llama: KoffiLib | undefined;
/** libllama: llama_model_quantize and friends. Loads libggml first so its symbols resolve. */
export function llamaLib(): KoffiLib {
  if (!llama) {
    const dir = llamaBinDir();
    ggmlBaseLib();
    koffi.load(join(dir, "libggml.v0.4.0.so"));
    llama = koffi.load(join(dir, "libllama.v0.4.0.so"));
  }
  return llama;
}
