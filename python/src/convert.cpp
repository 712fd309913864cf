// Conversions between Python values and the library's types that several areas
// share: token id batches, attention settings, generation keyword arguments.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "srformer/models/load.hpp"

namespace srformer::python {
namespace {

bool is_int(const py::handle& value) {
  // bool is an int in Python; as a token id or a count it is almost surely a mistake.
  return py::isinstance<py::int_>(value) && !py::isinstance<py::bool_>(value);
}

std::string type_name(const py::handle& value) { return py::str(py::type::of(value).attr("__name__")); }

TokenId token_id_from(const py::handle& value, const std::string& what) {
  if (!is_int(value)) throw InputError(what + " must be ints, got a " + type_name(value));
  const auto id = value.cast<long long>();  // Python ints beyond long long raise OverflowError here
  if (id < std::numeric_limits<TokenId>::min() || id > std::numeric_limits<TokenId>::max())
    throw InputError(what + ": token id " + std::to_string(id) + " does not fit in 32 bits");
  return static_cast<TokenId>(id);
}

/// A C-contiguous int64 copy of an integer numpy array; InputError for other dtypes.
py::array_t<std::int64_t, py::array::c_style> integer_array(const py::array& array, const std::string& what) {
  const char kind = array.dtype().kind();
  if (kind != 'i' && kind != 'u' && kind != 'b')
    throw InputError(what + " must hold integers, got an array of dtype " + std::string(py::str(array.dtype())));
  return py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(array);
}

std::vector<TokenId> checked_ids(const std::int64_t* values, std::size_t count, const std::string& what) {
  std::vector<TokenId> ids(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (values[i] < std::numeric_limits<TokenId>::min() || values[i] > std::numeric_limits<TokenId>::max())
      throw InputError(what + ": token id " + std::to_string(values[i]) + " does not fit in 32 bits");
    ids[i] = static_cast<TokenId>(values[i]);
  }
  return ids;
}

std::vector<std::vector<TokenId>> rows_from_python(const py::handle& value, const std::string& what) {
  std::vector<std::vector<TokenId>> rows;
  if (py::isinstance<py::array>(value)) {
    const auto array = integer_array(py::reinterpret_borrow<py::array>(value), what);
    if (array.ndim() != 1 && array.ndim() != 2)
      throw InputError(what + " must be 1-D (one sequence) or 2-D [batch, length], got " +
                       std::to_string(array.ndim()) + " dimensions");
    const auto batch = array.ndim() == 2 ? static_cast<std::size_t>(array.shape(0)) : std::size_t{1};
    const auto length = static_cast<std::size_t>(array.ndim() == 2 ? array.shape(1) : array.shape(0));
    for (std::size_t r = 0; r < batch; ++r) rows.push_back(checked_ids(array.data() + r * length, length, what));
    return rows;
  }
  if (py::isinstance<py::str>(value) || !py::isinstance<py::sequence>(value))
    throw InputError(what + " must be a list of lists of ints or an integer array, got a " + type_name(value));
  const auto sequence = py::reinterpret_borrow<py::sequence>(value);
  if (sequence.size() != 0 && is_int(sequence[0])) {  // one sequence
    rows.push_back(ids_from_python(value, what.c_str()));
    return rows;
  }
  for (const py::handle row : sequence) rows.push_back(ids_from_python(row, what.c_str()));
  return rows;
}

}  // namespace

std::vector<TokenId> ids_from_python(const py::handle& ids, const char* what) {
  if (py::isinstance<py::array>(ids)) {
    const auto array = integer_array(py::reinterpret_borrow<py::array>(ids), what);
    if (array.ndim() != 1)
      throw InputError(std::string(what) + " must be 1-D, got " + std::to_string(array.ndim()) + " dimensions");
    return checked_ids(array.data(), static_cast<std::size_t>(array.shape(0)), what);
  }
  if (py::isinstance<py::str>(ids) || !py::isinstance<py::sequence>(ids))
    throw InputError(std::string(what) + " must be a list of ints or a 1-D integer array, got a " + type_name(ids));
  std::vector<TokenId> out;
  for (const py::handle value : py::reinterpret_borrow<py::sequence>(ids)) out.push_back(token_id_from(value, what));
  return out;
}

TokenBatch token_batch_from_python(const py::handle& ids, const py::handle& mask, TokenId pad_id, const char* what) {
  const std::vector<std::vector<TokenId>> rows = rows_from_python(ids, what);
  if (rows.empty()) throw InputError(std::string(what) + " is empty: at least one sequence is needed");
  if (mask.is_none()) return TokenBatch::from_sequences(rows, pad_id);

  const std::vector<std::vector<TokenId>> mask_rows = rows_from_python(mask, "attention_mask");
  if (mask_rows.size() != rows.size())
    throw InputError("attention_mask has " + std::to_string(mask_rows.size()) + " rows but " + what + " has " +
                     std::to_string(rows.size()));
  const std::size_t length = rows.front().size();
  std::vector<TokenId> flat;
  std::vector<std::uint8_t> flat_mask;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != length || mask_rows[r].size() != length)
      throw InputError(std::string("with an attention_mask, ") + what + " and the mask must be rectangular [batch, " +
                       std::to_string(length) + "]; row " + std::to_string(r) + " differs");
    bool any = false;
    for (std::size_t t = 0; t < length; ++t) {
      const TokenId m = mask_rows[r][t];
      if (m != 0 && m != 1)
        throw InputError("attention_mask must hold 0 and 1 only, got " + std::to_string(m) + " in row " +
                         std::to_string(r));
      any = any || m == 1;
      flat_mask.push_back(static_cast<std::uint8_t>(m));
    }
    if (!any) throw InputError("attention_mask row " + std::to_string(r) + " masks every token");
    flat.insert(flat.end(), rows[r].begin(), rows[r].end());
  }
  return TokenBatch::from_ids(static_cast<Index>(rows.size()), static_cast<Index>(length), std::move(flat),
                              std::move(flat_mask));
}

