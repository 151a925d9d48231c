import assert from "node:assert/strict";
import {
  dispatchSteps,
  gridFor,
  MAX_GROUPS_PER_DIM,
  opLabel,
  requireGroupCount,
  requireHeadLayout,
} from "../../../src/gpu/ops/op_support.ts";

Deno.test("gridFor() covers the workgroups within the per-dimension limit", () => {
  for (const groups of [1, 100, MAX_GROUPS_PER_DIM, MAX_GROUPS_PER_DIM + 1, 200000]) {
    const [x, y] = gridFor(groups);
    assert.ok(x <= MAX_GROUPS_PER_DIM && x * y >= groups && x * (y - 1) < groups, `${groups}`);
  }
});

Deno.test("gridFor() keeps small counts 1-D and folds large ones within the limit", () => {
  assert.deepEqual(gridFor(1), [1, 1]);
  assert.deepEqual(gridFor(65535), [65535, 1]);
  for (const count of [65536, 131071, 1_000_000]) {
    const [x, y] = gridFor(count);
    assert.ok(x <= 65535 && y <= 65535 && x * y >= count && x * (y - 1) < count, `${count}`);
  }
  assert.deepEqual(gridFor(10, 4), [4, 3]);
});

Deno.test("opLabel() appends the call site after a colon only when there is one", () => {
  assert.equal(opLabel("rms_norm", "blk.0.attn_norm"), "rms_norm:blk.0.attn_norm");
  assert.equal(opLabel("rms_norm"), "rms_norm");
  assert.equal(opLabel("rms_norm", ""), "rms_norm");
});

Deno.test("requireGroupCount() accepts 1 to 65535 and names the count otherwise", () => {
  requireGroupCount("rope", "tokens", 1);
  requireGroupCount("rope", "tokens", MAX_GROUPS_PER_DIM);
  assert.throws(
    () => requireGroupCount("rope", "tokens", 0),
    { name: "RangeError", message: "Cannot run rope: 0 tokens, expected 1 to 65535" },
  );
  assert.throws(
    () => requireGroupCount("rms_norm", "rows", 65536),
    { name: "RangeError", message: "Cannot run rms_norm: 65536 rows, expected 1 to 65535" },
  );
});

Deno.test("requireHeadLayout() rejects ungrouped heads and head sizes not a multiple of 4", () => {
  requireHeadLayout("attention_decode", 8, 4, 64);
  assert.throws(
    () => requireHeadLayout("attention_decode", 6, 4, 64),
    /Cannot run attention_decode: 6 query heads do not group over 4 KV heads/,
  );
  assert.throws(
    () => requireHeadLayout("kv_column_sums", 4, 0, 64),
    /4 query heads do not group over 0 KV heads/,
  );
  assert.throws(
    () => requireHeadLayout("kv_column_sums", 4, 2, 6),
    /Cannot run kv_column_sums: head size 6 is not a multiple of 4/,
  );
});

Deno.test("dispatchSteps() records each step and sets a pipeline only when it changes", () => {
  const [a, b] = [{ label: "a" }, { label: "b" }] as unknown as GPUComputePipeline[];
  const [g1, g2, g3] = [1, 2, 3].map((i) => ({ label: `g${i}` })) as unknown as GPUBindGroup[];
  const calls: string[] = [];
  const pass = {
    setPipeline: (p: { label: string }) => calls.push(`pipeline ${p.label}`),
    setBindGroup: (i: number, g: { label: string }) => calls.push(`group ${i} ${g.label}`),
    dispatchWorkgroups: (...grid: number[]) => calls.push(`dispatch ${grid.join(",")}`),
  } as unknown as GPUComputePassEncoder;
  const dispatch = dispatchSteps([
    { pipeline: a!, bindGroup: g1!, grid: [4] },
    { pipeline: a!, bindGroup: g2!, grid: [5, 2] },
    { pipeline: b!, bindGroup: g3!, grid: [1, 2, 3] },
  ]);
  dispatch.encode(pass);
  dispatch.encode(pass);
  const once = [
    "pipeline a",
    "group 0 g1",
    "dispatch 4,1,1",
    "group 0 g2",
    "dispatch 5,2,1",
    "pipeline b",
    "group 0 g3",
    "dispatch 1,2,3",
  ];
  assert.deepEqual(calls, [...once, ...once]);
});
