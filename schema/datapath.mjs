// The one definition of everything that crosses a language boundary between the Wasm datapath
// (AssemblyScript), the host (TypeScript) and the native bridge (C). scripts/gen-schema.mjs turns
// it into assembly/schema/*.ts, host/schema/*.ts and native/schema.h, which are checked in; a
// test regenerates them and fails on any difference. Edit here, then `npm run gen`.

// ---- Memory layout shared with devices and the host ----
// Numbers; a string is an expression over the names defined before it.
export const layout = {
  // Buffer pool slots (assembly/mem/pool.ts): DPDK's default mbuf buffer, 128 B headroom + 2048 B.
  HEADROOM: [128, "room to prepend Ethernet/IPv4/transport headers in place"],
  SMALL_SIZE: [2176, "a frame slot: DPDK's RTE_MBUF_DEFAULT_BUF_SIZE"],
  LARGE_SIZE: [69632, "64 KiB of data after the headroom, page-sized: reassembled or application datagrams"],
  ETH_HLEN: [14, "Ethernet header"],
  MTU_MIN: [576, "RFC 791: every host must accept 576-byte datagrams"],
  MTU_MAX: ["SMALL_SIZE - HEADROOM - ETH_HLEN", "the largest IP datagram a frame slot holds"],
  // Descriptor rings (assembly/mem/ring.ts, host/rings.ts, native/dpdk/dpdk.h): a header of four
  // u32 words, then entries of (u32 offset, u32 length). Indices run free and wrap at 2^32.
  RING_PROD: [0, "byte offset of the producer index"],
  RING_CONS: [4, "byte offset of the consumer index"],
  RING_MASK: [8, "byte offset of entries - 1"],
  RING_HDR: [16, "bytes before the first entry"],
  RING_ENTRY: [8, "bytes per entry: u32 offset, u32 length"],
  // The PDPIX result block take() fills, our demi_qresult_t (byte offsets).
  RESULT_OPCODE: [0, "i32 operation"],
  RESULT_QD: [4, "i32 queue descriptor"],
  RESULT_QT: [8, "u32 qtoken"],
  RESULT_RET: [12, "i32 0 or a positive errno"],
  RESULT_SGA_BUF: [16, "u32 buffer offset (pop)"],
  RESULT_SGA_LEN: [20, "u32 buffer length (pop)"],
  RESULT_ADDR: [24, "u32 peer IPv4 address"],
  RESULT_PORT: [28, "u32 peer port"],
  RESULT_NEWQD: [32, "i32 accepted queue descriptor"],
  RESULT_SIZE: [36, "bytes"],
  // Qtokens: generation << QT_INDEX_BITS | table index (assembly/sched/qtoken.ts).
  QT_INDEX_BITS: [18, "operations in flight at most 2^18"],
  MAX_CONNECTIONS: ["1 << QT_INDEX_BITS", "tcp.max_connections at most"],
};

// ---- errno: positive values as Linux (and so Demikernel) defines them ----
export const errno = {
  EPERM: 1, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EINVAL: 22, EPIPE: 32,
  EDESTADDRREQ: 89, EMSGSIZE: 90, ENOPROTOOPT: 92, EPROTONOSUPPORT: 93, ENOTSUP: 95,
  EAFNOSUPPORT: 97, EADDRINUSE: 98, EADDRNOTAVAIL: 99, ECONNRESET: 104, ENOBUFS: 105,
  EISCONN: 106, ENOTCONN: 107, ETIMEDOUT: 110, ECONNREFUSED: 111, EHOSTUNREACH: 113, ECANCELED: 125,
};