py::array_t<std::int64_t> ids_array(const std::vector<std::vector<TokenId>>& rows) {
  std::size_t columns = 0;
  for (const auto& row : rows) columns = std::max(columns, row.size());
  py::array_t<std::int64_t> out({rows.size(), columns});
  auto view = out.mutable_unchecked<2>();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != columns) throw InputError("ids_array: rows of different lengths");
    for (std::size_t c = 0; c < columns; ++c) view(static_cast<py::ssize_t>(r), static_cast<py::ssize_t>(c)) = rows[r][c];
  }
  return out;
}

attention::CrossAttentionOptions with_attention_arguments(attention::CrossAttentionOptions options,
                                                         const std::optional<std::string>& kind,
                                                         const std::optional<Index>& segment,
                                                         const std::optional<std::string>& mode,
                                                         const std::optional<Index>& gen_len, bool fresh_raf) {
  if (kind) options.kind = attention::parse_attention_kind(*kind);
  if (segment) options.segment_size = *segment;
  if (mode) options.semantics = attention::parse_semantics(*mode);
  if (gen_len) options.gen_len = *gen_len;
  options.allow_fresh_raf_parameters = fresh_raf;
  options.validate();
  return options;
}

attention::CrossAttentionOptions cross_attention_options(const std::string& model_folder,
                                                         const std::optional<std::string>& kind,
                                                         const std::optional<Index>& segment,
                                                         const std::optional<std::string>& mode,
                                                         const std::optional<Index>& gen_len, bool fresh_raf) {
  return with_attention_arguments(cross_attention_options_from_config(model_folder), kind, segment, mode, gen_len,
                                  fresh_raf);
}

py::dict attention_dict(const attention::CrossAttentionOptions& options) {
  py::dict d;
  d["kind"] = attention::to_string(options.kind);
  d["segment"] = options.segment_size;
  d["gen_len"] = options.gen_len;
  d["mode"] = attention::to_string(options.semantics);
  return d;
}

// --- generation keyword arguments ------------------------------------------------------

namespace {

[[noreturn]] void bad_type(const std::string& name, const py::handle& value, const std::string& expected) {
  throw GenerationOptionError(name, "generation option " + name + " must be " + expected + ", got " +
                                        std::string(py::repr(value)) + " (" + type_name(value) + ")");
}

std::int64_t as_int(const std::string& name, const py::handle& value) {
  if (!is_int(value)) bad_type(name, value, "an int");
  try {
    return value.cast<std::int64_t>();
  } catch (const py::cast_error&) {
    bad_type(name, value, "an int that fits in 64 bits");
  }
}

double as_float(const std::string& name, const py::handle& value) {
  if (!(is_int(value) || py::isinstance<py::float_>(value))) bad_type(name, value, "a number");
  return value.cast<double>();
}

bool as_bool(const std::string& name, const py::handle& value) {
  if (!py::isinstance<py::bool_>(value)) bad_type(name, value, "True or False");
  return value.cast<bool>();
}

TokenId as_token(const std::string& name, const py::handle& value) {
  const std::int64_t id = as_int(name, value);
  if (id < 0 || id > std::numeric_limits<TokenId>::max())
    throw GenerationOptionError(name, "generation option " + name + " = " + std::to_string(id) +
                                          " is invalid: token ids must be in [0, 2^31)");
  return static_cast<TokenId>(id);
}

std::vector<TokenId> as_tokens(const std::string& name, const py::handle& value) {
  if (is_int(value)) return {as_token(name, value)};
  if (py::isinstance<py::str>(value) || !py::isinstance<py::sequence>(value))
    bad_type(name, value, "an int or a list of ints");
  std::vector<TokenId> ids;
  for (const py::handle item : py::reinterpret_borrow<py::sequence>(value)) ids.push_back(as_token(name, item));
  return ids;
}

}  // namespace

