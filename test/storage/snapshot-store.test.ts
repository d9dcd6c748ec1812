import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { SnapshotStore } from "../../storage/snapshot-store.js";
import { snapshotMeta, TempDirs } from "./helpers.js";

const dirs = new TempDirs();

afterEach(async () => {
  await dirs.removeAll();
});

/** Deterministic bytes (no two chunks alike). */
function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let k = 0; k < size; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[k] = x & 0xff;
  }
  return out;
}

/** Write a checkpoint at the store's temp path and commit it as snapshot `index`. */
async function commitSnapshot(store: SnapshotStore, index: number, size = 100) {
  const data = pattern(size, index);
  await writeFile(store.tempPath(), data);
  const meta = snapshotMeta(index, 2, index * 1000 + 7, size);
  await store.commit(meta);
  return { meta, data };
}

const snapFiles = async (dir: string) =>
  (await readdir(dir)).filter((name) => name.startsWith("snap-")).sort();

describe("snapshot store", () => {
  test("snapshot store - an empty (or missing) dir has no snapshot", async () => {
    const dir = join(await dirs.make("snap"), "not", "yet");
    const store = new SnapshotStore(dir);
    expect(await store.open()).toBeNull();
    expect(store.latest()).toBeNull();
    expect(await store.read(1, 0, 10)).toBeNull();
  });

  test("snapshot store - commit then read chunks by offset and length; beyond the end is null", async () => {
    const store = new SnapshotStore(await dirs.make("snap"));
    await store.open();
    const { meta, data } = await commitSnapshot(store, 42, 1000);
    expect(store.latest()).toEqual(meta);
    expect(new Uint8Array(await readFile(store.dataPath(42)))).toEqual(data);

    expect(await store.read(42, 0, 100)).toEqual(data.slice(0, 100));
    expect(await store.read(42, 333, 1)).toEqual(data.slice(333, 334));
    expect(await store.read(42, 900, 100)).toEqual(data.slice(900, 1000));
    // Reassembling every chunk, as the leader streams them, gives the file back.
    const chunks: Uint8Array[] = [];
    for (let offset = 0; offset < meta.size; offset += 64) {
      const chunk = await store.read(42, offset, Math.min(64, meta.size - offset));
      expect(chunk, `chunk at ${offset}`).not.toBeNull();
      chunks.push(chunk!);
    }
    expect(new Uint8Array(Buffer.concat(chunks))).toEqual(data);

    expect(await store.read(42, 950, 100)).toBeNull(); // runs past the end
    expect(await store.read(42, 1000, 1)).toBeNull(); // starts at the end
    expect(await store.read(42, 5000, 10)).toBeNull();
    expect(await store.read(41, 0, 10)).toBeNull(); // no such snapshot
  });

  test("snapshot store - a checkpoint whose size differs from its metadata is refused", async () => {
    const dir = await dirs.make("snap");
    const store = new SnapshotStore(dir);
    await store.open();
    const good = await commitSnapshot(store, 10, 50);
    await writeFile(store.tempPath(), pattern(49, 3));
    await expect(store.commit(snapshotMeta(20, 2, 1, 50))).rejects.toThrow(/49 bytes.*50/);
    expect(store.latest()).toEqual(good.meta);
    expect(await snapFiles(dir)).toEqual(["snap-10.bin", "snap-10.json"]);
    expect(await new SnapshotStore(dir).open()).toEqual(good.meta);
  });

  test("snapshot store - pruning keeps the newest 2 snapshots", async () => {
    const dir = await dirs.make("snap");
    const store = new SnapshotStore(dir);
    await store.open();
    const kept: Awaited<ReturnType<typeof commitSnapshot>>[] = [];
    for (const index of [10, 20, 30, 40, 50]) kept.push(await commitSnapshot(store, index, index));
    expect(await snapFiles(dir)).toEqual([
      "snap-40.bin",
      "snap-40.json",
      "snap-50.bin",
      "snap-50.json",
    ]);
    expect(await store.read(30, 0, 10)).toBeNull();
    expect(await store.read(40, 0, 40)).toEqual(kept[3]!.data);
    expect(store.latest()).toEqual(kept[4]!.meta);

    const three = new SnapshotStore(await dirs.make("snap3"), 3);
    await three.open();
    for (const index of [1, 2, 3, 4]) await commitSnapshot(three, index);
    expect(await snapFiles(three.dir)).toEqual([
      "snap-2.bin",
      "snap-2.json",
      "snap-3.bin",
      "snap-3.json",
      "snap-4.bin",
      "snap-4.json",
    ]);
  });

  test("snapshot store - reopen finds the newest complete snapshot and ignores unfinished ones", async () => {
    const dir = await dirs.make("snap");
    const store = new SnapshotStore(dir);
    await store.open();
    await commitSnapshot(store, 10, 30);
    const { meta } = await commitSnapshot(store, 20, 40);
    // Leftovers of crashes: a .bin without .json (crash before the metadata), a .json whose
    // .bin has the wrong size, a .json without .bin, unparsable metadata, temp files.
    await writeFile(join(dir, "snap-60.bin"), pattern(60, 60));
    await writeFile(join(dir, "snap-50.bin"), pattern(10, 50));
    await writeFile(join(dir, "snap-50.json"), JSON.stringify(snapshotMeta(50, 2, 1, 11)));
    await writeFile(join(dir, "snap-40.json"), JSON.stringify(snapshotMeta(40, 2, 1, 1)));
    await writeFile(join(dir, "snap-30.bin"), pattern(5, 30));
    await writeFile(join(dir, "snap-30.json"), "{ not json");
    await writeFile(join(dir, "snap-70.json.tmp"), JSON.stringify(snapshotMeta(70, 2, 1, 0)));
    await writeFile(join(dir, "checkpoint.tmp"), pattern(9, 9));
    await writeFile(join(dir, "incoming.part"), pattern(9, 9));

    const reopened = new SnapshotStore(dir);
    expect(await reopened.open()).toEqual(meta);
    expect(reopened.latest()).toEqual(meta);
    expect(await reopened.read(20, 0, 40)).toEqual(pattern(40, 20));
  });

  test("snapshot store - pruning keeps the newest 2 complete snapshots when a crash left a .bin without .json", async () => {
    const dir = await dirs.make("snap");
    const store = new SnapshotStore(dir);
    await store.open();
    await commitSnapshot(store, 10);
    const twenty = await commitSnapshot(store, 20);
    // Crash between renaming the checkpoint into place and writing its metadata.
    await writeFile(join(dir, "snap-25.bin"), pattern(100, 25));
    const restarted = new SnapshotStore(dir);
    expect(await restarted.open()).toEqual(twenty.meta);
    await commitSnapshot(restarted, 30);
    // 30 and 20 are the newest two complete snapshots; 20 must still be readable.
    expect(await restarted.read(20, 0, 100)).toEqual(twenty.data);
    expect(await snapFiles(dir)).toEqual(expect.arrayContaining(["snap-20.bin", "snap-20.json"]));
  });

  test("snapshot store - incoming chunks are assembled in order, restarted at offset 0, and installed", async () => {
    const dir = await dirs.make("snap");
    const store = new SnapshotStore(dir);
    await store.open();
    await commitSnapshot(store, 5, 20);

    // A first attempt is abandoned half way; the leader restarts at offset 0 with a smaller one.
    await store.writeChunk(0, pattern(300, 1));
    await store.writeChunk(300, pattern(300, 2));
    const data = pattern(250, 77);
    const meta = snapshotMeta(90, 4, 123, data.length);
    await store.writeChunk(0, data.slice(0, 100));
    await store.writeChunk(100, data.slice(100, 200));
    await store.writeChunk(100, data.slice(100, 200)); // a resent chunk
    await store.writeChunk(200, data.slice(200));
    const path = await store.installIncoming(meta);
    expect(path).toBe(store.dataPath(90));
    expect(new Uint8Array(await readFile(path))).toEqual(data);
    expect(store.latest()).toEqual(meta);
    expect(await store.read(90, 100, 150)).toEqual(data.slice(100));
    expect(await readdir(dir)).not.toContain("incoming.part");
    expect(await new SnapshotStore(dir).open()).toEqual(meta);
  });

  test("snapshot store - an incomplete incoming snapshot is refused, and can be discarded", async () => {
    const dir = await dirs.make("snap");
    const store = new SnapshotStore(dir);
    await store.open();
    const data = pattern(100, 8);
    await store.writeChunk(0, data.slice(0, 60));
    await expect(store.installIncoming(snapshotMeta(9, 1, 1, 100))).rejects.toThrow(/60 bytes/);
    expect(store.latest()).toBeNull();
    expect(await snapFiles(dir)).toEqual([]);
    await store.discardIncoming();
    expect(await readdir(dir)).not.toContain("incoming.part");
    await store.discardIncoming(); // idempotent
    expect(await new SnapshotStore(dir).open()).toBeNull();
  });
});
