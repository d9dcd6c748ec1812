/**
 * Filters over a point's meta (CONTRACT §6): `must` / `should` / `mustNot` of conditions, a
 * condition being match, matchAny, range, exists on a dotted path, or a nested filter.
 * parseFilter() checks a client's filter; matches() is pure, so replicas agree on every answer.
 */

export type MetaValue = string | number | boolean | null | MetaValue[] | MetaObject;
export interface MetaObject {
  readonly [field: string]: MetaValue;
}
export type Meta = MetaObject;

export type Scalar = string | number | boolean | null;

export interface Range {
  readonly gt?: number;
  readonly gte?: number;
  readonly lt?: number;
  readonly lte?: number;
}

export type Condition =
  | { readonly key: string; readonly match: Scalar }
  | { readonly key: string; readonly matchAny: readonly Scalar[] }
  | { readonly key: string; readonly range: Range }
  | { readonly key: string; readonly exists: boolean }
  | Filter;

export interface Filter {
  readonly must?: readonly Condition[];
  readonly should?: readonly Condition[];
  readonly mustNot?: readonly Condition[];
}

/** A malformed filter; the message names the offending part (e.g. `filter.must[0].range`). */
export class FilterError extends Error {}

const MAX_DEPTH = 8;
const MAX_CONDITIONS = 256;
const MAX_ANY = 1024;
const CLAUSES = ["must", "should", "mustNot"] as const;
const OPERATORS = ["match", "matchAny", "range", "exists"] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): value is Scalar {
  return (
    value === null ||
    typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value))
  );
}

/**
 * Check a client's filter. The shorthand of earlier releases, a flat object of scalars
 * (`{"bucket": 3}`), still reads as `must` of matches on those fields.
 */
export function parseFilter(value: unknown, path = "filter"): Filter {
  if (isObject(value) && !CLAUSES.some((clause) => clause in value)) {
    const entries = Object.entries(value);
    if (entries.every(([, scalar]) => isScalar(scalar))) {
      return { must: entries.map(([key, match]) => ({ key, match: match as Scalar })) };
    }
  }
  const budget = { conditions: 0 };
  return parseClauses(value, path, 0, budget);
}

function parseClauses(
  value: unknown,
  path: string,
  depth: number,
  budget: { conditions: number },
): Filter {
  if (!isObject(value)) throw new FilterError(`"${path}" must be an object`);
  if (depth > MAX_DEPTH) throw new FilterError(`"${path}" nests deeper than ${MAX_DEPTH}`);
  const filter: { -readonly [C in (typeof CLAUSES)[number]]?: Condition[] } = {};
  for (const [name, list] of Object.entries(value)) {
    if (!(CLAUSES as readonly string[]).includes(name))
      throw new FilterError(`unknown field "${path}.${name}" (must, should, mustNot)`);
    if (!Array.isArray(list))
      throw new FilterError(`"${path}.${name}" must be an array of conditions`);
    filter[name as (typeof CLAUSES)[number]] = list.map((item, k) =>
      parseCondition(item, `${path}.${name}[${k}]`, depth, budget),
    );
  }
  return filter;
}