// ---- Counters: u64 each in Wasm memory, in this order. "drop.*" are drop reasons. ----
// The datapath's constant is the name in capitals: drop.ip_truncated -> D_IP_TRUNCATED,
// tcp.undos -> C_TCP_UNDOS.
export const counters = [
  ["rx.frames", ""],
  ["tx.frames", ""],
  ["rx.bytes", ""],
  ["tx.bytes", ""],
  ["drop.rx_bad_descriptor", "host handed a descriptor that is not one of our fill slots"],
  ["drop.rx_too_long", "length larger than the slot"],
  ["drop.eth_truncated", ""],
  ["drop.eth_not_for_us", ""],
  ["drop.eth_unknown_type", ""],
  ["drop.arp_malformed", ""],
  ["drop.arp_not_for_us", ""],
  ["drop.arp_gratuitous", ""],
  ["drop.arp_unsolicited", ""],
  ["drop.arp_timeout", "frames dropped because resolution failed"],
  ["drop.arp_queue_full", ""],
  ["drop.ip_truncated", ""],
  ["drop.ip_bad_version", ""],
  ["drop.ip_bad_ihl", ""],
  ["drop.ip_bad_length", ""],
  ["drop.ip_bad_checksum", ""],
  ["drop.ip_not_for_us", ""],
  ["drop.ip_bad_source", ""],
  ["drop.ip_unknown_protocol", ""],
  ["drop.frag_overlap", ""],
  ["drop.frag_too_big", ""],
  ["drop.frag_table_full", ""],
  ["drop.frag_timeout", ""],
  ["drop.frag_bad", "zero-length or misaligned fragment"],
  ["drop.icmp_truncated", ""],
  ["drop.icmp_bad_checksum", ""],
  ["drop.icmp_unsupported", ""],
  ["drop.udp_truncated", ""],
  ["drop.udp_bad_length", ""],
  ["drop.udp_bad_checksum", ""],
  ["drop.udp_no_socket", ""],
  ["drop.udp_queue_full", ""],
  ["drop.tx_ring_full", ""],
  ["drop.no_buffer", "pool empty when the stack needed a buffer"],
  ["drop.tcp_bad_checksum", ""],
  ["icmp.echo_replied", ""],
  ["arp.requests_sent", ""],
  ["arp.replies_sent", ""],
  ["ip.reassembled", ""],
  ["ip.fragments_sent", ""],
  ["udp.delivered", ""],
  ["udp.sent", ""],
  ["drop.frag_duplicate", ""],
  ["drop.arp_conflict", "someone else claims our address"],
  ["drop.tcp_malformed", "data offset or an option length is wrong"],
  ["drop.tcp_no_listener", "answered with RST (RFC 9293 \u00a73.10.7.1)"],
  ["drop.tcp_out_of_window", "unacceptable sequence or PAWS: answered with an ACK"],
  ["drop.tcp_syn_queue_full", ""],
  ["drop.tcp_no_tcb", "connection table full"],
  ["tcp.segments_in", ""],
  ["tcp.segments_out", ""],
  ["tcp.retransmits", ""],
  ["tcp.resets_sent", ""],
  ["tcp.challenge_acks", ""],
  ["tcp.fast_retransmits", ""],
  ["drop.rx_filtered", "the host's NF chain dropped (or took) the frame: length 0"],
  ["tcp.rto_retransmits", "segments retransmitted on a timeout (RFC 6298), the last resort"],
  ["tcp.tlp_probes", "tail loss probes sent (RFC 8985 \u00a77)"],
  ["tcp.rack_losses", "segments RACK deemed lost (RFC 8985 \u00a76.2)"],
  ["tcp.spurious_retransmits", "retransmissions the peer reported as duplicates (D-SACK, RFC 2883)"],
  ["tcp.undos", "congestion responses undone as spurious (RFC 3522, RFC 2883)"],
  ["tcp.dsacks_sent", "D-SACK blocks we sent for duplicate segments"],
  ["drop.tcp_ooo_full", "out-of-order segment not kept: every range in use (never renege)"],
  ["tcp.syn_cookies_sent", "SYN-ACKs with a cookie: the listener's queue was full (RFC 4987)"],
  ["tcp.syn_cookies_accepted", "connections opened by a valid cookie in an ACK"],
  ["drop.tcp_no_memory", "in-window data not kept: no memory left for the receive ring"],
  ["tcp.send_memory_short", "a push waited: no memory left to grow the send ring"],
  ["tcp.rcv_buffer_grown", "receive buffers grown by dynamic right-sizing"],
];

