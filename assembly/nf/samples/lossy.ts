// A seeded lossy link as an NF: drops each frame of the chosen protocol with probability
// `loss_ppm` / 1e6, from a xorshift generator seeded by `seed`, so that a run against a real
// peer (Linux's TCP over a TAP) can be replayed with the same losses. `proto`: tcp (default),
// udp, icmp, or all; frames that are not IPv4 pass unless proto is all.
import { pkt, pktLen, verdict, PASS, DROP, ipv4At, ipProto, configInt, configStr, counterAdd,
         PROTO_TCP, PROTO_UDP, PROTO_ICMP } from "../sdk";
export { nf_area } from "../sdk";

let lossPpm: u32 = 0;
let proto: i32 = PROTO_TCP;    // -1: every frame
let state: u64 = 1;

export function nf_init(): i32 {
  const ppm = configInt("loss_ppm", 0);
  const seed = configInt("seed", 1);
  if (ppm < 0 || ppm > 1000000) return 1;
  lossPpm = <u32>ppm;
  state = seed == 0 ? 1 : <u64>seed;
  const p = configStr("proto");
  if (p === null || p == "tcp") proto = PROTO_TCP;
  else if (p == "udp") proto = PROTO_UDP;
  else if (p == "icmp") proto = PROTO_ICMP;
  else if (p == "all") proto = -1;
  else return 1;
  return 0;
}

/** xorshift64* (Vigna): the next number of the seeded sequence, 0 <= x < 1e6. */
function nextPpm(): u32 {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return <u32>(((state * 0x2545F4914F6CDD1D) >> 32) % 1000000);
}

export function nf_process(count: u32): void {
  for (let i: u32 = 0; i < count; i++) {
    const ip = ipv4At(pkt(i), pktLen(i));
    const chosen = proto < 0 || (ip != 0 && <i32>ipProto(ip) == proto);
    if (chosen && nextPpm() < lossPpm) {
      verdict(i, DROP);
      counterAdd(0, 1);                                        // counter 0: frames dropped
    } else verdict(i, PASS);
  }
}
