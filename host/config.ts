// Configuration, like Demikernel's config.yaml: a YAML (or JSON) file, then DEMIWASM_* environment
// variables over it, then explicit overrides. Every value is checked here; a bad one is a single
// ConfigError line naming its key.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { DATAPATH_KEYS, DATAPATH_DEFAULTS, type DatapathKey } from "./schema/config.js";
import { parseIpv6, parseIpv6Prefix, formatIpv6 } from "./ipv6.js";

export interface Config {
  backend: "loopback" | "dpdk" | "fabric" | "posix";
  local_ipv4: string;
  local_ipv6: string[];           // "addr/prefix", besides the link-local address derived from the MAC
  mac: string;
  mtu: number;
  memory_mb: number;
  seed: number | null;            // stack randomness (ISNs, ports, IP ids); null: random
  arp: {
    cache_ttl_ms: number;
    request_timeout_ms: number;
    retry_count: number;
    queue_depth: number;
    disable: boolean;
    table: Record<string, string>;   // static entries: IPv4 -> MAC
  };
  ip: { reassembly_timeout_ms: number; reassembly_slots: number };
  ndp: {
    reachable_time_ms: number; retrans_timer_ms: number; delay_first_probe_ms: number;
    max_multicast_solicit: number; max_unicast_solicit: number; queue_depth: number; dad_transmits: number;
    table: Record<string, string>;   // static neighbors: IPv6 -> MAC
  };
  pool: { small_buffers: number; large_buffers: number };
  udp: { rx_queue_depth: number };
  tcp: {
    max_connections: number | null;   // null: as many as half of memory_mb left after the pool holds
    buffer_bytes: number;             // the most each of a connection's two buffers grows to
    rto_min_ms: number; rto_initial_ms: number;
    time_wait_ms: number; syn_retries: number; max_retries: number; delayed_ack_ms: number;
    congestion: "cubic" | "newreno";
    keepalive_idle_ms: number; keepalive_interval_ms: number; keepalive_probes: number;
  };
  link: { name: string; loss: number; reorder: number; duplicate: number; corrupt: number;
          delay_ms: number; seed: number | null };
  dpdk: {
    eal_args: string;            // EAL arguments, space-separated (one EAL per process)
    device: string;              // a vdev spec (net_tap0,iface=dw0) or a PCI address (0000:01:00.0)
    mode: "zerocopy" | "copy";   // zerocopy: mbufs over the Wasm pool's slots; copy: for PMDs that need their own
    queue: number;               // the RX/TX queue pair this stack polls
    rx_desc: number;
    tx_desc: number;
    burst: number;               // frames per rx/tx burst
  };
  poll: {
    mode: "busy" | "adaptive";   // how an event-loop driver (openStack) turns the datapath
    spin_us: number;             // adaptive: keep polling this long after the last work, then sleep
    sleep_max_ms: number;        // adaptive on dpdk and fabric (no readiness to wait on): the longest nap
  };
  fabric: {
    provider: string;            // libfabric provider (FI_PROVIDER overrides); verbs on RDMA NICs
    node: string;                // the local address the endpoint binds to
    recv_depth: number;          // receives pre-posted per connection
    message_bytes: number;       // the largest message, and the size of each posted receive
    op_timeout_ms: number;       // a send or RMA not completed by then fails and breaks its connection
  };
}

export class ConfigError extends Error {
  constructor(readonly key: string, message: string) {
    super(`config key '${key}': ${message}`);
    this.name = "ConfigError";
  }
}

