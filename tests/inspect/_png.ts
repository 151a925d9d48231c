/**
 * A small PNG decoder for screenshot checks: 8-bit RGB or RGBA, not
 * interlaced (what Chromium writes), inflated with the platform's
 * DecompressionStream and unfiltered per the PNG spec.
 *
 * @module
 */

/** A decoded image: RGBA bytes, row after row. */
export interface Rgba {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Decodes a PNG file's bytes. */
export async function decodePng(bytes: Uint8Array): Promise<Rgba> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  while (at < bytes.length) {
    const length = view.getUint32(at);
    const type = new TextDecoder().decode(bytes.subarray(at + 4, at + 8));
    const body = bytes.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const [depth, color, , , interlace] = body.subarray(8, 13);
      if (depth !== 8 || (color !== 2 && color !== 6) || interlace !== 0) {
        throw new Error(`Cannot decode this PNG: depth ${depth}, colour type ${color}`);
      }
      channels = color === 6 ? 4 : 3;
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    at += 12 + length;
  }
  const packed = await inflate(idat);
  const stride = width * channels;
  const raw = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = packed[y * (stride + 1)]!;
    const line = packed.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    unfilter(filter, line, raw, y * stride, stride, channels);
  }
  const data = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < raw.length; i += channels, j += 4) {
    data[j] = raw[i]!;
    data[j + 1] = raw[i + 1]!;
    data[j + 2] = raw[i + 2]!;
    data[j + 3] = channels === 4 ? raw[i + 3]! : 255;
  }
  return { width, height, data };
}

function unfilter(
  filter: number,
  line: Uint8Array,
  out: Uint8Array,
  start: number,
  stride: number,
  bpp: number,
): void {
  for (let x = 0; x < stride; x++) {
    const a = x >= bpp ? out[start + x - bpp]! : 0;
    const b = start >= stride ? out[start - stride + x]! : 0;
    const c = x >= bpp && start >= stride ? out[start - stride + x - bpp]! : 0;
    const v = line[x]!;
    let pred = 0;
    if (filter === 1) pred = a;
    else if (filter === 2) pred = b;
    else if (filter === 3) pred = (a + b) >> 1;
    else if (filter === 4) {
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    out[start + x] = (v + pred) & 0xff;
  }
}

async function inflate(parts: Uint8Array[]): Promise<Uint8Array> {
  const stream = new Blob(parts.map((p) => p.slice())).stream().pipeThrough(
    new DecompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The RGB of pixel (x, y). */
export function pixel(img: Rgba, x: number, y: number): [number, number, number] {
  const i = (Math.round(y) * img.width + Math.round(x)) * 4;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}

/** Largest per-channel difference of two colours. */
export function colorDistance(a: readonly number[], b: readonly number[]): number {
  return Math.max(Math.abs(a[0]! - b[0]!), Math.abs(a[1]! - b[1]!), Math.abs(a[2]! - b[2]!));
}

/** `#rrggbb` → RGB. */
export function hexColor(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** CSS `hsl(h s% l%)` → RGB (rounded). */
export function hslColor(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
  return [Math.round(255 * f(0)), Math.round(255 * f(8)), Math.round(255 * f(4))];
}
