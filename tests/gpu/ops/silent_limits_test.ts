import assert from "node:assert/strict";
import { LimitError } from "../../../src/errors.ts";
import {
  checkBindable,
  checkLoopBudget,
  LOOP_ITERATION_LIMIT,
} from "../../../src/gpu/ops/silent_limits.ts";

Deno.test("checkLoopBudget() accepts 65,535 iterations and refuses one more", () => {
  assert.equal(LOOP_ITERATION_LIMIT, 65535);
  checkLoopBudget("argmax", "16776960 logits", 65535);
  assert.throws(
    () => checkLoopBudget("argmax", "16777216 logits", 65536),
    (e: unknown) =>
      e instanceof LimitError &&
      e.message.startsWith("Cannot run argmax: 16777216 logits take 65536 loop iterations"),
  );
});

Deno.test("checkBindable() refuses a buffer one byte over the binding limit", () => {
  const device = { limits: { maxStorageBufferBindingSize: 1024 } } as unknown as GPUDevice;
  checkBindable(device, "add", `buffer "a"`, { size: 1024 } as GPUBuffer);
  assert.throws(
    () => checkBindable(device, "add", `buffer "a"`, { size: 1028 } as GPUBuffer),
    (e: unknown) =>
      e instanceof LimitError &&
      e.message === `Cannot run add: buffer "a" holds 1028 bytes, more than the adapter's ` +
          "storage binding limit of 1024 bytes",
  );
});
