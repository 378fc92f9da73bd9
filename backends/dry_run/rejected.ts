/**
 * What a simulated kernel part throws when the real tool or kernel would refuse an input.
 *
 * @module
 */

/** A refusal, with the index of the rendered input line it concerns. */
export class Rejected extends Error {
  /** Builds the refusal; `lineIndex` is 0-based within the operation's rendered lines. */
  constructor(message: string, readonly lineIndex = 0) {
    super(message);
    this.name = "Rejected";
  }
}
