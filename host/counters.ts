// Names of the datapath's counters, in the order of assembly/counters.ts (a test pins the two).
// Names starting with "drop." are drop reasons.
export const COUNTER_NAMES = [
  "rx.frames", "tx.frames", "rx.bytes", "tx.bytes",
  "drop.rx_bad_descriptor", "drop.rx_too_long",
  "drop.eth_truncated", "drop.eth_not_for_us", "drop.eth_unknown_type",
  "drop.arp_malformed", "drop.arp_not_for_us", "drop.arp_gratuitous", "drop.arp_unsolicited",
  "drop.arp_timeout", "drop.arp_queue_full",
  "drop.ip_truncated", "drop.ip_bad_version", "drop.ip_bad_ihl", "drop.ip_bad_length",
  "drop.ip_bad_checksum", "drop.ip_not_for_us", "drop.ip_bad_source", "drop.ip_unknown_protocol",
  "drop.frag_overlap", "drop.frag_too_big", "drop.frag_table_full", "drop.frag_timeout", "drop.frag_bad",
  "drop.icmp_truncated", "drop.icmp_bad_checksum", "drop.icmp_unsupported",
  "drop.udp_truncated", "drop.udp_bad_length", "drop.udp_bad_checksum", "drop.udp_no_socket",
  "drop.udp_queue_full", "drop.tx_ring_full", "drop.no_buffer", "drop.tcp_bad_checksum",
  "icmp.echo_replied", "arp.requests_sent", "arp.replies_sent", "ip.reassembled", "ip.fragments_sent",
  "udp.delivered", "udp.sent", "drop.frag_duplicate", "drop.arp_conflict",
  "drop.tcp_malformed", "drop.tcp_no_listener", "drop.tcp_out_of_window", "drop.tcp_syn_queue_full", "drop.tcp_no_tcb",
  "tcp.segments_in", "tcp.segments_out", "tcp.retransmits", "tcp.resets_sent", "tcp.challenge_acks", "tcp.fast_retransmits",
  "drop.rx_filtered",
  "tcp.rto_retransmits", "tcp.tlp_probes", "tcp.rack_losses", "tcp.spurious_retransmits", "tcp.undos", "tcp.dsacks_sent",
  "drop.tcp_ooo_full", "tcp.syn_cookies_sent", "tcp.syn_cookies_accepted",
  "drop.tcp_no_memory", "tcp.send_memory_short", "tcp.rcv_buffer_grown",
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, number>;

/** Only the drop reasons that are not zero, for summaries. */
export function nonZeroDrops(c: Counters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of COUNTER_NAMES) if (n.startsWith("drop.") && c[n] !== 0) out[n.slice(5)] = c[n];
  return out;
}

export function totalDrops(c: Counters): number {
  let t = 0;
  for (const n of COUNTER_NAMES) if (n.startsWith("drop.")) t += c[n];
  return t;
}
