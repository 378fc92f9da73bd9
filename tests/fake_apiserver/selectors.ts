/**
 * Label and field selectors as the API server parses them from `labelSelector=` and
 * `fieldSelector=`: a comma-separated AND of requirements. Labels: `key`, `!key`, `key=value`,
 * `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`. Fields: `metadata.name` and
 * `metadata.namespace` with `=`, `==` or `!=`.
 *
 * @module
 */

/** A parsed selector: true when an object's labels (or fields) satisfy every requirement. */
export type Matcher = (obj: KubeObjectLike) => boolean;

/** The part of an object selectors read. */
export interface KubeObjectLike {
  /** The object's name, namespace and labels. */
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
}

/** A selector the API server would reject: it answers 400 BadRequest with this message. */
export class SelectorError extends Error {
  /** Makes the error; `message` is what the 400 Status carries. */
  constructor(message: string) {
    super(message);
    this.name = "SelectorError";
  }
}

/** Splits on commas outside parentheses: `a in (x,y),b` is two requirements. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const SET_RE = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\(([^()]*)\)$`);
const EQ_RE = new RegExp(String.raw`^(${KEY})\s*(==|!=|=)\s*(${VALUE})$`);
const EXISTS_RE = new RegExp(String.raw`^(!?)\s*(${KEY})$`);

type LabelTest = (labels: Readonly<Record<string, string>>) => boolean;

function labelRequirement(req: string): LabelTest {
  const set = SET_RE.exec(req);
  if (set) {
    const [key, op, list] = [set[1], set[3], set[4]];
    const values = new Set(list.split(",").map((v) => v.trim()));
    if (op === "in") return (l) => Object.hasOwn(l, key) && values.has(l[key]);
    return (l) => !Object.hasOwn(l, key) || !values.has(l[key]);
  }
  const eq = EQ_RE.exec(req);
  if (eq) {
    const [key, op, value] = [eq[1], eq[3], eq[4]];
    if (op === "!=") return (l) => l[key] !== value || !Object.hasOwn(l, key);
    return (l) => Object.hasOwn(l, key) && l[key] === value;
  }
  const exists = EXISTS_RE.exec(req);
  if (exists) {
    const key = exists[2];
    if (exists[1] === "!") return (l) => !Object.hasOwn(l, key);
    return (l) => Object.hasOwn(l, key);
  }
  throw new SelectorError(
    `unable to parse requirement: found '${req}', expected: a valid label selector`,
  );
}

/**
 * Parses a `labelSelector` value; an empty or absent one matches everything.
 * Throws {@link SelectorError} for text the API server would reject.
 */
export function parseLabelSelector(text: string | null | undefined): Matcher {
  if (!text) return () => true;
  const tests = splitRequirements(text).map(labelRequirement);
  return (obj) => {
    const labels = obj.metadata?.labels ?? {};
    return tests.every((t) => t(labels));
  };
}

const FIELD_RE = /^([A-Za-z.]+)\s*(==|!=|=)\s*(.*)$/;
const FIELDS: Readonly<Record<string, (obj: KubeObjectLike) => string>> = {
  "metadata.name": (o) => o.metadata?.name ?? "",
  "metadata.namespace": (o) => o.metadata?.namespace ?? "",
};

/**
 * Parses a `fieldSelector` value (`metadata.name` and `metadata.namespace` only, the fields every
 * resource supports); an empty or absent one matches everything.
 * Throws {@link SelectorError} for an unknown field, as the API server does.
 */
export function parseFieldSelector(text: string | null | undefined, kind = "object"): Matcher {
  if (!text) return () => true;
  const tests = splitRequirements(text).map((req) => {
    const m = FIELD_RE.exec(req);
    if (!m) throw new SelectorError(`invalid selector: '${req}'; can't understand '${req}'`);
    const read = FIELDS[m[1]];
    if (!read) {
      throw new SelectorError(`field label not supported: ${m[1]} (for ${kind})`);
    }
    const [op, value] = [m[2], m[3].trim()];
    return op === "!="
      ? (o: KubeObjectLike) => read(o) !== value
      : (o: KubeObjectLike) => read(o) === value;
  });
  return (obj) => tests.every((t) => t(obj));
}
