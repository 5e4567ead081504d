// Linux on the far side of a DPDK port, for `bench dpdk` and the interop tests (root only): a
// network namespace holding one end of a veth pair whose outer end a PMD opens (net_af_packet,
// net_af_xdp), and a UDP echo server inside it. Everything made here is removed by close().
import { execFileSync, spawn, spawnSync } from "node:child_process";

export interface VethPeer {
  /** The namespace, the veth end left outside it (the PMD's iface) and the end inside. */
  ns: string; outer: string; inner: string;
  close(): void;
}

/** A namespace named after `tag` with `address` ("198.19.6.1/24", and optionally an IPv6 one) on its veth end. */
export function vethPeer(tag: string, address: string, address6?: string): VethPeer {
  const ns = `dwns${tag}`, outer = `dwv${tag}a`, inner = `dwv${tag}b`;
  const close = () => { spawnSync("ip", ["netns", "del", ns]); };      // takes the veth pair with it
  close();
  try {
    execFileSync("sh", ["-c", [
      `ip netns add ${ns}`, `ip link add ${outer} type veth peer name ${inner}`, `ip link set ${inner} netns ${ns}`,
      `ip -n ${ns} addr add ${address} dev ${inner}`,
      ...(address6 ? [`ip -n ${ns} -6 addr add ${address6} dev ${inner} nodad`] : []),
      `ip -n ${ns} link set ${inner} up`, `ip link set ${outer} up`,
      `sysctl -qw net.ipv6.conf.${outer}.disable_ipv6=1`,
      // A veth leaves UDP/TCP checksums to "hardware" (CHECKSUM_PARTIAL) and AF_PACKET and AF_XDP
      // hand them over unfinished; the Wasm stack checks every checksum, so the peer computes them.
      `ip netns exec ${ns} ethtool -K ${inner} tx off`,
    ].join(" && ")], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    close();
    throw new Error(`demiwasm: could not make the namespace ${ns} with a veth: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
  }
  return { ns, outer, inner, close };
}

/** Checks that Linux in the namespace reaches `ip` through its veth end (and not another route). */
export function assertRoutedInside(peer: VethPeer, ip: string): void {
  const route = execFileSync("ip", ["-n", peer.ns, "route", "get", ip], { encoding: "utf8" });
  if (!route.includes(`dev ${peer.inner}`)) throw new Error(`demiwasm: ${ip} is not reached through ${peer.inner} in ${peer.ns}: ${route.trim()}`);
}

/**
 * A UDP echo server on `port` in the namespace (Node's dgram, in a child process); resolves once
 * it is bound, with the function that stops it.
 */
export async function udpEchoInside(peer: VethPeer, port: number): Promise<() => void> {
  const script = `const s=require("dgram").createSocket("udp4");s.on("message",(m,r)=>s.send(m,r.port,r.address));` +
    `s.bind(${port},()=>process.stdout.write("ready\\n"));`;
  const child = spawn("ip", ["netns", "exec", peer.ns, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => { err += d; });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`demiwasm: the echo server in ${peer.ns} exited (${code}): ${err.trim().split("\n").pop()}`)));
  });
  return () => { child.kill("SIGTERM"); };
}
