import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

/** The house rule (STYLE.md, issue 11): files and functions past these are split. */
export const fileLinesMax = 400;
export const functionLinesMax = 70;

export interface Oversize {
  /** Path from the repository root, with forward slashes. */
  readonly file: string;
  /** The function's name as `Class.method` (or `<file>` for the file itself). */
  readonly name: string;
  readonly lines: number;
}

/** Every .ts file under `dirs` (relative to `root`), sorted: the production code of a room. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) files.push(path);
    }
  };
  for (const dir of dirs) walk(join(root, dir));
  return files.map((file) => relative(root, file).split("\\").join("/")).sort();
}

/** Lines of a file, as an editor numbers them (a final newline does not start a line). */
export function fileLines(text: string): number {
  if (text.length === 0) return 0;
  const lines = text.split("\n").length;
  return text.endsWith("\n") ? lines - 1 : lines;
}

/**
 * Every function-like node of `text` (declarations, methods, accessors, constructors, arrows,
 * function expressions) with its length in lines, from its first token (not its doc comment)
 * to its last. A nested function counts inside its parent too.
 */
export function functionLengths(file: string, text: string): Oversize[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: Oversize[] = [];
  const visit = (node: ts.Node, owner: string): void => {
    let inner = owner;
    if (isFunctionLike(node)) {
      const name = functionName(node, owner);
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ file, name, lines: last - first + 1 });
      inner = name;
    } else if (ts.isClassLike(node)) {
      inner = node.name?.text ?? "<class>";
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(source, "");
  return found;
}

function isFunctionLike(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node) ||
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node)
  );
}

function functionName(node: ts.FunctionLikeDeclaration, owner: string): string {
  const prefix = owner === "" ? "" : `${owner}.`;
  if (ts.isConstructorDeclaration(node)) return `${prefix}constructor`;
  if (node.name !== undefined && !ts.isComputedPropertyName(node.name))
    return `${prefix}${node.name.getText()}`;
  // An arrow or function expression: named by what it is assigned to, if anything.
  const parent = node.parent;
  if (
    (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) &&
    ts.isIdentifier(parent.name)
  )
    return `${prefix}${parent.name.text}`;
  return `${prefix}<anonymous>`;
}

/** The files over fileLinesMax and the functions over functionLinesMax under `dirs`. */
export function oversized(root: string, dirs: readonly string[]): Oversize[] {
  const over: Oversize[] = [];
  for (const file of sourceFiles(root, dirs)) {
    const text = readFileSync(join(root, file), "utf8");
    const lines = fileLines(text);
    if (lines > fileLinesMax) over.push({ file, name: "<file>", lines });
    for (const fn of functionLengths(file, text)) if (fn.lines > functionLinesMax) over.push(fn);
  }
  return over;
}
