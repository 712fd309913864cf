#include "srformer/io/safetensors_writer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/safetensors_test_support.hpp"
#include "srformer/io/safetensors.hpp"
#include "support/scratch_dir.hpp"

namespace srformer {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using io::DType;
using io::SafetensorsFile;
using io::TensorView;
using test::bytes_of;
using test::read_bytes;
using test::ScratchDir;
using test::write_bytes;

const fs::path kDataDir = SRFORMER_TEST_DATA_DIR;

template <typename T>
TensorView view_of(const std::string& name, DType dtype, Shape shape, const std::vector<T>& values) {
  return {name, dtype, std::move(shape), values.empty() ? nullptr : values.data(), values.size() * sizeof(T)};
}

std::string le64(std::uint64_t value) {
  std::string bytes(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xFFu);
  return bytes;
}

std::uint64_t header_length(const std::string& file) {
  std::uint64_t length = 0;
  for (std::size_t i = 0; i < 8; ++i) length |= std::uint64_t{static_cast<unsigned char>(file[i])} << (8 * i);
  return length;
}

/// Header keys in the order the file lists them.
std::vector<std::string> header_keys(const std::string& file) {
  const auto header = nlohmann::ordered_json::parse(file.substr(8, header_length(file)));
  std::vector<std::string> keys;
  for (const auto& item : header.items()) keys.push_back(item.key());
  return keys;
}

std::size_t entries_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

/// Views of every tensor of `file`, pointing into its mapping, in name order.
std::vector<TensorView> views_of(const SafetensorsFile& file) {
  std::vector<TensorView> views;
  for (const std::string& name : file.names()) {
    const io::TensorInfo& info = file.info(name);
    views.push_back({name, info.dtype, info.shape, file.tensor_bytes(name), static_cast<std::size_t>(info.byte_size())});
  }
  return views;
}

// ------------------------------------------------------------------ round trips

TEST(SafetensorsWriter, RoundTripsEveryCommonDtypeScalarsAndZeroSizeTensors) {
  const std::vector<float> f32 = {1.5f, -2.25f, 0.0f, 3.0e-39f, 1.0e30f, -0.0f};
  const std::vector<std::uint16_t> f16 = {0x3C00, 0xC000, 0x7BFF, 0x0001};  // 1, -2, 65504, smallest subnormal
  const std::vector<std::uint16_t> bf16 = {0x3F80, 0xC040, 0x7F7F, 0x0000};  // 1, -3, largest finite, 0
  const std::vector<std::int64_t> i64 = {std::numeric_limits<std::int64_t>::min(), -1, 0,
                                         std::numeric_limits<std::int64_t>::max()};
  const std::vector<std::int32_t> i32 = {-7, 0, 1 << 30, std::numeric_limits<std::int32_t>::min()};
  const std::vector<std::uint8_t> u8 = {0, 1, 127, 128, 255};
  const std::vector<std::uint8_t> boolean = {1, 0, 1};
  const std::vector<double> f64 = {3.141592653589793, -1e300};
  const std::vector<float> scalar_f32 = {42.5f};
  const std::vector<std::int64_t> scalar_i64 = {-9};
  const std::vector<float> none;

  const std::vector<TensorView> tensors = {
      view_of("f32", DType::F32, {2, 3}, f32),
      view_of("f16", DType::F16, {4}, f16),
      view_of("bf16", DType::BF16, {2, 2}, bf16),
      view_of("i64", DType::I64, {4}, i64),
      view_of("i32", DType::I32, {2, 1, 2}, i32),
      view_of("u8", DType::U8, {5}, u8),
      view_of("bool", DType::Bool, {3}, boolean),
      view_of("f64", DType::F64, {2}, f64),
      view_of("scalar_f32", DType::F32, {}, scalar_f32),
      view_of("scalar_i64", DType::I64, {}, scalar_i64),
      view_of("empty_f32", DType::F32, {0}, none),
      view_of("empty_i32", DType::I32, {2, 0, 3}, none),
      view_of("empty_bool", DType::Bool, {0}, none),
      {"empty_u8_with_pointer", DType::U8, {0, 4}, u8.data(), 0},  // a pointer with no bytes is fine too
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "round trip"}};