// ---- Configuration the datapath takes (configure(key, value) before init()) ----
// key: the config file's path; type: how the host checks it and how it crosses (ipv4 and mac as
// integers, ms as a number the datapath keeps in ns, enum as the index of its value, auto as 0);
// as: the datapath's variable; min/max: bounds (numbers or layout names), the same on both sides.
// Host-only keys (backend, memory_mb, link, dpdk, poll, fabric, arp.table) live in host/config.ts.
export const config = [
  { key: "local_ipv4", type: "ipv4", default: "198.18.0.1", as: "localIp" },
  { key: "mac", type: "mac", default: "02:00:00:00:00:01", as: ["macHi", "macLo"] },
  { key: "mtu", type: "int", default: 1500, min: "MTU_MIN", max: "MTU_MAX", as: "mtu" },
  { key: "arp.cache_ttl_ms", type: "ms", default: 15000, min: 1, max: 86_400_000, as: "arpTtlNs" },
  { key: "arp.request_timeout_ms", type: "ms", default: 200, min: 1, max: 60_000, as: "arpTimeoutNs" },
  { key: "arp.retry_count", type: "int", default: 5, min: 0, max: 100, as: "arpRetries" },
  { key: "arp.queue_depth", type: "int", default: 64, min: 1, max: 4096, as: "arpQueueDepth" },
  { key: "arp.disable", type: "bool", default: false, as: "disableArp" },
  { key: "ip.reassembly_timeout_ms", type: "ms", default: 30000, min: 1, max: 600_000, as: "reasmTimeoutNs" },
  { key: "ip.reassembly_slots", type: "int", default: 8, min: 1, max: 256, as: "reasmSlots" },
  { key: "pool.small_buffers", type: "int", default: 4096, min: 64, max: 1 << 20, as: "poolSmall" },
  { key: "pool.large_buffers", type: "int", default: 16, min: 2, max: 4096, as: "poolLarge" },
  { key: "udp.rx_queue_depth", type: "int", default: 256, min: 1, max: 65536, as: "udpQueueDepth" },
  { key: "tcp.max_connections", type: "auto", default: null, min: 1, max: "MAX_CONNECTIONS", as: "tcpMaxConnections",
    doc: "null or auto: as many as half of memory_mb left after the pool holds" },
  { key: "tcp.buffer_bytes", type: "pow2", default: 1 << 20, min: 4096, max: 1 << 24, as: "tcpBuffer",
    doc: "the most each of a connection's two buffers grows to" },
  { key: "tcp.rto_min_ms", type: "ms", default: 200, min: 1, max: 60_000, as: "tcpRtoMinNs", doc: "Linux's 200 ms; RFC 6298 §2.4 says 1 s" },
  { key: "tcp.rto_initial_ms", type: "ms", default: 1000, min: 1, max: 60_000, as: "tcpRtoInitialNs", doc: "RFC 6298 §2.1" },
  { key: "tcp.time_wait_ms", type: "ms", default: 60000, min: 0, max: 600_000, as: "tcpTimeWaitNs", doc: "2·MSL as Linux counts it" },
  { key: "tcp.syn_retries", type: "int", default: 6, min: 0, max: 100, as: "tcpSynRetries" },
  { key: "tcp.max_retries", type: "int", default: 15, min: 1, max: 100, as: "tcpMaxRetries" },
  { key: "tcp.delayed_ack_ms", type: "ms", default: 40, min: 0, max: 500, as: "tcpDelayedAckNs" },
  { key: "tcp.congestion", type: "enum", values: ["cubic", "newreno"], default: "cubic", as: "tcpCongestion", doc: "net/tcp/cc.ts" },
  { key: "tcp.keepalive_idle_ms", type: "ms", default: 7_200_000, min: 1, max: 86_400_000, as: "tcpKeepIdleNs",
    doc: "RFC 1122 §4.2.3.6: at least two hours by default" },
  { key: "tcp.keepalive_interval_ms", type: "ms", default: 75_000, min: 1, max: 3_600_000, as: "tcpKeepIntervalNs" },
  { key: "tcp.keepalive_probes", type: "int", default: 9, min: 1, max: 100, as: "tcpKeepProbes" },
];
