// deb822 paragraphs: control files and Packages/Release stanzas (Debian policy §5.1, deb822(5)).
//
// A value is held exactly as it follows `Field: ` in the file: the first line, then each
// continuation line with its leading space or tab, joined by "\n" (a Description is
// "synopsis\n extended\n .\n more"; a field with an empty first line, like Conffiles, starts
// with "\n"). Parsing is what dpkg-dev's Dpkg::Control (used by dpkg-scanpackages) reads,
// with these choices:
// - Trailing spaces and tabs are stripped from every line, as Dpkg::Control does (dpkg's C
//   parser strips them only at the end of a value).
// - `#` comment lines are skipped anywhere (Dpkg::Control; dpkg-deb's C parser rejects them).
// - A line of only spaces and tabs separates paragraphs (deb822(5); dpkg's C parser rejects it).
// - Stricter than both: a field name must follow policy (no space before the colon), a value
//   must not be empty (an empty value cannot be rendered back), and control characters but tab,
//   CR included, are rejected: dpkg-deb keeps the CR of CRLF files inside multi-line values.

export interface Field {
  readonly name: string;
  readonly value: string;
}

/** Fields in file order, names as spelled. */
export type Paragraph = readonly Field[];

export class ControlError extends Error {
  override readonly name = "ControlError";

  constructor(
    readonly detail: string,
    /** Where: the file or stream read, with the 1-based line, when parsing. */
    readonly source?: string,
    readonly line?: number,
  ) {
    super(
      source === undefined ? detail : `${source}${line === undefined ? "" : `:${line}`}: ${detail}`,
    );
  }
}

