/**
 * The README's policy table, made from the registry: one row per policy with
 * its summary, where its scores come from (the score source's row), what it
 * does while decoding, whether it merges, its default sinks and its own
 * flags. A test keeps the README's copy equal to this.
 *
 * @module
 */

import { resolveKvOptions } from "./options.ts";
import type { KvGpuSpec } from "./policy.ts";
import { KV_POLICIES } from "./registry.ts";
import { KV_SCORE_SOURCES } from "./score_source.ts";

const DECODE: Readonly<Record<KvGpuSpec["decode"], string>> = {
  evict: "evicts one token per KV head and step",
  grow: "grows from the compressed prompt (`--kv-decode evict`: H2O's rule)",
  none: "holds every token",
};

/**
 * The policy table in Markdown.
 *
 * @returns the table, one line per row
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kvPolicyTable } from "./policy_table.ts";
 * import { KV_POLICIES } from "./registry.ts";
 * const lines = kvPolicyTable().split("\n");
 * assert.match(lines[0]!, /^\| policy +\| what it keeps +\| prefill scores +\| while decoding +\| merges +\|$/);
 * assert.equal(lines.length, 2 + KV_POLICIES.length); // header, rule, one row per policy
 * assert.match(lines[2]!, /^\| `full` +\| no compression: every token stays +\| — +\| holds every token /);
 * ```
 */
export function kvPolicyTable(): string {
  const header = ["policy", "what it keeps", "prefill scores", "while decoding", "merges"];
  const rows = KV_POLICIES.map((entry) => {
    const spec = entry.create(resolveKvOptions({ kv: entry.name })).spec;
    const notes = [
      ...(spec.decode === "none" ? [] : [`${entry.defaults.sinks} sinks`]),
      ...entry.flags.map((f) => `\`${f.flag.split(" ")[0]}\``),
    ];
    return [
      `\`${entry.name}\``,
      notes.length > 0 ? `${entry.summary} (${notes.join(", ")})` : entry.summary,
      KV_SCORE_SOURCES[spec.score].summary,
      DECODE[spec.decode],
      spec.merge ? "into the nearest kept key when the similarity passes τ" : "—",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
