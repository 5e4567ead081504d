// What a LibOS needs of a physical backend: a device that moves frames between the datapath's
// descriptor rings and a wire (the loopback link, a DPDK port) and turns the datapath.
import type { Clock } from "../clock.js";
import type { Datapath } from "../abi.js";
import type { Rings } from "../rings.js";
import type { Chain } from "../nf/chain.js";
import type { Direction } from "./chains.js";

/** What a link needs of a datapath: its rings, memory and MAC. LibOS satisfies it. */
export interface LinkNode {
  readonly dp: Datapath;
  readonly rings: Rings;
  readonly mac: [number, number];
}

export interface Link {
  readonly clock: Clock;
  attach(node: LinkNode): void;
  detach(node: LinkNode): void;
  /** One turn: frames moved both ways and every attached datapath polled once; the work done. */
  poll(): number;
  /** The earliest time something is due (for a virtual clock to jump to). */
  nextEvent(): number;
  /** Writes the frames the link carries to a pcap file. */
  capture(path: string): void;
  stopCapture(): void;
  /** Puts an NF chain on a node's port ("in": what it receives, "out": what it sends); null takes
   *  it off. The filter is host/link/chains.ts on every link. */
  attachChain(node: LinkNode, dir: Direction, chain: Chain | null): void;
  /** The ports a REDIRECT verdict may name. */
  readonly ports: number;
}
