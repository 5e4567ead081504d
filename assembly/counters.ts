// Per-instance counters (u64 each) in linear memory, so the host reads them without a call.
// The order is part of the ABI: host/counters.ts names each index; keep the two lists in step.
export const C_RX_FRAMES: i32 = 0;
export const C_TX_FRAMES: i32 = 1;
export const C_RX_BYTES: i32 = 2;
export const C_TX_BYTES: i32 = 3;
// Drops by reason.
export const D_RX_BAD_DESC: i32 = 4;       // host handed a descriptor that is not one of our fill slots
export const D_RX_TOO_LONG: i32 = 5;       // length larger than the slot
export const D_ETH_TRUNCATED: i32 = 6;
export const D_ETH_NOT_FOR_US: i32 = 7;
export const D_ETH_UNKNOWN_TYPE: i32 = 8;
export const D_ARP_MALFORMED: i32 = 9;
export const D_ARP_NOT_FOR_US: i32 = 10;
export const D_ARP_GRATUITOUS: i32 = 11;
export const D_ARP_UNSOLICITED: i32 = 12;
export const D_ARP_TIMEOUT: i32 = 13;      // frames dropped because resolution failed
export const D_ARP_QUEUE_FULL: i32 = 14;
export const D_IP_TRUNCATED: i32 = 15;
export const D_IP_BAD_VERSION: i32 = 16;
export const D_IP_BAD_IHL: i32 = 17;
export const D_IP_BAD_LENGTH: i32 = 18;
export const D_IP_BAD_CHECKSUM: i32 = 19;
export const D_IP_NOT_FOR_US: i32 = 20;
export const D_IP_BAD_SOURCE: i32 = 21;
export const D_IP_UNKNOWN_PROTO: i32 = 22;
export const D_FRAG_OVERLAP: i32 = 23;
export const D_FRAG_TOO_BIG: i32 = 24;
export const D_FRAG_TABLE_FULL: i32 = 25;
export const D_FRAG_TIMEOUT: i32 = 26;
export const D_FRAG_BAD: i32 = 27;         // zero-length or misaligned fragment
export const D_ICMP_TRUNCATED: i32 = 28;
export const D_ICMP_BAD_CHECKSUM: i32 = 29;
export const D_ICMP_UNSUPPORTED: i32 = 30;
export const D_UDP_TRUNCATED: i32 = 31;
export const D_UDP_BAD_LENGTH: i32 = 32;
export const D_UDP_BAD_CHECKSUM: i32 = 33;
export const D_UDP_NO_SOCKET: i32 = 34;
export const D_UDP_QUEUE_FULL: i32 = 35;
export const D_TX_RING_FULL: i32 = 36;
export const D_NO_BUFFER: i32 = 37;        // pool empty when the stack needed a buffer
export const D_TCP_BAD_CHECKSUM: i32 = 38;
// Events that are not drops.
export const C_ICMP_ECHO_REPLIED: i32 = 39;
export const C_ARP_REQUESTS_SENT: i32 = 40;
export const C_ARP_REPLIES_SENT: i32 = 41;
export const C_FRAGS_REASSEMBLED: i32 = 42;
export const C_FRAGS_SENT: i32 = 43;
export const C_UDP_DELIVERED: i32 = 44;
export const C_UDP_SENT: i32 = 45;
export const D_FRAG_DUPLICATE: i32 = 46;
export const D_ARP_CONFLICT: i32 = 47;   // someone else claims our address
export const D_TCP_MALFORMED: i32 = 48;      // data offset or an option length is wrong
export const D_TCP_NO_LISTENER: i32 = 49;    // answered with RST (RFC 9293 §3.10.7.1)
export const D_TCP_OUT_OF_WINDOW: i32 = 50;  // unacceptable sequence or PAWS: answered with an ACK
export const D_TCP_SYN_QUEUE_FULL: i32 = 51;
export const D_TCP_NO_TCB: i32 = 52;         // connection table full
export const C_TCP_SEGS_IN: i32 = 53;
export const C_TCP_SEGS_OUT: i32 = 54;
export const C_TCP_RETRANSMITS: i32 = 55;
export const C_TCP_RESETS_SENT: i32 = 56;
export const C_TCP_CHALLENGE_ACKS: i32 = 57;
export const C_TCP_FAST_RETRANSMITS: i32 = 58;
export const D_RX_FILTERED: i32 = 59;       // the host's NF chain dropped (or took) the frame: length 0
export const C_TCP_RTO_RETRANSMITS: i32 = 60;   // segments retransmitted on a timeout (RFC 6298), the last resort
export const C_TCP_TLP_PROBES: i32 = 61;        // tail loss probes sent (RFC 8985 §7)
export const C_TCP_RACK_LOSSES: i32 = 62;       // segments RACK deemed lost (RFC 8985 §6.2)
export const C_TCP_SPURIOUS_RETRANSMITS: i32 = 63; // retransmissions the peer reported as duplicates (D-SACK, RFC 2883)
export const C_TCP_UNDOS: i32 = 64;             // congestion responses undone as spurious (RFC 3522, RFC 2883)
export const C_TCP_DSACKS_SENT: i32 = 65;       // D-SACK blocks we sent for duplicate segments
export const D_TCP_OOO_FULL: i32 = 66;          // out-of-order segment not kept: every range in use (never renege)
export const C_TCP_SYN_COOKIES_SENT: i32 = 67;  // SYN-ACKs with a cookie: the listener's queue was full (RFC 4987)
export const C_TCP_SYN_COOKIES_OK: i32 = 68;    // connections opened by a valid cookie in an ACK
export const D_TCP_NO_MEMORY: i32 = 69;         // in-window data not kept: no memory left for the receive ring
export const C_TCP_SEND_MEMORY_SHORT: i32 = 70; // a push waited: no memory left to grow the send ring
export const C_TCP_RCV_BUFFER_GROWN: i32 = 71;  // receive buffers grown by dynamic right-sizing
export const NUM_COUNTERS: i32 = 72;

let countersBase: usize = 0;

export function countersInit(base: usize): void {
  countersBase = base;
  memory.fill(base, 0, <usize>NUM_COUNTERS * 8);
}

export function countersPtr(): usize {
  return countersBase;
}

@inline export function count(index: i32): void {
  const p = countersBase + (<usize>index << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function countN(index: i32, n: u64): void {
  const p = countersBase + (<usize>index << 3);
  store<u64>(p, load<u64>(p) + n);
}
