/**
 * `d2o` as main.ts runs it, then its own peak RSS (VmHWM, kB) and CPU time
 * (user + system, ms) as `rssKb cpuMs` in the file `D2O_RSS_FILE` names:
 * exact figures for the fuzz test's bounds, however fast the child exits and
 * however busy the machine is.
 *
 * @module
 */

import { runCli } from "../../src/cli/program.ts";

const code = await runCli(Deno.args);
const file = Deno.env.get("D2O_RSS_FILE");
if (file) {
  const status = Deno.readTextFileSync(`/proc/${Deno.pid}/status`);
  const rssKb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? "0";
  // /proc/PID/stat: fields 14 and 15 (after the parenthesised name) are utime and stime in ticks.
  const stat = Deno.readTextFileSync(`/proc/${Deno.pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  Deno.writeTextFileSync(file, `${rssKb} ${ticks * 10}`); // USER_HZ is 100 on Linux
}
Deno.exit(code);
