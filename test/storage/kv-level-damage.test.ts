import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, test } from "vitest";
import { LevelKvEngine } from "../../storage/engines/kv-level.js";
import { DAMAGE_MARKER, KvDamageError } from "../../storage/engines/kv-level-integrity.js";
import { findLogDamage, maskCrc } from "../../storage/level-log.js";
import { TempDirs } from "./helpers.js";

const dirs = new TempDirs();
const opened: LevelKvEngine[] = [];

afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
  await dirs.removeAll();
});

async function open(dir: string, verifyAtOpen = true): Promise<LevelKvEngine> {
  const engine = new LevelKvEngine(dir, { verifyAtOpen });
  await engine.open();
  opened.push(engine);
  return engine;
}

async function closeAll(): Promise<void> {
  for (const e of opened.splice(0)) await e.close();
}

/** n puts from index from + 1 on, in batches of 10. */
async function putAll(engine: LevelKvEngine, n: number, from = 0): Promise<void> {
  for (let k = from; k < from + n; k += 10) {
    const commands = Array.from({ length: 10 }, (_, j) => ({
      index: k + j + 1,
      command: {
        op: "put" as const,
        key: `k${k + j}`,
        value: `value number ${k + j} ${"x".repeat(80)}`,
      },
    }));
    await engine.applyBatch(commands, k + 10);
  }
}

async function newestLog(dir: string): Promise<string> {
  const logs = (await readdir(dir)).filter((name) => /^\d+\.log$/.test(name)).sort();
  return join(dir, logs.at(-1)!);
}

describe("LevelDB log check", () => {
  test("level log - the mask is LevelDB's", () => {
    // leveldb/util/crc32c_test.cc: Mask(crc) != crc, Unmask(Mask(crc)) == crc.
    const crc = 0x8a9136aa;
    const masked = maskCrc(crc);
    const rot = (masked - 0xa282ead8) >>> 0;
    expect(((rot >>> 17) | (rot << 15)) >>> 0).toBe(crc);
  });

  test("level log - an intact log, and a torn tail, are not damage; a flipped byte before intact records is", async () => {
    const dir = await dirs.make("kvlog");
    const engine = await open(dir);
    for (let k = 0; k < 8; k++) await putAll(engine, 100, k * 100);
    await closeAll();
    const bytes = new Uint8Array(await readFile(await newestLog(dir)));
    expect(bytes.length).toBeGreaterThan(2 * 32 * 1024);
    expect(findLogDamage(bytes)).toBeNull();
    expect(findLogDamage(bytes.subarray(0, bytes.length - 7))).toBeNull();
    const flipped = bytes.slice();
    flipped[5_000]! ^= 0x01;
    expect(findLogDamage(flipped)).toMatchObject({ reason: "record fails its checksum" });
    // In the last record: a torn tail, as a crash mid-write leaves (LevelDB drops it).
    const tail = bytes.slice();
    tail[tail.length - 10]! ^= 0x01;
    expect(findLogDamage(tail)).toBeNull();
  });
});

describe("LevelDB KV engine damage", () => {
  test("kv damage - a damaged log empties the engine at open (rebuilt), the copy kept aside", async () => {
    const dir = join(await dirs.make("kvdamage"), "kv");
    await putAll(await open(dir), 800);
    await closeAll();
    const log = await newestLog(dir);
    const bytes = await readFile(log);
    bytes[5_000]! ^= 0x01;
    await writeFile(log, bytes);
    const engine = await open(dir);
    expect(engine.rebuild).toMatch(/\d+\.log at byte \d+: record fails its checksum/);
    expect(engine.appliedIndex).toBe(0);
    expect(await engine.get("k0")).toBeNull();
    expect(existsSync(`${dir}.damaged`)).toBe(true);
  });

  /** Rewrite one stored record of a closed engine in `dir`. */
  async function tamper(dir: string, change: (db: ClassicLevel<string, string>) => Promise<void>) {
    const db = new ClassicLevel<string, string>(dir);
    await db.open();
    await change(db);
    await db.close();
  }

  test("kv damage - a damaged value or key is found at open: the engine is emptied (rebuilt)", async () => {
    for (const kind of ["value", "key"]) {
      const dir = join(await dirs.make(`kv${kind}`), "kv");
      await putAll(await open(dir), 10);
      await closeAll();
      await tamper(dir, async (db) => {
        const stored = (await db.get("d:k3"))!;
        if (kind === "value") await db.put("d:k3", stored.replace("number", "numbex"));
        else
          await db.batch([
            { type: "del", key: "d:k3" },
            { type: "put", key: "d:k#", value: stored },
          ]);
      });
      const engine = await open(dir);
      expect(engine.rebuild, kind).toMatch(/fails its checksum/);
      expect(engine.appliedIndex, kind).toBe(0);
      expect(await engine.get("k2"), kind).toBeNull();
      expect(existsSync(`${dir}.damaged`), kind).toBe(true);
      await closeAll();
    }
  });

  test("kv damage - a value failing its checksum while running is never served: the read throws, the engine is marked", async () => {
    const dir = join(await dirs.make("kvvalue"), "kv");
    await putAll(await open(dir), 10);
    await closeAll();
    await tamper(dir, async (db) => {
      const stored = (await db.get("d:k3"))!;
      await db.put("d:k3", stored.replace("number", "numbex"));
    });
    // As if damaged after the check at open.
    const engine = await open(dir, false);
    expect(engine.rebuild).toBeNull();
    expect(await engine.get("k2")).toMatch(/^value number 2/);
    await expect(engine.get("k3")).rejects.toBeInstanceOf(KvDamageError);
    await expect(engine.scan({ limit: 100 })).rejects.toBeInstanceOf(KvDamageError);
    expect(existsSync(join(dir, DAMAGE_MARKER))).toBe(true);
    await closeAll();
    const next = await open(dir);
    expect(next.rebuild).toContain("fails its checksum");
    expect(next.appliedIndex).toBe(0);
  });

  test("kv damage - an engine written before value checksums is emptied at open (rebuilt)", async () => {
    const dir = join(await dirs.make("kvold"), "kv");
    const db = new ClassicLevel<string, string>(dir);
    await db.open();
    await db.batch([
      { type: "put", key: "d:a", value: "1" },
      { type: "put", key: "m:applied", value: "7" },
    ]);
    await db.close();
    const engine = await open(dir);
    expect(engine.rebuild).toBe("written before values carried checksums");
    expect(engine.appliedIndex).toBe(0);
    await engine.applyBatch([{ index: 1, command: { op: "put", key: "a", value: "2" } }], 1);
    await closeAll();
    const again = await open(dir);
    expect(again.rebuild).toBeNull();
    expect(again.appliedIndex).toBe(1);
    expect(await again.get("a")).toBe("2");
  });
});
