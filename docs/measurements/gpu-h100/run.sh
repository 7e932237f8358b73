#!/bin/bash
# device run: unpack the bundle, fit ref_dense and the W-mass model on webgpu and native, time TfLikelihood
O=${OUT:-/tmp/out}; mkdir -p $O
[ -n "$SKIP_GL" ] || for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $icd ] && export VK_DRIVER_FILES=$icd __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
stamp() { while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N | cut -c1-14)" "$l"; done; }
{
echo "== env"; date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; uname -r
grep -m1 'model name' /proc/cpuinfo; grep -o -m1 -w 'avx512f' /proc/cpuinfo; nproc
ls /usr/local/nvidia/share/vulkan/icd.d /etc/vulkan/icd.d /usr/share/vulkan/icd.d 2>&1; echo "VK_DRIVER_FILES=$VK_DRIVER_FILES"
ldconfig -p | grep -i vulkan
t0=$(date +%s.%N); tar xJf .devcarry/bundle.tar.xz; echo "unpack s $(awk "BEGIN{print $(date +%s.%N) - $t0}")"
export PATH=$PWD/nodebin:$PATH; node --version
echo "== (1) ref_dense webgpu"
timeout 60 node bin/fit.js tests/fixtures/ref_dense.hdf5 --backend webgpu --verbose --no-html -o /tmp/ref 2>&1 | stamp
node .devcarry/compare.mjs /tmp/ref/fitresults.json tests/fixtures/ref_dense.expected.json
cp /tmp/ref/fitresults.json $O/ref_webgpu_fitresults.json
echo "== (2) fit-gen wmass"
timeout 60 node bin/fit-gen.js --preset wmass -o /tmp/w.hdf5 2>&1
echo "== (3) bench wmass webgpu"
timeout 100 node .devcarry/bench-webgpu.mjs /tmp/w.hdf5 webgpu 10 2>&1
echo "== (2a) wmass fit webgpu"
( time timeout ${GPU_FIT_T:-150} node bin/fit.js /tmp/w.hdf5 --backend webgpu --verbose --no-html -o /tmp/wgpu ) 2>&1 | stamp > $O/wmass_webgpu_fit.log
tail -n 25 $O/wmass_webgpu_fit.log; grep -m1 ' f32 iter' $O/wmass_webgpu_fit.log; grep ' f32 iter' $O/wmass_webgpu_fit.log | tail -1; grep -m1 ' f64 iter' $O/wmass_webgpu_fit.log
cp /tmp/wgpu/fitresults.json $O/wmass_webgpu_fitresults.json
echo "== (2b) wmass fit native"
( time timeout 90 node bin/fit.js /tmp/w.hdf5 --verbose --no-html -o /tmp/wnat ) 2>&1 | stamp > $O/wmass_native_fit.log
tail -n 12 $O/wmass_native_fit.log
cp /tmp/wnat/fitresults.json $O/wmass_native_fitresults.json
node .devcarry/compare.mjs /tmp/wgpu/fitresults.json /tmp/wnat/fitresults.json
echo "== done"; date -u
} > $O/all.log 2>&1
cat $O/all.log | grep -v ' f[36][24] iter'
