import assert from "node:assert/strict";
import {
  isKvProjection,
  kvRepeat,
  repeatHeadRows,
  repeatKvHParams,
} from "../../src/model/repeat_kv.ts";
import { openModel } from "../../src/model/model_file.ts";
import { ReferenceModel } from "../../src/reference/forward.ts";
import { loadReferenceWeights, repeatKvWeights } from "../../src/reference/model_weights.ts";

const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;

Deno.test("repeatHeadRows() repeats each head's block of rows in place order", () => {
  const rows = new Uint8Array([1, 2, 3, 4, 5, 6]); // 3 heads of one 2-byte row
  assert.deepEqual([...repeatHeadRows(rows, 2, 1, 2)], [1, 2, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6]);
  assert.deepEqual([...repeatHeadRows(rows, 1, 3, 1)], [...rows]);
  assert.throws(() => repeatHeadRows(rows, 4, 1, 2), RangeError);
});

Deno.test("kvRepeat() and isKvProjection() pick the group and the K/V tensors", () => {
  assert.equal(kvRepeat({ nHead: 8, nHeadKv: 4 }, "query-head"), 2);
  assert.equal(kvRepeat({ nHead: 8, nHeadKv: 4 }, "kv-head"), 1);
  assert.deepEqual(
    ["blk.0.attn_k.weight", "blk.0.attn_v.bias", "blk.0.attn_q.weight", "blk.0.attn_output.weight"]
      .map(isKvProjection),
    [true, true, false, false],
  );
});

Deno.test("repeated K/V weights give the reference forward pass the same logits with n_head KV heads", async () => {
  const model = await openModel(STORIES);
  const weights = await loadReferenceWeights(model);
  model.close();
  const repeated = repeatKvWeights(weights, 2);
  assert.deepEqual(repeated.hparams, repeatKvHParams(weights.hparams, 2));
  assert.equal(repeated.hparams.nHeadKv, weights.hparams.nHead);
  assert.equal(repeated.layers[0]!.wk.rows, 2 * weights.layers[0]!.wk.rows);
  const tokens = [1, 403, 407, 261, 378, 432, 383, 286];
  const a = new ReferenceModel(weights).forward(tokens, 0);
  const b = new ReferenceModel(repeated).forward(tokens, 0);
  assert.deepEqual(b, a);
});
