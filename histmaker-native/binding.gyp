{
  "targets": [
    {
      "target_name": "histmaker_native",
      "sources": ["src/addon.cc"],
      "include_dirs": ["src"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-pthread"],
      "cflags_cc!": ["-std=gnu++17", "-fno-exceptions"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
