import assert from "node:assert/strict";
import { UsageError } from "../../src/errors.ts";
import { chatDate, chatMessages, wantsChat } from "../../src/chat/prompt.ts";
import { parseChatMessages } from "../../src/chat/messages.ts";

Deno.test("chatDate() takes real YYYY-MM-DD dates only, and today by default", () => {
  assert.equal(chatDate("2026-01-15").toISOString(), "2026-01-15T00:00:00.000Z");
  for (const bad of ["2026-02-30", "2026-1-5", "15/01/2026", ""]) {
    assert.throws(() => chatDate(bad), UsageError);
  }
  const now = new Date(2025, 6, 4, 23, 59);
  assert.equal(chatDate(undefined, now).toISOString(), "2025-07-04T00:00:00.000Z");
});

Deno.test("chatMessages() puts --system first and the prompt last", async () => {
  assert.deepEqual(await chatMessages({ chat: true, system: "S" }, "Hi"), [
    { role: "system", content: "S" },
    { role: "user", content: "Hi" },
  ]);
  const dir = await Deno.makeTempDir();
  const file = `${dir}/m.json`;
  await Deno.writeTextFile(
    file,
    '[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]',
  );
  assert.deepEqual((await chatMessages({ chatMessages: file }, "")).map((m) => m.content), [
    "a",
    "b",
  ]);
  assert.deepEqual((await chatMessages({ chatMessages: file }, "c")).map((m) => m.content), [
    "a",
    "b",
    "c",
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseChatMessages() rejects anything but a list of {role, content}", () => {
  for (const bad of ["{}", "[]", '[{"role":"user"}]', "[1]", "not json"]) {
    assert.throws(() => parseChatMessages(bad, "m.json"), UsageError);
  }
});

Deno.test("wantsChat() is on with any chat flag", () => {
  assert.equal(wantsChat({}), false);
  assert.equal(wantsChat({ chatDate: "2026-01-01" }), false);
  for (
    const f of [{ chat: true }, { system: "" }, { chatTemplate: "chatml" }, { chatMessages: "x" }]
  ) {
    assert.equal(wantsChat(f), true);
  }
});
