import assert from "node:assert/strict";
import { UsageError } from "../../src/errors.ts";
import { JinjaChatTemplate, strftime } from "../../src/chat/template.ts";
import { sharedPath } from "../tokenizer/_shared.ts";

interface Case {
  template: string;
  conversation: number;
  add_generation_prompt: boolean;
  bos_token: string;
  eos_token: string;
  rendered: string | { error: string };
}

const expected = JSON.parse(Deno.readTextFileSync(sharedPath("templates/expected.json")));
const DATE = new Date(Date.UTC(2026, 0, 15));

for (const c of expected.cases as Case[]) {
  const name = `${c.template} conversation ${c.conversation}` +
    (c.add_generation_prompt ? " with generation prompt" : "");
  Deno.test(`chat template ${name} renders as transformers does`, () => {
    const template = new JinjaChatTemplate(
      Deno.readTextFileSync(sharedPath(`templates/${c.template}`)),
    );
    const render = () =>
      template.render(expected.conversations[c.conversation], {
        addGenerationPrompt: c.add_generation_prompt,
        bosToken: c.bos_token,
        eosToken: c.eos_token,
        date: DATE,
      });
    if (typeof c.rendered === "string") {
      assert.equal(render(), c.rendered);
    } else {
      const want = c.rendered.error;
      assert.throws(render, (e: Error) => e instanceof UsageError && e.message.includes(want));
    }
  });
}

Deno.test("strftime() formats the directives chat templates use", () => {
  assert.equal(strftime("%d %b %Y", DATE), "15 Jan 2026");
  assert.equal(strftime("%A, %B %d, %Y %%", DATE), "Thursday, January 15, 2026 %");
  assert.equal(strftime("%j %H:%M:%S %y %m %a %q", DATE), "015 00:00:00 26 01 Thu %q");
});

Deno.test("a template that does not parse is a usage error", () => {
  assert.throws(() => new JinjaChatTemplate("{% for %}"), UsageError);
});