  ScratchDir dir("safetensors_writer");
  io::write_safetensors(dir / "all.safetensors", tensors, metadata);
  const auto file = SafetensorsFile::open(dir / "all.safetensors");
  EXPECT_EQ(file.size(), tensors.size());
  EXPECT_EQ(file.metadata(), metadata);
  for (const TensorView& tensor : tensors) {
    SCOPED_TRACE(tensor.name);
    ASSERT_TRUE(file.contains(tensor.name));
    const io::TensorInfo& info = file.info(tensor.name);
    EXPECT_EQ(info.dtype, tensor.dtype);
    EXPECT_EQ(info.shape, tensor.shape);
    ASSERT_EQ(info.byte_size(), tensor.byte_size);
    if (tensor.byte_size != 0) {
      EXPECT_EQ(std::memcmp(file.tensor_bytes(tensor.name), tensor.data, tensor.byte_size), 0);
    }
    // Sorted by element size, every tensor starts aligned to it within the file.
    const auto at = static_cast<std::size_t>(file.tensor_bytes(tensor.name) - file.mapped_bytes());
    EXPECT_EQ(at % io::dtype_size(tensor.dtype), 0u);
  }

  const FloatTensor read_f32 = file.read_float("f32");
  EXPECT_EQ(std::vector<float>(read_f32.data(), read_f32.data() + 6), f32);
  const FloatTensor read_f16 = file.read_float("f16");
  EXPECT_EQ(std::vector<float>(read_f16.data(), read_f16.data() + 4),
            (std::vector<float>{1.0f, -2.0f, 65504.0f, 5.9604645e-8f}));
  const FloatTensor read_bf16 = file.read_float("bf16");
  EXPECT_EQ(read_bf16.data()[0], 1.0f);
  EXPECT_EQ(read_bf16.data()[1], -3.0f);
  EXPECT_EQ(file.read_int64("i64"), i64);
  EXPECT_EQ(file.read_int64("i32"), (std::vector<std::int64_t>{-7, 0, 1 << 30, std::numeric_limits<std::int32_t>::min()}));
  EXPECT_EQ(file.read_int64("u8"), (std::vector<std::int64_t>{0, 1, 127, 128, 255}));
  EXPECT_EQ(file.read_int64("bool"), (std::vector<std::int64_t>{1, 0, 1}));
  EXPECT_EQ(file.read_float("scalar_f32").numel(), 1);
  EXPECT_EQ(file.read_float("scalar_f32").data()[0], 42.5f);
  EXPECT_EQ(file.read_int64("scalar_i64"), (std::vector<std::int64_t>{-9}));
  EXPECT_EQ(file.read_float("empty_f32").numel(), 0);
  EXPECT_TRUE(file.read_int64("empty_i32").empty());
  double f64_back[2];
  std::memcpy(f64_back, file.tensor_bytes("f64"), sizeof f64_back);
  EXPECT_EQ(f64_back[0], f64[0]);
  EXPECT_EQ(f64_back[1], f64[1]);

  // The same bytes in memory as on disk.
  EXPECT_EQ(io::serialize_safetensors(tensors, metadata), read_bytes(dir / "all.safetensors"));
}

TEST(SafetensorsWriter, WritesFloatTensorsAsF32) {
  const std::vector<FloatTensor> tensors = {
      FloatTensor::owning("decoder.w", {2, 2}, {1.0f, 2.0f, 3.0f, 4.0f}),
      FloatTensor::owning("bias", {3}, {-1.0f, 0.5f, 0.25f}),
      FloatTensor::owning("none", {0, 5}, {}),
  };
  ScratchDir dir("safetensors_writer");
  io::write_safetensors(dir / "float.safetensors", tensors, {{"format", "pt"}});
  const auto file = SafetensorsFile::open(dir / "float.safetensors");
  EXPECT_EQ(file.names(), (std::vector<std::string>{"bias", "decoder.w", "none"}));
  for (const FloatTensor& tensor : tensors) {
    const FloatTensor back = file.read_float(tensor.name());
    EXPECT_EQ(file.info(tensor.name()).dtype, DType::F32);
    EXPECT_EQ(back.shape(), tensor.shape());
    EXPECT_EQ(std::vector<float>(back.data(), back.data() + back.numel()),
              std::vector<float>(tensor.data(), tensor.data() + tensor.numel()));
  }
  // The same as writing the views by hand.
  const std::string by_hand = io::serialize_safetensors(
      {{"decoder.w", DType::F32, {2, 2}, tensors[0].data(), 16}, {"bias", DType::F32, {3}, tensors[1].data(), 12},
       {"none", DType::F32, {0, 5}, tensors[2].data(), 0}},
      {{"format", "pt"}});
  EXPECT_EQ(read_bytes(dir / "float.safetensors"), by_hand);
}

