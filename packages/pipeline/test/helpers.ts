/** @module Test wiring for runner tests: a unit store kept in memory. */
import type { CompletedUnit, UnitStore } from "../src/runner";

/** Finished units held in memory, as a run's `pipeline_units` rows would be. */
export function memoryUnits(): UnitStore {
  const units: CompletedUnit[] = [];
  return {
    async completed() {
      return [...units];
    },
    async save(unit) {
      units.push(unit);
    },
  };
}
