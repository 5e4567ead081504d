// Backends other than the in-memory link arrive with their own issues; until their native parts
// are built, choosing one is a single clear line.
const PACKAGES: Record<string, string> = {
  dpdk: "the DPDK backend needs the native bridge: apt-get install dpdk libdpdk-dev pkg-config, then npm rebuild",
  fabric: "the fabric backend needs the native bridge: apt-get install libfabric-dev libfabric-bin, then npm rebuild",
  posix: "the posix backend is a transport backend: open it with openLibOS(config) or new PosixLibOS(config), not on the loopback link",
};

export function backendUnavailable(name: string): string {
  return `demiwasm: backend '${name}' is not available: ${PACKAGES[name] ?? "unknown backend"}`;
}
