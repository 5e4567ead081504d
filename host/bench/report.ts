// bench all --report: every suite this build can run, one after another, then bench/REPORT.md
// (a table of ratios against the baselines measured in the same run, the machine named) and
// bench/report.svg (one bar per comparison, baseline = 1).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cpus } from "node:os";

export interface Row { what: string; ours: number; base: number; unit: string; baseName: string; lowerIsBetter: boolean; goal?: string }

/** The comparisons a suite's JSON supports. */
export function rowsOf(suite: string, j: Record<string, number>): Row[] {
  const r: Row[] = [];
  if (suite === "udp") {
    r.push({ what: "UDP RTT p50, 64 B", ours: j.rttP50Us, base: j.nodeRttP50Us, unit: "µs", baseName: "Node dgram", lowerIsBetter: true, goal: "≥ 10×" });
    r.push({ what: "UDP RTT p99, 64 B", ours: j.rttP99Us, base: j.nodeRttP99Us, unit: "µs", baseName: "Node dgram", lowerIsBetter: true });
  } else if (suite === "tcp") {
    r.push({ what: "TCP RTT p50, 64 B", ours: j.rttP50Us, base: j.nodeRttP50Us, unit: "µs", baseName: "Node net", lowerIsBetter: true });
    r.push({ what: `TCP bulk, one flow, MTU ${j.bulkMtu ?? 1500}`, ours: j.bulkGbps, base: j.nodeBulkGbps, unit: "Gbit/s", baseName: "Node net (lo, MTU 65536)", lowerIsBetter: false, goal: "≥ 4×" });
    if (typeof j.bulkGbps1500 === "number") {
      r.push({ what: "TCP bulk, one flow, MTU 1500", ours: j.bulkGbps1500, base: j.nodeBulkGbps, unit: "Gbit/s", baseName: "Node net (lo, MTU 65536)", lowerIsBetter: false });
    }
  } else if (suite === "dpdk") {
    r.push({ what: "L2 reflect, 64 B, net_ring, zero-copy", ours: j.wasmMpps, base: j.nativeMpps, unit: "Mpps", baseName: "the same loop in C", lowerIsBetter: false, goal: "≥ 0.8×" });
    r.push({ what: "L2 reflect, 64 B, net_ring, copy mode", ours: j.copyMpps, base: j.nativeMpps, unit: "Mpps", baseName: "the same loop in C", lowerIsBetter: false });
    r.push({ what: "UDP RTT p50, two processes over memif", ours: j.memifRttP50Us, base: j.nodeRttP50Us, unit: "µs", baseName: "Node dgram", lowerIsBetter: true, goal: "≥ 10×" });
    if (typeof j.afXdpRttP50Us === "number") {
      r.push({ what: "UDP RTT p50 to Linux on a veth, net_af_xdp (copying)", ours: j.afXdpRttP50Us, base: j.afPacketRttP50Us, unit: "µs",
               baseName: "net_af_packet on the same veth", lowerIsBetter: true });
    }
  } else if (suite === "nf") {
    const lang: Record<string, string> = { assemblyscript: "AssemblyScript", c: "C", rust: "Rust" };
    const floors = new Set<string>();
    for (const n of (j as unknown as { nfs: { name: string; lang: string; wasmNs: number; nativeNs: number; meteredNs: number; clangWasmNs?: number | null }[] }).nfs) {
      const what = `NF ${n.name} (${lang[n.lang] ?? n.lang}), per packet`;
      r.push({ what, ours: n.wasmNs, base: n.nativeNs, unit: "ns", baseName: "the same logic in native C", lowerIsBetter: true, goal: "≤ 1.2×" });
      r.push({ what: `${what}, metered`, ours: n.meteredNs, base: n.wasmNs, unit: "ns", baseName: "unmetered", lowerIsBetter: true, goal: "≤ 1.05×" });
      // The engine's share, once per sample: the baseline's own C, compiled by clang to Wasm.
      if (typeof n.clangWasmNs === "number" && !floors.has(n.name)) {
        floors.add(n.name);
        r.push({ what: `NF ${n.name}: the native baseline's C as Wasm (clang), per packet`, ours: n.clangWasmNs, base: n.nativeNs, unit: "ns", baseName: "that C native", lowerIsBetter: true });
      }
    }
  } else if (suite === "http") {
    r.push({ what: "http requests/s, one keep-alive connection", ours: j.rps, base: j.nodeRps, unit: "rps", baseName: "Node http on kernel sockets", lowerIsBetter: false, goal: "≥ 1.5×" });
    r.push({ what: "http request p50", ours: j.p50Us, base: j.nodeP50Us, unit: "µs", baseName: "Node http on kernel sockets", lowerIsBetter: true, goal: "≤ 0.6×" });
  } else if (suite === "tcp-loss") {
    for (const c of (j as unknown as { cases: { loss: number; wasmLinuxMbps: number; linuxLinuxMbps: number }[] }).cases) {
      r.push({ what: `TCP goodput with ${c.loss * 100}% loss each way, echo of 64 MiB`, ours: c.wasmLinuxMbps, base: c.linuxLinuxMbps, unit: "Mbit/s",
               baseName: "Linux ↔ Linux through the same filter", lowerIsBetter: false, goal: "≥ 0.8×" });
    }
  } else if (suite === "fabric") {
    r.push({ what: "RDMA message RTT p50, 64 B", ours: j.rttP50Us, base: j.fiPingpongRxmRttUs, unit: "µs", baseName: "fi_pingpong (rxm RDM)", lowerIsBetter: true, goal: "within 10%" });
    r.push({ what: "RDMA message RTT p50, 64 B", ours: j.rttP50Us, base: j.fiPingpongRttUs, unit: "µs", baseName: "fi_pingpong -p tcp (MSG)", lowerIsBetter: true, goal: "within 10%" });
  }
  return r;
}

