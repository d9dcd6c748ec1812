import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two files at a time on 2 cores: most files wait on real processes (elections, fsyncs,
    // timeouts) rather than compute, so the suite takes about two thirds of its serial time.
    // The tests hold under that load: they find the leader again, retry, and never time speed.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
