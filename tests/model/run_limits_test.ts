import assert from "node:assert/strict";
import { LimitError } from "../../src/errors.ts";
import { DEFAULT_KV_TYPES, type KvTypes, kvTypes } from "../../src/gpu/ops/kv_elem.ts";
import { kvBytesPerToken } from "../../src/kv/cache.ts";
import { resolveKvOptions } from "../../src/kv/options.ts";
import type { ModelHParams } from "../../src/model/hparams.ts";
import { checkRunLimits, compressSlotLimit } from "../../src/model/run_limits.ts";

/** Qwen2.5 0.5B's cache shape: 24 layers, 14 heads, 2 KV heads of 64. */
const QWEN = {
  nLayer: 24,
  nHead: 14,
  nHeadKv: 2,
  headDim: 64,
  nCtxTrain: 32768,
} as ModelHParams;
const BINDING = { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20 };

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof LimitError, String(error));
    return error.message;
  }
  throw new Error("expected a LimitError");
}

Deno.test("the compression kernel's slots bound -c for layers kept whole, at the exact boundary", () => {
  const most = compressSlotLimit(64);
  assert.equal(most, 65535);
  const full = resolveKvOptions({ kv: "full" });
  const at = (nCtx: number) => checkRunLimits({ hparams: QWEN, nCtx, kv: full, adapter: BINDING });
  assert.equal(at(most).warning?.includes("past the model's trained context of 32768"), true);
  assert.equal(
    refusal(() => at(most + 1)),
    "Cannot use a context of 65536 tokens for layers 0-23 kept whole (--kv full keeps every " +
      "layer): the KV compression kernel fills at most 65535 slots per layer at head size 64, so " +
      "at most 65535 tokens here; lower -c/--ctx",
  );
  // d2o evicts in every layer: no layer is as long as the context.
  const d2o = resolveKvOptions({ kv: "d2o" });
  assert.doesNotThrow(() =>
    checkRunLimits({ hparams: QWEN, nCtx: 100000, kv: d2o, adapter: BINDING })
  );
  // Only the layers kept whole are named.
  const skip = resolveKvOptions({ kv: "d2o", skipLayers: "0,5,23" });
  assert.match(
    refusal(() => checkRunLimits({ hparams: QWEN, nCtx: 100000, kv: skip, adapter: BINDING })),
    /for layers 0, 5 and 23 kept whole \(--skip-layers\):/,
  );
  // The plain cache (profile's full rows) runs no compression kernel.
  assert.doesNotThrow(() =>
    checkRunLimits({ hparams: QWEN, nCtx: 100000, kv: undefined, adapter: BINDING })
  );
});

Deno.test("the binding bounds -c by one layer's K cache, its KV heads repeated for --select-per query-head", () => {
  const perToken = kvBytesPerToken(QWEN, DEFAULT_KV_TYPES) / 2;
  const most = BINDING.maxStorageBufferBindingSize / perToken;
  assert.equal(most, 262144);
  const d2o = resolveKvOptions({ kv: "d2o" });
  assert.doesNotThrow(() =>
    checkRunLimits({ hparams: QWEN, nCtx: most, kv: d2o, adapter: BINDING })
  );
  assert.match(
    refusal(() => checkRunLimits({ hparams: QWEN, nCtx: most + 1, kv: d2o, adapter: BINDING })),
    /^Cannot use a context of 262145 tokens: one layer's uncompressed K cache would take 128 MiB, more than this GPU binds \(128 MiB\), so at most 262144 tokens here; lower -c\/--ctx$/,
  );
  // 14 query heads instead of 2 KV heads: seven times the bytes per token.
  const perHead = resolveKvOptions({ kv: "d2o", selectPer: "query-head" });
  assert.match(
    refusal(() => checkRunLimits({ hparams: QWEN, nCtx: 40000, kv: perHead, adapter: BINDING })),
    /so at most 37449 tokens here/,
  );
  // No adapter: the binding is not known, the load reports the missing GPU.
  assert.doesNotThrow(() =>
    checkRunLimits({ hparams: QWEN, nCtx: most + 1, kv: d2o, adapter: undefined })
  );
});

Deno.test("each prompt gets its own verdict: room in the context, and a cache that fits --kv-memory", () => {
  const kv = resolveKvOptions({ kv: "h2o", kvBudget: 0.5, kvMin: 1 });
  const limits = checkRunLimits({
    hparams: QWEN,
    nCtx: 1000,
    kv,
    adapter: BINDING,
    kvMemory: 24 * 251 * kvBytesPerToken(QWEN, DEFAULT_KV_TYPES), // 250 slots (+1 for eviction) per layer
    prompts: [
      { length: 500, name: 'prompt "a"' },
      { length: 501, name: 'prompt "b"' },
      { length: 1000, name: 'prompt "c"' },
    ],
  });
  assert.equal(limits.warning, undefined);
  const [a, b, c] = limits.prompts;
  assert.equal(a!.error, undefined);
  assert.equal(a!.kvBytes, 24 * 251 * kvBytesPerToken(QWEN, DEFAULT_KV_TYPES));
  assert.match(
    b!.error!.message,
    /^Cannot run prompt "b": its KV cache needs .* more than --kv-memory's/,
  );
  assert.match(
    c!.error!.message,
    /^Cannot run prompt "c" of 1000 tokens in a context of 1000: it needs at least 1001/,
  );
});

Deno.test("an f16 cache doubles the context one binding allows and halves each prompt's --kv-memory charge; f16 keys over f32 values are bound by V", () => {
  const d2o = resolveKvOptions({ kv: "d2o" });
  const f16 = kvTypes("f16");
  const most = 2 * 262144; // twice the f32 bound above
  assert.doesNotThrow(() =>
    checkRunLimits({ hparams: QWEN, nCtx: most, kv: d2o, adapter: BINDING, kvTypes: f16 })
  );
  assert.match(
    refusal(() =>
      checkRunLimits({ hparams: QWEN, nCtx: most + 1, kv: d2o, adapter: BINDING, kvTypes: f16 })
    ),
    /^Cannot use a context of 524289 tokens: one layer's uncompressed K cache would take 128 MiB/,
  );
  // -ctk f16 -ctv f32: the V cache is the wider one and keeps the f32 bound.
  assert.match(
    refusal(() =>
      checkRunLimits({
        hparams: QWEN,
        nCtx: 262145,
        kv: d2o,
        adapter: BINDING,
        kvTypes: kvTypes("f16", "f32"),
      })
    ),
    /one layer's uncompressed V cache would take 128 MiB, .* so at most 262144 tokens here/,
  );
  const h2o = resolveKvOptions({ kv: "h2o", kvBudget: 0.5, kvMin: 1 });
  const charge = (types: KvTypes) =>
    checkRunLimits({
      hparams: QWEN,
      nCtx: 1000,
      kv: h2o,
      adapter: BINDING,
      kvTypes: types,
      prompts: [{ length: 500 }],
    }).prompts[0]!.kvBytes;
  assert.equal(charge(f16), 24 * 251 * kvBytesPerToken(QWEN, f16));
  assert.equal(2 * charge(f16), charge(DEFAULT_KV_TYPES));
});
