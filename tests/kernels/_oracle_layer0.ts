/**
 * Layer-0 intermediates of stories260K on "Once upon a time" (5 tokens) from
 * ../shared/oracle, for checking the CPU twins against an independent
 * implementation. Tensors are looked up by their index in the file (names repeat).
 *
 * @module
 */

const url = new URL(
  "../../../shared/oracle/oracle-stories260K-layer0-tensors.json",
  import.meta.url,
);

interface OracleTensor {
  index: number;
  name: string;
  ne: number[];
  data: number[];
}

let cache: OracleTensor[] | undefined;

/** The oracle tensor at `index` with its expected name, as f32 (ne0 fastest). */
export function oracleTensor(index: number, name: string): Float32Array {
  cache ??= (JSON.parse(Deno.readTextFileSync(url)) as { tensors: OracleTensor[] }).tensors;
  const t = cache.find((x) => x.index === index);
  if (!t || t.name !== name) throw new Error(`Oracle tensor ${index} is not "${name}"`);
  return Float32Array.from(t.data);
}
