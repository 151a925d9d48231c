import assert from "node:assert/strict";
import { kvPolicyTable } from "../../src/kv/policy_table.ts";
import { KV_POLICIES } from "../../src/kv/registry.ts";

Deno.test("the README's policy table is the one the registry makes", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const table = kvPolicyTable();
  assert.ok(
    readme.includes(table),
    "README.md's policy table is stale: paste the output of\n" +
      `deno eval 'import { kvPolicyTable } from "./src/kv/policy_table.ts"; ` +
      `console.log(kvPolicyTable())'\n\n${table}`,
  );
  for (const p of KV_POLICIES) assert.ok(table.includes(`| \`${p.name}\``), p.name);
});
