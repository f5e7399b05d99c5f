/** A byte-budgeted LRU cache: entries are loaded on first use and the least recently used are dropped to fit. */
export class ByteLru<V> {
  private readonly map = new Map<string, { value: V; bytes: number }>();
  private used = 0;

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
      this.map.delete(key);
      this.map.set(key, hit);
      return hit.value;
    }
    const entry = load();
    // An entry larger than the whole budget is still returned, just not kept.
    if (entry.bytes > this.budgetBytes) {
      this.onDrop(entry.value);
      return entry.value;
    }
    while (this.used + entry.bytes > this.budgetBytes && this.map.size > 0) {
      const oldest = this.map.keys().next().value as string;
      const dropped = this.map.get(oldest)!;
      this.used -= dropped.bytes;
      this.map.delete(oldest);
      this.onDrop(dropped.value);
    }
    this.map.set(key, entry);
    this.used += entry.bytes;
    return entry.value;
  }

  clear(): void {
    for (const e of this.map.values()) this.onDrop(e.value);
    this.map.clear();
    this.used = 0;
  }
}
