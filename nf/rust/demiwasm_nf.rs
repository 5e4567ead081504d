// The demiwasm NF ABI for Rust, `#![no_std]`, built by Debian's rustc with its wasm32 standard
// library (apt-get install rustc libstd-rust-dev-wasm32) and no crates:
//
//   rustc --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib -O -C panic=abort \
//         -C link-arg=--import-memory -C link-arg=-zstack-size=65536 -o my.wasm my.rs
//
// where my.rs says `#![no_std]`, `mod demiwasm_nf;` (this file beside it) and defines
// `#[no_mangle] pub extern "C" fn nf_init() -> i32` and `nf_process(count: u32)`; this module
// defines the area and exports `nf_area`, and a panic is a trap. The same contract as the
// AssemblyScript SDK (assembly/nf/sdk.ts) and the C header (nf/c/demiwasm_nf.h); docs/nf.md is the
// spec. Frames are slices: an index past a frame's end
// panics (a trap) instead of reading its neighbour's slot.
#![allow(dead_code)]
// The per-packet helpers are #[inline]: rustc -O left them as calls from an NF's nf_process
// (seven call sites in portblock's), and inlined they took portblock from 10.5 to 8.7 ns a packet,
// the C sample's speed (bench nf's harness, alternating builds).

#[path = "demiwasm_nf_abi.rs"]
mod abi;
pub use abi::*;

#[link(wasm_import_module = "nf")]
extern "C" {
    #[link_name = "map_get"] fn priv_get(id: u32, k0: i64, k1: i64) -> i64;
    #[link_name = "map_put"] fn priv_put(id: u32, k0: i64, k1: i64, v: i64) -> i32;
    #[link_name = "map_del"] fn priv_del(id: u32, k0: i64, k1: i64) -> i32;
    #[link_name = "shared_get"] fn shared_get(id: u32, k0: i64, k1: i64) -> i64;
    #[link_name = "shared_put"] fn shared_put(id: u32, k0: i64, k1: i64, v: i64) -> i32;
    #[link_name = "shared_del"] fn shared_del(id: u32, k0: i64, k1: i64) -> i32;
    #[link_name = "map_open"] fn map_open_raw(name: *const u8, len: u32) -> i32;
    #[link_name = "config"] fn config_raw(key: *const u8, key_len: u32, out: *mut u8, cap: u32) -> i32;
    #[link_name = "log"] fn log_raw(msg: *const u8, len: u32);
}

const NO_DESC: Desc = Desc { off: 0, len: 0, verdict: 0, arg: 0 };
// The burst area the host fills: one per module, only touched through the functions below.
static mut BURST: Area = Area {
    count: 0, port: 0, dir: 0, reserved: 0, now_ns: 0.0, pad: 0,
    desc: [NO_DESC; MAX_BURST as usize],
    data: [[0; SLOT as usize]; MAX_BURST as usize],
    counters: [0; NF_COUNTERS as usize],
};

#[no_mangle]
pub extern "C" fn nf_area() -> u32 { unsafe { core::ptr::addr_of!(BURST) as u32 } }

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { core::arch::wasm32::unreachable() }

// ---- the burst ----
// Safety of the accessors: an NF is single-threaded and the host writes the area only between
// calls, so no two of these borrows are alive across a host call.

/** Which way this burst goes: DIR_IN (toward the stack) or DIR_OUT. */
#[inline]
pub fn burst_dir() -> u32 { unsafe { BURST.dir } }
/** The host's clock at the burst, in ns. */
#[inline]
pub fn now_ns() -> f64 { unsafe { BURST.now_ns } }

#[inline]
fn desc(i: u32) -> &'static mut Desc { unsafe { &mut (*core::ptr::addr_of_mut!(BURST)).desc[i as usize] } }

/** Packet i of the burst: its bytes as the host wrote them (at most the manifest's snaplen). */
#[inline]
pub fn pkt(i: u32) -> &'static mut [u8] {
    let d = desc(i);
    let area = unsafe { core::slice::from_raw_parts_mut(core::ptr::addr_of_mut!(BURST) as *mut u8, AREA_BYTES as usize) };
    &mut area[d.off as usize..(d.off + d.len) as usize]
}
/** Packet i's whole length on the wire (more than pkt(i).len() when snapped). */
#[inline]
pub fn wire_len(i: u32) -> u32 { desc(i).arg }
/** Sets packet i's verdict (PASS, DROP, TX, REDIRECT) and arg (REDIRECT's port). */
#[inline]
pub fn verdict(i: u32, v: u32, arg: u32) { let d = desc(i); d.verdict = v; d.arg = arg; }

// ---- maps, config, counters, log ----

/** A map the manifest declares, by name: its handle, or a negative errno. */
pub fn map_open(name: &str) -> i32 { unsafe { map_open_raw(name.as_ptr(), name.len() as u32) } }
#[inline]
pub fn map_get(id: u32, k0: i64, k1: i64) -> i64 { unsafe { if id >= SHARED { shared_get(id - SHARED, k0, k1) } else { priv_get(id, k0, k1) } } }
#[inline]
pub fn map_put(id: u32, k0: i64, k1: i64, v: i64) -> i32 { unsafe { if id >= SHARED { shared_put(id - SHARED, k0, k1, v) } else { priv_put(id, k0, k1, v) } } }
#[inline]
pub fn map_del(id: u32, k0: i64, k1: i64) -> i32 { unsafe { if id >= SHARED { shared_del(id - SHARED, k0, k1) } else { priv_del(id, k0, k1) } } }
/** Adds delta to counter `index` (below NF_COUNTERS; others are ignored): a store into the area. */
#[inline]
pub fn counter_add(index: u32, delta: i64) {
    if let Some(c) = unsafe { (*core::ptr::addr_of_mut!(BURST)).counters.get_mut(index as usize) } { *c = c.wrapping_add(delta); }
}
pub fn log(msg: &str) { unsafe { log_raw(msg.as_ptr(), msg.len() as u32) } }

