{
  "targets": [
    {
      "target_name": "fitter_cuda",
      "sources": [
        "src/addon.cpp",
        "src/engine.cpp",
        "src/loader.cpp",
        "src/cudaDevice.cpp",
        "src/emulate.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-fno-math-errno", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["-ldl"]
    }
  ]
}
