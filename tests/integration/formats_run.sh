#!/bin/sh
# formats_run.sh GEN PYTHON SRCDIR WORKDIR - write a run's metrics and a
# checkpoint with formats_gen, then read them back with the independent
# Python readers.
set -eu
gen=$1 python=$2 src=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
"$gen" "$work" 2>"$work/gen.log" || { cat "$work/gen.log"; exit 1; }
"$python" "$src/formats_tfevents.py" "$work"
"$python" "$src/formats_safetensors.py" "$work"
head -3 "$work/run/progress.csv"
rm -rf "$work"