GenerationOptions apply_generation_kwargs(GenerationOptions options, const py::kwargs& kwargs) {
  for (const auto& item : kwargs) {
    const std::string name = py::str(item.first);
    const py::handle value = item.second;
    if (value.is_none()) continue;
    if (name == "max_new_tokens") options.max_new_tokens = as_int(name, value);
    else if (name == "max_length") options.max_length = as_int(name, value);
    else if (name == "min_new_tokens") options.min_new_tokens = as_int(name, value);
    else if (name == "min_length") options.min_length = as_int(name, value);
    else if (name == "num_beams") options.num_beams = as_int(name, value);
    else if (name == "num_return_sequences") options.num_return_sequences = as_int(name, value);
    else if (name == "length_penalty") options.length_penalty = as_float(name, value);
    else if (name == "early_stopping") {
      if (py::isinstance<py::str>(value) && value.cast<std::string>() == "never") options.early_stopping = EarlyStopping::kNever;
      else if (py::isinstance<py::bool_>(value)) options.early_stopping = value.cast<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
      else bad_type(name, value, "True, False or \"never\"");
    } else if (name == "do_sample") options.do_sample = as_bool(name, value);
    else if (name == "seed") {
      const std::int64_t seed = as_int(name, value);
      if (seed < 0) throw GenerationOptionError(name, "generation option seed = " + std::to_string(seed) + " is invalid: must be >= 0");
      options.seed = static_cast<std::uint64_t>(seed);
    } else if (name == "no_repeat_ngram_size") options.no_repeat_ngram_size = as_int(name, value);
    else if (name == "repetition_penalty") options.repetition_penalty = as_float(name, value);
    else if (name == "temperature") options.temperature = as_float(name, value);
    else if (name == "top_k") options.top_k = as_int(name, value);
    else if (name == "top_p") options.top_p = as_float(name, value);
    else if (name == "decoder_start_token_id") options.decoder_start_token_id = as_token(name, value);
    else if (name == "bos_token_id") options.bos_token_id = as_token(name, value);
    else if (name == "pad_token_id") options.pad_token_id = as_token(name, value);
    else if (name == "forced_bos_token_id") options.forced_bos_token_id = as_token(name, value);
    else if (name == "eos_token_id") options.eos_token_ids = as_tokens(name, value);
    else if (name == "forced_eos_token_id") options.forced_eos_token_ids = as_tokens(name, value);
    else if (name == "output_logits") options.output_logits = as_bool(name, value);
    else if (name == "prefix") {
      if (!py::isinstance<py::str>(value)) bad_type(name, value, "a str");
      options.prefix = value.cast<std::string>();
    } else
      throw GenerationOptionError(name, "unknown generation option '" + name +
                                            "' (the names are those of transformers.GenerationConfig: num_beams, "
                                            "max_new_tokens, min_new_tokens, length_penalty, no_repeat_ngram_size, "
                                            "repetition_penalty, do_sample, temperature, top_k, top_p, seed, ...)");
  }
  return options;
}

py::dict generation_options_dict(const GenerationOptions& o) {
  const auto optional = [](const auto& value) -> py::object {
    return value ? py::cast(*value) : py::object(py::none());
  };
  py::dict d;
  d["max_new_tokens"] = optional(o.max_new_tokens);
  d["max_length"] = optional(o.max_length);
  d["min_new_tokens"] = optional(o.min_new_tokens);
  d["min_length"] = o.min_length;
  d["num_beams"] = o.num_beams;
  d["num_return_sequences"] = o.num_return_sequences;
  d["length_penalty"] = o.length_penalty;
  d["early_stopping"] = o.early_stopping == EarlyStopping::kNever ? py::object(py::str("never"))
                                                                  : py::object(py::bool_(o.early_stopping == EarlyStopping::kTrue));
  d["do_sample"] = o.do_sample;
  d["seed"] = o.seed;
  d["no_repeat_ngram_size"] = o.no_repeat_ngram_size;
  d["repetition_penalty"] = o.repetition_penalty;
  d["temperature"] = o.temperature;
  d["top_k"] = o.top_k;
  d["top_p"] = o.top_p;
  d["decoder_start_token_id"] = optional(o.decoder_start_token_id);
  d["bos_token_id"] = optional(o.bos_token_id);
  d["pad_token_id"] = optional(o.pad_token_id);
  d["eos_token_id"] = py::cast(o.eos_token_ids);
  d["forced_bos_token_id"] = optional(o.forced_bos_token_id);
  d["forced_eos_token_id"] = py::cast(o.forced_eos_token_ids);
  d["output_logits"] = o.output_logits;
  d["prefix"] = o.prefix;
  return d;
}

}  // namespace srformer::python
