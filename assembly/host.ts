// The only functions the datapath imports (besides its memory). Randomness comes from the host
// so that tests can seed it; time is passed to poll() for the same reason.
@external("env", "random_u32")
export declare function hostRandom(): u32;
