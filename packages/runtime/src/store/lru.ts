/** A byte-budgeted LRU cache: entries are loaded on first use and the least recently used are dropped to fit. */
export class ByteLru<V> {
  /**
   * Entries with the tick of their last use. A hit only bumps the tick (the forward pass looks weights up several
   * times per layer and token, and moving the key to the end of the Map each time churned its hash table); the
   * least recently used entry is the one with the smallest tick, looked for only when something must be dropped.
   */
  private readonly map = new Map<string, { value: V; bytes: number; tick: number }>();
  private used = 0;
  private clock = 0;

  constructor(
    readonly budgetBytes: number,
    /** Called with each entry dropped (evicted, cleared, or too large to keep). */
    private readonly onDrop: (value: V) => void = () => {},
  ) {}

  get usedBytes(): number {
    return this.used;
  }

  get(key: string, load: () => { value: V; bytes: number }): V {
    const hit = this.map.get(key);
    if (hit) {
      hit.tick = ++this.clock;
      return hit.value;
    }
    const entry = load();
    // An entry larger than the whole budget is still returned, just not kept.
    if (entry.bytes > this.budgetBytes) {
      this.onDrop(entry.value);
      return entry.value;
    }
    while (this.used + entry.bytes > this.budgetBytes && this.map.size > 0) {
      let oldest = "";
      let oldestTick = Infinity;
      for (const [k, e] of this.map) {
        if (e.tick < oldestTick) {
          oldestTick = e.tick;
          oldest = k;
        }
      }
      const dropped = this.map.get(oldest)!;
      this.used -= dropped.bytes;
      this.map.delete(oldest);
      this.onDrop(dropped.value);
    }
    this.map.set(key, { value: entry.value, bytes: entry.bytes, tick: ++this.clock });
    this.used += entry.bytes;
    return entry.value;
  }

  clear(): void {
    // least recently used first, as eviction would drop them
    for (const e of [...this.map.values()].sort((a, b) => a.tick - b.tick)) this.onDrop(e.value);
    this.map.clear();
    this.used = 0;
  }
}
