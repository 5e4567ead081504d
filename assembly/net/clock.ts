// The time of the current poll, in nanoseconds, as the host passed it (principle 4: time comes
// only from the host, so a virtual clock replays every run exactly).
export let nowNs: f64 = 0;

export function setNow(t: f64): void {
  if (t > nowNs) nowNs = t;
}
