// The generator check's verdict: is a fan-in rate set by the broker or by the load generator?
// Read from the CPU use of both processes during the one-generator run, with the two-generator
// run to decide when both are busy: if a second generator process adds little, the broker is
// the limit even though the generator was busy too. Pure: no I/O. Called by: run.ts.

/** CPU use (% of one core) from which a process counts as saturated. */
export const SATURATED_CPU_PERCENT = 80;
/** When both are saturated, a second generator must add at least this much (%) to blame the first. */
export const GENERATOR_GAIN_PERCENT = 10;

export interface CheckRun {
  generatorCpuPercent: number;
  brokerCpuPercent: number;
  /** Rate of two generator processes over the rate of one, as a change in %. */
  gainPercent: number;
}

export function generatorVerdict(run: CheckRun): string {
  const generatorBusy = run.generatorCpuPercent >= SATURATED_CPU_PERCENT;
  const brokerBusy = run.brokerCpuPercent >= SATURATED_CPU_PERCENT;
  if (generatorBusy && brokerBusy) {
    return run.gainPercent < GENERATOR_GAIN_PERCENT
      ? `broker-bound (the generator is busy too, but a second one adds under ${GENERATOR_GAIN_PERCENT}%)`
      : "GENERATOR-BOUND: the rate understates the broker";
  }
  if (generatorBusy) return "GENERATOR-BOUND: the rate understates the broker";
  // Saturation is read from CPU use alone here: a second generator also doubles what is in
  // flight, so it raises the rate of a run that round trips set the pace of as well.
  if (brokerBusy) return "broker-bound";
  return "neither saturated (round trips between the processes set the pace)";
}