/** How many times better than the baseline (above 1: better). */
export function speedup(r: Row): number { return r.lowerIsBetter ? r.base / r.ours : r.ours / r.base; }

export function writeReport(dir: string, results: Record<string, Record<string, number>>, absolute: string[]): { md: string; svg: string } {
  const rows = Object.entries(results).flatMap(([s, j]) => rowsOf(s, j));
  const cpu = cpus();
  const machine = `${cpu.length} × ${cpu[0]?.model ?? "unknown CPU"}, Node ${process.version}, ${process.platform}/${process.arch}`;
  const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
  const lines = [
    "# demiwasm benchmark report",
    "",
    `Machine: ${machine}. One run of \`demiwasm bench all --report\`; every ratio is against a baseline`,
    "measured in the same run (this machine is shared and noisy).",
    "",
    "| measure | demiwasm | baseline | ratio | goal |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.what} | ${fmt(r.ours)} ${r.unit} | ${fmt(r.base)} ${r.unit} (${r.baseName}) | ${speedup(r).toFixed(2)}× ${speedup(r) >= 1 ? "better" : "worse"} | ${r.goal ?? ""} |`),
    "",
    "Absolute figures:",
    "",
    ...absolute.map((a) => `- ${a}`),
    "",
    "![chart](report.svg)",
    "",
  ];
  const md = lines.join("\n");
  const svg = chart(rows);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "REPORT.md"), md);
  writeFileSync(join(dir, "report.svg"), svg);
  return { md, svg };
}

function esc(s: string): string { return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }

/** Horizontal bars on a log scale of the speedup, with the baseline (1×) marked. */
function chart(rows: Row[]): string {
  const W = 940, left = 440, barH = 22, gap = 12, top = 40;
  const H = top + rows.length * (barH + gap) + 40;
  const maxLog = Math.max(1, ...rows.map((r) => Math.abs(Math.log10(speedup(r)))));
  const scale = (W - left - 60) / 2 / maxLog;
  const mid = left + (W - left - 60) / 2;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">demiwasm vs its baselines (log scale; right of the line is better)</text>`,
    `<line x1="${mid}" y1="${top - 8}" x2="${mid}" y2="${H - 30}" stroke="#444" stroke-dasharray="4 3"/>`,
    `<text x="${mid}" y="${H - 14}" text-anchor="middle">1× (baseline)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const s = speedup(r);
    const w = Math.abs(Math.log10(s)) * scale;
    const x = s >= 1 ? mid : mid - w;
    parts.push(`<text x="${left - 8}" y="${y + barH / 2 + 4}" text-anchor="end">${esc(r.what)} vs ${esc(r.baseName)}</text>`);
    parts.push(`<rect x="${x}" y="${y}" width="${Math.max(1, w)}" height="${barH}" fill="${s >= 1 ? "#2b7a3d" : "#b33a3a"}"/>`);
    parts.push(`<text x="${s >= 1 ? x + w + 4 : x - 4}" y="${y + barH / 2 + 4}" text-anchor="${s >= 1 ? "start" : "end"}">${s.toFixed(2)}×</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}
