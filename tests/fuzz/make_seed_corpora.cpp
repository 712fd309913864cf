// Writes the seed corpora of the fuzz targets from the test data, so that no
// binary seed files live in the repository:
//   make_seed_corpora <tests/data> <examples/models> <out>
// creates <out>/<target>/... for every target (see tests/fuzz/CMakeLists.txt).
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_seed(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

// A safetensors file: 8-byte little-endian header length, header, data.
std::string safetensors(const json& header, const std::string& data, std::size_t pad_header_to = 1) {
  std::string text = header.dump();
  while (text.size() % pad_header_to != 0) text += ' ';
  std::string out(8, '\0');
  std::uint64_t length = text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xFF);
  return out + text + data;
}

std::string bytes_of(const std::vector<float>& values) {
  std::string out(values.size() * sizeof(float), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

void safetensors_seeds(const fs::path& dir, const fs::path& data_dir) {
  const json f32 = {{"w", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}}};
  write_seed(dir, "f32_aligned", safetensors(f32, bytes_of({1, 2, 3, 4, 5, 6}), 8));
  write_seed(dir, "f32_unaligned", safetensors(f32, bytes_of({1, 2, 3, 4, 5, 6}), 1));
  json mixed = {{"__metadata__", {{"format", "pt"}}},
                {"a.f16", {{"dtype", "F16"}, {"shape", {2}}, {"data_offsets", {0, 4}}}},
                {"b.bf16", {{"dtype", "BF16"}, {"shape", {2}}, {"data_offsets", {4, 8}}}},
                {"c.i64", {{"dtype", "I64"}, {"shape", {1}}, {"data_offsets", {8, 16}}}},
                {"d.u64", {{"dtype", "U64"}, {"shape", {1}}, {"data_offsets", {16, 24}}}},
                {"e.i8", {{"dtype", "I8"}, {"shape", {1, 2}}, {"data_offsets", {24, 26}}}},
                {"f.bool", {{"dtype", "BOOL"}, {"shape", {2}}, {"data_offsets", {26, 28}}}},
                {"g.scalar", {{"dtype", "F32"}, {"shape", json::array()}, {"data_offsets", {28, 32}}}},
                {"h.empty", {{"dtype", "F32"}, {"shape", {0, 4}}, {"data_offsets", {32, 32}}}},
                {"i.f64", {{"dtype", "F64"}, {"shape", {1}}, {"data_offsets", {32, 40}}}}};
  std::string data;
  data += std::string("\x00\x3c\x00\xc0", 4);                  // F16 1, -2
  data += std::string("\x80\x3f\x00\x40", 4);                  // BF16 1, 2
  data += std::string("\x07\x00\x00\x00\x00\x00\x00\x00", 8);  // I64 7
  data += std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8);  // U64 max (does not fit int64)
  data += std::string("\x80\x7f", 2);                          // I8 -128, 127
  data += std::string("\x00\x01", 2);                          // BOOL
  data += bytes_of({3.5f});
  data += std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f", 8);  // F64 1.0
  write_seed(dir, "mixed_dtypes", safetensors(mixed, data));
  write_seed(dir, "empty_header", safetensors(json::object(), ""));
  write_seed(dir, "metadata_only", safetensors({{"__metadata__", {{"k", "v"}}}}, ""));
  // Real files, cut to their header plus a little data (keeps the seeds small).
  for (const char* file : {"caikit-tiny-t5/golden.safetensors", "hf-tiny/t5_tiny/model.safetensors"}) {
    const std::string bytes = read_file(data_dir / file);
    std::string name = file;
    for (char& c : name)
      if (c == '/' || c == '.') c = '_';
    write_seed(dir, name + "_head", bytes.substr(0, std::min<std::size_t>(bytes.size(), 4096)));
  }
  write_seed(dir, "caikit_golden", read_file(data_dir / "caikit-tiny-t5/golden.safetensors"));
}

void config_seeds(const fs::path& dir, const fs::path& data_dir, const fs::path& models_dir) {
  int n = 0;
  for (const fs::path& root : {data_dir, models_dir})
    for (const auto& entry : fs::recursive_directory_iterator(root))
      if (entry.is_regular_file() && entry.path().filename() == "config.json")
        write_seed(dir, "config_" + std::to_string(n++), read_file(entry.path()));
  // Our cross_attention block, the authors' srformer block, task parameters.
  json t5 = json::parse(read_file(data_dir / "hf-tiny/t5_tiny/config.json"));
  t5["cross_attention"] = {{"kind", "srformer"}, {"segment_size", 4}, {"gen_len", 16}, {"semantics", "causal"}};
  t5["task_specific_params"] = {{"summarization", {{"prefix", "summarize: "}, {"num_beams", 4}, {"max_length", 20}}}};
  write_seed(dir, "t5_cross_attention", t5.dump(1));
  json bart = json::parse(read_file(data_dir / "hf-tiny/bart_tiny/config.json"));
  bart["srformer"] = {{"split_size", 8}};
  bart["eos_token_id"] = json::array({2, 3});
  write_seed(dir, "bart_srformer", bart.dump());
}

std::vector<std::string> golden_texts(const fs::path& data_dir) {
  std::vector<std::string> texts;
  for (const char* file : {"tokenizers/bart/golden.json", "tokenizers/t5-test-spm/golden.json",
                           "caikit-tiny-t5/golden.json"})
    for (const auto& text : json::parse(read_file(data_dir / file)).at("texts")) texts.push_back(text.get<std::string>());
  texts.push_back("summarize: #Person1#: Shall we go out tonight?\n#Person2#: Sorry, I can't. <mask></s>");
  texts.push_back("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbc\xa1");  // multi-byte, NFKC-foldable
  texts.push_back("bad \xc3\x28 utf8 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf");  // invalid sequences
  texts.push_back(std::string("nul\0inside", 10));
  return texts;
}

