/**
 * `profile -b` and `profile --kv-memory` on stories260K: the rows the flags
 * ask for, KV bytes that follow from the model's shape and the cache's
 * element type (worked out here from the shape, not from the code under
 * test), and the largest batch that fits a cap of two full caches for the
 * full cache and for h2o at 0.2. Both with an f32 and with an f16 cache: f16
 * halves every charge, so the same cap holds twice the sequences.
 */

import assert from "node:assert/strict";
import { runD2o } from "../cli/_run.ts";
import { gpuTestOptions } from "../_gpu.ts";

const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
// stories260K: 5 layers, 4 KV heads of 8 values: K and V of one token in one layer, f32 and f16.
const LAYERS = 5;
const TYPES = [["f32", 2 * 4 * 8 * 4], ["f16", 2 * 4 * 8 * 2]] as const;

interface Row {
  kv: string;
  budget: string;
  test: string;
  batch: number;
  aggregate: { mean: number };
  perSequence: { mean: number };
  kvBytes: number;
  kvCharge: number;
}

async function profile(type: string, ...args: string[]): Promise<Row[]> {
  const r = await runD2o([
    ...["profile", "-m", STORIES, "-r", "1", "-o", "json", "-ctk", type, "-ctv", type],
    ...args,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.kvTypes, { k: type, v: type });
  return report.rows;
}

for (const [type, TOKEN_BYTES] of TYPES) {
  Deno.test({
    name: `profile -b 1,3 reports aggregate and per-sequence decode speed of each batch (${type})`,
    ...gpuTestOptions,
    async fn() {
      const rows = await profile(
        type,
        "--kv",
        "full,h2o",
        "--kv-min",
        "4",
        "-p",
        "40",
        "-n",
        "4",
        "-b",
        "1,3",
      );
      assert.deepEqual(rows.map((r) => `${r.kv} ${r.test} ×${r.batch}`), [
        "full pp40+tg4 ×1",
        "full pp40+tg4 ×3",
        "h2o pp40+tg4 ×1",
        "h2o pp40+tg4 ×3",
      ]);
      for (const r of rows) {
        assert.ok(r.aggregate.mean > 0, `${r.kv} ×${r.batch}: speed`);
        // Every sequence decodes each step: aggregate = batch × per sequence.
        assert.ok(
          Math.abs(r.aggregate.mean - r.batch * r.perSequence.mean) < 1e-6 * r.aggregate.mean,
        );
        assert.equal(r.kvBytes, r.batch * r.kvCharge, `${r.kv} ×${r.batch}: KV bytes`);
      }
      // The full cache holds prompt + generation + 1 positions; h2o at 0.2 of 40 keeps 8 (+1 slot).
      assert.equal(rows[0]!.kvCharge, LAYERS * (40 + 4 + 1) * TOKEN_BYTES);
      assert.equal(rows[2]!.kvCharge, LAYERS * (8 + 1) * TOKEN_BYTES);
    },
  });
}

for (const [type, TOKEN_BYTES] of TYPES) {
  Deno.test({
    name: `profile --kv-memory runs the largest batch whose KV caches fit, per policy (${type})`,
    ...gpuTestOptions,
    async fn() {
      const full = LAYERS * (100 + 4 + 1) * TOKEN_BYTES;
      const h2o = LAYERS * (20 + 1) * TOKEN_BYTES;
      // Two full f32 caches: four f16 ones.
      const cap = 2 * LAYERS * (100 + 4 + 1) * TYPES[0][1];
      assert.equal(cap / full, type === "f32" ? 2 : 4);
      const rows = await profile(
        type,
        ...[
          "--kv",
          "full,h2o",
          "--kv-min",
          "4",
          "-p",
          "100",
          "-n",
          "4",
          "--kv-memory",
          String(cap),
        ],
      );
      assert.deepEqual(rows.map((r) => [r.kv, r.batch]), [["full", cap / full], [
        "h2o",
        Math.floor(cap / h2o),
      ]]);
      for (const r of rows) assert.ok(r.kvBytes <= cap, `${r.kv}: ${r.kvBytes} within the cap`);
      const md = await runD2o([
        ...["profile", "-m", STORIES, "-r", "1", "--kv", "full,h2o", "--kv-min", "4"],
        ...["-p", "100", "-n", "4", "--kv-memory", String(cap), "-o", "md", "-ctk", type],
        ...["-ctv", type],
      ]);
      assert.match(md.stdout, /\| vs full \|/);
      assert.match(md.stdout, new RegExp(`KV cache ${type};.*KV memory cap`));
    },
  });
}
