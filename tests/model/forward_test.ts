/**
 * The GPU forward pass against the CPU reference on every generated fixture
 * model (every weight type, qwen2 with biases and neox RoPE, tied
 * embeddings): prompt logits through the mat-mul path, then decode steps
 * through the mat-vec path.
 *
 * Tolerance: both sides read the same quantized bytes and dequantize them
 * exactly, so they differ only in summation order (GPU f32 partial sums, CPU
 * f64 sums). Over 2 layers that is ~1e-6 relative; we allow NMSE ≤ 1e-9 and
 * max-abs ≤ 1e-4 · (1 + max |logit|), far below the ~1e-2 NMSE a misplaced
 * block or wrong element order produces.
 */

import assert from "node:assert/strict";
import { ensureFixtures, STANDARD_FIXTURES } from "../../fixtures/make_fixtures.ts";
import { createRuntime, type GpuRuntime } from "../../src/gpu/runtime.ts";
import { openModel } from "../../src/model/model_file.ts";
import { Session } from "../../src/model/session.ts";
import { ReferenceModel } from "../../src/reference/forward.ts";
import { loadReferenceWeights } from "../../src/reference/model_weights.ts";
import { gpuTestOptions, testGpu } from "../_gpu.ts";

const fixtures = await ensureFixtures();
let runtime: GpuRuntime | undefined;

function compare(label: string, gpu: Float32Array, cpu: Float32Array): void {
  assert.equal(gpu.length, cpu.length, label);
  let err = 0;
  let ref = 0;
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < cpu.length; i++) {
    const d = gpu[i]! - cpu[i]!;
    err += d * d;
    ref += cpu[i]! * cpu[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
    maxRef = Math.max(maxRef, Math.abs(cpu[i]!));
  }
  const nmse = err / ref;
  assert.ok(nmse <= 1e-9, `${label}: NMSE ${nmse}`);
  assert.ok(maxAbs <= 1e-4 * (1 + maxRef), `${label}: max-abs ${maxAbs} (max |logit| ${maxRef})`);
}

// The decode path is checked fused (the CPU adapter's default) and unfused (real GPUs' default).
for (
  const [fixture, fuseDecode] of STANDARD_FIXTURES.flatMap((f) => [[f, true], [f, false]] as const)
) {
  Deno.test({
    name: `GPU forward equals the CPU reference on fixture ${fixture.name}${
      fuseDecode ? "" : " (decode unfused)"
    }`,
    ...gpuTestOptions,
    async fn() {
      const path = fixtures.get(fixture.name)!;
      runtime ??= createRuntime(await testGpu());
      const session = await Session.open(path, {
        nCtx: 64,
        allLogits: true,
        maxBatch: 16,
        runtime,
      });
      const reference = new ReferenceModel(await loadReferenceWeights(await openModel(path)), {
        nCtx: 64,
      });
      try {
        // A prompt longer than one chunk exercises chunked prefill at pos0 > 0.
        const prompt = session.tokenizer.encode(
          "Once upon a time, a little girl named Lily found a shiny red ball in the park.",
        );
        assert.ok(prompt.length > 16, `prompt has ${prompt.length} tokens`);
        compare(
          "prompt",
          await session.evaluate(prompt),
          reference.forward(prompt, 0, { allLogits: true }),
        );
        for (const token of [5, 300, 17]) {
          const pos = session.position;
          compare(
            `decode at ${pos}`,
            await session.evaluate([token]),
            reference.forward([token], pos),
          );
        }
      } finally {
        session.close();
      }
    },
  });
}
