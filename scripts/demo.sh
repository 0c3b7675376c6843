#!/usr/bin/env bash
# The README's first command: set up, build, then import the bundled fashion_mlp model, print
# its IR after CSE and DCE, and run it on a seeded input with the reference interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja >/dev/null
ninja -C build adjoint-opt adjoint-run
MODEL=models/fashion_mlp.onnx
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "== adjoint-opt --canonicalize --cse --dce $MODEL"
build/bin/adjoint-opt --canonicalize --cse --dce "$MODEL"
/usr/bin/python3 -c "import numpy as np; np.save('$OUT/input.npy', np.random.default_rng(0).random((4, 784), dtype=np.float32))"
echo "== adjoint-run $MODEL --input input=<4x784 seeded random> --output-dir $OUT"
build/bin/adjoint-run "$MODEL" --backend=interp --input "input=$OUT/input.npy" --output-dir "$OUT"
/usr/bin/python3 -c "import numpy as np; y = np.load('$OUT/logits.npy'); print('logits', y.shape, '\n', y.round(3)); print('predicted classes', y.argmax(1))"
