/**
 * Llama 4 image processor (Transformers' Llama4ImageProcessorFast) and prompt expansion (Llama4Processor):
 * best-fit tile canvas, aspect-preserving bilinear resize (capped upscaling), bottom/right zero padding,
 * rescale + normalise in BF16, row-major tiles, plus a global tile when there is more than one.
 */
import { PNG } from "pngjs";
import jpeg from "jpeg-js";
import { InputError } from "@moeq/formats";
import { pilResizeBilinear } from "./pil-resize.js";

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** Interleaved RGB, height × width × 3. */
  readonly data: Uint8Array;
}

/** Decodes PNG or JPEG bytes to RGB (alpha dropped, as PIL's convert("RGB") does for opaque images). */
export function decodeImage(bytes: Uint8Array): RgbImage {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      ({ width, height } = png);
      rgba = png.data;
    } else if (isJpeg) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
      ({ width, height } = img);
      rgba = img.data;
    } else {
      throw new InputError("IMAGE_FORMAT", "image is neither PNG nor JPEG");
    }
  } catch (cause) {
    if (cause instanceof InputError) throw cause;
    throw new InputError("IMAGE_DECODE", `cannot decode image: ${(cause as Error).message}`, { cause });
  }
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[i * 3] = rgba[i * 4];
    data[i * 3 + 1] = rgba[i * 4 + 1];
    data[i * 3 + 2] = rgba[i * 4 + 2];
  }
  return { width, height, data };
}

/** find_supported_resolutions: every (h, w) tile grid with h·w ≤ maxChunks, grouped by aspect ratio, × tile. */
export function supportedResolutions(maxChunks: number, tile: number): [number, number][] {
  const byAspect = new Map<number, [number, number][]>();
  for (let chunk = maxChunks; chunk >= 1; chunk--) {
    const factors = new Set<number>();
    for (let i = 1; i <= Math.floor(Math.sqrt(chunk)); i++) {
      if (chunk % i === 0) {
        factors.add(i);
        factors.add(chunk / i);
      }
    }
    for (const h of [...factors].sort((a, b) => a - b)) {
      const key = h / (chunk / h);
      const list = byAspect.get(key) ?? [];
      list.push([h, chunk / h]);
      byAspect.set(key, list);
    }
  }
  const out: [number, number][] = [];
  for (const list of byAspect.values()) for (const [h, w] of list) out.push([h * tile, w * tile]);
  return out;
}

/** get_best_fit (resize_to_max_canvas = false). */
export function bestFit(h: number, w: number, resolutions: [number, number][]): [number, number] {
  const f = Math.fround;
  const scales = resolutions.map(([rh, rw]) => {
    const sw = f(rw / w);
    const sh = f(rh / h);
    return sh > sw ? sw : sh;
  });
  const up = scales.filter((s) => s >= 1);
  const sel = up.length > 0 ? Math.min(...up) : Math.max(...scales.filter((s) => s < 1));
  let best: [number, number] | undefined;
  for (let i = 0; i < resolutions.length; i++) {
    if (scales[i] !== sel) continue;
    const r = resolutions[i];
    if (!best || r[0] * r[1] < best[0] * best[1]) best = r;
  }
  return best!;
}

function maxResWithoutDistortion(h: number, w: number, th: number, tw: number): [number, number] {
  const sw = tw / w;
  const sh = th / h;
  if (sw < sh) return [Math.min(Math.floor(h * sw), th), tw];
  return [th, Math.min(Math.floor(w * sh), tw)];
}

const bf16Buf = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Buf.buffer);
/** Round an f32 to bf16 (round-to-nearest-even), as torch's bfloat16 ops do. */
function bf16(x: number): number {
  bf16Buf[0] = x;
  const b = bf16Bits[0];
  bf16Bits[0] = ((b + 0x7fff + ((b >>> 16) & 1)) & 0xffff0000) >>> 0;
  return bf16Buf[0];
}

