"""Builds the extension `srformer._core` with CMake (python/CMakeLists.txt) over the
header-only library in ../include. Nothing is downloaded: CMake, a C++17 compiler,
Eigen, nlohmann-json, SentencePiece and pybind11 must be installed
(`bash cmake/setup-debian.sh` does it on Debian 12).

    python3 -m pip install --no-build-isolation ./python

Environment: SRFORMER_CMAKE_ARGS (extra CMake arguments), CMAKE_BUILD_PARALLEL_LEVEL
(compile jobs, default: the number of CPUs).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        import pybind11

        if not (HERE.parent / "include" / "srformer" / "srformer.hpp").exists():
            raise RuntimeError(
                f"srformer: the C++ headers are not next to {HERE} (expected ../include); "
                "install from a checkout of the repository: pip install --no-build-isolation ./python"
            )
        output_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        configure = [
            "cmake",
            "-S", str(HERE),
            "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DSRFORMER_PYTHON_OUTPUT_DIR={output_dir}",
            *shlex.split(os.environ.get("SRFORMER_CMAKE_ARGS", "")),
        ]
        subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "srformer_python", "-j", jobs], check=True)


setup(ext_modules=[CMakeExtension("srformer._core")], cmdclass={"build_ext": CMakeBuild})
