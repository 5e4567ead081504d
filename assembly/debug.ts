// The debug build's entry (build/datapath.debug.wasm): the release API with assertions on, plus
// the hooks only tests use. The release build (assembly/api.ts) does not carry them.
export * from "./api";
export { wireRoundTrip } from "./wire/roundtrip";
