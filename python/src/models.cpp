// srformer.Model: the runtime model (Seq2SeqModel) for research and parity checks —
// encode once, teacher-forced logits, generate() returning ids. The GIL is released
// while the model computes.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "bindings.hpp"
#include "srformer/generation/options_loading.hpp"
#include "srformer/generation/search.hpp"
#include "srformer/models/seq2seq_model.hpp"

namespace srformer::python {
namespace {

/// A loaded model and the generation defaults of its folder (HF's model.generation_config).
struct Model {
  std::shared_ptr<const Seq2SeqModel> model;
  GenerationOptions defaults;
};

/// An encoded batch, tied to the model that made it.
struct EncoderOutput {
  std::shared_ptr<const Seq2SeqModel> model;
  std::shared_ptr<const EncodedInput> encoded;
};

struct GenerationOutput {
  GenerationResult result;
};

/// A numpy view of a matrix moved to the heap; the array owns it.
py::array_t<float> matrix_array(RowMatrix&& matrix, std::vector<py::ssize_t> shape) {
  auto* owned = new RowMatrix(std::move(matrix));
  py::capsule owner(owned, [](void* pointer) { delete static_cast<RowMatrix*>(pointer); });
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t stride = sizeof(float);
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return py::array_t<float>(shape, strides, owned->data(), owner);
}

/// One of a TokenBatch's [batch * length] vectors as int64 [batch, length].
template <class Values>
py::array_t<std::int64_t> batch_array(const TokenBatch& input, const Values& values) {
  py::array_t<std::int64_t> out({input.batch, input.length});
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

py::dict config_dict(const ModelConfig& c) {
  py::dict d;
  d["family"] = c.family == ModelFamily::T5 ? "t5" : "bart";
  d["vocab_size"] = c.vocab_size;
  d["d_model"] = c.d_model;
  d["encoder_layers"] = c.encoder_layers;
  d["decoder_layers"] = c.decoder_layers;
  d["encoder_heads"] = c.encoder_heads;
  d["decoder_heads"] = c.decoder_heads;
  d["head_dim"] = c.head_dim;
  d["encoder_ffn_dim"] = c.encoder_ffn_dim;
  d["decoder_ffn_dim"] = c.decoder_ffn_dim;
  d["gated_ffn"] = c.gated_ffn;
  d["norm_eps"] = c.norm_eps;
  d["pad_token_id"] = c.pad_token_id;
  d["eos_token_id"] = c.eos_token_ids;
  d["decoder_start_token_id"] = c.decoder_start_token_id;
  if (c.family == ModelFamily::Bart) d["max_position_embeddings"] = c.max_position_embeddings;
  d["source"] = c.source;
  return d;
}

attention::QueryMode query_mode(const std::string& name) {
  if (name == "incremental") return attention::QueryMode::Incremental;
  if (name == "paper_training") return attention::QueryMode::PaperTraining;
  if (name == "paper_eval") return attention::QueryMode::PaperEvalAtT;
  throw OptionError("query_mode must be \"incremental\", \"paper_training\" or \"paper_eval\", got \"" + name + "\"");
}

std::shared_ptr<const EncodedInput> encode(const Seq2SeqModel& model, const py::handle& ids, const py::handle& mask) {
  TokenBatch batch = token_batch_from_python(ids, mask, model.config().pad_token_id, "input_ids");
  py::gil_scoped_release release;
  return model.encode(batch);
}

const EncodedInput& encoded_for(const Model& self, const EncoderOutput& output) {
  // Models from with_attention() share weights (and config): their outputs are
  // interchangeable as far as shapes go; the policy check is the model's own.
  if (&output.model->config() != &self.model->config())
    throw InputError("this EncoderOutput was made by another model (other weights)");
  return *output.encoded;
}

GenerationOutput generate(const Model& self, std::shared_ptr<const EncodedInput> encoded, const py::kwargs& kwargs) {
  GenerationOptions options = apply_generation_kwargs(self.defaults, kwargs);
  options.validate();
  py::gil_scoped_release release;
  const Index batch = encoded->input().batch;
  const Index rows = batch * options.num_beams;
  std::vector<Index> memory_rows(static_cast<std::size_t>(rows));
  for (std::size_t r = 0; r < memory_rows.size(); ++r) memory_rows[r] = static_cast<Index>(r) / options.num_beams;
  auto session = self.model->start_decoding(std::move(encoded), std::move(memory_rows), options.resolved_max_length());
  return GenerationOutput{generate(*session, batch, options)};
}

}  // namespace

void bind_models(py::module_& module) {
  py::class_<EncoderOutput>(module, "EncoderOutput", "A batch encoded once by Model.encode(); reused by logits() and generate().")
      .def_property_readonly("batch_size", [](const EncoderOutput& self) { return self.encoded->input().batch; })
      .def_property_readonly("length", [](const EncoderOutput& self) { return self.encoded->input().length; })
      .def_property_readonly(
          "last_hidden_state",
          [](const EncoderOutput& self) {
            const TokenBatch& input = self.encoded->input();
            const RowMatrix& hidden = self.encoded->hidden();
            py::array_t<float> out({input.batch, input.length, static_cast<Index>(hidden.cols())});
            std::copy(hidden.data(), hidden.data() + hidden.size(), out.mutable_data());
            return out;
          },
          "Encoder output, float32 [batch, length, d_model] (a copy).")
      .def_property_readonly(
          "input_ids", [](const EncoderOutput& self) { return batch_array(self.encoded->input(), self.encoded->input().ids); },
          "The encoded ids, padded, int64 [batch, length].")
      .def_property_readonly(
          "attention_mask",
          [](const EncoderOutput& self) { return batch_array(self.encoded->input(), self.encoded->input().mask); },
          "1 for real tokens, 0 for padding, int64 [batch, length].");

  py::class_<GenerationOutput>(module, "GenerationOutput", "What Model.generate() returns (HF's sequences and scores).")
      .def_property_readonly(
          "sequences", [](const GenerationOutput& self) { return ids_array(self.result.sequences); },
          "int64 [batch * num_return_sequences, length]: each row starts with the decoder start token and is "
          "padded to the longest, as HF's `sequences`.")
      .def_property_readonly(
          "sequences_scores",
          [](const GenerationOutput& self) -> py::object {
            if (self.result.sequences_scores.empty()) return py::none();
            return py::array_t<float>(static_cast<py::ssize_t>(self.result.sequences_scores.size()),
                                      self.result.sequences_scores.data());
          },
          "Beam search: HF's sequences_scores (float32 [rows]); None for greedy and sampling.")
      .def_property_readonly(
          "generated_lengths",
          [](const GenerationOutput& self) {
            return py::array_t<std::int64_t>(static_cast<py::ssize_t>(self.result.generated_lengths.size()),
                                             self.result.generated_lengths.data());
          },
          "Generated tokens per row after the start token, eos included, padding excluded.")
      .def_property_readonly(
          "logits",
          [](const GenerationOutput& self) -> py::object {
            if (self.result.step_logits.empty()) return py::none();
            py::list rows;
            for (const auto& steps : self.result.step_logits) {
              const Index vocab = steps.empty() ? 0 : steps.front().size();
              py::array_t<float> row({static_cast<Index>(steps.size()), vocab});
              float* out = row.mutable_data();
              for (const RowVector& step : steps) out = std::copy(step.data(), step.data() + step.size(), out);
              rows.append(row);
            }
            return rows;
          },
          "With output_logits=True (greedy / sampling): per row, the raw logits of each step, float32 "
          "[steps, vocab]; else None.")
      .def_property_readonly("batch_size", [](const GenerationOutput& self) { return self.result.batch_size; })
      .def_property_readonly("num_return_sequences",
                             [](const GenerationOutput& self) { return self.result.num_return_sequences; })
      .def(
          "unpadded", [](const GenerationOutput& self, Index row) { return self.result.unpadded(row); },
          py::arg("row"), "Row `row` without padding: the start token and the generated tokens.");

  py::class_<Model>(module, "Model", "A T5 or BART model of a HuggingFace folder, with its cross-attention.")
      .def_static(
          "from_folder",
          [](const std::filesystem::path& folder, std::optional<std::string> attention, std::optional<Index> segment,
             std::optional<std::string> mode, std::optional<Index> gen_len, bool fresh_raf) {
            const attention::CrossAttentionOptions options =
                cross_attention_options(folder.string(), attention, segment, mode, gen_len, fresh_raf);
            py::gil_scoped_release release;
            Model model{load_model(folder, options), {}};
            model.defaults = load_generation_options(folder.string(), /*task=*/"");
            fill_missing_special_tokens(model.defaults, model.model->config());
            return model;
          },
          py::arg("folder"), py::arg("attention") = py::none(), py::arg("segment") = py::none(),
          py::arg("mode") = py::none(), py::arg("gen_len") = py::none(), py::arg("fresh_raf") = false,
          "Loads config.json and the safetensors weights. attention: \"full\", \"segmented\" or \"srformer\"; "
          "segment, mode (\"paper\" / \"causal\") and gen_len default to the authors' values for the family.")
      .def(
          "with_attention",
          [](const Model& self, std::optional<std::string> attention, std::optional<Index> segment,
             std::optional<std::string> mode, std::optional<Index> gen_len, bool fresh_raf) {
            const auto options =
                with_attention_arguments(self.model->attention_options(), attention, segment, mode, gen_len, fresh_raf);
            return Model{self.model->with_attention(options), self.defaults};
          },
          py::arg("attention") = py::none(), py::arg("segment") = py::none(), py::arg("mode") = py::none(),
          py::arg("gen_len") = py::none(), py::arg("fresh_raf") = false,
          "The same weights (no copy) with another cross-attention; unset arguments keep this model's.")
      .def_property_readonly("config", [](const Model& self) { return config_dict(self.model->config()); },
                             "The settings read from config.json.")
      .def_property_readonly("attention", [](const Model& self) { return attention_dict(self.model->attention_options()); },
                             "The cross-attention: kind, segment, gen_len, mode.")
      .def_property_readonly("generation_config", [](const Model& self) { return generation_options_dict(self.defaults); },
                             "Generation defaults of the folder (generation_config.json, completed from config.json).")
      .def(
          "encode", [](const Model& self, const py::handle& input_ids, const py::handle& attention_mask) {
            return EncoderOutput{self.model, encode(*self.model, input_ids, attention_mask)};
          },
          py::arg("input_ids"), py::arg("attention_mask") = py::none(),
          "Runs the encoder once. input_ids: [batch, length] integer array or list of lists (ragged rows are "
          "padded); attention_mask: same shape, 1 for real tokens.")
      .def(
          "logits",
          [](const Model& self, const EncoderOutput& encoder_output, const py::handle& decoder_input_ids,
             const std::string& mode) {
            const EncodedInput& encoded = encoded_for(self, encoder_output);
            const TokenBatch decoder = token_batch_from_python(decoder_input_ids, py::none(), 0, "decoder_input_ids");
            for (const auto m : decoder.mask)
              if (m == 0) throw InputError("decoder_input_ids rows must all have the same length");
            if (decoder.batch != encoded.input().batch)
              throw InputError("decoder_input_ids has " + std::to_string(decoder.batch) + " rows but the encoder output has " +
                               std::to_string(encoded.input().batch));
            const attention::QueryMode query = query_mode(mode);
            RowMatrix logits;
            {
              py::gil_scoped_release release;
              logits = self.model->teacher_forced_logits(encoded, decoder.ids, decoder.length, query);
            }
            const auto vocab = static_cast<py::ssize_t>(logits.cols());
            return matrix_array(std::move(logits), {decoder.batch, decoder.length, vocab});
          },
          py::arg("encoder_output"), py::arg("decoder_input_ids"), py::arg("query_mode") = "incremental",
          "Teacher-forced logits, float32 [batch, length, vocab], for decoder_input_ids [batch, length] (starting "
          "with the decoder start token). query_mode: \"incremental\" (as generation sees them), or for SRformer "
          "paper semantics the authors' \"paper_training\" / \"paper_eval\" forwards.")
      .def(
          "generate",
          [](const Model& self, const py::handle& inputs, const py::handle& attention_mask, const py::kwargs& kwargs) {
            if (py::isinstance<EncoderOutput>(inputs)) {
              if (!attention_mask.is_none()) throw InputError("attention_mask goes with input_ids, not with an EncoderOutput");
              const auto& output = inputs.cast<const EncoderOutput&>();
              encoded_for(self, output);
              return generate(self, output.encoded, kwargs);
            }
            return generate(self, encode(*self.model, inputs, attention_mask), kwargs);
          },
          py::arg("inputs"), py::arg("attention_mask") = py::none(),
          "Generates from input ids (or an EncoderOutput) with the folder's generation defaults overridden by "
          "HF-named keywords (num_beams, max_new_tokens, do_sample, ...).")
      .def("__repr__", [](const Model& self) {
        const auto& c = self.model->config();
        return std::string("<srformer.Model ") + (c.family == ModelFamily::T5 ? "t5" : "bart") +
               " d_model=" + std::to_string(c.d_model) + " attention=" +
               attention::to_string(self.model->attention_options().kind) + ">";
      });
}

}  // namespace srformer::python
