// Forwards every frame out of another port (REDIRECT to `port`): with one on the in chain of each
// of two ports, the two form a bridge. `bench tcp-loss` puts Linux's TCP on both sides of such a
// bridge, behind the lossy NF, as the baseline for the Wasm stack's recovery.
import { verdict, REDIRECT, configInt } from "../sdk";
export { nf_area } from "../sdk";

let port: u32 = 0;

export function nf_init(): i32 {
  const p = configInt("port", -1);
  if (p < 0 || p > 255) return 1;
  port = <u32>p;
  return 0;
}

export function nf_process(count: u32): void {
  for (let i: u32 = 0; i < count; i++) verdict(i, REDIRECT, port);
}
