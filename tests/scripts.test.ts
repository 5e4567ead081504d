// Every packet script in tests/scripts runs against a fresh stack on the virtual clock.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runScript } from "./pktscript.js";

const dir = fileURLToPath(new URL("../../tests/scripts/", import.meta.url));
const overrides: Record<string, Record<string, unknown>> = {
  "fin-ours-time-wait.pkt": { "tcp.time_wait_ms": 1000 },
  "fast-retransmit-newreno.pkt": { "tcp.congestion": "newreno" },
  "rcv-window-steps.pkt": { "tcp.buffer_bytes": 4096 },
  "ack-at-window-edge.pkt": { "tcp.buffer_bytes": 4096 },
  "ack-in-zero-window-probe.pkt": { "tcp.buffer_bytes": 4096 },
  "keepalive.pkt": { "tcp.keepalive_idle_ms": 1000, "tcp.keepalive_interval_ms": 500, "tcp.keepalive_probes": 2 },
};

// Each script runs three times, with the peer's sequence numbers in the lower half of the space,
// in the upper half, and wrapping past 2^32 right after its SYN: every comparison is modulo 2^32
// (RFC 9293 §3.4), and no state may start at a zero that means something only in one half.
const PEER_ISS: [number, string][] = [[1000000, ""], [0x9e3779b9, " (peer ISS in the upper half)"], [0xffffff00, " (peer sequence numbers wrap)"]];
for (const f of readdirSync(dir).filter((f) => f.endsWith(".pkt")).sort()) {
  const v6only = /^#!ipv6$/m.test(readFileSync(dir + f, "utf8"));
  for (const [iss, label] of v6only ? [] : PEER_ISS) {
    test(`script ${f}${label}`, () => {
      const r = runScript(dir + f, overrides[f] ?? {}, iss);
      assert.ok(r.ok, r.error);
    });
  }
  // Over IPv6 as well (issue 16), with another seed, so our own ISS lies elsewhere too: a state
  // that starts at a zero meaningful in one half of the space shows in one of the runs.
  test(`script ${f} (IPv6, another ISS of ours)`, () => {
    const r = runScript(dir + f, { seed: 11, ...overrides[f] }, PEER_ISS[0][0], true);
    assert.ok(r.ok, r.error);
  });
}

test("a script that expects the wrong thing fails, naming the line", () => {
  const r = runScript(dir + "handshake-passive.pkt".replace("handshake-passive", "rto"), { "tcp.rto_initial_ms": 500 });
  assert.is(r.ok, false);
  assert.match(r.error!, /rto\.pkt:\d+: segment at 0\.500000 s, expected at 1/);
});

test.run();
