// srformer.Tokenizer: SentencePiece (T5) and byte-level BPE (BART) tokenizers of a
// HuggingFace folder. Text is converted while the GIL is held; the tokenizer itself
// runs without it, so Python threads tokenize in parallel.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "bindings.hpp"
#include "srformer/tokenizers/load_tokenizer.hpp"
#include "srformer/tokenizers/tokenizer.hpp"

namespace srformer::python {
namespace {

// pybind11 holders cannot be shared_ptr<const T>; nothing mutates a Tokenizer anyway.
using SharedTokenizer = std::shared_ptr<Tokenizer>;

Index max_length_or_none(const std::optional<Index>& max_length) {
  if (!max_length) return Tokenizer::kNoTruncation;
  if (*max_length < 1) throw InputError("max_length must be at least 1, got " + std::to_string(*max_length));
  return *max_length;
}

std::vector<TokenId> encode_one(const Tokenizer& tokenizer, const std::string& text, Index max_length,
                                bool add_special_tokens) {
  if (add_special_tokens) return tokenizer.encode(text, max_length);
  std::vector<TokenId> ids = tokenizer.encode_text(text);
  if (max_length != Tokenizer::kNoTruncation && static_cast<Index>(ids.size()) > max_length)
    ids.resize(static_cast<std::size_t>(max_length));
  return ids;
}

py::list to_list(const std::vector<TokenId>& ids) {
  py::list out(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) out[i] = py::int_(ids[i]);
  return out;
}

}  // namespace

void bind_tokenizers(py::module_& module) {
  py::class_<Tokenizer, SharedTokenizer>(module, "Tokenizer",
                                         "The tokenizer of a HuggingFace model folder (spiece.model, tokenizer.json "
                                         "or vocab.json + merges.txt). Immutable; safe to share between threads.")
      .def_static(
          "from_folder",
          [](const std::filesystem::path& folder) -> SharedTokenizer {
            py::gil_scoped_release release;
            return SharedTokenizer(load_tokenizer(folder).release());
          },
          py::arg("folder"), "Loads the tokenizer of a model folder.")
      .def(
          "encode",
          [](const Tokenizer& self, const std::string& text, std::optional<Index> max_length, bool add_special_tokens) {
            const Index limit = max_length_or_none(max_length);
            std::vector<TokenId> ids;
            {
              py::gil_scoped_release release;
              ids = encode_one(self, text, limit, add_special_tokens);
            }
            return to_list(ids);
          },
          py::arg("text"), py::arg("max_length") = py::none(), py::arg("add_special_tokens") = true,
          "Ids of `text` (with the model's special tokens, e.g. T5's final </s>, unless add_special_tokens is "
          "False); at most max_length ids, cut as HF truncates (the special tokens kept).")
      .def(
          "encode_batch",
          [](const Tokenizer& self, const std::vector<std::string>& texts, std::optional<Index> max_length,
             bool add_special_tokens) {
            const Index limit = max_length_or_none(max_length);
            std::vector<std::vector<TokenId>> batch(texts.size());
            {
              py::gil_scoped_release release;
              for (std::size_t i = 0; i < texts.size(); ++i)
                batch[i] = encode_one(self, texts[i], limit, add_special_tokens);
            }
            py::list out(batch.size());
            for (std::size_t i = 0; i < batch.size(); ++i) out[i] = to_list(batch[i]);
            return out;
          },
          py::arg("texts"), py::arg("max_length") = py::none(), py::arg("add_special_tokens") = true,
          "encode() of every text.")
      .def(
          "decode",
          [](const Tokenizer& self, const py::handle& ids, bool skip_special_tokens) {
            const std::vector<TokenId> values = ids_from_python(ids, "decode: ids");
            py::gil_scoped_release release;
            return self.decode(values, skip_special_tokens);
          },
          py::arg("ids"), py::arg("skip_special_tokens") = true,
          "Text of `ids` (a list of ints or a 1-D integer array).")
      .def(
          "decode_batch",
          [](const Tokenizer& self, const py::iterable& batch, bool skip_special_tokens) {
            std::vector<std::vector<TokenId>> rows;
            for (const py::handle row : batch) rows.push_back(ids_from_python(row, "decode_batch: a row of ids"));
            std::vector<std::string> texts(rows.size());
            {
              py::gil_scoped_release release;
              for (std::size_t i = 0; i < rows.size(); ++i) texts[i] = self.decode(rows[i], skip_special_tokens);
            }
            return texts;
          },
          py::arg("batch"), py::arg("skip_special_tokens") = true, "decode() of every row.")
      .def(
          "tokenize",
          [](const Tokenizer& self, const std::string& text) {
            py::gil_scoped_release release;
            return self.tokenize(text);
          },
          py::arg("text"), "Token strings of `text` (without the added special tokens).")
      .def("id_to_token", &Tokenizer::id_to_token, py::arg("id"), "Vocabulary string of one id.")
      .def("is_special", &Tokenizer::is_special, py::arg("id"),
           "Whether decode(..., skip_special_tokens=True) drops this id.")
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size, "Number of ids (the largest id + 1).")
      .def("__len__", &Tokenizer::vocab_size)
      .def_property_readonly("prefix_ids", &Tokenizer::prefix_ids, "Ids encode() puts before the text.")
      .def_property_readonly("suffix_ids", &Tokenizer::suffix_ids, "Ids encode() puts after the text.")
      .def_property_readonly("pad_token_id", &Tokenizer::pad_id, "-1 when the vocabulary has none.")
      .def_property_readonly("eos_token_id", &Tokenizer::eos_id, "-1 when the vocabulary has none.")
      .def_property_readonly("bos_token_id", &Tokenizer::bos_id, "-1 when encode() adds none (T5).")
      .def_property_readonly("unk_token_id", &Tokenizer::unk_id, "-1 when the vocabulary has none.")
      .def("__repr__", [](const Tokenizer& self) {
        return "<srformer.Tokenizer vocab_size=" + std::to_string(self.vocab_size()) + ">";
      });
}

}  // namespace srformer::python
