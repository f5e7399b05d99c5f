// Our sinf/cosf port against the machine's glibc libm (through koffi): bit-identical on every rope angle of
// positions 0..2047 (ggml's θ recurrence, base 500000, 64-dim heads) and on a spread of larger arguments.
import { describe, expect, it } from "vitest";
import koffi from "koffi";
import { libmCosf, libmSinf } from "./libm-sincosf.js";

const libm = koffi.load("libm.so.6");
const cosf = libm.func("float cosf(float)") as (x: number) => number;
const sinf = libm.func("float sinf(float)") as (x: number) => number;

describe("libmSinf / libmCosf", () => {
  it("equal glibc's sinf/cosf on all rope angles of 2048 positions and on large arguments", () => {
    const f = Math.fround;
    const scale = f(Math.pow(f(500000), f(-2 / 64)));
    const args: number[] = [];
    for (let p = 0; p < 2048; p++) {
      let th = f(p);
      for (let i = 0; i < 32; i++) {
        args.push(th);
        th = f(th * scale);
      }
    }
    for (let i = 0; i < 2000; i++) args.push(f(-(i * 7919.123) % 1e6), f(1e-5 * i), f(-i / 3));
    let bad = 0;
    for (const x of args) if (sinf(x) !== libmSinf(x) || cosf(x) !== libmCosf(x)) bad++;
    expect(bad).toBe(0);
    // and the correctly rounded f64 route is not the same thing
    let differs = 0;
    for (const x of args) if (cosf(x) !== f(Math.cos(x))) differs++;
    expect(differs).toBeGreaterThan(0);
  });
});
