/**
 * The error the output parsers throw (`ipvsadm -Sn`, `ipvsadm -Ln`, `ipset save`,
 * `iptables-save`), naming the tool, the line and what was expected there.
 *
 * @module
 */

/** Thrown when a tool's output has a line the parser does not understand. */
export class ParseError extends Error {
  /** The command whose output was parsed, e.g. `ipvsadm -Sn`. */
  readonly tool: string;
  /** 1-based line number in the parsed text. */
  readonly lineNumber: number;
  /** The offending line. */
  readonly line: string;

  /** Builds the error; `expected` says what the line should have held. */
  constructor(tool: string, lineNumber: number, line: string, expected: string) {
    super(
      `Cannot parse line ${lineNumber} of '${tool}' output ${JSON.stringify(line)}: ` +
        `expected ${expected}`,
    );
    this.name = "ParseError";
    this.tool = tool;
    this.lineNumber = lineNumber;
    this.line = line;
  }
}

/** The non-empty lines of a tool's output, each with its 1-based line number. */
export function numberedLines(text: string): { line: string; lineNumber: number }[] {
  return text.split("\n")
    .map((line, i) => ({ line: line.replace(/\r$/, ""), lineNumber: i + 1 }))
    .filter(({ line }) => line.trim() !== "");
}
