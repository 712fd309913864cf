// srformer.Summarizer: text in, summaries out, with the folder's generation
// defaults overridden by HF-named keywords; stream() yields a summary's text as it
// is generated (the C++ per-token hook). The GIL is released while summarizing.
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "bindings.hpp"
#include "srformer/pipeline/summarizer.hpp"

namespace srformer::python {
namespace {

// pybind11 holders cannot be shared_ptr<const T>; a Summarizer is immutable anyway.
using SharedSummarizer = std::shared_ptr<Summarizer>;

py::dict flops_dict(const attention::FlopCounter& flops) {
  py::dict d;
  d["scores"] = flops.scores;
  d["weighted_sum"] = flops.weighted_sum;
  d["kv_products"] = flops.kv_products;
  d["raf_linear"] = flops.raf_linear;
  d["recurrent"] = flops.recurrent;
  d["normalisation"] = flops.normalisation;
  d["total"] = flops.total();
  return d;
}

std::vector<std::string> documents_from(const py::handle& documents) {
  if (py::isinstance<py::str>(documents)) return {documents.cast<std::string>()};
  if (!py::isinstance<py::iterable>(documents))
    throw InputError("summarize: documents must be a str or a list of str, got a " +
                     std::string(py::str(py::type::of(documents).attr("__name__"))));
  std::vector<std::string> out;
  for (const py::handle document : documents) {
    if (!py::isinstance<py::str>(document))
      throw InputError("summarize: document " + std::to_string(out.size()) + " is a " +
                       std::string(py::str(py::type::of(document).attr("__name__"))) + ", not a str");
    out.push_back(document.cast<std::string>());
  }
  return out;
}

/// Summaries of `documents` in batches of `batch_size` (all at once when unset), stats summed.
SummaryBatch summarize_in_batches(const Summarizer& summarizer, const std::vector<std::string>& documents,
                                  const GenerationOptions& options, std::optional<Index> batch_size) {
  if (batch_size && *batch_size < 1) throw InputError("batch_size must be at least 1, got " + std::to_string(*batch_size));
  if (documents.empty()) throw InputError("summarize: no documents given");
  const std::size_t step = batch_size ? static_cast<std::size_t>(*batch_size) : documents.size();
  SummaryBatch all;
  for (std::size_t first = 0; first < documents.size(); first += step) {
    const std::size_t last = std::min(documents.size(), first + step);
    SummaryBatch part = summarizer.summarize(
        std::vector<std::string>(documents.begin() + static_cast<std::ptrdiff_t>(first),
                                 documents.begin() + static_cast<std::ptrdiff_t>(last)),
        options);
    for (Summary& summary : part.summaries) all.summaries.push_back(std::move(summary));
    all.stats += part.stats;
  }
  return all;
}

/// One document summarized on a C++ thread; pieces of text are handed to Python as
/// they come. Dropping the stream (or close()) stops generation at the next token.
class SummaryStream {
 public:
  SummaryStream(SharedSummarizer summarizer, std::string document, GenerationOptions options)
      : summarizer_(std::move(summarizer)) {
    worker_ = std::thread([this, document = std::move(document), options = std::move(options)] {
      try {
        SummaryBatch batch = summarizer_->summarize({document}, options, [this](const SummaryToken& token) {
          // The token is part of the summary even when it is the one that stops it.
          std::lock_guard<std::mutex> lock(mutex_);
          if (!token.text.empty()) pieces_.push_back(token.text);
          ready_.notify_one();
          return cancelled_ ? TokenAction::StopAll : TokenAction::Continue;
        });
        std::lock_guard<std::mutex> lock(mutex_);
        summary_ = std::move(batch.summaries.front());
        stats_ = batch.stats;
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
      ready_.notify_one();
    });
  }

  SummaryStream(const SummaryStream&) = delete;
  SummaryStream& operator=(const SummaryStream&) = delete;

  ~SummaryStream() {
    // Python may drop a stream while its worker still generates: stop it and wait
    // without the GIL (the worker never takes it).
    if (Py_IsInitialized() && PyGILState_Check()) {
      py::gil_scoped_release release;
      stop();
    } else {
      stop();
    }
  }

  /// The next piece of text; StopIteration once the summary is complete.
  std::string next() {
    std::exception_ptr error;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return !pieces_.empty() || done_; });
      if (!pieces_.empty()) {
        std::string piece = std::move(pieces_.front());
        pieces_.pop_front();
        return piece;
      }
      error = error_;
      error_ = nullptr;  // raised once
    }
    if (error) std::rethrow_exception(error);
    throw py::stop_iteration();
  }

  /// Stops generation (the summary keeps what was generated so far).
  void close() {
    py::gil_scoped_release release;
    stop();
  }

