// C++ exceptions as Python exceptions with the same message. The classes mirror
// core/error.hpp; those about a caller's values also derive from ValueError so that
// code catching ValueError keeps working.
#include <exception>
#include <string>

#include "bindings.hpp"
#include "srformer/core/error.hpp"
#include "srformer/generation/options.hpp"

namespace srformer::python {
namespace {

struct ErrorTypes {
  PyObject* error = nullptr;
  PyObject* format = nullptr;
  PyObject* config = nullptr;
  PyObject* tensor = nullptr;
  PyObject* input = nullptr;
  PyObject* tokenizer = nullptr;
  PyObject* option = nullptr;
  PyObject* resource = nullptr;
};

// The types live as long as the interpreter (the module holds them too); one
// reference each is kept here on purpose, so nothing is released at exit.
ErrorTypes& error_types() {
  static ErrorTypes types;
  return types;
}

PyObject* new_error_type(py::module_& module, const char* name, const char* doc, py::object bases) {
  const std::string qualified = std::string("srformer.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  module.add_object(name, py::reinterpret_borrow<py::object>(type));
  return type;
}

/// Raises `type(message)`; OptionError instances get `.option` (the option's name or None).
void raise(PyObject* type, const char* message, const std::string* option = nullptr, bool has_option = false) {
  py::object exception = py::reinterpret_borrow<py::object>(type)(message);
  if (has_option) exception.attr("option") = option ? py::object(py::str(*option)) : py::object(py::none());
  PyErr_SetObject(type, exception.ptr());
}

}  // namespace

void bind_errors(py::module_& module) {
  ErrorTypes& types = error_types();
  const py::handle exception_base(PyExc_Exception), value_error(PyExc_ValueError);
  types.error = new_error_type(module, "Error", "Base class of every error srformer raises.",
                               py::reinterpret_borrow<py::object>(exception_base));
  const py::object error = py::reinterpret_borrow<py::object>(types.error);
  types.format = new_error_type(module, "FormatError",
                                "A file is malformed or cannot be read (safetensors, JSON, tokenizer files).",
                                error);
  types.config = new_error_type(module, "ConfigError",
                                "A model folder's configuration is missing, inconsistent or unsupported.", error);
  types.tensor = new_error_type(module, "TensorError",
                                "A checkpoint tensor is missing or has the wrong shape or dtype.", error);
  types.tokenizer = new_error_type(module, "TokenizerError", "The tokenizer files are missing or invalid.", error);
  types.input = new_error_type(module, "InputError",
                               "An invalid argument: empty document, token id out of range, bad shape, ...",
                               py::make_tuple(error, value_error));
  types.option = new_error_type(module, "OptionError",
                                "An invalid option value (generation or attention settings); `option` names it "
                                "when it is a generation option (HF's name), else None.",
                                py::make_tuple(error, value_error));
  types.resource = new_error_type(module, "ResourceError",
                                  "A request does not fit the memory limit, or memory ran out while serving it.",
                                  error);

  py::register_exception_translator([](std::exception_ptr pointer) {
    if (!pointer) return;
    const ErrorTypes& t = error_types();
    try {
      std::rethrow_exception(pointer);
    } catch (const GenerationOptionError& e) {
      raise(t.option, e.what(), &e.option(), true);
    } catch (const OptionError& e) {
      raise(t.option, e.what(), nullptr, true);
    } catch (const InputError& e) {
      raise(t.input, e.what());
    } catch (const FormatError& e) {
      raise(t.format, e.what());
    } catch (const ConfigError& e) {
      raise(t.config, e.what());
    } catch (const TensorError& e) {
      raise(t.tensor, e.what());
    } catch (const TokenizerError& e) {
      raise(t.tokenizer, e.what());
    } catch (const ResourceError& e) {
      raise(t.resource, e.what());
    } catch (const Error& e) {
      raise(t.error, e.what());
    }
  });
}

}  // namespace srformer::python
