// Configuration: file, environment, overrides, and one clear line for every bad value.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, ConfigError, DEFAULTS, envName } from "../host/config.js";
import { LibOS } from "../host/libos.js";
import { LoopbackLink } from "../host/backends/loopback.js";
import { VirtualClock } from "../host/clock.js";

const dir = mkdtempSync(join(tmpdir(), "demiwasm-config-"));
const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };

function configError(f: () => unknown): ConfigError {
  try { f(); } catch (e) { if (e instanceof ConfigError) return e; throw e; }
  throw new Error("expected a ConfigError");
}

test("defaults load with an empty environment", () => {
  assert.equal(loadConfig({ env: {} }), DEFAULTS);
});

test("a YAML file sets nested keys; the environment overrides it; explicit overrides win", () => {
  const p = file("a.yaml", "local_ipv4: 198.18.1.1\nmtu: 1400\narp:\n  retry_count: 2\n  table:\n    198.18.1.2: 02:00:00:00:01:02\nlink:\n  loss: 0.25\n");
  const c = loadConfig({ file: p, env: { DEMIWASM_ARP_RETRY_COUNT: "7", DEMIWASM_MTU: "1300" }, overrides: { mtu: 1200 } });
  assert.is(c.local_ipv4, "198.18.1.1");
  assert.is(c.arp.retry_count, 7);
  assert.is(c.mtu, 1200);
  assert.equal(c.arp.table, { "198.18.1.2": "02:00:00:00:01:02" });
  assert.is(c.link.loss, 0.25);
  assert.is(c.arp.request_timeout_ms, DEFAULTS.arp.request_timeout_ms);
});

test("DEMIWASM_CONFIG names the file; JSON is YAML too; env ARP tables are ip=mac lists", () => {
  const p = file("b.json", JSON.stringify({ udp: { rx_queue_depth: 9 } }));
  const c = loadConfig({ env: { DEMIWASM_CONFIG: p, DEMIWASM_ARP_TABLE: "198.18.0.9=02:00:00:00:00:09" } });
  assert.is(c.udp.rx_queue_depth, 9);
  assert.equal(c.arp.table, { "198.18.0.9": "02:00:00:00:00:09" });
  assert.is(envName("arp.request_timeout_ms"), "DEMIWASM_ARP_REQUEST_TIMEOUT_MS");
});

test("every bad value is one line that names its key", () => {
  const cases: [Record<string, string>, string][] = [
    [{ DEMIWASM_MTU: "99999" }, "mtu"],
    [{ DEMIWASM_MTU: "abc" }, "mtu"],
    [{ DEMIWASM_LOCAL_IPV4: "300.1.1.1" }, "local_ipv4"],
    [{ DEMIWASM_MAC: "02:00:00:00:00" }, "mac"],
    [{ DEMIWASM_LINK_LOSS: "1.5" }, "link.loss"],
    [{ DEMIWASM_ARP_DISABLE: "maybe" }, "arp.disable"],
    [{ DEMIWASM_BACKEND: "carrier-pigeon" }, "backend"],
    [{ DEMIWASM_ARP_TABLE: "1.2.3.4=nope" }, "arp.table"],
    [{ DEMIWASM_POOL_SMALL_BUFFERS: "3" }, "pool.small_buffers"],
    [{ DEMIWASM_TCP_MAX_CONNECTIONS: "0" }, "tcp.max_connections"],
    [{ DEMIWASM_TCP_MAX_CONNECTIONS: "300000" }, "tcp.max_connections"],
    [{ DEMIWASM_TCP_BUFFER_BYTES: "100000" }, "tcp.buffer_bytes"],
  ];
  for (const [env, key] of cases) {
    const e = configError(() => loadConfig({ env }));
    assert.is(e.key, key);
    assert.ok(e.message.startsWith(`config key '${key}': `), e.message);
    assert.not.match(e.message, "\n");
  }
});

test("unknown keys and unreadable or invalid files are refused, naming the key or file", () => {
  assert.is(configError(() => loadConfig({ file: file("c.yaml", "arp:\n  retries: 3\n"), env: {} })).key, "arp.retries");
  assert.is(configError(() => loadConfig({ file: file("d.yaml", "colour: blue\n"), env: {} })).key, "colour");
  assert.is(configError(() => loadConfig({ file: join(dir, "missing.yaml"), env: {} })).key, "file");
  const bad = configError(() => loadConfig({ file: file("e.yaml", "mtu: [1,\n"), env: {} }));
  assert.is(bad.key, "file");
  assert.not.match(bad.message, "\n");
  assert.is(configError(() => loadConfig({ env: {}, overrides: { nonsense: 1 } })).key, "nonsense");
});

test("tcp.max_connections unset (or auto) is sized from memory_mb: the defaults hold 10,000 and more, a larger memory more again", () => {
  const link = new LoopbackLink({}, new VirtualClock(), true);
  const count = (o: Record<string, unknown>) => new LibOS({ config: loadConfig({ env: {}, overrides: o }), link }).dp.exports.tcpMaxConnectionCount();
  const byDefault = count({});
  assert.ok(byDefault >= 10_000, `${byDefault} connections with memory_mb ${DEFAULTS.memory_mb}`);
  assert.is(count({ "tcp.max_connections": "auto", local_ipv4: "198.18.0.2", mac: "02:00:00:00:00:02" }), byDefault);
  assert.ok(count({ memory_mb: 256, local_ipv4: "198.18.0.3", mac: "02:00:00:00:00:03" }) > 4 * byDefault);
  assert.is(count({ "tcp.max_connections": 100, local_ipv4: "198.18.0.4", mac: "02:00:00:00:00:04" }), 100);
});

test("a memory too small for the pool is refused at start, naming memory_mb and the frame slots' size", () => {
  const config = loadConfig({ env: {}, overrides: { memory_mb: 4, "pool.small_buffers": 8192 } });
  const link = new LoopbackLink({}, new VirtualClock(), true);
  const e = configError(() => new LibOS({ config, link }));
  assert.is(e.key, "memory_mb");
  assert.match(e.message, "8192 frame buffers (2176 bytes each at mtu 1500)");
  // Jumbo frames make every frame slot larger: the same 2048 buffers that fit 16 MiB at 1500 do not at 9000.
  const jumbo = loadConfig({ env: {}, overrides: { memory_mb: 16, "pool.small_buffers": 2048, mtu: 9000, mac: "02:00:00:00:00:05" } });
  const j = configError(() => new LibOS({ config: jumbo, link }));
  assert.is(j.key, "memory_mb");
  assert.match(j.message, "2048 frame buffers (9216 bytes each at mtu 9000)");
});

test("a backend that is not built is one line naming the packages to install", () => {
  const config = loadConfig({ env: { DEMIWASM_BACKEND: "dpdk" } });
  process.env.DEMIWASM_NATIVE_DIR = "/nonexistent";        // as on a machine without DPDK
  try { new LibOS({ config }); assert.unreachable(); } catch (e) {
    assert.match((e as Error).message, "apt-get install dpdk libdpdk-dev");
    assert.not.match((e as Error).message, "\n");
  } finally {
    delete process.env.DEMIWASM_NATIVE_DIR;
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
