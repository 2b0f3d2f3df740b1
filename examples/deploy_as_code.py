"""Deploying a network as code: a trained network written out as NumPy, C and MATLAB
functions, and quantised to int8 for fixed-point hardware; the C is compiled and run.

    .venv/bin/python examples/deploy_as_code.py [--out deploy]

Needs gcc for the C part (skipped without it) and octave-cli for the MATLAB part.
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np

import matnet as mn
from matnet import compress, export

MAIN = r"""#include <stdio.h>
#include "plant.h"

int main(void)
{
    double x[PLANT_N_INPUTS] = {0.5, -0.25}, y[PLANT_N_OUTPUTS];
    plant_predict(x, y);
    printf("%.17g\n", y[0]);
    return 0;
}
"""
FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="deploy", help="folder for the written files (default deploy)")
    out = Path(parser.parse_args().out)
    out.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(500, 2))
    T = np.sin(3 * X[:, :1]) * X[:, 1:]
    net = mn.mlp([2, 10, 1], seed=0)
    net.fit(X, T, algorithm="lm", epochs=100, seed=0, progress=False)

    print(export.to_python(net, out / "plant.py"))
    spec = importlib.util.spec_from_file_location("plant", out / "plant.py")
    plant = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plant)
    print(f"plant.py on 500 samples: largest difference from net(X) {np.abs(plant.predict(X) - net(X)).max():.1e}")
    print(export.to_c(net, out / "plant.c"))
    print(export.to_matlab(net, out / "plant_net.m"))
    q = compress.quantize(net, bits=8, calibration=X)
    print(q.quantization)
    (out / "int8").mkdir(exist_ok=True)
    print(export.to_c(q, out / "int8" / "plant.c", dtype="int8"))

    x = np.array([0.5, -0.25])
    print(f"\nnet(x) = {net(x)[0]!r}, quantised: {q(x)[0]!r}")
    if shutil.which("gcc") is None:
        print("gcc not found: the C part is skipped")
        return
    for folder in (out, out / "int8"):
        (folder / "main.c").write_text(MAIN)
        subprocess.run(["gcc", *FLAGS, "main.c", "plant.c", "-lm", "-o", "plant"], cwd=folder, check=True)
        result = subprocess.run(["./plant"], cwd=folder, capture_output=True, text=True, check=True).stdout.strip()
        print(f"{folder}/plant -> {result}")
    if shutil.which("octave-cli"):
        call = "printf('%.17g\\n', plant_net([0.5 -0.25]))"
        run = subprocess.run(["octave-cli", "--no-gui", "--quiet", "--eval", call], cwd=out, capture_output=True,
                             text=True)
        print(f"octave plant_net([0.5 -0.25]) -> {run.stdout.strip()}")


if __name__ == "__main__":
    main()
