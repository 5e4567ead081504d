// What every benchmark suite is given (its own file so suites and the runner that lists them do
// not import each other).
export interface BenchOptions {
  json: boolean; quick: boolean; report?: boolean; out?: string;
  /** bench udp/tcp: also over IPv6, alternating with IPv4 runs in the same process. */
  ipv6?: boolean;
}
