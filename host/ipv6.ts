// IPv6 addresses as text (RFC 4291 §2.2) and back (RFC 5952: lower case, the longest run of
// zero groups as "::", leading zeros dropped), and "addr/prefix" as the config writes it.

/** 16 bytes, or null when `s` is not an IPv6 address (an embedded IPv4 tail is accepted). */
export function parseIpv6(s: string): Uint8Array | null {
  if (typeof s !== "string" || s.length === 0 || s.length > 45) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const g = items[i];
      if (i === items.length - 1 && g.includes(".")) {
        const v4 = g.split(".");
        if (v4.length !== 4 || !v4.every((b) => /^\d{1,3}$/.test(b) && Number(b) <= 255)) return null;
        out.push((Number(v4[0]) << 8) | Number(v4[1]), (Number(v4[2]) << 8) | Number(v4[3]));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]), tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  const n = head.length + tail.length;
  if (halves.length === 1 ? n !== 8 : n > 7) return null;
  const all = [...head, ...new Array<number>(8 - n).fill(0), ...tail];
  const b = new Uint8Array(16);
  all.forEach((g, i) => { b[2 * i] = g >> 8; b[2 * i + 1] = g & 255; });
  return b;
}

export function formatIpv6(b: Uint8Array): string {
  const g = Array.from({ length: 8 }, (_, i) => (b[2 * i] << 8) | b[2 * i + 1]);
  let best = -1, bestLen = 1;                        // RFC 5952 §4.2.2: a single 0 group stays
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** "2001:db8::1/64" as bytes and prefix length (no prefix: 128), or null. */
export function parseIpv6Prefix(s: string): { addr: Uint8Array; prefix: number } | null {
  const [a, p, extra] = s.split("/");
  if (extra !== undefined) return null;
  const addr = parseIpv6(a);
  const prefix = p === undefined ? 128 : /^\d{1,3}$/.test(p) ? Number(p) : NaN;
  if (addr === null || !(prefix >= 0 && prefix <= 128)) return null;
  return { addr, prefix };
}
