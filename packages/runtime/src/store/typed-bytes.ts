/** Copies of tensor bytes as aligned typed arrays (the bytes read from a file need not be aligned). */
export const int32sOf = (b: Uint8Array): Int32Array => new Int32Array(b.slice().buffer);
export const uint16sOf = (b: Uint8Array): Uint16Array => new Uint16Array(b.slice().buffer);
