import type { SeededRandom } from "../../../raft/rand.js";
import type { VirtualNetwork } from "../network.js";
import type { NodeHost } from "./host.js";

/** What the fault driver needs of the run. */
export interface FaultWorld {
  readonly hosts: readonly NodeHost[];
  readonly random: SeededRandom;
  readonly network: VirtualNetwork;
  readonly parameters: Record<string, number | string>;
  readonly durationMs: number;
  now(): number;
  at(time: number, fn: () => void): void;
  every(ms: number, fn: () => void): void;
  note(line: string): void;
  boot(host: NodeHost): void;
}

/** Power losses and restarts, isolations and heals, at the seed's rates. */
export function driveFaults(world: FaultWorld): void {
  const p = world.parameters;
  world.every(Number(p.crashEveryMs), () => {
    const host = world.random.pick(world.hosts);
    if (host.life === null && !host.booting) {
      world.note(`restart ${host.name}`);
      world.boot(host);
      return;
    }
    world.note(`crash ${host.name} (power loss)`);
    host.crash();
    world.at(world.now() + 50 + world.random.int(500), () => {
      world.note(`restart ${host.name}`);
      world.boot(host);
    });
  });
  world.every(Number(p.partitionEveryMs), () => {
    if (world.random.chance(0.5)) {
      world.network.heal();
      world.note("heal");
      return;
    }
    const isolated = world.random.pick(world.hosts).name;
    world.network.isolate(isolated);
    world.note(`isolate ${isolated}`);
  });
}

export function maybeCrashInSync(world: FaultWorld, host: NodeHost, delayMs: number): void {
  if (delayMs <= 1 || world.now() >= world.durationMs) return;
  if (!world.random.chance(Number(world.parameters.crashInSyncRate))) return;
  // Now and then the whole cluster loses power at once (a data centre outage): nothing
  // acknowledged may be lost even then.
  const victims = world.random.chance(0.3) ? world.hosts : [host];
  world.at(world.now() + world.random.int(delayMs), () => {
    for (const victim of victims) {
      if (victim.life === null) continue;
      world.note(`crash ${victim.name} (power loss while ${victim === host ? "syncing" : "up"})`);
      victim.crash();
      world.at(world.now() + 20 + world.random.int(300), () => {
        world.note(`restart ${victim.name}`);
        world.boot(victim);
      });
    }
  });
}