function parseCondition(
  value: unknown,
  path: string,
  depth: number,
  budget: { conditions: number },
): Condition {
  if (++budget.conditions > MAX_CONDITIONS)
    throw new FilterError(`the filter holds more than ${MAX_CONDITIONS} conditions`);
  if (!isObject(value)) throw new FilterError(`"${path}" must be an object`);
  if (!("key" in value)) return parseClauses(value, path, depth + 1, budget);
  const key = value.key;
  if (typeof key !== "string" || key.length === 0 || key.length > 1024)
    throw new FilterError(`"${path}.key" must be a non-empty string (a dotted path in meta)`);
  const given = OPERATORS.filter((operator) => operator in value);
  const extra = Object.keys(value).find(
    (name) => name !== "key" && !(OPERATORS as readonly string[]).includes(name),
  );
  if (extra !== undefined) throw new FilterError(`unknown field "${path}.${extra}"`);
  if (given.length !== 1)
    throw new FilterError(`"${path}" needs exactly one of match, matchAny, range, exists`);
  const operator = given[0]!;
  const operand = value[operator];
  switch (operator) {
    case "match":
      if (!isScalar(operand))
        throw new FilterError(
          `"${path}.match" must be a string, a finite number, a boolean or null`,
        );
      return { key, match: operand };
    case "matchAny":
      if (!Array.isArray(operand) || operand.length === 0 || operand.length > MAX_ANY)
        throw new FilterError(`"${path}.matchAny" must be an array of 1–${MAX_ANY} values`);
      if (!operand.every(isScalar))
        throw new FilterError(
          `"${path}.matchAny" must hold strings, finite numbers, booleans or nulls`,
        );
      return { key, matchAny: operand };
    case "range":
      return { key, range: parseRange(operand, `${path}.range`) };
    case "exists":
      if (typeof operand !== "boolean") throw new FilterError(`"${path}.exists" must be a boolean`);
      return { key, exists: operand };
  }
}

function parseRange(value: unknown, path: string): Range {
  if (!isObject(value)) throw new FilterError(`"${path}" must be an object of gt, gte, lt, lte`);
  const range: { -readonly [B in keyof Range]?: number } = {};
  for (const [bound, limit] of Object.entries(value)) {
    if (bound !== "gt" && bound !== "gte" && bound !== "lt" && bound !== "lte")
      throw new FilterError(`unknown field "${path}.${bound}" (gt, gte, lt, lte)`);
    if (typeof limit !== "number" || !Number.isFinite(limit))
      throw new FilterError(`"${path}.${bound}" must be a finite number`);
    range[bound] = limit;
  }
  if (Object.keys(range).length === 0)
    throw new FilterError(`"${path}" needs at least one of gt, gte, lt, lte`);
  return range;
}

/** The value at a dotted path, or undefined where the path leads nowhere. */
export function valueAt(meta: Meta | null, path: string): MetaValue | undefined {
  if (meta === null) return undefined;
  // A field whose own name holds dots wins over the nested reading.
  if (Object.hasOwn(meta, path)) return meta[path];
  let value: MetaValue | undefined = meta;
  for (const part of path.split(".")) {
    if (!isObject(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as MetaObject)[part];
  }
  return value;
}

/** The values a condition looks at: an array field's elements, or the field itself. */
function valuesAt(meta: Meta | null, path: string): readonly MetaValue[] {
  const value = valueAt(meta, path);
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function inRange(value: MetaValue, range: Range): boolean {
  if (typeof value !== "number") return false;
  return (
    (range.gt === undefined || value > range.gt) &&
    (range.gte === undefined || value >= range.gte) &&
    (range.lt === undefined || value < range.lt) &&
    (range.lte === undefined || value <= range.lte)
  );
}

function holds(condition: Condition, meta: Meta | null): boolean {
  if (!("key" in condition)) return matches(condition, meta);
  if ("exists" in condition) {
    const value = valueAt(meta, condition.key);
    return (value !== undefined && value !== null) === condition.exists;
  }
  const values = valuesAt(meta, condition.key);
  if ("match" in condition) return values.some((value) => value === condition.match);
  if ("matchAny" in condition)
    return values.some((value) => condition.matchAny.includes(value as Scalar));
  return values.some((value) => inRange(value, condition.range));
}

/** Does a point with this meta pass the filter? A missing field makes its condition false. */
export function matches(filter: Filter, meta: Meta | null): boolean {
  if (filter.must && !filter.must.every((condition) => holds(condition, meta))) return false;
  if (filter.mustNot?.some((condition) => holds(condition, meta))) return false;
  if (filter.should && filter.should.length > 0)
    return filter.should.some((condition) => holds(condition, meta));
  return true;
}
