import { readFile } from "node:fs/promises";
import { type Command, InvalidArgumentError, Option } from "commander";
import type { Filter, VectorPoint } from "../client/vector-client.js";
import { CliExit, type GlobalOptions, print, run, table } from "./common.js";

/**
 * `stageraft vector …`: the vector ops of CONTRACT §6 from the shell. Points and queries come
 * from a JSON file (an array, or {points: [...]}), a JSONL file (one point per line) or stdin
 * ("-" or no file). Output: a table (default) or JSON (-w json).
 */

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError("must be a positive integer");
  return parsed;
}

function finite(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new InvalidArgumentError("must be a number");
  return parsed;
}

function json(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new InvalidArgumentError("must be JSON");
  }
}

async function readInput(file: string | undefined): Promise<string> {
  if (file !== undefined && file !== "-") return readFile(file, "utf8");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** A JSON array of points, {points: [...]}, one point, or JSONL (one point per line). */
export function parsePoints(text: string): VectorPoint[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  try {
    const value = JSON.parse(trimmed) as unknown;
    if (Array.isArray(value)) return value as VectorPoint[];
    if (typeof value === "object" && value !== null && "points" in value)
      return (value as { points: VectorPoint[] }).points;
    return [value as VectorPoint];
  } catch {
    return trimmed
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line, k) => {
        try {
          return JSON.parse(line) as VectorPoint;
        } catch {
          throw new InvalidArgumentError(`line ${k + 1} is not JSON`);
        }
      });
  }
}

function out(write: GlobalOptions["write"], result: unknown, rows: () => [unknown[][], string[]]) {
  if (write === "json") print(JSON.stringify(result));
  else print(table(...rows()));
}

const metaText = (meta: unknown) => (meta == null ? "" : JSON.stringify(meta));

const consistency = () =>
  new Option("--consistency <level>", "linearizable, lease or stale").choices([
    "linearizable",
    "lease",
    "stale",
  ]);

export function registerVectorCommands(program: Command): void {
  const vector = program.command("vector").description("vector collections (CONTRACT §6)");
  registerCollectionCommands(vector);
  registerPointCommands(vector);
  registerQueryCommands(vector);
}

/** create, list, info, drop */
function registerCollectionCommands(vector: Command): void {
  vector
    .command("create")
    .argument("<collection>")
    .requiredOption("--dim <n>", "dimensions", positive)
    .addOption(new Option("--metric <metric>").choices(["l2", "cosine", "ip"]).default("l2"))
    .addOption(new Option("--engine <engine>").choices(["hnsw", "flat"]))
    .option("--m <n>", "HNSW graph degree", positive)
    .option("--ef-construction <n>", "HNSW build breadth", positive)
    .option("--ef-search <n>", "HNSW default search breadth", positive)
    .action(async (collection: string, o, command: Command) =>
      run(command, async (client, { write }) => {
        const params = {
          ...(o.m ? { m: o.m } : {}),
          ...(o.efConstruction ? { efConstruction: o.efConstruction } : {}),
          ...(o.efSearch ? { efSearch: o.efSearch } : {}),
        };
        const result = await client.vcreate(collection, {
          dim: o.dim,
          metric: o.metric,
          ...(o.engine ? { engine: o.engine } : {}),
          ...(Object.keys(params).length > 0 ? { params } : {}),
        });
        out(write, result, () => [[[collection, result.index]], ["collection", "index"]]);
        return CliExit.ok;
      }),
    );

  vector.command("list").action(async (_o, command: Command) =>
    run(command, async (client, { write }) => {
      const collections = await client.vectors.list();
      out(write, { collections }, () => [collections.map((name) => [name]), ["collection"]]);
      return CliExit.ok;
    }),
  );

  vector
    .command("info")
    .argument("<collection>")
    .action(async (collection: string, _o, command: Command) =>
      run(command, async (client, { write }) => {
        const info = await client.vectors.info(collection);
        out(write, info, () => [
          [
            [
              collection,
              info.dim,
              info.metric,
              info.engine,
              info.count,
              info.indexBytes,
              JSON.stringify(info.params),
            ],
          ],
          ["collection", "dim", "metric", "engine", "count", "bytes", "params"],
        ]);
        return CliExit.ok;
      }),
    );

  vector
    .command("drop")
    .argument("<collection>")
    .action(async (collection: string, _o, command: Command) =>
      run(command, async (client, { write }) => {
        const result = await client.vectors.drop(collection);
        out(write, result, () => [[[collection, result.dropped]], ["collection", "dropped"]]);
        return CliExit.ok;
      }),
    );
}

