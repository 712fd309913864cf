// summarize: text in, summary out, on the CPU, with any HuggingFace T5 or BART
// summarization folder (config.json + safetensors + tokenizer files).
//
//   summarize                              the bundled sample dialogue, bundled demo model
//   summarize article.txt                  one document from a file ("-" = stdin)
//   summarize --jsonl docs.jsonl > out.jsonl   one document per line, summaries added
//   summarize --model ~/models/bart-large-cnn --num-beams 4 --stats article.txt
//
// Exit status: 0 on success, 1 on an error (message on stderr), 2 on a bad flag.
#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "srformer/core/printable.hpp"
#include "srformer/io/atomic_file.hpp"
#include "srformer/io/file_checks.hpp"
#include "srformer/io/jsonl.hpp"
#include "srformer/kernels/gemm.hpp"
#include "srformer/pipeline/summarizer.hpp"
#include "srformer/version.hpp"

#ifndef SRFORMER_DEFAULT_MODEL_DIR
#error "SRFORMER_DEFAULT_MODEL_DIR must name the bundled demo model folder"
#endif
#ifndef SRFORMER_DEFAULT_SAMPLE
#error "SRFORMER_DEFAULT_SAMPLE must name the bundled sample document"
#endif

namespace {

using srformer::Index;

#ifdef EIGEN_HAS_OPENMP
constexpr bool kEigenHasOpenMP = true;
#else
constexpr bool kEigenHasOpenMP = false;
#endif

/// A message for the terminal: the library already escapes what it quotes from files,
/// this also covers paths and anything else (no control byte reaches the terminal).
std::string terminal_safe(const std::string& message) { return srformer::printable(message, /*escape_backslash=*/false); }

/// A failure of the command line itself (exit status 2), found after parsing.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Flags {
  // input / output
  std::string input_path;  // positional or --input; "-" = stdin
  std::string jsonl_path;
  std::string field = "document";
  std::string summary_field = "summary_text";  // the key of HF's summarization pipeline
  std::string output_path;
  Index batch_size = 8;
  bool no_progress = false;
  bool stream = false;
  std::uint64_t max_input_bytes = srformer::io::kDefaultMaxInputBytes;
  // model
  std::string model_dir = SRFORMER_DEFAULT_MODEL_DIR;
  std::string attention = "full";
  Index segment = 0;
  Index gen_len = 0;
  std::string mode;
  bool fresh_raf = false;
  Index max_input_tokens = 0;
  std::uint64_t memory_limit_mib = 0;
  std::string prefix;
  // generation
  std::int64_t num_beams = 1, max_new_tokens = 0, min_new_tokens = 0, no_repeat_ngram_size = 0, top_k = 0;
  double length_penalty = 1.0, repetition_penalty = 1.0, temperature = 1.0, top_p = 1.0;
  bool sample = false;
  std::uint64_t seed = 0;
  // run
  int threads = 1;
  bool stats = false;
};

/// What the program is doing, for the message when memory runs out.
std::string g_phase = "starting";

