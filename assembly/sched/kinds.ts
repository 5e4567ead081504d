// Every kind of task and of timer, numbered once. A task is a pending qtoken the scheduler polls
// when woken (Q_KIND); a timer fires with its kind and an argument. Which function handles each
// kind is written in one place, assembly/handlers.ts, and a test checks that every kind here has
// its handler there.

// Tasks. 0 is an operation that never waits (connect's token, completed at once).
export const K_NONE: u8 = 0;
export const K_UDP_POP: u8 = 1;        // a pop waiting for a datagram
export const K_UDP_PUSH: u8 = 2;       // a push whose datagram waits for the next hop (egressWait)
export const K_TCP_POP: u8 = 3;        // a pop waiting for bytes or FIN
export const K_TCP_PUSH: u8 = 4;       // a push waiting for send-buffer room
export const K_TCP_ACCEPT: u8 = 5;     // an accept waiting for an established connection

// Timers. The argument is an index into the owner's table (ARP or NDP entry, reassembly context, TCB).
export const T_ARP: u32 = 1;           // ARP retry while pending, expiry once resolved
export const T_REASM: u32 = 2;         // reassembly gave up on a datagram
export const T_TCP_RTO: u32 = 3;       // retransmission timeout (RFC 6298), SYN retries, persist
export const T_TCP_TIME_WAIT: u32 = 4; // 2MSL ended, or an orphaned FIN_WAIT_2 timed out
export const T_TCP_DELACK: u32 = 5;    // delayed ACK (RFC 1122 §4.2.3.2)
export const T_TCP_KEEPALIVE: u32 = 6; // keep-alive idle or interval (RFC 1122 §4.2.3.6)
export const T_TCP_REORDER: u32 = 7;   // RACK's reordering window ran out (RFC 8985 §6.2)
export const T_TCP_PTO: u32 = 8;       // tail loss probe timeout (RFC 8985 §7.2), in the RTO's slot
export const T_TCP_MEMORY: u32 = 9;
export const T_NDP: u32 = 10;          // Neighbor Discovery: retransmit, REACHABLE ended, DELAY ended (RFC 4861 §7.3)
export const T_DAD: u32 = 11;          // duplicate address detection: probe again, or the address is ours (RFC 4862 §5.4)    // a push or pop found no memory and nothing else will wake it
