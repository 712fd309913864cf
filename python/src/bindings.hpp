#pragma once
// Shared declarations of the `srformer._core` extension: one bind_* function per
// area (one source file each), and the conversions more than one area needs.
#include <optional>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "srformer/attention/options.hpp"
#include "srformer/generation/options.hpp"
#include "srformer/models/token_batch.hpp"

namespace srformer::python {

namespace py = pybind11;

void bind_errors(py::module_& module);
void bind_io(py::module_& module);
void bind_tokenizers(py::module_& module);
void bind_models(py::module_& module);
void bind_generation(py::module_& module);

/// The folder's cross-attention as the caller asked for it: the checkpoint's (or the
/// family's defaults, full; cross_attention_options_from_config), then each argument
/// that is not None.
attention::CrossAttentionOptions cross_attention_options(const std::string& model_folder,
                                                         const std::optional<std::string>& kind,
                                                         const std::optional<Index>& segment,
                                                         const std::optional<std::string>& mode,
                                                         const std::optional<Index>& gen_len, bool fresh_raf);

/// `options` with each argument that is not None applied, validated.
attention::CrossAttentionOptions with_attention_arguments(attention::CrossAttentionOptions options,
                                                         const std::optional<std::string>& kind,
                                                         const std::optional<Index>& segment,
                                                         const std::optional<std::string>& mode,
                                                         const std::optional<Index>& gen_len, bool fresh_raf);

/// The cross-attention as a dict: kind, segment, gen_len, mode.
py::dict attention_dict(const attention::CrossAttentionOptions& options);

/// `base` with HF-named keyword arguments applied (num_beams=4, eos_token_id=[1, 2], ...).
/// An unknown name or a value of the wrong type is a GenerationOptionError naming it;
/// a None value leaves the option as it is. Values are checked by validate() later.
GenerationOptions apply_generation_kwargs(GenerationOptions base, const py::kwargs& kwargs);

/// GenerationOptions as a dict with HF's names (unset optionals as None).
py::dict generation_options_dict(const GenerationOptions& options);

/// A batch of token ids from a 2-D integer array, a 1-D array (one row) or a list of
/// lists (ragged rows are right-padded with `pad_id`). `mask`, when given, must have the
/// same shape; otherwise it marks every given token (padding added here excluded).
TokenBatch token_batch_from_python(const py::handle& ids, const py::handle& mask, TokenId pad_id, const char* what);

/// Token ids from a sequence of ints or a 1-D integer array; InputError naming `what`
/// for anything else (a float, an id outside int32).
std::vector<TokenId> ids_from_python(const py::handle& ids, const char* what);

/// Row-major int64 numpy array [rows, columns] from ids.
py::array_t<std::int64_t> ids_array(const std::vector<std::vector<TokenId>>& rows);

}  // namespace srformer::python