/**
 * rescale_and_normalize in BF16: bf16(bf16(v · s) − 0.5) / 0.5, where torch rounds the python scalar 1/255 to the
 * tensor's dtype first (s = bf16(1/255) = 0.003936767578125). Table over the 256 byte values.
 */
const NORMALISED: Float32Array = (() => {
  const t = new Float32Array(256);
  const scale = bf16(1 / 255);
  for (let v = 0; v < 256; v++) t[v] = bf16(bf16(bf16(v * scale) - 0.5) / 0.5);
  return t;
})();

export interface ProcessedImage {
  /** [tiles × 3 × tile × tile] f32 (values exactly BF16). */
  readonly pixels: Float32Array;
  readonly tiles: number;
  /** Tile grid (rows, cols) of the local tiles. */
  readonly aspect: [number, number];
}

function toChw(rgb: Uint8Array, w: number, h: number, x0: number, y0: number, tile: number, dst: Float32Array, off: number): void {
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < tile; y++) {
      for (let x = 0; x < tile; x++) {
        dst[off + (c * tile + y) * tile + x] = NORMALISED[rgb[((y0 + y) * w + (x0 + x)) * 3 + c]];
      }
    }
  }
  void h;
}

export function preprocessImage(img: RgbImage, tile: number, maxPatches = 16): ProcessedImage {
  const { width: w, height: h } = img;
  const [th, tw] = bestFit(h, w, supportedResolutions(maxPatches, tile));
  const lh = Math.min(Math.max(h, tile), th);
  const lw = Math.min(Math.max(w, tile), tw);
  let [nh, nw] = maxResWithoutDistortion(h, w, lh, lw);
  nh = Math.max(nh, 1);
  nw = Math.max(nw, 1);
  const resized = pilResizeBilinear(img.data, w, h, nw, nh);
  const canvas = new Uint8Array(th * tw * 3);
  for (let y = 0; y < nh; y++) canvas.set(resized.subarray(y * nw * 3, (y + 1) * nw * 3), y * tw * 3);
  const rh = th / tile;
  const rw = tw / tile;
  const nTiles = rh * rw > 1 ? rh * rw + 1 : 1;
  const per = 3 * tile * tile;
  const pixels = new Float32Array(nTiles * per);
  for (let i = 0; i < rh; i++) for (let j = 0; j < rw; j++) toChw(canvas, tw, th, j * tile, i * tile, tile, pixels, (i * rw + j) * per);
  if (nTiles > 1) {
    const g = pilResizeBilinear(img.data, w, h, tile, tile);
    toChw(g, tile, tile, 0, 0, tile, pixels, rh * rw * per);
  }
  return { pixels, tiles: nTiles, aspect: [rh, rw] };
}

/** Llama4Processor._prompt_split_image. */
export function imagePromptTokens(aspect: [number, number], tokensPerTile: number): string {
  let s = "<|image_start|>";
  const [rh, rw] = aspect;
  if (rh * rw > 1) {
    for (let y = 0; y < rh; y++) {
      for (let x = 0; x < rw; x++) {
        s += "<|patch|>".repeat(tokensPerTile);
        if (x < rw - 1) s += "<|tile_x_separator|>";
      }
      s += "<|tile_y_separator|>";
    }
  }
  return s + "<|image|>" + "<|patch|>".repeat(tokensPerTile) + "<|image_end|>";
}

/** Replaces each `<|image|>` placeholder of `text` by its image's token layout (one aspect per placeholder). */
export function expandImageTokens(text: string, aspects: [number, number][], tokensPerTile: number): string {
  const parts = text.split("<|image|>");
  if (parts.length - 1 !== aspects.length) {
    throw new InputError("IMAGE_PLACEHOLDERS", `${parts.length - 1} <|image|> placeholders but ${aspects.length} images`);
  }
  let out = parts[0];
  for (let i = 0; i < aspects.length; i++) out += imagePromptTokens(aspects[i], tokensPerTile) + parts[i + 1];
  return out;
}