/** The config value of `key` copied into `out`: its bytes, or None when absent or longer than out. */
pub fn config<'a>(key: &str, out: &'a mut [u8]) -> Option<&'a [u8]> {
    let n = unsafe { config_raw(key.as_ptr(), key.len() as u32, out.as_mut_ptr(), out.len() as u32) };
    if n < 0 || n as usize > out.len() { None } else { Some(&out[..n as usize]) }
}

/** Calls f with each unsigned integer in a list such as "53,6379" or "8080=80" (any other byte separates). */
pub fn each_number(text: &[u8], mut f: impl FnMut(u64)) {
    let (mut v, mut digits) = (0u64, false);
    for &c in text.iter().chain(b",".iter()) {
        if c.is_ascii_digit() { v = v.saturating_mul(10).saturating_add((c - b'0') as u64); digits = true; continue; }
        if digits { f(v); }
        v = 0;
        digits = false;
    }
}

// ---- parsing (as assembly/nf/sdk.ts and nf/c/demiwasm_nf.h) ----

pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

#[inline]
pub fn be16(p: &[u8], at: usize) -> u32 { (p[at] as u32) << 8 | p[at + 1] as u32 }
#[inline]
pub fn put16(p: &mut [u8], at: usize, v: u32) { p[at] = (v >> 8) as u8; p[at + 1] = v as u8; }

/** Where a whole IPv4 frame's IP header starts (14), or None. */
#[inline]
pub fn ipv4(p: &[u8]) -> Option<usize> {
    if p.len() < 34 || be16(p, 12) != 0x0800 || p[14] >> 4 != 4 || p[14] & 15 < 5 || 14 + ((p[14] as usize & 15) << 2) > p.len() { return None; }
    Some(14)
}

/** Where a whole IPv6 frame's IP header starts (14), or None. */
#[inline]
pub fn ipv6(p: &[u8]) -> Option<usize> {
    if p.len() < 54 || be16(p, 12) != 0x86dd || p[14] >> 4 != 6 || 54 + be16(p, 18) as usize > p.len() { return None; }
    Some(14)
}

/** The transport header of an IPv4 packet that is not a fragment: (where, protocol). */
#[inline]
pub fn l4_of_ipv4(p: &[u8], ip: usize) -> Option<(usize, u8)> {
    if be16(p, ip + 6) & 0x3fff != 0 { return None; }
    Some((ip + ((p[ip] as usize & 15) << 2), p[ip + 9]))
}

/** The upper-layer header past hop-by-hop, routing and destination options headers and a first
 *  fragment's header (at most 8), with 8 of its bytes in the packet: (where, protocol). */
pub fn upper6(p: &[u8], ip: usize) -> Option<(usize, u8)> {
    let end = 40 + be16(p, ip + 4) as usize;
    let (mut off, mut nh) = (40usize, p[ip + 6]);
    for _ in 0..8 {
        if off + 8 > end { return None; }
        match nh {
            44 => { if be16(p, ip + off + 2) & 0xfff8 != 0 { return None; } nh = p[ip + off]; off += 8; }
            0 | 43 | 60 => { let next = p[ip + off]; off += ((p[ip + off + 1] as usize) + 1) << 3; nh = next; }
            _ => return Some((ip + off, nh)),
        }
    }
    None
}

/** The transport header of an IPv4 or IPv6 frame: (where, protocol). */
#[inline]
pub fn transport(p: &[u8]) -> Option<(usize, u8)> {
    if let Some(ip) = ipv4(p) { return l4_of_ipv4(p, ip); }
    match ipv6(p) { Some(ip) => upper6(p, ip), None => None }
}

// ---- checksums (RFC 1624: HC' = ~(~HC + ~m + m')) ----

#[inline]
pub fn csum_replace16(sum: u32, from: u32, to: u32) -> u32 {
    let mut s = (!sum & 0xffff) + (!from & 0xffff) + (to & 0xffff);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    !s & 0xffff
}

/** Rewrites a TCP or UDP port (dst: the destination port) at l4, fixing the checksum; false
 *  when the header is not whole in the packet. A UDP checksum of 0 (none, IPv4) stays 0. */
#[inline]
pub fn rewrite_port(p: &mut [u8], l4: usize, proto: u8, dst: bool, port: u32) -> bool {
    let c = if proto == PROTO_TCP { l4 + 16 } else { l4 + 6 };
    if c + 2 > p.len() { return false; }
    let at = if dst { l4 + 2 } else { l4 };
    let old = be16(p, at);
    put16(p, at, port);
    let sum = be16(p, c);
    if proto == PROTO_UDP && sum == 0 { return true; }
    let n = csum_replace16(sum, old, port);
    put16(p, c, if proto == PROTO_UDP && n == 0 { 0xffff } else { n });
    true
}
