/** Named, growing Float32Array buffers reused across calls (hot paths allocate nothing per layer). */
export class ScratchPool {
  private readonly bufs = new Map<string, { buf: Float32Array; view: Float32Array }>();

  /** A view of `n` floats under `name`; its contents are whatever the previous user left there. */
  get(name: string, n: number): Float32Array {
    let b = this.bufs.get(name);
    if (b && b.view.length === n) return b.view; // the same view as last time (no new view object per call)
    if (!b || b.buf.length < n) {
      const buf = new Float32Array(Math.max(n, Math.ceil((b?.buf.length ?? 0) * 1.5)));
      b = { buf, view: buf };
      this.bufs.set(name, b);
    }
    b.view = b.buf.subarray(0, n);
    return b.view;
  }

  clear(): void {
    this.bufs.clear();
  }
}
