// Fuzzes the summarize tool's JSON Lines path as the program runs it
// (examples/summarize/main.cpp): the input is the file's bytes, read through
// io::read_at_most with a byte limit, checked by io::read_jsonl_records, every
// record's document taken out and its object written back with a summary
// (io::jsonl_with_summary) into an io::AtomicFileWriter output, then read again.
// Only srformer::Error may escape; nesting depth, invalid UTF-8 in the summary
// (replaced, as a detokenizer's bytes would be), duplicate keys and huge lines
// must all end in a result or an InputError. The output must be one valid JSON
// object per record, keeping the document and adding the summary last.
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "srformer/io/atomic_file.hpp"
#include "srformer/io/jsonl.hpp"

namespace {

using srformer::fuzz::fuzz_require;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // The first byte sets the read limit, as --max-input-bytes would (small limits cut lines).
  const std::uint64_t limit = size > 0 && (data[0] & 1) ? 1 + data[0] * 8u : srformer::io::kDefaultMaxInputBytes;
  std::istringstream stream(bytes);
  const srformer::io::BoundedRead input = srformer::io::read_at_most(stream, limit);
  fuzz_require(input.text.size() <= limit, "read_at_most keeps to its limit");
  fuzz_require(input.more == (bytes.size() > limit), "read_at_most says whether more input was left");
  fuzz_require(bytes.compare(0, input.text.size(), input.text) == 0, "read_at_most returns a prefix of the input");

  srformer::io::JsonlFormat format;
  format.name = "fuzz.jsonl";
  std::vector<srformer::io::JsonlRecord> records;
  if (!srformer::fuzz::expect_only_srformer_errors(
          [&] { records = srformer::io::read_jsonl_records(input.text, format); }))
    return 0;
  fuzz_require(!records.empty(), "read_jsonl_records returns at least one record or throws");

  static const std::filesystem::path output = srformer::fuzz::scratch_dir() / "out.jsonl";
  std::vector<std::string> documents;
  srformer::fuzz::expect_only_srformer_errors([&] {
    srformer::io::AtomicFileWriter writer(output);
    for (const srformer::io::JsonlRecord& record : records) {
      documents.push_back(srformer::io::jsonl_document(record, format));
      // A summary with bytes a detokenizer could produce: the document's first bytes
      // and a lone continuation byte (invalid UTF-8).
      const std::string summary = documents.back().substr(0, 7) + "\x80";
      writer.stream() << srformer::io::jsonl_with_summary(record, format, summary) << '\n';
    }
    writer.commit();
  });
  if (documents.size() != records.size()) return 0;

  std::ifstream in(output, std::ios::binary);
  std::string line;
  std::size_t count = 0;
  while (std::getline(in, line)) {
    fuzz_require(count < records.size(), "one output line per record");
    const auto object = nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
    fuzz_require(object.is_object(), "every output line is a JSON object");
    fuzz_require(object.contains(format.field) && object.at(format.field) == documents[count],
                 "the document is written back unchanged");
    const auto last = std::prev(object.end());
    fuzz_require(last.key() == format.summary_field && last->is_string(), "the summary is added as the last field");
    ++count;
  }
  fuzz_require(count == records.size(), "one output line per record");
  return 0;
}