void tokenizer_seeds(const fs::path& dir, const fs::path& data_dir) {
  int n = 0;
  for (const std::string& text : golden_texts(data_dir)) {
    write_seed(dir, "encode_" + std::to_string(n), std::string(1, '\0') + text);
    write_seed(dir, "encode_cut_" + std::to_string(n), std::string(1, '\x0a') + text);
    ++n;
  }
  // decode: control byte < 0x80 then a 16-bit id (folded onto the vocabulary); >= 0x80 then a raw 32-bit id.
  std::string ids = "\x01";
  for (int id : {0, 1, 2, 3, 100, 250, 999, 5000})
    ids += std::string(1, '\0') + static_cast<char>(id & 0xFF) + static_cast<char>((id >> 8) & 0xFF);
  write_seed(dir, "decode_ids", ids);
  write_seed(dir, "decode_ids_keep_special", "\x03" + ids.substr(1));
  write_seed(dir, "decode_negative", std::string("\x01\x80\xff\xff\xff\xff", 6));
}

void generation_seeds(const fs::path& dir) {
  // FuzzedDataProvider input: any bytes are meaningful; a few shapes to start from.
  for (int n = 0; n < 8; ++n) {
    std::string bytes;
    for (int i = 0; i < 96; ++i) bytes += static_cast<char>((i * (2 * n + 1) + n * 37) & 0xFF);
    write_seed(dir, "pattern_" + std::to_string(n), bytes);
  }
  write_seed(dir, "zeros", std::string(128, '\0'));
  write_seed(dir, "ones", std::string(128, '\x01'));
}

// GPT-2's byte alphabet (printable Latin-1 bytes stand for themselves, the others for
// U+0100...), written out independently of the library.
std::string byte_symbol(unsigned byte, unsigned& next_extra) {
  const bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
  const unsigned code = printable ? byte : next_extra++;
  std::string out;
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
  return out;
}

// model_fuzzer: selector byte, config.json, NUL, generation_config.json, NUL, vocab.json.
void model_seeds(const fs::path& dir, const fs::path& data_dir) {
  json vocab = json::object();
  int id = 0;
  for (const char* special : {"<s>", "<pad>", "</s>", "<unk>"}) vocab[special] = id++;
  unsigned next_extra = 0x100;
  for (unsigned byte = 0; byte < 256; ++byte) vocab[byte_symbol(byte, next_extra)] = id++;
  for (const char* merged : {"\xC4\xA0t", "\xC4\xA0" "a", "he"}) vocab[merged] = id++;
  const char* const folders[] = {"t5_tiny", "t5v11_tiny", "bart_tiny", "bart_tiny_scaled"};
  for (unsigned weights = 0; weights < 4; ++weights) {
    const fs::path folder = data_dir / "hf-tiny" / folders[weights];
    const std::string config = read_file(folder / "config.json");
    const std::string generation = read_file(folder / "generation_config.json");
    for (unsigned attention = 0; attention < 3; ++attention) {
      const auto selector = static_cast<char>(weights + 4 * attention);
      const std::string name = std::string(folders[weights]) + "_attention" + std::to_string(attention);
      write_seed(dir, name, std::string(1, selector) + config + '\0' + generation + '\0' + vocab.dump());
    }
    write_seed(dir, std::string(folders[weights]) + "_config_only", std::string(1, static_cast<char>(weights)) + config);
    // Structured mode (selector bit 7): a few byte patterns for the edit drawer.
    for (unsigned n = 0; n < 4; ++n) {
      std::string bytes(1, static_cast<char>(0x80 | (weights + 4 * n)));
      for (unsigned i = 0; i < 48; ++i) bytes += static_cast<char>((i * (2 * n + 3) + weights * 29 + n * 71) & 0xFF);
      write_seed(dir, std::string(folders[weights]) + "_structured_" + std::to_string(n), bytes);
    }
  }
}

// jsonl_fuzzer: JSON Lines text; the first byte also sets the read limit.
void jsonl_seeds(const fs::path& dir) {
  write_seed(dir, "two_lines",
             "{\"id\": 1, \"document\": \"#Person1#: Hello.\\n#Person2#: Hi.\"}\n"
             "{\"document\": \"caf\\u00e9 \\ud83d\\ude00\", \"tags\": [1, {\"a\": null}]}\n");
  write_seed(dir, "blank_lines", "\n  \n{\"document\": \"x\"}\r\n\n");
  write_seed(dir, "nested", "{\"document\": \"d\", \"n\": [[[[[[[[]]]]]]]]}\n");
  write_seed(dir, "odd_first_byte", "#{\"document\": \"limit\"}\n{\"document\": \"second\"}\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: make_seed_corpora <tests/data> <examples/models> <out>\n";
    return 2;
  }
  try {
    const fs::path data_dir = argv[1], models_dir = argv[2], out = argv[3];
    safetensors_seeds(out / "safetensors_fuzzer", data_dir);
    config_seeds(out / "config_fuzzer", data_dir, models_dir);
    for (const char* target : {"tokenizer_sentencepiece_fuzzer", "tokenizer_unigram_fuzzer", "tokenizer_bpe_fuzzer"})
      tokenizer_seeds(out / target, data_dir);
    generation_seeds(out / "generation_fuzzer");
    model_seeds(out / "model_fuzzer", data_dir);
    jsonl_seeds(out / "jsonl_fuzzer");
  } catch (const std::exception& error) {
    std::cerr << "make_seed_corpora: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
