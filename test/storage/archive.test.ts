import { randomBytes } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { packDirectory, unpackArchive } from "../../storage/archive.js";
import { TempDirs } from "./helpers.js";

const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

describe("archive", () => {
  test("archive - files of several chunks pack and unpack byte for byte", async () => {
    const root = await dirs.make("archive");
    const source = join(root, "source");
    await mkdir(join(source, "vectors"), { recursive: true });
    const big = randomBytes((5 << 20) / 2 + 17); // 2.5 MiB and a bit: three chunks.
    const small = randomBytes(100);
    await writeFile(join(source, "kv.ckpt"), big);
    await writeFile(join(source, "vectors", "manifest.json"), small);
    await writeFile(join(source, "empty"), new Uint8Array(0));
    const file = join(root, "snap.bin");
    const size = await packDirectory(source, file);
    expect((await stat(file)).size).toBe(size);
    await unpackArchive(file, join(root, "out"));
    expect((await readFile(join(root, "out", "kv.ckpt"))).equals(big)).toBe(true);
    expect((await readFile(join(root, "out", "vectors", "manifest.json"))).equals(small)).toBe(
      true,
    );
    expect((await readFile(join(root, "out", "empty"))).length).toBe(0);
  });

  test("archive - packing abandoned by its signal rejects before copying", async () => {
    const root = await dirs.make("archive-abort");
    await mkdir(join(root, "source"));
    await writeFile(join(root, "source", "kv.ckpt"), randomBytes(3 << 20));
    const stopping = new AbortController();
    stopping.abort();
    await expect(
      packDirectory(join(root, "source"), join(root, "snap.bin"), stopping.signal),
    ).rejects.toThrow(/aborted/);
    expect((await stat(join(root, "snap.bin"))).size).toBeLessThan(1 << 20);
  });
});