/** put, get */
function registerPointCommands(vector: Command): void {
  vector
    .command("put")
    .description("insert or replace points from a JSON / JSONL file or stdin")
    .argument("<collection>")
    .argument("[file]", "JSON array, {points}, or JSONL; - or none: stdin")
    .option("--batch <n>", "points per request (each request is all or nothing)", positive, 256)
    .action(async (collection: string, file: string | undefined, o, command: Command) =>
      run(command, async (client, { write }) => {
        const points = parsePoints(await readInput(file));
        let count = 0;
        let index = 0;
        for (let start = 0; start < points.length; start += o.batch) {
          const result = await client.vectors.put(collection, points.slice(start, start + o.batch));
          count += result.count;
          index = result.index;
        }
        out(write, { count, index }, () => [
          [[collection, count, index]],
          ["collection", "points", "index"],
        ]);
        return CliExit.ok;
      }),
    );

  vector
    .command("get")
    .argument("<collection>")
    .argument("<keys...>")
    .option("--with-vector", "print the vectors too")
    .addOption(consistency())
    .action(async (collection: string, keys: string[], o, command: Command) =>
      run(command, async (client, { write, consistency }) => {
        const points = await client.vectors.get(collection, keys, {
          withVector: o.withVector === true,
          ...(consistency ? { consistency } : {}),
        });
        out(write, { points }, () => [
          points.map((p) => [p.key, metaText(p.meta), p.vector ? JSON.stringify(p.vector) : ""]),
          ["key", "meta", "vector"],
        ]);
        return CliExit.ok;
      }),
    );
}

/** search, count, delete (by keys or filter) */
function registerQueryCommands(vector: Command): void {
  vector
    .command("search")
    .description("the k nearest points to a vector (--vector, or a JSON array from file / stdin)")
    .argument("<collection>")
    .argument("[file]")
    .option("--vector <json>", "the query vector", json)
    .option("-k, --k <n>", "hits", positive, 10)
    .option("--filter <json>", "a filter (must / should / mustNot)", json)
    .option("--score-threshold <x>", "keep hits at least this good", finite)
    .option("--ef <n>", "HNSW search breadth", positive)
    .option("--with-vector", "print the vectors too")
    .addOption(consistency())
    .action(async (collection: string, file: string | undefined, o, command: Command) =>
      run(command, async (client, { write, consistency }) => {
        const query = (o.vector ?? JSON.parse(await readInput(file))) as number[];
        const result = await client.vectors.search(collection, query, o.k, {
          ...(o.filter ? { filter: o.filter as Filter } : {}),
          ...(o.scoreThreshold !== undefined ? { scoreThreshold: o.scoreThreshold } : {}),
          ...(o.ef ? { ef: o.ef } : {}),
          ...(o.withVector ? { withVector: true } : {}),
          ...(consistency ? { consistency } : {}),
        });
        out(write, result, () => [
          result.hits.map((hit) => [hit.key, hit.score, metaText(hit.meta)]),
          ["key", "score", "meta"],
        ]);
        return CliExit.ok;
      }),
    );

  vector
    .command("count")
    .argument("<collection>")
    .option("--filter <json>", "count only the points passing it", json)
    .addOption(consistency())
    .action(async (collection: string, o, command: Command) =>
      run(command, async (client, { write, consistency }) => {
        const count = await client.vectors.count(collection, {
          ...(o.filter ? { filter: o.filter as Filter } : {}),
          ...(consistency ? { consistency } : {}),
        });
        out(write, { count }, () => [[[collection, count]], ["collection", "count"]]);
        return CliExit.ok;
      }),
    );

  vector
    .command("delete")
    .description("delete points by key, or every point passing --filter")
    .argument("<collection>")
    .argument("[keys...]")
    .option("--filter <json>", "delete the points passing it", json)
    .action(async (collection: string, keys: string[], o, command: Command) =>
      run(command, async (client, { write }) => {
        if (keys.length > 0 === (o.filter !== undefined)) {
          process.stderr.write("Error: give keys or --filter (one of them)\n");
          return CliExit.usage;
        }
        const result = await client.vectors.delete(
          collection,
          o.filter !== undefined ? { filter: o.filter as Filter } : { keys },
        );
        out(write, result, () => [
          [[collection, result.deleted, result.index]],
          ["collection", "deleted", "index"],
        ]);
        return CliExit.ok;
      }),
    );
}