  std::optional<Summary> summary() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_ ? summary_ : std::nullopt;
  }
  std::optional<SummaryStats> stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_ && summary_ ? std::optional<SummaryStats>(stats_) : std::nullopt;
  }

 private:
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
    }
    if (worker_.joinable()) worker_.join();
  }

  SharedSummarizer summarizer_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> pieces_;
  bool done_ = false;
  bool cancelled_ = false;
  std::exception_ptr error_;
  std::optional<Summary> summary_;
  SummaryStats stats_;
  std::thread worker_;  // last: started once every member above exists
};

std::string summary_repr(const Summary& s) {
  return "Summary(text=" + std::string(py::repr(py::str(s.text))) + ", input_tokens=" + std::to_string(s.input_tokens) +
         ", output_tokens=" + std::to_string(s.output_tokens) + ")";
}

}  // namespace

void bind_generation(py::module_& module) {
  py::class_<Summary>(module, "Summary", "One document's summary.")
      .def_readonly("text", &Summary::text)
      .def_readonly("ids", &Summary::ids, "Generated ids: the decoder start token first, then the summary (eos included).")
      .def_readonly("score", &Summary::score, "Beam search: HF's sequences_score; None for greedy and sampling.")
      .def_readonly("input_tokens", &Summary::input_tokens, "Model input length after truncation (special tokens included).")
      .def_readonly("output_tokens", &Summary::output_tokens, "Generated tokens after the start token, eos included.")
      .def_readonly("input_truncated", &Summary::input_truncated, "Whether the document was cut to the input limit.")
      .def_readonly("document_bytes_dropped", &Summary::document_bytes_dropped,
                    "Bytes at the end of the document never tokenized (max_document_bytes).")
      .def_readonly("attention_differs_from_checkpoint", &Summary::attention_differs_from_checkpoint,
                    "The cross-attention used is not the one the checkpoint was trained with.")
      .def("__repr__", &summary_repr);

  py::class_<SummaryStats>(module, "SummaryStats", "What a summarize() call cost.")
      .def_readonly("documents", &SummaryStats::documents)
      .def_readonly("input_tokens", &SummaryStats::input_tokens)
      .def_readonly("output_tokens", &SummaryStats::output_tokens)
      .def_readonly("tokenize_seconds", &SummaryStats::tokenize_seconds)
      .def_readonly("encode_seconds", &SummaryStats::encode_seconds)
      .def_readonly("decode_seconds", &SummaryStats::decode_seconds)
      .def_property_readonly("output_tokens_per_second", &SummaryStats::output_tokens_per_second)
      .def_property_readonly(
          "cross_attention_flops", [](const SummaryStats& s) { return flops_dict(s.cross_attention_flops); },
          "Decoder cross-attention multiply-adds by term, and their total.")
      .def("__repr__", [](const SummaryStats& s) {
        return "SummaryStats(documents=" + std::to_string(s.documents) + ", input_tokens=" +
               std::to_string(s.input_tokens) + ", output_tokens=" + std::to_string(s.output_tokens) +
               ", decode_seconds=" + std::to_string(s.decode_seconds) + ")";
      });

  py::class_<SummaryBatch>(module, "SummaryBatch", "Summaries of several documents, in input order, and the cost.")
      .def_readonly("summaries", &SummaryBatch::summaries)
      .def_readonly("stats", &SummaryBatch::stats)
      .def("__len__", [](const SummaryBatch& b) { return b.summaries.size(); })
      .def("__getitem__",
           [](const SummaryBatch& b, py::ssize_t i) {
             const auto n = static_cast<py::ssize_t>(b.summaries.size());
             if (i < 0) i += n;
             if (i < 0 || i >= n) throw py::index_error("summary index out of range");
             return b.summaries[static_cast<std::size_t>(i)];
           })
      .def(
          "__iter__", [](const SummaryBatch& b) { return py::make_iterator(b.summaries.begin(), b.summaries.end()); },
          py::keep_alive<0, 1>())
      .def("__repr__", [](const SummaryBatch& b) {
        return "<srformer.SummaryBatch of " + std::to_string(b.summaries.size()) + " summaries>";
      });

  py::class_<SummaryStream>(module, "SummaryStream",
                            "Iterator over the text pieces of one summary as it is generated; joined, they are the "
                            "summary's text. close() (or dropping it) stops generation.")
      .def("__iter__", [](SummaryStream& self) -> SummaryStream& { return self; })
      .def("__next__", &SummaryStream::next)
      .def("close", &SummaryStream::close)
      .def_property_readonly("summary", &SummaryStream::summary,
                             "The finished Summary (None until the iterator is exhausted).")
      .def_property_readonly("stats", &SummaryStream::stats, "The call's SummaryStats once finished, else None.")
      .def("__enter__", [](SummaryStream& self) -> SummaryStream& { return self; })
      .def("__exit__", [](SummaryStream& self, const py::args&) { self.close(); });

  py::class_<Summarizer, SharedSummarizer>(module, "Summarizer",
                                          "Summarizes text with a HuggingFace T5/BART folder. Immutable: one "
                                          "Summarizer serves several Python threads at once.")
      .def(py::init([](const std::filesystem::path& folder, std::optional<std::string> attention,
                       std::optional<Index> segment, std::optional<std::string> mode, std::optional<int> threads,
                       std::optional<Index> max_input_tokens, std::optional<Index> gen_len, bool fresh_raf,
                       const std::string& task, std::optional<std::uint64_t> memory_limit_bytes,
                       std::optional<Index> max_document_bytes) {
             SummarizerOptions options;  // no attention argument: the checkpoint's
             if (attention || segment || mode || gen_len || fresh_raf)
               options.attention = cross_attention_options(folder.string(), attention, segment, mode, gen_len, fresh_raf);
             options.task = task;
             options.max_input_tokens = max_input_tokens;
             options.memory_limit_bytes = memory_limit_bytes;
             options.max_document_bytes = max_document_bytes;
             if (threads) {
               if (*threads < 1) throw OptionError("threads must be at least 1, got " + std::to_string(*threads));
               kernels::set_num_threads(*threads);
               Eigen::setNbThreads(*threads);
             }
             py::gil_scoped_release release;
             return std::make_shared<Summarizer>(folder, options);
           }),
           py::arg("model_dir"), py::arg("attention") = py::none(), py::arg("segment") = py::none(),
           py::arg("mode") = py::none(), py::arg("threads") = 1, py::arg("max_input_tokens") = py::none(),
           py::arg("gen_len") = py::none(), py::arg("fresh_raf") = false, py::arg("task") = "summarization",
           py::arg("memory_limit_bytes") = py::none(), py::arg("max_document_bytes") = py::none())
      .def(
          "summarize",
          [](const Summarizer& self, const py::handle& documents, std::optional<Index> batch_size,
             const py::kwargs& kwargs) -> py::object {
            const bool single = py::isinstance<py::str>(documents);
            const std::vector<std::string> texts = documents_from(documents);
            const GenerationOptions options = apply_generation_kwargs(self.default_options(), kwargs);
            SummaryBatch batch;
            {
              py::gil_scoped_release release;
              batch = summarize_in_batches(self, texts, options, batch_size);
            }
            if (single) return py::cast(std::move(batch.summaries.front()));
            return py::cast(std::move(batch));
          },
          py::arg("documents"), py::kw_only(), py::arg("batch_size") = py::none(),
          "A str gives a Summary; a list of str gives a SummaryBatch (in input order, with stats), summarized "
          "batch_size documents at a time (all at once by default).")
      .def(
          "stream",
          [](const SharedSummarizer& self, const std::string& document, const py::kwargs& kwargs) {
            GenerationOptions options = apply_generation_kwargs(self->default_options(), kwargs);
            options.validate();
            return std::make_unique<SummaryStream>(self, document, std::move(options));
          },
          py::arg("document"), "Iterator over the text pieces of the summary of one document as it is generated.")
      .def(
          "input_ids",
          [](const Summarizer& self, const std::string& document, const py::kwargs& kwargs) {
            const GenerationOptions options = apply_generation_kwargs(self.default_options(), kwargs);
            py::gil_scoped_release release;
            return self.input_ids(document, options);
          },
          py::arg("document"), "The model input ids of a document (prefix, truncation and special tokens applied).")
      .def_property_readonly(
          "tokenizer", [](const Summarizer& self) { return std::const_pointer_cast<Tokenizer>(self.shared_tokenizer()); },
          "The Tokenizer (shared, not copied).")
      .def_property_readonly("max_input_tokens", &Summarizer::max_input_tokens)
      .def_property_readonly("max_document_bytes", &Summarizer::max_document_bytes)
      .def_property_readonly("memory_limit_bytes", &Summarizer::memory_limit_bytes)
      .def_property_readonly("generation_config",
                             [](const Summarizer& self) { return generation_options_dict(self.default_options()); },
                             "Generation defaults (generation_config.json, config.json's task settings).")
      .def_property_readonly(
          "attention", [](const Summarizer& self) { return attention_dict(self.model().attention_options()); },
          "The cross-attention: kind, segment, gen_len, mode.")
      .def_property_readonly(
          "checkpoint_attention",
          [](const Summarizer& self) -> py::object {
            const auto& trained = self.checkpoint_attention();
            return trained ? py::object(attention_dict(*trained)) : py::object(py::none());
          },
          "The cross-attention the checkpoint's config.json says it was trained with; None for a plain "
          "checkpoint (full attention).")
      .def_property_readonly("attention_differs_from_checkpoint", &Summarizer::attention_differs_from_checkpoint,
                             "Whether the model runs another cross-attention than the checkpoint was trained with.");
}

}  // namespace srformer::python
