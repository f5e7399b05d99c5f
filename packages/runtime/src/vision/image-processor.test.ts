import { describe, expect, it } from "vitest";
import jpeg from "jpeg-js";
import { InputError } from "@moeq/formats";
import { bestFit, decodeImage, expandImageTokens, imagePromptTokens, preprocessImage, supportedResolutions } from "./image-processor.js";
import { pilResizeBilinear } from "./pil-resize.js";

describe("tiling", () => {
  it("lists every grid with at most max_patches tiles, as find_supported_resolutions", () => {
    const r = supportedResolutions(4, 10);
    expect(new Set(r.map(([h, w]) => `${h}x${w}`))).toEqual(new Set(["10x40", "40x10", "20x20", "10x30", "30x10", "10x20", "20x10", "10x10"]));
  });

  it("picks the smallest upscaling canvas, else the largest downscale, ties by area (get_best_fit)", () => {
    const res = supportedResolutions(16, 336);
    expect(bestFit(200, 300, res)).toEqual([336, 336]); // upscale by 1.12 fits a single tile
    // expected values from fixtures/tools/image_processor.py get_best_fit
    expect(bestFit(500, 1000, res)).toEqual([672, 1008]); // 2×3 tiles upscale by 1.008, the least upscale
    expect(bestFit(8000, 100, res)).toEqual([5376, 336]); // nothing upscales: the 16×1 grid downscales least
    expect(bestFit(1000, 1000, res)).toEqual([1008, 1008]);
    expect(bestFit(100, 2000, res)).toEqual([336, 2016]);
  });
});

describe("resize", () => {
  it("is the identity at the same size and keeps a constant image constant", () => {
    const img = new Uint8Array(7 * 5 * 3).fill(77);
    expect(pilResizeBilinear(img, 7, 5, 7, 5)).toEqual(img);
    expect(pilResizeBilinear(img, 7, 5, 19, 3).every((v) => v === 77)).toBe(true);
  });
});

describe("decodeImage", () => {
  it("decodes JPEG to RGB of the right size", () => {
    const w = 20,
      h = 12;
    const data = Buffer.alloc(w * h * 4, 200);
    const bytes = new Uint8Array(jpeg.encode({ data, width: w, height: h }, 95).data);
    const img = decodeImage(bytes);
    expect([img.width, img.height, img.data.length]).toEqual([w, h, w * h * 3]);
    expect(Math.abs(img.data[0] - 200)).toBeLessThanOrEqual(2);
  });

  it("rejects bytes that are neither PNG nor JPEG", () => {
    expect(() => decodeImage(new Uint8Array([1, 2, 3, 4]))).toThrow(InputError);
  });
});

describe("prompt expansion", () => {
  it("lays out tiles like Llama4Processor._prompt_split_image", () => {
    expect(imagePromptTokens([1, 1], 2)).toBe("<|image_start|><|image|><|patch|><|patch|><|image_end|>");
    expect(imagePromptTokens([1, 2], 1)).toBe("<|image_start|><|patch|><|tile_x_separator|><|patch|><|tile_y_separator|><|image|><|patch|><|image_end|>");
    expect(() => expandImageTokens("no placeholder", [[1, 1]], 4)).toThrow(/0 <\|image\|> placeholders but 1 images/);
  });

  it("adds a global tile only when the image spans several tiles", () => {
    const small = preprocessImage({ width: 10, height: 10, data: new Uint8Array(300) }, 32);
    expect(small.tiles).toBe(1);
    const wide = preprocessImage({ width: 64, height: 30, data: new Uint8Array(64 * 30 * 3) }, 32);
    expect(wide.aspect).toEqual([1, 2]);
    expect(wide.tiles).toBe(3);
    expect(wide.pixels[0]).toBe(-1); // black pixels normalise to −1
  });
});
