import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test("every kernel file is in main.ts's static module graph, so deno compile embeds it", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", new URL("deno.json", ROOT).pathname, "main.ts"],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const inGraph = new Set(graph.modules.map((m) => m.specifier));
  const kernels: string[] = [];
  for await (const entry of Deno.readDir(new URL("kernels/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".wgsl")) kernels.push(entry.name);
  }
  assert.ok(kernels.length > 0, "kernels/ holds no .wgsl file");
  const missing = kernels.filter((k) => !inGraph.has(new URL(`kernels/${k}`, ROOT).href));
  assert.deepEqual(missing, [], `not reachable from main.ts: ${missing.join(", ")}`);
});
