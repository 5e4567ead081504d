// Runtime configuration, set by the host through configure() before init(). Values are validated
// on the host (host/config.ts) and again here where a bad value could corrupt the layout.

export const K_LOCAL_IP: i32 = 0;
export const K_MAC_HI: i32 = 1;          // first two MAC bytes, big-endian
export const K_MAC_LO: i32 = 2;          // last four MAC bytes, big-endian
export const K_MTU: i32 = 3;
export const K_ARP_TTL_MS: i32 = 4;
export const K_ARP_TIMEOUT_MS: i32 = 5;
export const K_ARP_RETRIES: i32 = 6;
export const K_REASM_TIMEOUT_MS: i32 = 7;
export const K_REASM_SLOTS: i32 = 8;
export const K_POOL_SMALL: i32 = 9;
export const K_POOL_LARGE: i32 = 10;
export const K_UDP_QUEUE_DEPTH: i32 = 11;
export const K_DISABLE_ARP: i32 = 12;
export const K_ARP_QUEUE_DEPTH: i32 = 13;
export const K_TCP_MAX_CONNECTIONS: i32 = 14;
export const K_TCP_BUFFER: i32 = 15;
export const K_TCP_RTO_MIN_MS: i32 = 16;
export const K_TCP_RTO_INITIAL_MS: i32 = 17;
export const K_TCP_TIME_WAIT_MS: i32 = 18;
export const K_TCP_SYN_RETRIES: i32 = 19;
export const K_TCP_MAX_RETRIES: i32 = 20;
export const K_TCP_DELAYED_ACK_MS: i32 = 21;
export const K_TCP_CONGESTION: i32 = 22;
export const K_TCP_KEEPALIVE_IDLE_MS: i32 = 23;
export const K_TCP_KEEPALIVE_INTERVAL_MS: i32 = 24;
export const K_TCP_KEEPALIVE_PROBES: i32 = 25;

export let localIp: u32 = 0;
export let macHi: u32 = 0;
export let macLo: u32 = 0;
export let mtu: i32 = 1500;
export let arpTtlNs: f64 = 15000 * 1e6;
export let arpTimeoutNs: f64 = 200 * 1e6;
export let arpRetries: i32 = 5;
export let arpQueueDepth: i32 = 64;
export let disableArp: bool = false;
export let reasmTimeoutNs: f64 = 30000 * 1e6;
export let reasmSlots: i32 = 8;
export let poolSmall: i32 = 4096;
export let poolLarge: i32 = 16;
export let udpQueueDepth: i32 = 256;
export let tcpMaxConnections: i32 = 0;         // 0: as many as half the memory left after the pool holds (api.ts)
export let tcpBuffer: i32 = 65536;           // send and receive buffer per connection, a power of two
export let tcpRtoMinNs: f64 = 200 * 1e6;     // Linux's 200 ms; RFC 6298 §2.4 says 1 s
export let tcpRtoInitialNs: f64 = 1000 * 1e6; // RFC 6298 §2.1
export let tcpTimeWaitNs: f64 = 60000 * 1e6;  // 2·MSL as Linux counts it
export let tcpSynRetries: i32 = 6;
export let tcpMaxRetries: i32 = 15;
export let tcpDelayedAckNs: f64 = 40 * 1e6;
export let tcpCongestion: i32 = 0;           // 0 CUBIC, 1 NewReno (net/tcp/cc.ts)
export let tcpKeepIdleNs: f64 = 7200e9;      // RFC 1122 §4.2.3.6: at least two hours by default
export let tcpKeepIntervalNs: f64 = 75e9;
export let tcpKeepProbes: i32 = 9;

export const MAX_CONNECTIONS: u32 = 1 << 18;

/** Settles tcp.max_connections when the host left it to the datapath (0). */
export function sizeConnections(n: u32): void { tcpMaxConnections = <i32>n; }

export function configure(key: i32, value: f64): i32 {
  const u = <u32>value;
  switch (key) {
    case K_LOCAL_IP: localIp = u; break;
    case K_MAC_HI: macHi = u & 0xffff; break;
    case K_MAC_LO: macLo = u; break;
    case K_MTU: if (u < 576 || u > 9000) return 22; mtu = <i32>u; break;
    case K_ARP_TTL_MS: arpTtlNs = value * 1e6; break;
    case K_ARP_TIMEOUT_MS: arpTimeoutNs = value * 1e6; break;
    case K_ARP_RETRIES: arpRetries = <i32>u; break;
    case K_REASM_TIMEOUT_MS: reasmTimeoutNs = value * 1e6; break;
    case K_REASM_SLOTS: if (u < 1 || u > 256) return 22; reasmSlots = <i32>u; break;
    case K_POOL_SMALL: if (u < 64 || u > 1 << 20) return 22; poolSmall = <i32>u; break;
    case K_POOL_LARGE: if (u < 2 || u > 4096) return 22; poolLarge = <i32>u; break;
    case K_UDP_QUEUE_DEPTH: if (u < 1 || u > 65536) return 22; udpQueueDepth = <i32>u; break;
    case K_DISABLE_ARP: disableArp = u != 0; break;
    case K_ARP_QUEUE_DEPTH: if (u < 1 || u > 4096) return 22; arpQueueDepth = <i32>u; break;
    case K_TCP_MAX_CONNECTIONS: if (u > MAX_CONNECTIONS) return 22; tcpMaxConnections = <i32>u; break;
    case K_TCP_BUFFER: if (u < 4096 || u > 1 << 24 || (u & (u - 1)) != 0) return 22; tcpBuffer = <i32>u; break;
    case K_TCP_RTO_MIN_MS: tcpRtoMinNs = value * 1e6; break;
    case K_TCP_RTO_INITIAL_MS: tcpRtoInitialNs = value * 1e6; break;
    case K_TCP_TIME_WAIT_MS: tcpTimeWaitNs = value * 1e6; break;
    case K_TCP_SYN_RETRIES: tcpSynRetries = <i32>u; break;
    case K_TCP_MAX_RETRIES: tcpMaxRetries = <i32>u; break;
    case K_TCP_DELAYED_ACK_MS: tcpDelayedAckNs = value * 1e6; break;
    case K_TCP_CONGESTION: if (u > 1) return 22; tcpCongestion = <i32>u; break;
    case K_TCP_KEEPALIVE_IDLE_MS: tcpKeepIdleNs = value * 1e6; break;
    case K_TCP_KEEPALIVE_INTERVAL_MS: tcpKeepIntervalNs = value * 1e6; break;
    case K_TCP_KEEPALIVE_PROBES: tcpKeepProbes = <i32>u; break;
    default: return 22;
  }
  return 0;
}