// The keys the datapath takes are the schema's (defaults and bounds: schema/datapath.mjs); the
// host's own keys are defined here.
export const DEFAULTS: Config = {
  ...DATAPATH_DEFAULTS,
  arp: { ...DATAPATH_DEFAULTS.arp, table: {} },
  ndp: { ...DATAPATH_DEFAULTS.ndp, table: {} },
  backend: "loopback",
  local_ipv6: [],
  memory_mb: 64,
  seed: null,
  link: { name: "default", loss: 0, reorder: 0, duplicate: 0, corrupt: 0, delay_ms: 0, seed: null },
  dpdk: {
    eal_args: "--no-huge -m 512 --no-pci --no-shconf --no-telemetry -l 0 --log-level=warning",
    device: "net_tap0,iface=dwtap0", mode: "zerocopy", queue: 0, rx_desc: 256, tx_desc: 256, burst: 32,
  },
  poll: { mode: "adaptive", spin_us: 200, sleep_max_ms: 10 },
  fabric: { provider: "tcp;ofi_rxm", node: "127.0.0.1", recv_depth: 64, message_bytes: 2046, op_timeout_ms: 2000 },
};

type Check = (v: unknown) => unknown;   // returns the clean value or throws a message string

const int = (lo: number, hi: number): Check => (v) => {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < lo || n > hi) throw `expected an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`;
  return n;
};
const prob: Check = (v) => {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !(n >= 0 && n <= 1)) throw `expected a probability in [0, 1], got ${JSON.stringify(v)}`;
  return n;
};
const bool: Check = (v) => {
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw `expected true or false, got ${JSON.stringify(v)}`;
};
const seed: Check = (v) => (v === null || v === "" ? null : int(0, 0xffffffff)(v));
const ipv4: Check = (v) => { if (typeof v !== "string" || parseIpv4(v) === null) throw `expected a dotted IPv4 address, got ${JSON.stringify(v)}`; return v; };
const mac: Check = (v) => { if (typeof v !== "string" || parseMac(v) === null) throw `expected a MAC like 02:00:00:00:00:01, got ${JSON.stringify(v)}`; return v.toLowerCase(); };
const oneOf = (...xs: string[]): Check => (v) => { if (typeof v !== "string" || !xs.includes(v)) throw `expected one of ${xs.join(", ")}, got ${JSON.stringify(v)}`; return v; };
const name: Check = (v) => { if (typeof v !== "string" || !/^[\w.-]{1,64}$/.test(v)) throw `expected a name of letters, digits, '.', '_' or '-', got ${JSON.stringify(v)}`; return v; };
const arpTable: Check = (v) => {
  // From the environment: "ip=mac,ip=mac".
  if (typeof v === "string") v = Object.fromEntries(v.split(",").filter(Boolean).map((kv) => kv.split("=")));
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw `expected a map of IPv4 address to MAC`;
  const out: Record<string, string> = {};
  for (const [ip, m] of Object.entries(v)) {
    if (parseIpv4(ip) === null) throw `entry ${JSON.stringify(ip)} is not an IPv4 address`;
    if (typeof m !== "string" || parseMac(m) === null) throw `entry ${ip}: ${JSON.stringify(m)} is not a MAC`;
    out[ip] = m.toLowerCase();
  }
  return out;
};

const ndpTable: Check = (v) => {
  // From the environment: "ip=mac,ip=mac".
  if (typeof v === "string") v = Object.fromEntries(v.split(",").filter(Boolean).map((kv) => kv.split("=")));
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw `expected a map of IPv6 address to MAC`;
  const out: Record<string, string> = {};
  for (const [ip, m] of Object.entries(v)) {
    const a = parseIpv6(ip);
    if (a === null || a[0] === 0xff) throw `entry ${JSON.stringify(ip)} is not a unicast IPv6 address`;
    if (typeof m !== "string" || parseMac(m) === null) throw `entry ${ip}: ${JSON.stringify(m)} is not a MAC`;
    out[formatIpv6(a)] = m.toLowerCase();
  }
  return out;
};

