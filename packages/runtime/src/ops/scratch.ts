/** Named, growing Float32Array buffers reused across calls (hot paths allocate nothing per layer). */
export class ScratchPool {
  private readonly bufs = new Map<string, Float32Array>();

  /** A view of `n` floats under `name`; its contents are whatever the previous user left there. */
  get(name: string, n: number): Float32Array {
    let b = this.bufs.get(name);
    if (!b || b.length < n) {
      b = new Float32Array(Math.max(n, Math.ceil((b?.length ?? 0) * 1.5)));
      this.bufs.set(name, b);
    }
    return b.subarray(0, n);
  }

  clear(): void {
    this.bufs.clear();
  }
}
