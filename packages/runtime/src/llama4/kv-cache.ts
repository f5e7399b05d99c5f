import type { WasmHost } from "../ops/wasm-host.js";

/**
 * Largest whole cache (all layers, K and V) kept in the kernel memory: above it the cache takes plain arrays again, so
 * a long context does not crowd the weights out of the 4 GiB WASM memory (they would be copied in per call instead).
 */
export const KV_IN_KERNEL_MEMORY_MAX_BYTES = 512 * 1024 ** 2;

/** The kernel-memory blocks of a cache nobody closed, handed back once it is garbage (freed at the next collect()). */
const unclosed = new FinalizationRegistry<{ host: WasmHost; blocks: Set<Uint8Array> }>(({ host, blocks }) => {
  for (const b of blocks) host.releaseLater(b);
});

/**
 * Per-layer key/value cache, f32, [position × kvHeads·headDim], growing on demand. With a WASM host the rows live in
 * the kernels' shared memory, so attention reads them in place instead of copying the whole visible cache into the
 * kernel memory for every new token (plain arrays when that memory is full, beyond KV_IN_KERNEL_MEMORY_MAX_BYTES, or
 * without a host).
 */
export class KvCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  private capacity: number;
  /** Positions [0, length) are filled. */
  length = 0;
  /** The arrays that are blocks of the host's memory, and those blocks (released through the host). */
  private readonly inKernelMemory = new WeakMap<Float32Array, Uint8Array>();
  private readonly blocks = new Set<Uint8Array>();

  constructor(
    private readonly nLayers: number,
    private readonly kvDim: number,
    initialCapacity = 256,
    private readonly host: WasmHost | null = null,
    /** Largest whole cache kept in the kernel memory (tests lower it). */
    private readonly kernelMaxBytes = KV_IN_KERNEL_MEMORY_MAX_BYTES,
  ) {
    this.capacity = initialCapacity;
    if (host) unclosed.register(this, { host, blocks: this.blocks }, this);
    this.k = Array.from({ length: nLayers }, () => this.alloc(initialCapacity * kvDim));
    this.v = Array.from({ length: nLayers }, () => this.alloc(initialCapacity * kvDim));
  }

  ensure(positions: number): void {
    if (positions <= this.capacity) return;
    let cap = Math.max(1, this.capacity);
    while (cap < positions) cap *= 2;
    for (let l = 0; l < this.nLayers; l++) {
      const k = this.alloc(cap * this.kvDim);
      k.set(this.k[l].subarray(0, this.length * this.kvDim));
      this.release(this.k[l]);
      this.k[l] = k;
      const v = this.alloc(cap * this.kvDim);
      v.set(this.v[l].subarray(0, this.length * this.kvDim));
      this.release(this.v[l]);
      this.v[l] = v;
    }
    this.capacity = cap;
  }

  reset(): void {
    this.length = 0;
  }

  /** Hands the kernel-memory blocks back (the cache is unusable afterwards). */
  close(): void {
    for (const a of [...this.k, ...this.v]) this.release(a);
    unclosed.unregister(this);
    this.k.fill(new Float32Array(0));
    this.v.fill(new Float32Array(0));
    this.capacity = 0;
    this.length = 0;
  }

  private alloc(floats: number): Float32Array {
    const inKernel = this.host && 2 * this.nLayers * floats * 4 <= this.kernelMaxBytes;
    const bytes = inKernel ? this.host!.allocBytes(floats * 4) : null;
    if (!bytes) return new Float32Array(floats);
    const a = new Float32Array(bytes.buffer, bytes.byteOffset, floats);
    this.inKernelMemory.set(a, bytes);
    this.blocks.add(bytes);
    return a;
  }

  private release(a: Float32Array): void {
    const bytes = this.inKernelMemory.get(a);
    if (!this.host || !bytes) return;
    this.inKernelMemory.delete(a);
    this.blocks.delete(bytes);
    this.host.releaseLater(bytes); // freed at the host's next collect(), between forward passes
  }
}