const ipv6List: Check = (v) => {
  // From the environment: "addr/prefix,addr/prefix".
  const items = typeof v === "string" ? v.split(",").map((x) => x.trim()).filter(Boolean) : v;
  if (!Array.isArray(items)) throw `expected a list of IPv6 addresses with prefix lengths, like ["2001:db8::1/64"]`;
  if (items.length > 7) throw `at most 7 addresses (the link-local one makes 8), got ${items.length}`;
  return items.map((x) => {
    const a = typeof x === "string" && x.includes("/") ? parseIpv6Prefix(x) : null;
    if (a === null) throw `${JSON.stringify(x)} is not an IPv6 address with a prefix length, like 2001:db8::1/64`;
    if (a.addr[0] === 0xff) throw `${x} is a multicast address`;
    if (a.addr.every((b, i) => b === 0 || (i === 15 && b === 1))) throw `${x} is the unspecified or the loopback address`;
    return `${formatIpv6(a.addr)}/${a.prefix}`;
  });
};

const pow2 = (lo: number, hi: number): Check => (v) => {
  const n = int(lo, hi)(v) as number;
  if ((n & (n - 1)) !== 0) throw `expected a power of two in [${lo}, ${hi}], got ${JSON.stringify(v)}`;
  return n;
};

/** How the host checks a datapath key of each schema type. */
function datapathCheck(k: DatapathKey): Check {
  switch (k.type) {
    case "ipv4": return ipv4;
    case "mac": return mac;
    case "int": case "ms": return int(k.min!, k.max!);
    case "pow2": return pow2(k.min!, k.max!);
    case "bool": return bool;
    case "enum": return oneOf(...k.values!);
    case "auto": return (v) => (v === null || v === "" || v === "auto" ? null : int(k.min!, k.max!)(v));
  }
}

/** The values the datapath's configure() takes, as (key number, value, config key). */
export function datapathSettings(c: Config): [number, number, string][] {
  const out: [number, number, string][] = [];
  for (const k of DATAPATH_KEYS) {
    const v = k.key.split(".").reduce((o: any, p) => o[p], c);
    switch (k.type) {
      case "ipv4": out.push([k.ids[0], parseIpv4(v)!, k.key]); break;
      case "mac": { const [hi, lo] = parseMac(v)!; out.push([k.ids[0], hi, k.key], [k.ids[1], lo, k.key]); break; }
      case "bool": out.push([k.ids[0], v ? 1 : 0, k.key]); break;
      case "enum": out.push([k.ids[0], k.values!.indexOf(v), k.key]); break;
      case "auto": out.push([k.ids[0], v ?? 0, k.key]); break;
      default: out.push([k.ids[0], v, k.key]);
    }
  }
  return out;
}

const SCHEMA: Record<string, Check> = {
  ...Object.fromEntries(DATAPATH_KEYS.map((k) => [k.key, datapathCheck(k)])),
  "backend": oneOf("loopback", "dpdk", "fabric", "posix"),
  "memory_mb": int(4, 2048),
  "seed": seed,
  "arp.table": arpTable,
  "local_ipv6": ipv6List,
  "ndp.table": ndpTable,
  "link.name": name,
  "link.loss": prob,
  "link.reorder": prob,
  "link.duplicate": prob,
  "link.corrupt": prob,
  "link.delay_ms": int(0, 60_000),
  "link.seed": seed,
  "dpdk.eal_args": (v) => { if (typeof v !== "string" || v.length > 4096 || /[\0\n]/.test(v)) throw `expected EAL arguments as one line, got ${JSON.stringify(v)}`; return v; },
  "dpdk.device": (v) => { if (typeof v !== "string" || !/^[\w.:,=/@+-]{1,255}$/.test(v)) throw `expected a device like net_tap0,iface=dw0 or 0000:01:00.0, got ${JSON.stringify(v)}`; return v; },
  "dpdk.mode": oneOf("zerocopy", "copy"),
  "dpdk.queue": int(0, 1023),
  "dpdk.rx_desc": int(16, 4096),
  "dpdk.tx_desc": int(16, 4096),
  "dpdk.burst": int(1, 64),
  "poll.mode": oneOf("busy", "adaptive"),
  "poll.spin_us": int(0, 10_000_000),
  "poll.sleep_max_ms": int(1, 1000),
  "fabric.provider": (v) => { if (typeof v !== "string" || !/^[\w;.-]{1,64}$/.test(v)) throw `expected a libfabric provider name like tcp;ofi_rxm, got ${JSON.stringify(v)}`; return v; },
  "fabric.node": (v) => { if (typeof v !== "string" || (parseIpv4(v) === null && parseIpv6(v) === null)) throw `expected an IPv4 or IPv6 address, got ${JSON.stringify(v)}`; return v; },
  "fabric.recv_depth": int(1, 4096),
  "fabric.message_bytes": int(1, 65536 + 4096 - 128 - 2),
  "fabric.op_timeout_ms": int(1, 3_600_000),
};

