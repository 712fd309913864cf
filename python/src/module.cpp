// The `srformer._core` extension module: the C++ library's classes for Python.
// The pure-Python package `srformer` (python/srformer/) re-exports them with
// docstrings and type stubs; users import `srformer`, not `_core`.
#include <pybind11/pybind11.h>

#include <Eigen/Core>

#include "bindings.hpp"
#include "srformer/kernels/threads.hpp"
#include "srformer/version.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, module) {
  module.doc() = "srformer C++ library (T5/BART summarization with full, segmented and SRformer cross-attention)";
  module.attr("__version__") = SRFORMER_VERSION_STRING;
#ifdef _OPENMP
  module.attr("has_openmp") = true;
#else
  module.attr("has_openmp") = false;
#endif

  module.def(
      "set_num_threads",
      [](int threads) {
        if (threads < 1) throw srformer::OptionError("threads must be at least 1, got " + std::to_string(threads));
        srformer::kernels::set_num_threads(threads);
        Eigen::setNbThreads(threads);
      },
      py::arg("threads"),
      "Threads the kernels use for every model of this process (OpenMP; results do not depend on it).");
  module.def("num_threads", &srformer::kernels::num_threads, "Threads the kernels use (set_num_threads).");

  srformer::python::bind_errors(module);
  srformer::python::bind_io(module);
  srformer::python::bind_tokenizers(module);
  srformer::python::bind_models(module);
  srformer::python::bind_generation(module);
}
