{
  "targets": [
    {
      "target_name": "demiwasm_posix",
      "sources": ["posix.c", "watch.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    },
    {
      "target_name": "demiwasm_nfnative",
      "sources": ["nf/napi.c", "nf/samples.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ],
  "conditions": [
    ["'<!(pkg-config --exists libdpdk && echo yes || echo no)'=='yes'", {
      "targets": [
        {
          "target_name": "demiwasm_dpdk",
          "sources": ["dpdk/napi.c", "dpdk/port.c", "dpdk/wasm_pool.c", "dpdk/bench.c"],
          "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
          "cflags_c": ["<!@(pkg-config --cflags libdpdk)", "-mno-mmx"],
          "libraries": ["<!@(pkg-config --libs libdpdk)", "-lrte_net_ring"]
        }
      ]
    }],
    ["'<!(pkg-config --exists libfabric && echo yes || echo no)'=='yes'", {
      "targets": [
        {
          "target_name": "demiwasm_fabric",
          "sources": ["fabric.c"],
          "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
          "libraries": ["<!@(pkg-config --libs libfabric)"],
          "cflags_c": ["<!@(pkg-config --cflags libfabric)"]
        }
      ]
    }]
  ]
}
