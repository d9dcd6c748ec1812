import { join } from "node:path";
import { ClassicLevel } from "classic-level";

/**
 * An exclusive lock on a directory for this process's life: LevelDB's own LOCK (an fcntl lock,
 * released by the kernel when the process dies, so a kill -9 leaves no stale lock). Node has
 * no flock; the LevelDB WAL was protected by this same lock, so the segment WAL keeps it.
 */
export class DirLock {
  private constructor(private readonly db: ClassicLevel) {}

  /** Throws when another process holds it (LevelDB: "LOCK: Resource temporarily unavailable"). */
  static async acquire(dir: string): Promise<DirLock> {
    const db = new ClassicLevel(join(dir, "lock"));
    try {
      await db.open();
    } catch (error) {
      const cause = (error as { cause?: Error }).cause;
      throw new Error(`${dir} is locked by another process: ${cause?.message ?? error}`);
    }
    return new DirLock(db);
  }

  async release(): Promise<void> {
    await this.db.close();
  }
}
