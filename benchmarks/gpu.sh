#!/usr/bin/env bash
# Everything that needs a CUDA device, in one run (`make benchmark-gpu`), the issue's targets
# first so that a run cut short still has them: 5,000 queries against 1,000,000 signatures
# (benchmarks/batch_gpu.py), the signatures' CUDA row (benchmarks/signatures.py) and the tests
# marked `gpu`; then, unless GPU_QUICK=1, the GPU benchmarks of the search
# (benchmarks/search_gpu.py), batches at 5,000 genes beside the CPU (benchmarks/batch.py), the
# conversion (benchmarks/convert.py --devices cuda) and training.
# Logs and tables go to $OUT (default var/bench-gpu), each as soon as its step ends.
# Needs torch with CUDA, faiss (faiss-cpu will do: the gpu path runs on torch), numba, h5py, pandas
# and Django importable by $PYTHON (default python3); Celery and a database are not used.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-var/bench-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
status=0

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"
"$PYTHON" -m benchmarks.batch_gpu --dir "${BENCH_DIR:-/tmp}" 2>&1 | tee "$OUT/batch-gpu-1m.md" \
  || status=1
"$PYTHON" -m benchmarks.signatures 2>&1 | tee "$OUT/signatures-gpu.md" || status=1
# The gpu tests, without the Django plugin or the database fixtures (tests/conftest.py).
for part in engine transform; do
  files=(tests/engine/test_gpu.py tests/engine/test_search.py tests/engine/test_many.py)
  [ "$part" = transform ] && files=(tests/transform/convert/test_gpu.py
                                    tests/transform/convert/test_output.py
                                    tests/transform/convert/test_resume.py
                                    tests/transform/signatures/test_cd.py)
  "$PYTHON" -m pytest -p no:cacheprovider -p no:django --confcutdir="tests/$part" -m gpu \
    "${files[@]}" 2>&1 | tee "$OUT/tests-$part.log" || status=1
done
[ "${GPU_QUICK:-0}" = 1 ] && exit $status
"$PYTHON" -m benchmarks.search_gpu --json "$OUT/search-gpu.json" 2>&1 \
  | tee "$OUT/search-gpu.md" || status=1
"$PYTHON" -m benchmarks.batch --queries 2048 --alone 16 --dir "${BENCH_DIR:-/tmp}" 2>&1 \
  | tee "$OUT/batch-gpu.md" || status=1
"$PYTHON" -m benchmarks.convert --devices cuda --dir "${BENCH_DIR:-/tmp}" 2>&1 \
  | grep -v '^convert:' | tee "$OUT/convert-gpu.md" || status=1
"$PYTHON" -m benchmarks.train --threads "$(nproc)" --seconds 2 2>&1 | tee "$OUT/train-gpu.md" \
  || status=1
exit $status
