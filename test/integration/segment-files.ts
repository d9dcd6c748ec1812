import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { RECORD_HEADER, RecordType, scanSegment } from "../../storage/segment-format.js";

/** A node's WAL segment files (`<dataDir>/wal-segments/*.wal`), oldest first. */
export async function segmentFiles(dataDir: string): Promise<string[]> {
  const dir = join(dataDir, "wal-segments");
  return (await readdir(dir))
    .filter((name) => name.endsWith(".wal"))
    .sort()
    .map((name) => join(dir, name));
}

/** The committed groups of a segment file: [start, end) byte ranges and their entry indices. */
export async function segmentGroups(
  path: string,
): Promise<{ start: number; end: number; indices: number[] }[]> {
  const bytes = await readFile(path);
  const groups = [];
  let current = { start: 0, end: 0, indices: [] as number[] };
  for (const at of scanSegment(bytes).records) {
    const type = bytes[at + 8];
    if (type === RecordType.entry) current.indices.push(bytes.readDoubleLE(at + RECORD_HEADER));
    if (type === RecordType.commit) {
      current.end = at + RECORD_HEADER + bytes.readUInt32LE(at);
      groups.push(current);
      current = { start: current.end, end: 0, indices: [] };
    }
  }
  return groups;
}
