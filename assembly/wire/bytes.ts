// Big-endian (network order) loads and stores.
@inline export function ld16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
@inline export function ld32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
@inline export function st16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
@inline export function st32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }
@inline export function ld64(p: usize): u64 { return bswap<u64>(load<u64>(p)); }
@inline export function st64(p: usize, v: u64): void { store<u64>(p, bswap<u64>(v)); }
