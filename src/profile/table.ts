/**
 * Renders rows of cells as an aligned plain-text table or a markdown table
 * (llama-bench's look: text columns left-aligned, figures right-aligned).
 *
 * @module
 */

/** One column: its header and alignment. */
export interface Column {
  /** Header text. */
  readonly header: string;
  /** Right-align figures. */
  readonly right?: boolean;
}

/**
 * Renders a table.
 *
 * @param columns headers and alignment
 * @param rows cells, one array per row (as many cells as columns)
 * @param style `table` (spaces, a dashed rule) or `md` (markdown pipes)
 * @returns the lines joined with newlines, ending with one
 * @throws {RangeError} when a row has the wrong number of cells
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderTable } from "./table.ts";
 * const md = renderTable([{ header: "test" }, { header: "t/s", right: true }], [["pp512", "12.5"]], "md");
 * assert.equal(md, "| test  |  t/s |\n| ----- | ---: |\n| pp512 | 12.5 |\n");
 * ```
 */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  style: "table" | "md",
): string {
  for (const [i, row] of rows.entries()) {
    if (row.length !== columns.length) {
      throw new RangeError(
        `Cannot render row ${i}: ${row.length} cells for ${columns.length} columns`,
      );
    }
  }
  const md = style === "md";
  const escape = (text: string) => md ? text.replaceAll("|", "\\|") : text;
  const headers = columns.map((c) => escape(c.header));
  const body = rows.map((r) => r.map(escape));
  const widths = headers.map((h, j) =>
    Math.max(md ? 3 : 1, width(h), ...body.map((r) => width(r[j]!)))
  );
  const pad = (text: string, j: number) => {
    const fill = " ".repeat(widths[j]! - width(text));
    return columns[j]!.right ? fill + text : text + fill;
  };
  const line = (cells: readonly string[]) =>
    md ? `| ${cells.map(pad).join(" | ")} |` : cells.map(pad).join("  ").trimEnd();
  const rule = md
    ? `| ${
      columns.map((c, j) => c.right ? "-".repeat(widths[j]! - 1) + ":" : "-".repeat(widths[j]!))
        .join(" | ")
    } |`
    : widths.map((w) => "-".repeat(w)).join("  ");
  return [line(headers), rule, ...body.map(line)].join("\n") + "\n";
}

/** Display width: code points (the tables hold no wide characters). */
function width(text: string): number {
  return [...text].length;
}