TEST(SafetensorsWriter, ReplacesAnExistingFile) {
  ScratchDir dir("safetensors_writer");
  write_bytes(dir / "model.safetensors", "old contents");
  const std::vector<std::int32_t> values = {1, 2};
  io::write_safetensors(dir / "model.safetensors", {view_of("x", DType::I32, {2}, values)});
  EXPECT_EQ(SafetensorsFile::open(dir / "model.safetensors").read_int64("x"), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(entries_in(dir.path()), 1u) << "temporary file left";
}

// ------------------------------------------------------------------ layout

TEST(SafetensorsWriter, HeaderIsPaddedWithSpacesToAMultipleOf8) {
  const std::vector<std::uint8_t> byte = {7};
  for (std::size_t length = 1; length <= 17; ++length) {
    const std::string file = io::serialize_safetensors({view_of(std::string(length, 'n'), DType::U8, {1}, byte)});
    const std::uint64_t n = header_length(file);
    SCOPED_TRACE(length);
    EXPECT_EQ(n % 8, 0u);
    EXPECT_EQ(file.size(), 8 + n + 1);
    const std::string header = file.substr(8, n);
    const std::size_t close = header.find_last_of('}');
    EXPECT_LT(header.size() - (close + 1), 8u);
    EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << "padding is not spaces";
  }
}

TEST(SafetensorsWriter, OrdersTensorsByDtypeDescendingThenNameLikeTheReferenceWriter) {
  // The reference sorts by its Dtype enum, descending (U64 > I64 > F64 > F32 > U32 > I32 >
  // BF16 > F16 > U16 > I16 > F8_* > I8 > U8 > BOOL), then by name as bytes. Names are picked so
  // that name order alone, or element size alone, would give another order.
  const std::vector<std::uint8_t> b8(8), b4(4), b2(2), b1(1);
  const std::vector<TensorView> tensors = {
      view_of("a_bool", DType::Bool, {1}, b1),  view_of("b_u64", DType::U64, {1}, b8),
      view_of("c_f64", DType::F64, {1}, b8),    view_of("d_i64", DType::I64, {1}, b8),
      view_of("e_f32", DType::F32, {1}, b4),    view_of("f_u8", DType::U8, {1}, b1),
      view_of("g_bf16", DType::BF16, {1}, b2),  view_of("h_f16", DType::F16, {1}, b2),
      view_of("z_i32", DType::I32, {1}, b4),    view_of("y_u32", DType::U32, {1}, b4),
      view_of("x_i16", DType::I16, {1}, b2),    view_of("w_u16", DType::U16, {1}, b2),
      view_of("v_i8", DType::I8, {1}, b1),      view_of("u_f8", DType::F8_E4M3, {1}, b1),
      view_of("t_f8", DType::F8_E5M2, {1}, b1), view_of("s_f8", DType::F8_E8M0, {1}, b1),
      view_of("\xC3\xA9_f32", DType::F32, {1}, b4),  // é: bytes above ASCII sort last
      view_of("E_f32", DType::F32, {1}, b4),         // upper case before lower case
  };
  const std::string file = io::serialize_safetensors(tensors);
  EXPECT_EQ(header_keys(file), (std::vector<std::string>{"b_u64", "d_i64", "c_f64", "E_f32", "e_f32", "\xC3\xA9_f32",
                                                         "y_u32", "z_i32", "g_bf16", "h_f16", "w_u16", "x_i16",
                                                         "s_f8", "u_f8", "t_f8", "v_i8", "f_u8", "a_bool"}));
  // Offsets follow the same order with no gaps.
  const auto header = nlohmann::ordered_json::parse(file.substr(8, header_length(file)));
  std::uint64_t offset = 0;
  for (const auto& item : header.items()) {
    EXPECT_EQ(item.value()["data_offsets"][0].get<std::uint64_t>(), offset) << item.key();
    offset = item.value()["data_offsets"][1].get<std::uint64_t>();
  }
  EXPECT_EQ(8 + header_length(file) + offset, file.size());
}

// ------------------------------------------------------------------ byte-identical to the reference

// Expected bytes of the unit tests of huggingface/safetensors (safetensors/src/tensor.rs:
// test_serialization, test_serialization_forced_alignement, test_empty), written as text.
TEST(SafetensorsWriter, MatchesTheReferenceWritersOwnTestVectors) {
  const std::vector<float> values = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  EXPECT_EQ(io::serialize_safetensors({view_of("attn.0", DType::F32, {1, 2, 3}, values)}),
            le64(64) + R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})" + bytes_of(values));
  EXPECT_EQ(io::serialize_safetensors({view_of("attn0", DType::F32, {1, 1, 2, 3}, values)}),
            le64(72) + R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})" + "       " +
                bytes_of(values));
  EXPECT_EQ(io::serialize_safetensors(std::vector<TensorView>{}), le64(8) + "{}      ");
  EXPECT_EQ(io::serialize_safetensors(std::vector<TensorView>{}, {{"framework", "pt"}}),
            le64(40) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

// A small example constructed by hand from the reference writer's rules (not produced by
// it): metadata first, I64 before F32 before BOOL, 205 header bytes padded with 3 spaces.
TEST(SafetensorsWriter, WritesTheExpectedBytesForASmallExample) {
  const std::vector<float> weight = {1.0f, -2.0f};
  const std::vector<std::int64_t> ids = {7};
  const std::vector<std::uint8_t> mask = {1, 0, 1};
  ScratchDir dir("safetensors_writer");
  io::write_safetensors(dir / "small.safetensors",
                        {view_of("weight", DType::F32, {2}, weight), view_of("ids", DType::I64, {1}, ids),
                         view_of("mask", DType::Bool, {3}, mask)},
                        {{"format", "pt"}});
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
      R"("weight":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("mask":{"dtype":"BOOL","shape":[3],"data_offsets":[16,19]}})"
      "   ";
  EXPECT_EQ(read_bytes(dir / "small.safetensors"),
            le64(208) + header + bytes_of(ids) + bytes_of(weight) + std::string("\x01\x00\x01", 3));
}

// Escaping as serde_json does it: \" \\ \b \f \n \r \t, other control characters as
// \u00xx (lower-case hex), everything else (DEL, '/', non-ASCII) as it is.
TEST(SafetensorsWriter, EscapesNamesAndMetadataLikeSerdeJson) {
  const std::vector<std::uint8_t> byte = {9};
  const std::string name = "a\"b\\c\nd\x01\x7F/\xC3\xA9";
  const std::map<std::string, std::string> metadata = {{"k\"ey", "l1\nl2\t\b\f\r\x1F end"}};
  const std::string file = io::serialize_safetensors({view_of(name, DType::U8, {1}, byte)}, metadata);
  const std::string expected_json = "{\"__metadata__\":{\"k\\\"ey\":\"l1\\nl2\\t\\b\\f\\r\\u001f end\"},"
                                    "\"a\\\"b\\\\c\\nd\\u0001\x7F/\xC3\xA9\":"
                                    "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
  const std::string padding((8 - expected_json.size() % 8) % 8, ' ');
  EXPECT_EQ(file, le64(expected_json.size() + padding.size()) + expected_json + padding + "\x09");

  ScratchDir dir("safetensors_writer");
  write_bytes(dir / "escaped.safetensors", file);
  const auto back = SafetensorsFile::open(dir / "escaped.safetensors");
  EXPECT_EQ(back.names(), std::vector<std::string>{name});
  EXPECT_EQ(back.metadata(), metadata);
}

// Files in tests/data written by the Hugging Face safetensors package (transformers'
// save_pretrained for the models, safetensors.torch.save_file for the goldens): reading
// every tensor and writing them again gives the same file, byte for byte. (The files
// under srformer-official were not written by it: unsorted, metadata last.)
TEST(SafetensorsWriter, RewritesFilesWrittenByTheReferencePackageByteForByte) {
  ScratchDir dir("safetensors_writer");
  for (const char* relative : {"caikit-tiny-t5/golden.safetensors",          // I64 + F32, no metadata
                               "caikit-tiny-t5/model.safetensors",           // 110 F32, {"format": "pt"}
                               "hf-tiny/t5_tiny/golden.safetensors",         // I64 + F32, no metadata
                               "trained-t5-small-demo/golden.safetensors"})  // I64 + F32, one metadata key
  {
    SCOPED_TRACE(relative);
    const fs::path original = kDataDir / relative;
    const auto file = SafetensorsFile::open(original);
    const fs::path copy = dir / "copy.safetensors";
    io::write_safetensors(copy, views_of(file), file.metadata());
    const std::string expected = read_bytes(original), written = read_bytes(copy);
    EXPECT_EQ(written.size(), expected.size());
    EXPECT_TRUE(written == expected) << "first difference at byte "
                                     << std::distance(written.begin(), std::mismatch(written.begin(), written.end(),
                                                                                     expected.begin(), expected.end())
                                                                           .first);
  }
}

// ------------------------------------------------------------------ validation

/// Runs `write` against a folder holding an existing file and expects an InputError
/// whose message contains every one of `parts`; the file must be left as it was and no
/// temporary file behind. Returns the message.
std::string expect_refused(const std::function<void(const fs::path&)>& write, const std::vector<std::string>& parts) {
  ScratchDir dir("safetensors_writer");
  const fs::path target = dir / "existing.safetensors";
  const std::string previous("previous contents \x00\x01\x02", 21);
  write_bytes(target, previous);
  std::string message;
  try {
    write(target);
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& error) {
    message = error.what();
  }
  for (const std::string& part : parts) EXPECT_THAT(message, HasSubstr(part));
  EXPECT_EQ(read_bytes(target), previous);
  EXPECT_EQ(entries_in(dir.path()), 1u) << "temporary file left";
  return message;
}

std::string expect_refused(const std::vector<TensorView>& tensors, const std::vector<std::string>& parts,
                           const std::map<std::string, std::string>& metadata = {}) {
  EXPECT_THROW(io::serialize_safetensors(tensors, metadata), InputError);
  return expect_refused([&](const fs::path& target) { io::write_safetensors(target, tensors, metadata); }, parts);
}

TEST(SafetensorsWriter, RefusesBadNames) {
  const std::vector<float> two = {1.0f, 2.0f};
  const TensorView good = view_of("good", DType::F32, {2}, two);
  expect_refused({good, view_of("", DType::F32, {2}, two)}, {"existing.safetensors", "tensor 1 has an empty name"});
  expect_refused({view_of("__metadata__", DType::F32, {2}, two)}, {"tensor 0 is named '__metadata__'"});
  expect_refused({good, view_of("other", DType::F32, {2}, two), good},
                 {"tensor 'good'", "name appears more than once"});
  expect_refused({view_of("bad\xFF\xFEname", DType::F32, {2}, two)},
                 {"tensor 'bad\\xff\\xfename'", "name is not valid UTF-8"});
  // A name is shown safely: control characters escaped, no terminal sequence in the message.
  const TensorView escape = view_of("evil\x1B[2J", DType::F32, {2}, two);
  const std::string message = expect_refused({escape, escape}, {"tensor 'evil\\x1b[2J'"});
  EXPECT_THAT(message, Not(HasSubstr("\x1B")));
}

TEST(SafetensorsWriter, RefusesShapesAndSizesThatDisagree) {
  const std::vector<float> two = {1.0f, 2.0f};
  expect_refused({view_of("short", DType::F32, {3}, two)},
                 {"tensor 'short'", "shape [3] of F32 needs 12 bytes but 8 were given"});
  expect_refused({view_of("as_f64", DType::F64, {2}, two)},
                 {"tensor 'as_f64'", "shape [2] of F64 needs 16 bytes but 8 were given"});
  expect_refused({view_of("negative", DType::F32, {-1, -2}, two)},
                 {"tensor 'negative'", "shape [-1, -2] has a negative dimension"});
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  // More elements than uint64 holds, more than int64 holds, and more bytes than uint64 holds.
  expect_refused({view_of("huge", DType::U8, {max, 3}, two)}, {"tensor 'huge'", "has too many elements"});
  expect_refused({view_of("wide", DType::U8, {max / 2 + 1, 2}, two)}, {"tensor 'wide'", "has too many elements"});
  expect_refused({view_of("bytes", DType::F64, {std::int64_t{1} << 61}, two)},
                 {"tensor 'bytes'", "has too many elements"});
  expect_refused({{"null", DType::F32, {2}, nullptr, 8}}, {"tensor 'null'", "data is null but 8 bytes"});
  // The FloatTensor overload checks the same way.
  expect_refused(
      [](const fs::path& target) {
        io::write_safetensors(target, std::vector<FloatTensor>{FloatTensor("unset", {2}, nullptr, nullptr)});
      },
      {"tensor 'unset'", "data is null but 8 bytes"});
  expect_refused(
      [&](const fs::path& target) {
        io::write_safetensors(target, std::vector<FloatTensor>{FloatTensor("neg", {-3}, two.data(), nullptr)});
      },
      {"tensor 'neg'", "negative dimension"});
}

TEST(SafetensorsWriter, RefusesMetadataThatIsNotUtf8) {
  const std::vector<float> two = {1.0f, 2.0f};
  const std::vector<TensorView> tensors = {view_of("t", DType::F32, {2}, two)};
  expect_refused(tensors, {"metadata key 'k\\xc3' is not valid UTF-8"}, {{"k\xC3", "v"}});
  expect_refused(tensors, {"metadata value of key 'key' is not valid UTF-8: 'surrogate \\xed\\xa0\\x80'"},
                 {{"key", "surrogate \xED\xA0\x80"}});
  // Empty keys and values, newlines and NUL are valid UTF-8 and kept.
  const std::map<std::string, std::string> odd = {{"", ""}, {"nul", std::string("a\0b", 3)}, {"nl", "x\ny"}};
  ScratchDir dir("safetensors_writer");
  io::write_safetensors(dir / "odd.safetensors", tensors, odd);
  EXPECT_EQ(SafetensorsFile::open(dir / "odd.safetensors").metadata(), odd);
}

TEST(SafetensorsWriter, RefusesAHeaderReadersWouldReject) {
  // SafetensorsFile (like the reference reader) refuses headers above 100,000,000 bytes.
  const std::vector<std::uint8_t> byte = {1};
  std::vector<TensorView> tensors(1);
  tensors[0] = view_of(std::string(SafetensorsFile::kMaxHeaderBytes + 1, 'n'), DType::U8, {1}, byte);
  const std::string message =
      expect_refused(tensors, {"name is 100000001 bytes long, more than the header of 100000000 bytes readers accept"});
  EXPECT_LT(message.size(), 400u) << "the name is cut in the message";
}

TEST(SafetensorsWriter, RefusesAFolderThatDoesNotExist) {
  ScratchDir dir("safetensors_writer");
  const std::vector<float> two = {1.0f, 2.0f};
  EXPECT_THROW(io::write_safetensors(dir / "no" / "such.safetensors", {view_of("t", DType::F32, {2}, two)}),
               InputError);
}

// ------------------------------------------------------------------ failure while writing

/// Lowers the file size limit (RLIMIT_FSIZE) so that writes past `bytes` fail with
/// EFBIG (SIGXFSZ ignored), as a full disk would fail them; restores both on exit.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &previous_);
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = previous_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &previous_);
    std::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  struct rlimit previous_ {};
  void (*previous_handler_)(int) = SIG_DFL;
};

TEST(SafetensorsWriter, AWriteThatFailsHalfwayLeavesTheExistingFileByteIdentical) {
  ScratchDir dir("safetensors_writer");
  const fs::path target = dir / "model.safetensors";
  const std::vector<float> old_values(100, 0.5f);
  io::write_safetensors(target, {view_of("old", DType::F32, {100}, old_values)}, {{"format", "pt"}});
  const std::string previous = read_bytes(target);

  const std::vector<float> big(64 * 1024, 1.0f);  // 256 KiB, far past the limit
  std::string message;
  {
    FileSizeLimit limit(16 * 1024);
    try {
      io::write_safetensors(target, {view_of("big", DType::F32, {64, 1024}, big)});
      ADD_FAILURE() << "no InputError";
    } catch (const InputError& error) {
      message = error.what();
    }
  }
  EXPECT_THAT(message, HasSubstr("writing failed"));
  EXPECT_THAT(message, HasSubstr("model.safetensors"));
  EXPECT_EQ(read_bytes(target), previous);
  EXPECT_EQ(entries_in(dir.path()), 1u) << "temporary file left";
  EXPECT_EQ(SafetensorsFile::open(target).names(), std::vector<std::string>{"old"});
}

}  // namespace
}  // namespace srformer
