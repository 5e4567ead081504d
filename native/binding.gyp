{
  "targets": [
    {
      "target_name": "demiwasm_posix",
      "sources": ["posix.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ],
  "conditions": [
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
