/**
 * A tiny datadriven file format, after cockroachdb/datadriven as etcd-io/raft uses it:
 *
 *     # prose: comment lines start with '#'; the first ones are the file's header
 *     command arg key=value key=(a,b,c)
 *     another-command ...
 *     ----
 *     expected output, one or more lines, never blank
 *
 * A blank line ends a block. A block with no output shows "ok".
 */

export interface Command {
  readonly name: string;
  /** Bare words after the name, in order. */
  readonly positional: readonly string[];
  /** key=value pairs; a value in parentheses is a list: key=(1,2,3). */
  readonly named: ReadonlyMap<string, string>;
  /** 1-based line in the file. */
  readonly line: number;
  readonly text: string;
}

export interface Block {
  /** Comment lines before the commands, kept as written. */
  readonly comments: readonly string[];
  readonly commands: readonly Command[];
  readonly expected: readonly string[];
  /** Line of the first command. */
  readonly line: number;
}

export function parseCommand(text: string, line: number): Command {
  const tokens = text.trim().split(/\s+/);
  const [name, ...rest] = tokens;
  if (name === undefined || name === "") throw new Error(`line ${line}: empty command`);
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const token of rest) {
    const eq = token.indexOf("=");
    if (eq > 0) named.set(token.slice(0, eq), token.slice(eq + 1));
    else positional.push(token);
  }
  return { name, positional, named, line, text: text.trim() };
}

/** "(1,2,3)" or "1" to a list of words; "()" is empty. */
export function parseList(value: string): string[] {
  const inner = value.startsWith("(") && value.endsWith(")") ? value.slice(1, -1) : value;
  return inner
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export function parseFile(text: string, file: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  let k = 0;
  while (k < lines.length) {
    const comments: string[] = [];
    while (k < lines.length && (lines[k]!.trim() === "" || lines[k]!.startsWith("#"))) {
      // Blank lines after a comment are kept (one of each run), so prose stays as written.
      if (lines[k]!.startsWith("#")) comments.push(lines[k]!);
      else if (comments.length > 0 && comments.at(-1) !== "") comments.push("");
      k++;
    }
    if (k >= lines.length) {
      while (comments.at(-1) === "") comments.pop();
      if (comments.length > 0) blocks.push({ comments, commands: [], expected: [], line: k });
      break;
    }
    const commands: Command[] = [];
    const line = k + 1;
    while (k < lines.length && lines[k] !== "----") {
      if (lines[k]!.trim() === "") throw new Error(`${file}:${k + 1}: a block needs "----"`);
      commands.push(parseCommand(lines[k]!, k + 1));
      k++;
    }
    if (k >= lines.length) throw new Error(`${file}:${line}: a block needs "----"`);
    k++; // "----"
    const expected: string[] = [];
    while (k < lines.length && lines[k]!.trim() !== "") expected.push(lines[k++]!);
    blocks.push({ comments, commands, expected, line });
  }
  return blocks;
}

/** The file again, with each block's output replaced by `outputs[i]` (rewrite mode). */
export function renderFile(blocks: readonly Block[], outputs: readonly string[][]): string {
  const parts: string[] = [];
  blocks.forEach((block, i) => {
    const lines = [...block.comments];
    if (block.commands.length > 0) {
      lines.push(...block.commands.map((c) => c.text), "----", ...(outputs[i] ?? []));
    }
    parts.push(lines.join("\n"));
  });
  return parts.join("\n\n") + "\n";
}
