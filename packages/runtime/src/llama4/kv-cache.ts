/** Per-layer key/value cache, f32, [position × kvHeads·headDim], growing on demand. */
export class KvCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  private capacity: number;
  /** Positions [0, length) are filled. */
  length = 0;

  constructor(
    private readonly nLayers: number,
    private readonly kvDim: number,
    initialCapacity = 256,
  ) {
    this.capacity = initialCapacity;
    this.k = Array.from({ length: nLayers }, () => new Float32Array(initialCapacity * kvDim));
    this.v = Array.from({ length: nLayers }, () => new Float32Array(initialCapacity * kvDim));
  }

  ensure(positions: number): void {
    if (positions <= this.capacity) return;
    let cap = this.capacity;
    while (cap < positions) cap *= 2;
    for (let l = 0; l < this.nLayers; l++) {
      const k = new Float32Array(cap * this.kvDim);
      k.set(this.k[l].subarray(0, this.length * this.kvDim));
      this.k[l] = k;
      const v = new Float32Array(cap * this.kvDim);
      v.set(this.v[l].subarray(0, this.length * this.kvDim));
      this.v[l] = v;
    }
    this.capacity = cap;
  }

  reset(): void {
    this.length = 0;
  }
}