export const CONFIG_KEYS = Object.keys(SCHEMA);

/** DEMIWASM_ARP_RETRY_COUNT for arp.retry_count, and so on. */
export function envName(key: string): string {
  return "DEMIWASM_" + key.replace(/\./g, "_").toUpperCase();
}

function setPath(cfg: any, key: string, value: unknown): void {
  const parts = key.split(".");
  let o = cfg;
  for (const p of parts.slice(0, -1)) o = o[p];
  o[parts[parts.length - 1]] = value;
}

function flatten(obj: unknown, prefix: string, out: Map<string, unknown>): void {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new ConfigError(prefix || "(top)", "expected a mapping");
  }
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (key in SCHEMA) out.set(key, v);
    else if (typeof v === "object" && v !== null && !Array.isArray(v) && CONFIG_KEYS.some((s) => s.startsWith(key + "."))) flatten(v, key, out);
    else throw new ConfigError(key, "unknown key");
  }
}

export interface LoadOptions {
  file?: string;                              // YAML or JSON
  env?: NodeJS.ProcessEnv;                    // defaults to process.env
  overrides?: Record<string, unknown>;        // flat keys, e.g. { "arp.retry_count": 3 }
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cfg: Config = structuredClone(DEFAULTS);
  const values = new Map<string, unknown>();
  const file = opts.file ?? env.DEMIWASM_CONFIG;
  if (file) {
    let text: string;
    try { text = readFileSync(file, "utf8"); } catch (e) { throw new ConfigError("file", `cannot read ${file}: ${(e as Error).message}`); }
    let doc: unknown;
    try { doc = parseYaml(text); } catch (e) { throw new ConfigError("file", `${file} is not valid YAML: ${(e as Error).message.split("\n")[0]}`); }
    if (doc !== null && doc !== undefined) flatten(doc, "", values);
  }
  for (const key of CONFIG_KEYS) {
    const v = env[envName(key)];
    if (v !== undefined) values.set(key, v);
  }
  for (const [k, v] of Object.entries(opts.overrides ?? {})) {
    if (!(k in SCHEMA)) throw new ConfigError(k, "unknown key");
    values.set(k, v);
  }
  for (const [key, v] of values) {
    try { setPath(cfg, key, SCHEMA[key](v)); } catch (msg) {
      if (msg instanceof Error) throw msg;
      throw new ConfigError(key, String(msg));
    }
  }
  return cfg;
}

// ---- addresses ----

/** Dotted quad to a u32 in host order, or null. */
export function parseIpv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return null;
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

export function formatIpv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** A MAC as [first two bytes, last four bytes], both big-endian integers; or null. */
export function parseMac(s: string): [number, number] | null {
  const m = /^([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map((x) => parseInt(x, 16));
  return [(b[0] << 8) | b[1], ((b[2] << 24) | (b[3] << 16) | (b[4] << 8) | b[5]) >>> 0];
}

export function formatMac(hi: number, lo: number): string {
  const b = [hi >> 8, hi & 255, lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}
