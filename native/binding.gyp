{
  "targets": [
    {
      "target_name": "demiwasm_fabric",
      "sources": ["fabric.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["<!@(pkg-config --libs libfabric)"],
      "cflags_c": ["<!@(pkg-config --cflags libfabric)"]
    }
  ]
}
