/**
 * A first-fit allocator over a growable byte space (the shared WebAssembly memory): 64-byte aligned blocks,
 * freed ranges coalesced with their neighbours, the space grown through `grow` when nothing free fits.
 * Offsets are plain numbers so the worker threads and the WASM kernels can use them as pointers.
 */
export class Arena {
  /** Free ranges sorted by offset. */
  private readonly free: { off: number; size: number }[] = [];
  private readonly sizes = new Map<number, number>();
  private top: number;

  constructor(
    base: number,
    private readonly capacity: () => number,
    /** Grows the space to at least `bytes`; returns false when it cannot. */
    private readonly grow: (bytes: number) => boolean,
  ) {
    this.top = align(base);
  }

  /** Offset of a new block of `bytes`, or null when the space cannot hold it. */
  alloc(bytes: number): number | null {
    const size = align(Math.max(bytes, 1));
    for (let i = 0; i < this.free.length; i++) {
      const r = this.free[i];
      if (r.size < size) continue;
      const off = r.off;
      if (r.size === size) this.free.splice(i, 1);
      else {
        r.off += size;
        r.size -= size;
      }
      this.sizes.set(off, size);
      return off;
    }
    if (this.top + size > this.capacity() && !this.grow(this.top + size)) return null;
    const off = this.top;
    this.top += size;
    this.sizes.set(off, size);
    return off;
  }

  release(off: number): void {
    const size = this.sizes.get(off);
    if (size === undefined) throw new Error(`arena: block ${off} is not allocated`);
    this.sizes.delete(off);
    let i = 0;
    while (i < this.free.length && this.free[i].off < off) i++;
    this.free.splice(i, 0, { off, size });
    // coalesce with the next, then the previous range
    const next = this.free[i + 1];
    if (next && off + size === next.off) {
      this.free[i].size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.off + prev.size === off) {
      prev.size += this.free[i].size;
      this.free.splice(i, 1);
    }
    const last = this.free[this.free.length - 1];
    if (last && last.off + last.size === this.top) {
      this.top = last.off;
      this.free.pop();
    }
  }

  /** Bytes in live blocks. */
  get usedBytes(): number {
    let s = 0;
    for (const v of this.sizes.values()) s += v;
    return s;
  }
}

function align(n: number): number {
  return Math.ceil(n / 64) * 64;
}
