import assert from "node:assert/strict";
import { peakRssBytes } from "../../src/gpu/host_memory.ts";

const MIB = 2 ** 20;

Deno.test("peakRssBytes() is at least the current RSS and follows 96 MiB touched", () => {
  const rss = Deno.memoryUsage().rss;
  assert.ok(peakRssBytes() >= rss, `peak ${peakRssBytes()} < current ${rss}`);
  const block = new Uint8Array(96 * MIB);
  for (let i = 0; i < block.length; i += 4096) block[i] = 1;
  const peak = peakRssBytes();
  assert.ok(peak >= rss + 90 * MIB, `peak ${peak} after touching 96 MiB over ${rss}`);
  assert.equal(block[block.length - 4096], 1);
});
