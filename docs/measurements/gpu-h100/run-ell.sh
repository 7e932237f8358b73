#!/bin/bash
# device run: W-mass TfLikelihood on webgpu, gather-reduce vs ScatterNd, then a full webgpu fit
O=${OUT:-/tmp/out}; mkdir -p $O
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $icd ] && export VK_DRIVER_FILES=$icd __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
{
echo "== env"; date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc
tar xJf .devcarry/ell/bundle.tar.xz; export PATH=$PWD/nodebin:$PATH; node --version
echo "== fit-gen wmass"; timeout 60 node bin/fit-gen.js --preset wmass -o /tmp/w.hdf5 2>&1 | tail -2
echo "== h100.mjs"; timeout 150 node .devcarry/ell/h100.mjs /tmp/w.hdf5 10 2>&1
echo "== wmass fit webgpu"; ( time timeout ${FIT_T:-80} node bin/fit.js /tmp/w.hdf5 --backend webgpu --verbose --no-html -o /tmp/wgpu ) > $O/wmass_webgpu_fit.log 2>&1
grep -v ' f[36][24] iter' $O/wmass_webgpu_fit.log | tail -n 15; grep ' f32 iter' $O/wmass_webgpu_fit.log | tail -1; grep ' f64 iter' $O/wmass_webgpu_fit.log | tail -1
echo "== done"; date -u
} 2>&1 | tee $O/all.log
