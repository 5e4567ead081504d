// The Rust sample NF, the same logic as nf/c/portblock.c and assembly/nf/samples/portblock.ts
// (a test holds all three to the same verdicts and bytes): drops TCP and UDP packets, over IPv4
// or IPv6, to the destination ports listed in config `block` ("53,6379"), counting each refusal
// per port in the array map "hits"; rewrites the destination port of the pairs in `rewrite`
// ("8080=80"; to port 0 is refused), fixing the checksum, counting them in counter 0; passes everything else.
#![no_std]
mod demiwasm_nf;
use demiwasm_nf::*;

static mut BLOCKED: [u8; 65536 / 8] = [0; 65536 / 8];
static mut REWRITE_TO: [u16; 65536] = [0; 65536];   // the new port; 0: none (0 is no port to send to)
static mut HITS: i32 = -1;

#[no_mangle]
pub extern "C" fn nf_init() -> i32 {
    let mut buf = [0u8; 1024];
    let blocked = unsafe { &mut *core::ptr::addr_of_mut!(BLOCKED) };
    let mut bad = false;
    if let Some(list) = config("block", &mut buf) {
        each_number(list, |port| if port > 65535 { bad = true } else { blocked[port as usize >> 3] |= 1 << (port & 7) });
    }
    let rewrite = unsafe { &mut *core::ptr::addr_of_mut!(REWRITE_TO) };
    if let Some(list) = config("rewrite", &mut buf) {
        let mut from: Option<u64> = None;
        each_number(list, |port| {
            if port > 65535 { bad = true; return; }
            match from.take() { None => from = Some(port), Some(f) => if port == 0 { bad = true } else { rewrite[f as usize] = port as u16 } }
        });
        if from.is_some() { bad = true; }
    }
    if bad { return 3; }
    let hits = map_open("hits");
    unsafe { HITS = hits; }
    if hits < 0 { 1 } else { 0 }
}

#[no_mangle]
pub extern "C" fn nf_process(count: u32) {
    let (blocked, rewrite, hits) = unsafe { (&*core::ptr::addr_of!(BLOCKED), &*core::ptr::addr_of!(REWRITE_TO), HITS as u32) };
    for i in 0..count {
        verdict(i, PASS, 0);
        let p = pkt(i);
        let (l4, proto) = match transport(p) { Some(t) => t, None => continue };
        if (proto != PROTO_TCP && proto != PROTO_UDP) || l4 + 4 > p.len() { continue; }
        let dport = be16(p, l4 + 2);
        if blocked[dport as usize >> 3] & (1 << (dport & 7)) != 0 {
            verdict(i, DROP, 0);
            let h = map_get(hits, dport as i64, 0);
            map_put(hits, dport as i64, 0, if h == ABSENT { 1 } else { h + 1 });
        } else if rewrite[dport as usize] != 0 && rewrite_port(p, l4, proto, true, rewrite[dport as usize] as u32) {
            counter_add(0, 1);
        }
    }
}
