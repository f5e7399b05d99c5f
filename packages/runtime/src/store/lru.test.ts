import { describe, expect, it } from "vitest";
import { ByteLru } from "./lru.js";

describe("ByteLru", () => {
  it("drops the least recently used entries first, hits counting as uses", () => {
    const dropped: string[] = [];
    const lru = new ByteLru<string>(30, (v) => dropped.push(v));
    const load =
      (v: string, bytes = 10) =>
      () => ({ value: v, bytes });
    lru.get("a", load("a"));
    lru.get("b", load("b"));
    lru.get("c", load("c"));
    expect(lru.get("a", load("a-again"))).toBe("a"); // a hit: now the most recent
    lru.get("d", load("d"));
    expect(dropped).toEqual(["b"]);
    lru.get("c", load("c-again"));
    lru.get("e", load("e", 20)); // needs two drops: a, then d (c was just used)
    expect(dropped).toEqual(["b", "a", "d"]);
    expect(lru.usedBytes).toBe(30);
    lru.get("big", load("big", 31)); // larger than the budget: returned, dropped, nothing evicted
    expect(dropped).toEqual(["b", "a", "d", "big"]);
    lru.get("e", load("e-again"));
    lru.clear();
    expect(dropped).toEqual(["b", "a", "d", "big", "c", "e"]);
    expect(lru.usedBytes).toBe(0);
  });
});