// Policy §5.1: US-ASCII 33-126 but the colon, not starting with # or -.
const FIELD_NAME = /^[!"$-,.-9;-~][!-9;-~]*$/;
const BLANK = /^[ \t]*$/;

/** The first control character but tab and newline, if any. */
function controlChar(s: string): string | undefined {
  for (const c of s) {
    const code = c.charCodeAt(0);
    if ((code < 32 && c !== "\t" && c !== "\n") || code === 127) return c;
  }
  return undefined;
}

function nameProblem(name: string): string | undefined {
  if (FIELD_NAME.test(name)) return undefined;
  return `invalid field name ${JSON.stringify(name)}: only US-ASCII 33-126 but ':', not starting with '#' or '-'`;
}

const describeChar = (c: string): string =>
  `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}${c === "\r" ? " (CR: DOS line endings?)" : ""}`;

interface Open {
  name: string;
  value: string;
  line: number;
}

/** Parses paragraphs separated by blank lines; throws ControlError naming source and line. */
export function parseParagraphs(text: string, source = "<control>"): Paragraph[] {
  return parseWithLines(text, source).map((p) => p.fields);
}

function parseWithLines(text: string, source: string): { fields: Field[]; line: number }[] {
  const paragraphs: { fields: Field[]; line: number }[] = [];
  let fields: Field[] = [];
  let seen = new Set<string>();
  let open: Open | undefined;
  let start = 0;
  const fail = (line: number, detail: string): never => {
    throw new ControlError(detail, source, line);
  };
  const close = () => {
    if (open === undefined) return;
    if (open.value === "") fail(open.line, `field ${open.name} has an empty value`);
    fields.push({ name: open.name, value: open.value });
    open = undefined;
  };
  const endParagraph = () => {
    close();
    if (fields.length > 0) paragraphs.push({ fields, line: start });
    fields = [];
    seen = new Set();
  };

  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop(); // the final newline ends the last line
  for (const [index, raw] of lines.entries()) {
    const n = index + 1;
    const bad = controlChar(raw);
    if (bad !== undefined) fail(n, `control character ${describeChar(bad)}`);
    const line = raw.replace(/[ \t]+$/, "");
    if (line === "") {
      endParagraph();
    } else if (line.startsWith("#")) {
      // a comment
    } else if (line.startsWith(" ") || line.startsWith("\t")) {
      if (open === undefined) fail(n, "continuation line without a field before it");
      else open.value += `\n${line}`;
    } else {
      const colon = line.indexOf(":");
      if (colon < 0)
        fail(n, `line without a colon: ${JSON.stringify(line)} (expected 'Field: value')`);
      const name = line.slice(0, colon);
      const problem = nameProblem(name);
      if (problem) fail(n, problem);
      const key = name.toLowerCase();
      if (seen.has(key)) fail(n, `duplicate field ${name}`);
      seen.add(key);
      close();
      if (fields.length === 0) start = n;
      open = { name, value: line.slice(colon + 1).replace(/^[ \t]+/, ""), line: n };
    }
  }
  endParagraph();
  return paragraphs;
}

/** Parses text that must hold exactly one paragraph. */
export function parseParagraph(text: string, source = "<control>"): Paragraph {
  const paragraphs = parseWithLines(text, source);
  const [first, second] = paragraphs;
  if (first === undefined) throw new ControlError("no paragraph (no fields)", source);
  if (second !== undefined) {
    throw new ControlError(
      "a second paragraph starts here; expected exactly one",
      source,
      second.line,
    );
  }
  return first.fields;
}

/** The value of a field, by name in any case. */
export function getField(paragraph: Paragraph, name: string): string | undefined {
  const key = name.toLowerCase();
  return paragraph.find((f) => f.name.toLowerCase() === key)?.value;
}

/** Why a value would not parse back to itself (so cannot be rendered), or undefined. */
export function valueProblem(value: string): string | undefined {
  if (value === "") return "is empty";
  const bad = controlChar(value);
  if (bad !== undefined) return `contains control character ${describeChar(bad)}`;
  const [first = "", ...rest] = value.split("\n");
  if (/^[ \t]|[ \t]$/.test(first)) return "has spaces or tabs around its first line";
  for (const [i, line] of rest.entries()) {
    const where = `continuation line ${i + 1} (${JSON.stringify(line)})`;
    if (!/^[ \t]/.test(line)) return `${where} must start with a space or tab`;
    if (BLANK.test(line)) return `${where} is blank (use " ." for an empty line)`;
    if (/[ \t]$/.test(line)) return `${where} has trailing spaces or tabs`;
  }
  return undefined;
}

/** Why a field (at `index` of its paragraph) cannot be rendered. */
export interface FieldProblem {
  readonly index: number;
  readonly name: string;
  readonly problem: string;
}

/**
 * Every reason renderParagraph would refuse the paragraph, field by field (invalid names,
 * duplicates in any case, values that would not parse back). Record validation reports these
 * (record/rendering.ts), so a valid record always renders.
 */
export function paragraphProblems(paragraph: Paragraph): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  for (const [index, { name, value }] of paragraph.entries()) {
    const problem = nameProblem(name);
    if (problem) problems.push({ index, name, problem });
    else if (seen.has(name.toLowerCase()))
      problems.push({ index, name, problem: `duplicate field ${name}` });
    seen.add(name.toLowerCase());
    const bad = valueProblem(value);
    if (bad) problems.push({ index, name, problem: `value of ${name} ${bad}` });
  }
  return problems;
}

/** `Name: value` lines ending with "\n"; throws ControlError for what would not parse back. */
export function renderParagraph(paragraph: Paragraph): string {
  if (paragraph.length === 0) throw new ControlError("cannot render a paragraph with no fields");
  const [first] = paragraphProblems(paragraph);
  if (first !== undefined) throw new ControlError(first.problem);
  let out = "";
  for (const { name, value } of paragraph) {
    out += `${name}:${value.startsWith("\n") ? "" : " "}${value}\n`;
  }
  return out;
}

/** Paragraphs separated by one blank line. */
export function renderParagraphs(paragraphs: readonly Paragraph[]): string {
  return paragraphs.map(renderParagraph).join("\n");
}
