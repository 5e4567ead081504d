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
    default: return 22;
  }
  return 0;
}
