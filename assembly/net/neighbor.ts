// The neighbor layer: who is the next hop on the link. ARP (RFC 826) with a cache: entries expire
// after a TTL, resolution retries a fixed number of times and then fails the frames that waited
// for it. Static entries come from the config and
// are never overwritten by the wire. Gratuitous ARP is ignored: accepting it would let any host
// on the link redirect our traffic.
import { carve } from "../mem/layout";
import { slotAlloc, slotData, slotUnref, frameCap } from "../mem/pool";
import { count, D_ARP_MALFORMED, D_ARP_NOT_FOR_US, D_ARP_GRATUITOUS, D_ARP_UNSOLICITED, D_ARP_TIMEOUT,
         D_ARP_QUEUE_FULL, D_ARP_CONFLICT, D_NO_BUFFER, C_ARP_REQUESTS_SENT, C_ARP_REPLIES_SENT } from "../counters";
import { ArpRepr, arpParse, arpEmit, ARP_LEN, ARP_REQUEST, ARP_REPLY } from "../wire/arp";
import { ethEmit, ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from "../wire/eth";
import { localIp, macHi, macLo, arpTtlNs, arpTimeoutNs, arpRetries, arpQueueDepth, disableArp } from "../schema/config";
import { timerStart, timerCancel } from "../sched/timers";
import { T_ARP } from "../sched/kinds";
import { ETIMEDOUT, ENOBUFS, EHOSTUNREACH } from "../schema/errno";
import { linkTx } from "./link";
import { holdFrame, holdWait, holdRelease, holdDrop, holdCount } from "./hold";
import { nowNs } from "./clock";

const ENTRIES: u32 = 256;
const E_SIZE: usize = 48;
const S_FREE: u8 = 0;
const S_PENDING: u8 = 1;
const S_RESOLVED: u8 = 2;
const S_STATIC: u8 = 3;
const E_STATE: usize = 0;    // u8
const E_TRIES: usize = 1;    // u8 requests sent
const E_IP: usize = 4;
const E_MAC_HI: usize = 8;
const E_MAC_LO: usize = 12;
const E_TIMER: usize = 16;   // u32 timer id (retry while pending, expiry while resolved)
const E_HOLD: usize = 20;    // the frames and operations waiting for the address (hold.ts)

let table: usize = 0;
// The ARP packet being received, and the one being sent.
const rx = changetype<ArpRepr>(memory.data(offsetof<ArpRepr>()));
const tx = changetype<ArpRepr>(memory.data(offsetof<ArpRepr>()));
let memo: i32 = -1;          // the last entry a lookup hit: most traffic goes to one peer

export function arpInit(): bool {
  table = carve(<usize>ENTRIES * E_SIZE, 64);
  return table != 0;
}

@inline function entry(i: u32): usize { return table + <usize>i * E_SIZE; }

function lookup(ip: u32): i32 {
  if (memo >= 0) {
    const m = entry(<u32>memo);
    if (load<u8>(m + E_STATE) != S_FREE && load<u32>(m + E_IP) == ip) return memo;
  }
  for (let i: u32 = 0; i < ENTRIES; i++) {
    const e = entry(i);
    if (load<u8>(e + E_STATE) != S_FREE && load<u32>(e + E_IP) == ip) { memo = <i32>i; return <i32>i; }
  }
  return -1;
}

function allocEntry(ip: u32): i32 {
  for (let i: u32 = 0; i < ENTRIES; i++) {
    const e = entry(i);
    if (load<u8>(e + E_STATE) == S_FREE) {
      memory.fill(e, 0, E_SIZE);
      store<u32>(e + E_IP, ip);
      return <i32>i;
    }
  }
  // Full: evict the first dynamic resolved entry (nothing waits on it).
  for (let i: u32 = 0; i < ENTRIES; i++) {
    const e = entry(i);
    if (load<u8>(e + E_STATE) == S_RESOLVED) {
      timerCancel(load<u32>(e + E_TIMER));
      memory.fill(e, 0, E_SIZE);
      store<u32>(e + E_IP, ip);
      return <i32>i;
    }
  }
  return -1;
}

export function arpAddStatic(ip: u32, hi: u32, lo: u32): i32 {
  let i = lookup(ip);
  if (i >= 0) { freeEntry(<u32>i, ETIMEDOUT); }
  i = allocEntry(ip);
  if (i < 0) return ENOBUFS;
  const e = entry(<u32>i);
  store<u8>(e + E_STATE, S_STATIC);
  store<u32>(e + E_MAC_HI, hi);
  store<u32>(e + E_MAC_LO, lo);
  return 0;
}

function setResolved(i: u32, hi: u32, lo: u32): void {
  const e = entry(i);
  timerCancel(load<u32>(e + E_TIMER));
  store<u8>(e + E_STATE, S_RESOLVED);
  store<u32>(e + E_MAC_HI, hi);
  store<u32>(e + E_MAC_LO, lo);
  store<u32>(e + E_TIMER, timerStart(T_ARP, i, nowNs + arpTtlNs));
  holdRelease(e + E_HOLD, hi, lo, ETHERTYPE_IPV4);
}

/** Drops an entry: its waiting frames are counted as ARP timeouts, its waiters fail with `ret`. */
function freeEntry(i: u32, ret: i32): void {
  const e = entry(i);
  timerCancel(load<u32>(e + E_TIMER));
  holdDrop(e + E_HOLD, D_ARP_TIMEOUT, ret);
  store<u8>(e + E_STATE, S_FREE);
  if (memo == <i32>i) memo = -1;
}

/** The packet we send: our addresses as sender, `op` to the target given. */
function ourArp(op: u32, thaHi: u32, thaLo: u32, tpa: u32): ArpRepr {
  tx.op = op;
  tx.shaHi = macHi;
  tx.shaLo = macLo;
  tx.spa = localIp;
  tx.thaHi = thaHi;
  tx.thaLo = thaLo;
  tx.tpa = tpa;
  return tx;
}

function sendRequest(ip: u32): void {
  const s = slotAlloc(frameCap);
  if (s < 0) { count(D_NO_BUFFER); return; }
  const f = slotData(<u32>s);
  ethEmit(f, 0xffff, 0xffffffff, macHi, macLo, ETHERTYPE_ARP);
  arpEmit(f + ETH_HLEN, ourArp(ARP_REQUEST, 0, 0, ip));
  // Pad to the 60-byte Ethernet minimum (IEEE 802.3 §3.2.8) with zeros.
  memory.fill(f + ETH_HLEN + ARP_LEN, 0, 60 - ETH_HLEN - ARP_LEN);
  if (linkTx(<u32>s, f, 60)) count(C_ARP_REQUESTS_SENT);
}

/** Timer: a pending entry retries or fails; a resolved entry has reached its TTL. */
export function arpTimer(i: u32): void {
  const e = entry(i);
  const state = load<u8>(e + E_STATE);
  store<u32>(e + E_TIMER, 0);
  if (state == S_PENDING) {
    const tries = load<u8>(e + E_TRIES);
    if (<i32>tries <= arpRetries) {
      store<u8>(e + E_TRIES, tries + 1);
      sendRequest(load<u32>(e + E_IP));
      store<u32>(e + E_TIMER, timerStart(T_ARP, i, nowNs + arpTimeoutNs));
    } else {
      freeEntry(i, ETIMEDOUT);
    }
  } else if (state == S_RESOLVED) {
    freeEntry(i, 0);
  }
}

/**
 * Sends the IPv4 frame at `frame` (its Ethernet header not yet written) to `nextHop`. Returns 0
 * when it went to the TX ring, a ticket (> 0) when it waits for resolution, or -errno. A ticket
 * means nothing to the caller except as an argument to neighborWait.
 */
export function neighborSend(slot: u32, frame: usize, len: u32, nextHop: u32): i32 {
  if (nextHop == 0xffffffff) {
    ethEmit(frame, 0xffff, 0xffffffff, macHi, macLo, 0x0800);
    return linkTx(slot, frame, len) ? 0 : -ENOBUFS;
  }
  let i = lookup(nextHop);
  if (i >= 0) {
    const e = entry(<u32>i);
    if (load<u8>(e + E_STATE) != S_PENDING) {
      ethEmit(frame, load<u32>(e + E_MAC_HI), load<u32>(e + E_MAC_LO), macHi, macLo, 0x0800);
      return linkTx(slot, frame, len) ? 0 : -ENOBUFS;
    }
  } else {
    if (disableArp) { slotUnref(slot); return -EHOSTUNREACH; }
    i = allocEntry(nextHop);
    if (i < 0) { count(D_ARP_QUEUE_FULL); slotUnref(slot); return -ENOBUFS; }
    const e = entry(<u32>i);
    store<u8>(e + E_STATE, S_PENDING);
    store<u8>(e + E_TRIES, 1);
    sendRequest(nextHop);
    store<u32>(e + E_TIMER, timerStart(T_ARP, <u32>i, nowNs + arpTimeoutNs));
  }
  const e = entry(<u32>i);
  if (<i32>holdCount(e + E_HOLD) >= arpQueueDepth) { count(D_ARP_QUEUE_FULL); slotUnref(slot); return -ENOBUFS; }
  holdFrame(e + E_HOLD, slot, frame, len);
  return i + 1;
}

/** Completes operation `q` when the frames behind `ticket` (from neighborSend) go out or fail. */
export function neighborWait(ticket: i32, q: u32): void {
  const e = entry(<u32>(ticket - 1));
  holdWait(e + E_HOLD, q);
}

/** An ARP packet at `p` inside the frame at `frame`. The slot reference ends here. */
export function arpInput(slot: u32, frame: usize, p: usize, len: u32): void {
  if (!arpParse(p, len, rx) || rx.spa == 0 || rx.spa >= 0xe0000000) {
    count(D_ARP_MALFORMED); slotUnref(slot); return;
  }
  if (rx.spa == rx.tpa) { count(D_ARP_GRATUITOUS); slotUnref(slot); return; }
  // Our own address or our own MAC from someone else: a conflict or a forgery, never learnt.
  if (rx.spa == localIp || (rx.shaHi == macHi && rx.shaLo == macLo)) { count(D_ARP_CONFLICT); slotUnref(slot); return; }
  if (rx.tpa != localIp) { count(D_ARP_NOT_FOR_US); slotUnref(slot); return; }
  // RFC 826 "merge": we are the target, so record or refresh the sender (never a static entry).
  const i = lookup(rx.spa);
  if (i >= 0) {
    const state = load<u8>(entry(<u32>i) + E_STATE);
    if (state != S_STATIC) setResolved(<u32>i, rx.shaHi, rx.shaLo);
  } else if (rx.op == ARP_REQUEST) {
    const j = allocEntry(rx.spa);
    if (j >= 0) setResolved(<u32>j, rx.shaHi, rx.shaLo);
  } else {
    count(D_ARP_UNSOLICITED);
  }
  if (rx.op != ARP_REQUEST) { slotUnref(slot); return; }
  // Answer in place: the request's slot becomes the reply.
  ethEmit(frame, rx.shaHi, rx.shaLo, macHi, macLo, ETHERTYPE_ARP);
  arpEmit(p, ourArp(ARP_REPLY, rx.shaHi, rx.shaLo, rx.spa));
  memory.fill(p + ARP_LEN, 0, 60 - ETH_HLEN - ARP_LEN); // pad to the Ethernet minimum
  if (linkTx(slot, frame, 60)) count(C_ARP_REPLIES_SENT);
}

/** The cache as the host shows it: writes up to `max` (ip, macHi, macLo, state) rows at `out`. */
export function arpDump(out: usize, max: u32): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < ENTRIES && n < max; i++) {
    const e = entry(i);
    const st = load<u8>(e + E_STATE);
    if (st == S_FREE) continue;
    const r = out + (<usize>n << 4);
    store<u32>(r, load<u32>(e + E_IP));
    store<u32>(r + 4, load<u32>(e + E_MAC_HI));
    store<u32>(r + 8, load<u32>(e + E_MAC_LO));
    store<u32>(r + 12, st);
    n++;
  }
  return n;
}

