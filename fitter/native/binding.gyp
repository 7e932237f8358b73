{
  "targets": [
    {
      "target_name": "fitter_native",
      "sources": [
        "src/addon.cpp",
        "src/evaluator.cpp",
        "src/dense.cpp",
        "src/envelope.cpp",
        "src/threadPool.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fexceptions", "-fno-math-errno", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
