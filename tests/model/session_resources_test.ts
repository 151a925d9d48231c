/**
 * Ops own what they create: across 20 prompts in one session and 20 KV
 * policy/budget configurations in one process, every GPU buffer a session,
 * its forward graphs, its KV cache and their ops create is destroyed when it
 * is replaced or the session closes — the live buffer count and bytes return
 * to where they started, and a session's count does not grow from prompt to
 * prompt. Counts come from a device whose `createBuffer` records each buffer
 * until its `destroy()`.
 */

import assert from "node:assert/strict";
import { ensureFixtures } from "../../fixtures/make_fixtures.ts";
import { acquireGpu } from "../../src/gpu/device.ts";
import { createRuntime, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { type KvOptionsInput, resolveKvOptions } from "../../src/kv/options.ts";
import { Session } from "../../src/model/session.ts";
import { gpuTestOptions } from "../_gpu.ts";

const FIXTURE = (await ensureFixtures()).get("llama-q8_0")!;

/** Live buffers of a device: count and bytes. */
interface Live {
  readonly count: number;
  readonly bytes: number;
}

/** A runtime on a fresh device whose buffers are counted from creation to `destroy()`. */
async function countedRuntime(): Promise<{ rt: GpuRuntime; live: () => Live }> {
  const ctx = await acquireGpu();
  const device = ctx.device;
  const alive = new Set<GPUBuffer>();
  const create = device.createBuffer.bind(device);
  device.createBuffer = (descriptor: GPUBufferDescriptor) => {
    const buffer = create(descriptor);
    alive.add(buffer);
    const destroy = buffer.destroy.bind(buffer);
    buffer.destroy = () => {
      alive.delete(buffer);
      destroy();
    };
    return buffer;
  };
  const live = () => ({
    count: alive.size,
    bytes: [...alive].reduce((s, b) => s + b.size, 0),
  });
  return { rt: createRuntime(ctx), live };
}

/** 20 policy × budget configurations (every registered policy, several budgets). */
const CONFIGS: KvOptionsInput[] = [
  ...["0.2", "0.5", "12"].flatMap((kvBudget) => [
    { kv: "streaming", kvBudget },
    { kv: "h2o", kvBudget },
    { kv: "d2o", kvBudget },
    { kv: "snapkv", kvBudget, params: { snapWindow: 4 } },
    { kv: "pyramidkv", kvBudget, params: { snapWindow: 4 } },
  ]),
  { kv: "full" },
  { kv: "d2o", kvBudget: "0.3", parity: true },
  { kv: "snapkv", kvBudget: "0.3", params: { snapWindow: 4, kvDecode: "evict" } },
  { kv: "d2o", kvBudget: "0.3", params: { mergeRule: "code" } },
  { kv: "h2o", kvBudget: "8", kvMin: 4 },
];

/** A prompt of `n` token ids from the fixture's vocabulary. */
function prompt(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => 1 + ((seed * 31 + i * 7) % 200));
}

/** Runs `prompts` sequences (prefill, 4 decode steps, reset); returns the live count after each. */
async function runPrompts(session: Session, prompts: number, live: () => Live): Promise<Live[]> {
  const after: Live[] = [];
  for (let p = 0; p < prompts; p++) {
    session.reset();
    let token = await session.prefill(prompt(24 + (p % 3) * 8, p));
    for (let i = 0; i < 4; i++) token = await session.decode(token);
    after.push(live());
  }
  return after;
}

Deno.test({
  name:
    "GPU buffers return to their start count and bytes across 20 prompts and 20 KV configurations",
  ...gpuTestOptions,
  async fn() {
    const { rt, live } = await countedRuntime();
    try {
      const start = live();
      // 20 prompts through the plain cache: its ops are built once per row count (the first
      // prompt of each of the three lengths), then nothing grows.
      const plain = await Session.open(FIXTURE, { nCtx: 128, runtime: rt });
      const counts = await runPrompts(plain, 20, live);
      const built = counts[2]!;
      assert.ok(counts.slice(3).every((c) => c.count === built.count), "plain: a prompt leaks");
      plain.close();
      assert.deepEqual(live(), start, "plain session: every buffer freed");

      // 20 configurations, 20 prompts in the first (6 in the others): per prompt the cache
      // and the stages over it are replaced, and the old ones freed.
      for (const [i, input] of CONFIGS.entries()) {
        const kv = resolveKvOptions({ kvMin: 4, ...input });
        const session = await Session.open(FIXTURE, { nCtx: 128, runtime: rt, kv });
        const after = await runPrompts(session, i === 0 ? 20 : 6, live);
        // Once each length ran (the forward pass's ops are built per row count on first use),
        // prompts of the same length hold the same buffers.
        for (let p = 6; p < after.length; p++) {
          assert.deepEqual(after[p], after[p - 3], `${kv.policy} prompt ${p}: buffers grew`);
        }
        session.close();
        assert.deepEqual(
          live(),
          start,
          `${kv.policy} ${JSON.stringify(input)}: every buffer freed`,
        );
      }
      assert.equal(CONFIGS.length, 20);
    } finally {
      rt.device.destroy();
    }
  },
});