/// Up to `max_bytes` of `path` ("-" = standard input); InputError naming the file when
/// it cannot be read.
srformer::io::BoundedRead read_input(const std::string& path, std::uint64_t max_bytes) {
  if (path == "-") {
    srformer::io::BoundedRead read = srformer::io::read_at_most(std::cin, max_bytes);
    if (std::cin.bad()) throw srformer::InputError("reading standard input failed");
    return read;
  }
  if (const auto problem = srformer::io::file_problem(path)) {
    // A FIFO or device (/dev/stdin, <(command)) is read as a stream; anything else is an error.
    const bool stream = problem->find("FIFO") != std::string::npos || problem->find("device") != std::string::npos;
    if (!stream) throw srformer::InputError("cannot open input file '" + path + "': it " + *problem);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw srformer::InputError("cannot open input file '" + path + "'");
  srformer::io::BoundedRead read = srformer::io::read_at_most(in, max_bytes);
  if (in.bad()) throw srformer::InputError("reading input file '" + path + "' failed");
  return read;
}

/// 1234567 -> "1,234,567".
std::string grouped(std::uint64_t value) {
  std::string digits = std::to_string(value), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void print_stats(const srformer::SummaryStats& s, Index truncated, double total_seconds) {
  const auto& f = s.cross_attention_flops;
  std::fprintf(stderr,
               "documents         %lld (%lld cut to the model's input limit)\n"
               "tokens in         %lld\n"
               "tokens out        %lld\n"
               "tokenize          %.3f s\n"
               "encode            %.3f s (%.1f tokens/s)\n"
               "decode            %.3f s (%.1f tokens/s)\n"
               "total             %.3f s\n"
               "cross-attention multiply-adds (decoder)\n"
               "  scores (q.k)            %s\n"
               "  weighted sum (p.V)      %s\n"
               "  segment K^T V products  %s\n"
               "  RAF linear              %s\n"
               "  recurrent (q.R)         %s\n"
               "  key normalisation       %s\n"
               "  total                   %s\n",
               static_cast<long long>(s.documents), static_cast<long long>(truncated),
               static_cast<long long>(s.input_tokens), static_cast<long long>(s.output_tokens), s.tokenize_seconds,
               s.encode_seconds, s.encode_seconds > 0 ? static_cast<double>(s.input_tokens) / s.encode_seconds : 0.0,
               s.decode_seconds, s.output_tokens_per_second(), total_seconds, grouped(f.scores).c_str(),
               grouped(f.weighted_sum).c_str(), grouped(f.kv_products).c_str(), grouped(f.raf_linear).c_str(),
               grouped(f.recurrent).c_str(), grouped(f.normalisation).c_str(), grouped(f.total()).c_str());
}

class ProgressBar {
 public:
  ProgressBar(std::size_t batches, std::size_t documents, bool enabled)
      : batches_(batches), documents_(documents), enabled_(enabled), terminal_(isatty(fileno(stderr)) != 0) {}

  void update(std::size_t batches_done, std::size_t documents_done, double seconds) const {
    if (!enabled_) return;
    constexpr std::size_t kWidth = 30;
    const std::size_t filled = batches_ == 0 ? kWidth : kWidth * batches_done / batches_;
    std::fprintf(stderr, "%s[%s%s] %zu/%zu batches, %zu/%zu documents, %.1f s%s", terminal_ ? "\r" : "",
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(), batches_done, batches_,
                 documents_done, documents_, seconds, terminal_ && batches_done < batches_ ? "" : "\n");
    std::fflush(stderr);
  }

 private:
  std::size_t batches_, documents_;
  bool enabled_, terminal_;
};

srformer::SummarizerOptions summarizer_options(const Flags& flags, const CLI::App& app) {
  namespace att = srformer::attention;
  srformer::SummarizerOptions options;
  // Without attention flags the Summarizer runs what the checkpoint names (or full
  // attention); each flag given changes one setting of that.
  if (app.count("--attention") || app.count("--segment") || app.count("--gen-len") || app.count("--mode") ||
      flags.fresh_raf) {
    att::CrossAttentionOptions attention = srformer::cross_attention_options_from_config(flags.model_dir);
    if (app.count("--attention")) attention.kind = att::parse_attention_kind(flags.attention);
    if (app.count("--segment")) attention.segment_size = flags.segment;
    if (app.count("--gen-len")) attention.gen_len = flags.gen_len;
    if (app.count("--mode")) attention.semantics = att::parse_semantics(flags.mode);
    attention.allow_fresh_raf_parameters = flags.fresh_raf;
    options.attention = attention;
  }
  if (app.count("--max-input-tokens")) options.max_input_tokens = flags.max_input_tokens;
  if (app.count("--memory-limit")) options.memory_limit_bytes = flags.memory_limit_mib << 20;
  return options;
}

srformer::Summarizer load_summarizer(const Flags& flags, const CLI::App& app) {
  try {
    return srformer::Summarizer(flags.model_dir, summarizer_options(flags, app));
  } catch (const srformer::ConfigError& e) {
    // A checkpoint without SRformer parameters: the library names its own option,
    // say which flag that is here.
    const std::string message = e.what();
    if (!flags.fresh_raf &&
        message.find("allow_fresh_raf_parameters") != std::string::npos)
      throw srformer::ConfigError(message + " (in summarize: --fresh-raf)");
    throw;
  }
}

/// The folder's generation defaults with every flag the user gave on top.
srformer::GenerationOptions generation_options(const Flags& flags, const CLI::App& app,
                                               const srformer::GenerationOptions& defaults) {
  srformer::GenerationOptions options = defaults;
  if (app.count("--num-beams")) options.num_beams = flags.num_beams;
  if (app.count("--max-new-tokens")) options.max_new_tokens = flags.max_new_tokens;
  if (app.count("--min-new-tokens")) options.min_new_tokens = flags.min_new_tokens;
  if (app.count("--length-penalty")) options.length_penalty = flags.length_penalty;
  if (app.count("--no-repeat-ngram-size")) options.no_repeat_ngram_size = flags.no_repeat_ngram_size;
  if (app.count("--repetition-penalty")) options.repetition_penalty = flags.repetition_penalty;
  if (app.count("--sample")) options.do_sample = true;
  if (app.count("--temperature")) options.temperature = flags.temperature;
  if (app.count("--top-k")) options.top_k = flags.top_k;
  if (app.count("--top-p")) options.top_p = flags.top_p;
  if (app.count("--seed")) options.seed = flags.seed;
  if (app.count("--prefix")) options.prefix = flags.prefix;
  try {
    options.validate();
  } catch (const srformer::OptionError& e) {
    throw UsageError(e.what());
  }
  return options;
}

/// Where results go: --output FILE, written atomically (the file is replaced only once
/// everything was written, so `-o` may name the input), or standard output.
class Output {
 public:
  explicit Output(const std::string& path) {
    if (!path.empty() && path != "-") file_ = std::make_unique<srformer::io::AtomicFileWriter>(path);
  }
  std::ostream& stream() { return file_ ? file_->stream() : std::cout; }
  void finish() {
    if (file_) {
      file_->commit();
      return;
    }
    std::cout.flush();
    if (!std::cout) throw srformer::InputError("writing the output failed");
  }

 private:
  std::unique_ptr<srformer::io::AtomicFileWriter> file_;
};

/// Documents cut to the model's input limit, reported once at the end.
struct Truncations {
  Index documents = 0;
  Index byte_cut_documents = 0;
  std::string first;  // where the first one was

  void add(const srformer::Summary& summary, const std::string& where) {
    if (!summary.input_truncated) return;
    if (documents++ == 0) first = where;
    if (summary.document_bytes_dropped > 0) ++byte_cut_documents;
  }

  void warn(Index total, const srformer::Summarizer& summarizer) const {
    if (documents == 0) return;
    std::fprintf(stderr,
                 "summarize: warning: %lld of %lld document%s longer than the model's input limit and %s cut to "
                 "%lld tokens (--max-input-tokens)%s; first: %s\n",
                 static_cast<long long>(documents), static_cast<long long>(total), total == 1 ? " was" : "s were",
                 documents == 1 ? "was" : "were", static_cast<long long>(summarizer.max_input_tokens()),
                 byte_cut_documents > 0
                     ? (", " + std::to_string(byte_cut_documents) + " of them already to their first " +
                        std::to_string(summarizer.max_document_bytes()) + " bytes before tokenizing (" +
                        std::to_string(srformer::kDocumentBytesPerToken) + " bytes per input token)")
                           .c_str()
                     : "",
                 first.c_str());
  }
};

int summarize_text(const Flags& flags, const srformer::Summarizer& summarizer,
                   const srformer::GenerationOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string path = flags.input_path.empty() ? std::string(SRFORMER_DEFAULT_SAMPLE) : flags.input_path;
  const std::string name = path == "-" ? std::string("standard input") : "'" + path + "'";
  g_phase = "reading " + name;
  // Only what the tokenizer will see is read (plus a few bytes to end a character):
  // an endless or huge input costs no more than a document that fits.
  const auto limit = std::min<std::uint64_t>(flags.max_input_bytes,
                                             static_cast<std::uint64_t>(summarizer.max_document_bytes()) + 4);
  srformer::io::BoundedRead input = read_input(path, limit);
  if (srformer::detail::is_blank(input.text)) {
    if (input.more)
      throw srformer::InputError("input " + name + " starts with " + std::to_string(input.text.size()) +
                                 " bytes of white space: nothing to summarize within the input limit");
    throw srformer::InputError("input " + name + " is empty: there is nothing to summarize");
  }
  if (input.more && limit == flags.max_input_bytes)
    std::fprintf(stderr, "summarize: warning: only the first %llu bytes of %s were read (--max-input-bytes)\n",
                 static_cast<unsigned long long>(limit), terminal_safe(name).c_str());
  g_phase = "summarizing " + name;
  const std::vector<std::string> documents{input.text};
  srformer::SummaryBatch result;
  if (flags.stream) {
    // Each token's text as soon as it is generated (beam search: once the best beam is final).
    result = summarizer.summarize(documents, options, [](const srformer::SummaryToken& token) {
      std::fwrite(token.text.data(), 1, token.text.size(), stdout);
      std::fflush(stdout);
      return srformer::TokenAction::Continue;
    });
    std::fputc('\n', stdout);
    std::fflush(stdout);
  } else {
    result = summarizer.summarize(documents, options);
    Output output(flags.output_path);
    output.stream() << result.summaries.front().text << '\n';
    output.finish();
  }
  Truncations truncations;
  truncations.add(result.summaries.front(), name);
  truncations.warn(1, summarizer);
  if (flags.stats) print_stats(result.stats, truncations.documents, srformer::detail::seconds_since(start));
  return 0;
}

int summarize_jsonl(const Flags& flags, const srformer::Summarizer& summarizer,
                    const srformer::GenerationOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  srformer::io::JsonlFormat format;
  format.name = flags.jsonl_path == "-" ? std::string("standard input") : flags.jsonl_path;
  format.field = flags.field;
  format.summary_field = flags.summary_field;
  g_phase = "reading " + format.name;
  std::vector<srformer::io::JsonlRecord> records;
  {
    srformer::io::BoundedRead input = read_input(flags.jsonl_path, flags.max_input_bytes);
    if (input.more)
      throw srformer::InputError(format.name + " is larger than the input limit of " +
                                 std::to_string(flags.max_input_bytes) +
                                 " bytes (--max-input-bytes): split it, or raise the limit");
    records = srformer::io::read_jsonl_records(input.text, format);
  }

  Output output(flags.output_path);
  const auto batch_size = static_cast<std::size_t>(flags.batch_size);
  const std::size_t batches = (records.size() + batch_size - 1) / batch_size;
  const ProgressBar progress(batches, records.size(), !flags.no_progress);
  srformer::SummaryStats total;
  Truncations truncations;
  for (std::size_t b = 0; b < batches; ++b) {
    const std::size_t first = b * batch_size, last = std::min(records.size(), first + batch_size);
    const std::string lines = format.name + " lines " + std::to_string(records[first].line) + "-" +
                              std::to_string(records[last - 1].line);
    g_phase = "summarizing " + lines + " (a batch of " + std::to_string(last - first) + " documents)";
    std::vector<std::string> documents;
    for (std::size_t i = first; i < last; ++i) documents.push_back(srformer::io::jsonl_document(records[i], format));
    srformer::SummaryBatch result;
    try {
      result = summarizer.summarize(documents, options);
    } catch (const srformer::ResourceError& e) {
      throw srformer::ResourceError(lines + ": " + e.what() + " (--batch-size)");
    } catch (const srformer::Error& e) {
      throw srformer::InputError(lines + " (batch of " + std::to_string(documents.size()) +
                                 ", document 0 = first): " + e.what());
    }
    for (std::size_t i = first; i < last; ++i) {
      const srformer::Summary& summary = result.summaries[i - first];
      truncations.add(summary, format.name + " line " + std::to_string(records[i].line));
      output.stream() << srformer::io::jsonl_with_summary(records[i], format, summary.text) << '\n';
    }
    total += result.stats;
    progress.update(b + 1, last, srformer::detail::seconds_since(start));
  }
  g_phase = "writing the output";
  output.finish();
  truncations.warn(static_cast<Index>(records.size()), summarizer);
  if (flags.stats) print_stats(total, truncations.documents, srformer::detail::seconds_since(start));
  return 0;
}

void add_flags(CLI::App& app, Flags& flags) {
  // Input and output.
  auto* positional = app.add_option("input", flags.input_path,
                                    "Text file to summarize as one document ('-' = standard input). "
                                    "Default: the bundled sample dialogue");
  auto* input = app.add_option("-i,--input", flags.input_path, "Same as the positional INPUT");
  auto* stream = app.add_flag("--stream", flags.stream,
                              "Print the summary as it is generated, token by token (one document; with beam "
                              "search the text comes when the best beam is final)");
  auto* jsonl = app.add_option("--jsonl", flags.jsonl_path,
                               "JSON Lines file ('-' = standard input): one object per line; the summary is "
                               "added to each object and the objects are written as JSON Lines");
  positional->excludes(input);
  jsonl->excludes(positional)->excludes(input);
  stream->excludes(jsonl);
  app.add_option("--field", flags.field, "JSONL: field holding the document")->capture_default_str();
  app.add_option("--summary-field", flags.summary_field, "JSONL: field the summary is written to")
      ->capture_default_str();
  app.add_option("--batch-size", flags.batch_size, "JSONL: documents summarized together (one padded batch)")
      ->capture_default_str()
      ->check(CLI::Range(Index{1}, Index{4096}));
  app.add_flag("--no-progress", flags.no_progress, "JSONL: no progress bar on standard error");
  app.add_option("--max-input-bytes", flags.max_input_bytes,
                 "Largest input read (JSONL: the whole file; a text document is read only as far as the model "
                 "can use: 64 bytes per input token)")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
  app.add_option("-o,--output", flags.output_path,
                 "Write results to this file instead of standard output (replaced only once complete, so it may "
                 "be the input file)")
      ->excludes(stream);

  // Model and cross-attention.
  app.add_option("-m,--model", flags.model_dir,
                 "HuggingFace model folder as downloaded (config.json, *.safetensors, spiece.model / "
                 "tokenizer.json / vocab.json+merges.txt). Default: the bundled demo model")
      ->capture_default_str()
      ->check(CLI::ExistingDirectory);
  app.add_option("--attention", flags.attention,
                 "Cross-attention: full, segmented or srformer (default: what the checkpoint's config.json names, "
                 "else full)")
      ->check(CLI::IsMember({"full", "segmented", "srformer"}));
  app.add_option("--segment", flags.segment,
                 "Segmented/SRformer: encoder tokens per segment (default: the checkpoint's, else T5 64, BART 16)")
      ->check(CLI::Range(Index{1}, srformer::attention::kMaxSegmentSize));
  app.add_option("--gen-len", flags.gen_len, "Segmented/SRformer: decoder length G the segments are spread over (128)")
      ->check(CLI::Range(Index{1}, Index{1} << 30));
  app.add_option("--mode", flags.mode, "Segmented/SRformer semantics: paper (the authors' code) or causal")
      ->check(CLI::IsMember({"paper", "causal"}));
  app.add_flag("--fresh-raf", flags.fresh_raf,
               "SRformer on a checkpoint without SRformer parameters: initialise them randomly "
               "(untrained: for timing, not for summaries)");
  app.add_option("--max-input-tokens", flags.max_input_tokens,
                 "Cut longer inputs to this many tokens, </s> kept (default: tokenizer_config.json's "
                 "model_max_length, else 512 for T5, max_position_embeddings for BART)")
      ->check(CLI::Range(Index{2}, Index{1} << 20));
  app.add_option("--memory-limit", flags.memory_limit_mib,
                 "MiB one batch may plan to use (estimated before allocating; a batch or num_beams above it is "
                 "refused with a message naming it). Default: the machine's memory")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 30));
  app.add_option("--prefix", flags.prefix,
                 "Text put before every document (default: the model's, e.g. 'summarize: ' for t5-small)");

  // Generation (defaults: the model folder's generation_config.json and config.json).
  app.add_option("--num-beams", flags.num_beams, "Beam search with this many beams (1 = greedy)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{256}));
  app.add_option("--max-new-tokens", flags.max_new_tokens,
                 "Most tokens to generate (memory grows with the tokens actually generated)")
      ->check(CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max() - 1));
  app.add_option("--min-new-tokens", flags.min_new_tokens, "Fewest tokens to generate before </s>")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--length-penalty", flags.length_penalty, "Beam score = log-prob / length^penalty");
  app.add_option("--no-repeat-ngram-size", flags.no_repeat_ngram_size, "Never repeat an n-gram of this size")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--repetition-penalty", flags.repetition_penalty, "Penalise tokens already generated (1 = off)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--sample", flags.sample, "Sample instead of taking the most likely tokens");
  app.add_option("--temperature", flags.temperature, "Sampling temperature")->check(CLI::PositiveNumber);
  app.add_option("--top-k", flags.top_k, "Sampling: keep the k most likely tokens (0 = all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", flags.top_p, "Sampling: keep the smallest set with this probability mass")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", flags.seed, "Sampling seed (std::mt19937_64; not PyTorch's generator)");

  // Run.
  app.add_option("--threads", flags.threads,
                 std::string("Threads for the matrix products (srformer's kernels and Eigen; results are the same "
                             "for any count). More threads only pay off for large models on idle cores; on a shared "
                             "machine also set OMP_WAIT_POLICY=passive") +
                     (kEigenHasOpenMP ? "" : ". NOTE: this build has no OpenMP, so the products run single-threaded "
                                             "and this flag has no effect"))
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_flag("--stats", flags.stats,
               "Print tokens in/out, encode/decode time, tokens/s and cross-attention multiply-adds by term to "
               "standard error");
}

int run(int argc, char** argv) {
  CLI::App app{"Summarize text with a HuggingFace T5 or BART model on the CPU (srformer " SRFORMER_VERSION_STRING ").",
               "summarize"};
  app.set_version_flag("--version", SRFORMER_VERSION_STRING);
  app.footer(std::string("Without INPUT, --input or --jsonl, the bundled sample dialogue is summarized.\n"
                         "Generation defaults come from the model folder (generation_config.json, then\n"
                         "config.json task_specific_params.summarization); flags override them.\n"
                         "The bundled demo model is tiny and only knows dialogues, paper abstracts and\n"
                         "Debian package descriptions: use --model with t5-small, flan-t5 or\n"
                         "bart-large-cnn for real summaries.\n"
                         "Multithreading (OpenMP): ") +
             (kEigenHasOpenMP ? "enabled in this build." : "NOT enabled in this build (--threads has no effect).") +
             "\nExit status: 0 success, 1 error, 2 bad command line.");
  Flags flags;
  add_flags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    // One thread unless asked: OpenMP's default (every core) is slower for small
    // models and on a shared machine.
    Eigen::setNbThreads(flags.threads);
    srformer::kernels::set_num_threads(flags.threads);
    if (!kEigenHasOpenMP && flags.threads > 1)
      std::fprintf(stderr, "summarize: note: this build has no OpenMP; --threads %d has no effect\n", flags.threads);
    g_phase = "loading the model from '" + flags.model_dir + "'";
    const srformer::Summarizer summarizer = load_summarizer(flags, app);
    if (summarizer.attention_differs_from_checkpoint()) {
      const auto& trained = summarizer.checkpoint_attention();
      std::fprintf(stderr, "summarize: warning: running %s cross-attention on a checkpoint trained with %s\n",
                   srformer::describe(summarizer.model().attention_options()).c_str(),
                   trained ? srformer::describe(*trained).c_str() : "full attention");
    }
    const srformer::GenerationOptions options = generation_options(flags, app, summarizer.default_options());
    if (!flags.jsonl_path.empty()) return summarize_jsonl(flags, summarizer, options);
    return summarize_text(flags, summarizer, options);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "summarize: invalid option: %s\nRun with --help for more information.\n",
                 terminal_safe(e.what()).c_str());
    return 2;
  } catch (const srformer::OptionError& e) {
    std::fprintf(stderr, "summarize: invalid option: %s\nRun with --help for more information.\n",
                 terminal_safe(e.what()).c_str());
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "summarize: error: out of memory while %s\n", terminal_safe(g_phase).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "summarize: error: %s\n", terminal_safe(e.what()).c_str());
    return 1;
  }
}
