import CRC32C from "crc-32/crc32c.js";
import type { EntryType } from "./types.js";

const header = new Uint8Array(17);
const headerView = new DataView(header.buffer);

/**
 * One link of the history checksum chain: chk = crc32c(previous chk, term, index, type, data).
 * Two logs with the same chk at an index hold the same entries up to it, so nodes can be
 * compared by one number (vraft's "execution history checksum").
 */
export function chainChecksum(
  previousChk: number,
  term: number,
  index: number,
  type: EntryType,
  data: Uint8Array,
): number {
  headerView.setFloat64(0, term, true);
  headerView.setFloat64(8, index, true);
  header[16] = type;
  const afterHeader = CRC32C.buf(header, previousChk | 0);
  return CRC32C.buf(data, afterHeader) >>> 0;
}
