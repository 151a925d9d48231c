import assert from "node:assert/strict";
import { firstInvalidUtf8 } from "../../src/cli/utf8_text.ts";
import { runD2o, sharedModel } from "./_run.ts";

const STORIES = sharedModel("stories260K.gguf");
const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(
    parts.flatMap((p) => typeof p === "string" ? [...new TextEncoder().encode(p)] : p),
  );

/** "Once upon a time\n" then "café" in Latin-1: 0xE9 at offset 20, line 2. */
const LATIN1 = bytes("Once upon a time\ncaf", [0xe9], "\n");

function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

async function withFile(content: Uint8Array, fn: (path: string) => Promise<void>) {
  const path = await Deno.makeTempFile({ prefix: "d2o-bytes-" });
  try {
    await Deno.writeFile(path, content);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("a prompt file that is not UTF-8 is refused with its line and byte offset, exit 3", async () => {
  await withFile(LATIN1, async (path) => {
    for (const sub of [["tokenize"], ["generate", "-n", "1"], ["compress-inspect"]]) {
      const r = await runD2o([...sub, "-m", STORIES, "-f", path]);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, "");
      assert.equal(
        oneLine(r.stderr),
        `d2o: Cannot read prompt file "${path}": line 2 is not UTF-8 (byte 0xe9 at offset 20); ` +
          "d2o reads text as UTF-8 and never replaces bytes: convert it first, " +
          "e.g. iconv -f LATIN1 -t UTF-8",
      );
    }
  });
});

Deno.test("a prompt on stdin that is not UTF-8 is refused, exit 3", async () => {
  const r = await runD2o(["tokenize", "-m", STORIES], LATIN1);
  assert.equal(r.code, 3, r.stderr);
  assert.match(
    oneLine(r.stderr),
    /^d2o: Cannot read the prompt from stdin: line 2 is not UTF-8 \(byte 0xe9 at offset 20\); /,
  );
});

Deno.test("a --prompts file that is not UTF-8 is refused naming its line, exit 3", async () => {
  await withFile(bytes("Once upon a time\nOne day\nThe ", [0xff, 0xfe], "cat\n"), async (path) => {
    const r = await runD2o(["generate", "-m", STORIES, "--prompts", path, "-n", "1"]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(
      oneLine(r.stderr),
      /^d2o: Cannot read prompts file ".*": line 3 is not UTF-8 \(byte 0xff at offset 29\); /,
    );
  });
});

Deno.test("profile --text that is not UTF-8 is refused, exit 3", async () => {
  await withFile(LATIN1, async (path) => {
    const r = await runD2o(["profile", "-m", STORIES, "-p", "0", "-n", "0", "--text", path]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(oneLine(r.stderr), /^d2o: Cannot read --text ".*": line 2 is not UTF-8/);
  });
});

Deno.test("UTF-8 files, with or without a byte-order mark, read as the same text as the argument", async () => {
  const text = "Once upon a time, a café served crème brûlée 🍮";
  const direct = await runD2o(["tokenize", "-m", STORIES, "--json", text]);
  assert.equal(direct.code, 0, direct.stderr);
  for (const content of [bytes(text), bytes([0xef, 0xbb, 0xbf], text)]) {
    await withFile(content, async (path) => {
      const r = await runD2o(["tokenize", "-m", STORIES, "--json", "-f", path]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), JSON.parse(direct.stdout));
    });
    const piped = await runD2o(["tokenize", "-m", STORIES, "--json"], content);
    assert.deepEqual(JSON.parse(piped.stdout), JSON.parse(direct.stdout));
  }
});

Deno.test("firstInvalidUtf8 finds the first ill-formed sequence (Unicode table 3-7)", () => {
  const cases: [number[], number][] = [
    [[0x41, 0x42], -1],
    [[0xc3, 0xa9], -1], // é
    [[0xe2, 0x82, 0xac], -1], // €
    [[0xf0, 0x9f, 0x8d, 0xae], -1], // 🍮
    [[0xf4, 0x8f, 0xbf, 0xbf], -1], // U+10FFFF
    [[0x41, 0x80], 1], // a lone continuation byte
    [[0xc0, 0x80], 0], // overlong NUL
    [[0xc1, 0xbf], 0], // overlong
    [[0xe0, 0x80, 0x80], 0], // overlong 3-byte
    [[0xed, 0xa0, 0x80], 0], // a surrogate (U+D800)
    [[0xf0, 0x80, 0x80, 0x80], 0], // overlong 4-byte
    [[0xf4, 0x90, 0x80, 0x80], 0], // past U+10FFFF
    [[0xf5, 0x80, 0x80, 0x80], 0],
    [[0x41, 0xe2, 0x82], 1], // cut short at the end
    [[0xe2, 0x41, 0x82], 0], // interrupted
    [[0x41, 0xff], 1],
  ];
  for (const [input, at] of cases) {
    assert.equal(firstInvalidUtf8(new Uint8Array(input)), at, JSON.stringify(input));
    // It agrees with the platform's strict decoder on whether the bytes are UTF-8.
    let valid = true;
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(input));
    } catch {
      valid = false;
    }
    assert.equal(valid, at === -1, JSON.stringify(input));
  }
});
