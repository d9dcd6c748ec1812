import type { Registry } from "prom-client";
import { Counter, Gauge, type LabelValues } from "prom-client";
import type { LocalSnapshot } from "../dashboard/observer.js";

type Labels = LabelValues<string>;
export type Put = (value: number, labels?: Labels) => void;
export type Read = (snapshot: LocalSnapshot, put: Put) => void;

/** Declares the metric families whose values are read from a LocalSnapshot at scrape time. */
export interface Define {
  gauge(name: string, help: string, labelNames: readonly string[], read: Read): void;
  counter(name: string, help: string, labelNames: readonly string[], read: Read): void;
  /** One unlabelled series; `undefined` from `value` leaves it out of that scrape. */
  plain(
    kind: "gauge" | "counter",
    name: string,
    help: string,
    value: (s: LocalSnapshot) => number | undefined,
  ): void;
}

/**
 * Families on `registry` that read `current()` when collected. Each collect starts from a
 * reset, so a series whose label value left the snapshot (a removed peer) leaves the scrape.
 */
export function snapshotFamilies(registry: Registry, current: () => LocalSnapshot): Define {
  // The options both kinds share; `record` is the one difference (a gauge sets, a counter adds).
  const options = <M extends { reset(): void }>(
    name: string,
    help: string,
    labelNames: readonly string[],
    read: Read,
    record: (metric: M, value: number, labels?: Labels) => void,
  ) => ({
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: M) {
      this.reset();
      read(current(), (value, labels) => record(this, finite(value), labels));
    },
  });
  const define: Define = {
    gauge(name, help, labelNames, read) {
      new Gauge(
        options<Gauge>(name, help, labelNames, read, (g, v, l) => (l ? g.set(l, v) : g.set(v))),
      );
    },
    counter(name, help, labelNames, read) {
      new Counter(
        options<Counter>(name, help, labelNames, read, (c, v, l) => (l ? c.inc(l, v) : c.inc(v))),
      );
    },
    plain(kind, name, help, value) {
      define[kind](name, help, [], (s, put) => {
        const v = value(s);
        if (v !== undefined) put(v);
      });
    },
  };
  return define;
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : 0;
}
