/**
 * Turns a rule as kube-proxy writes it (and as its tests expect it, e.g.
 * `-A KUBE-SVC-X -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ`)
 * into the form `iptables-save` prints it back in, which is the form this project's proxier
 * writes: `-s`/`-d` (with a prefix length) and `-p` first, then the matches in order, the
 * `-m recent` and REJECT defaults spelled out, `--probability` as the kernel stores it, and
 * `--or-mark`/`--xor-mark` as `--set-xmark`. The namespace test holds this converter to the
 * real `iptables-save`.
 *
 * @module
 */

import { ruleWords } from "../../src/render/iptables.ts";
import { savedProbability } from "../../src/iptables_proxier/rule_text.ts";

function hostNet(address: string): string {
  if (address.includes("/")) return address;
  return address.includes(":") ? `${address}/128` : `${address}/32`;
}

function quote(word: string): string {
  return word.startsWith('"') ? word : `"${word}"`;
}

function recent(options: string[]): string[] {
  const name = options[options.indexOf("--name") + 1];
  const rest = options.filter((w, i) => w !== "--name" && options[i - 1] !== "--name");
  return [...rest, "--name", name, "--mask", "255.255.255.255", "--rsource"];
}

function module(name: string, options: string[]): string[] {
  if (name === "comment") return ["-m", "comment", "--comment", quote(options[1])];
  if (name === "recent") return ["-m", "recent", ...recent(options)];
  if (name === "statistic") {
    const at = options.indexOf("--probability");
    const out = [...options];
    if (at >= 0) out[at + 1] = savedProbability(options[at + 1]);
    return ["-m", "statistic", ...out];
  }
  return ["-m", name, ...options];
}

function target(words: string[]): string[] {
  const [name, ...args] = words;
  if (name === "REJECT" && args.length === 0) {
    return ["-j", "REJECT", "--reject-with", "icmp-port-unreachable"];
  }
  if (name === "MARK" && args[0] === "--or-mark") {
    return ["-j", "MARK", "--set-xmark", `${args[1]}/${args[1]}`];
  }
  if (name === "MARK" && args[0] === "--xor-mark") {
    return ["-j", "MARK", "--set-xmark", `${args[1]}/0x0`];
  }
  return ["-j", ...words];
}

/** `-A CHAIN rule` in kube-proxy's form -> `[CHAIN, rule in iptables-save form]`. */
export function toSavedForm(line: string): [string, string] {
  const words = ruleWords(line);
  if (words[0] !== "-A") throw new Error(`not an -A line: ${line}`);
  const chain = words[1];
  const global: Record<string, string> = {};
  const modules: string[][] = [];
  let jump: string[] = [];
  let negate = false;
  for (let i = 2; i < words.length; i++) {
    const w = words[i];
    if (w === "!") {
      negate = true;
      continue;
    }
    if (w === "-s" || w === "-d" || w === "-p") {
      const value = w === "-p" ? words[++i] : hostNet(words[++i]);
      global[w] = `${negate ? "! " : ""}${w} ${value}`;
    } else if (w === "-m") {
      modules.push([words[++i]]);
    } else if (w === "-j") {
      jump = target(words.slice(i + 1));
      break;
    } else {
      modules[modules.length - 1].push(...(negate ? ["!", w] : [w]));
    }
    negate = false;
  }
  const parts = [global["-s"], global["-d"], global["-p"]].filter((p) => p !== undefined);
  for (const [name, ...options] of modules) parts.push(module(name, options).join(" "));
  if (jump.length > 0) parts.push(jump.join(" "));
  return [chain, parts.join(" ")];
}

/** The rules of a kube-proxy restore text (`*table` ... `COMMIT`), per table and chain. */
export function chainsOf(text: string): Map<string, Map<string, string[]>> {
  const tables = new Map<string, Map<string, string[]>>();
  let table = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("*")) tables.set(line.slice(1), table = new Map());
    else if (line.startsWith(":")) table.set(line.slice(1).split(" ")[0], []);
    else if (line.startsWith("-A ")) {
      const [chain, rule] = toSavedForm(line);
      (table.get(chain) ?? table.set(chain, []).get(chain)!).push(rule);
    }
  }
  return tables;
}
