// One entry point for every backend: a physical backend (loopback link, DPDK port) runs the Wasm
// stack (LibOS), a transport backend implements the queue operations itself (FabricLibOS,
// PosixLibOS), as Demikernel's LibOSes do.
import { LibOS, type LibOSOptions } from "./libos.js";
import { FabricLibOS } from "./backends/fabric.js";
import { PosixLibOS } from "./backends/posix.js";
import { loadConfig, type Config } from "./config.js";
import { backendUnavailable } from "./backends/index.js";

export function openLibOS(config: Config = loadConfig(), opts: Omit<LibOSOptions, "config"> = {}): LibOS | FabricLibOS | PosixLibOS {
  switch (config.backend) {
    case "loopback": case "dpdk": return new LibOS({ ...opts, config });
    case "fabric": return new FabricLibOS(config, opts.clock);
    case "posix": return new PosixLibOS(config, opts.clock);
    default: throw new Error(backendUnavailable(config.backend));
  }
}
