import assert from "node:assert/strict";
import { renderTable } from "../../src/profile/table.ts";

const columns = [{ header: "test" }, { header: "t/s", right: true }];

Deno.test("renderTable() aligns a markdown table, right-aligning figures", () => {
  const md = renderTable(columns, [["pp512", "12.50"], ["tg128 @ d1024", "3.25"]], "md");
  assert.equal(
    md,
    [
      "| test          |   t/s |",
      "| ------------- | ----: |",
      "| pp512         | 12.50 |",
      "| tg128 @ d1024 |  3.25 |",
      "",
    ].join("\n"),
  );
});

Deno.test("renderTable() draws a plain table with a dashed rule and escapes pipes in markdown", () => {
  const table = renderTable(columns, [["pp8", "1.5"]], "table");
  assert.equal(table, "test  t/s\n----  ---\npp8   1.5\n");
  const md = renderTable([{ header: "a|b" }], [["x"]], "md");
  assert.equal(md.split("\n")[0], "| a\\|b |");
});

Deno.test("renderTable() rejects a row with the wrong number of cells", () => {
  assert.throws(() => renderTable(columns, [["only one"]], "md"), RangeError);
});
