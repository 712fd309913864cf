#include "srformer/io/safetensors.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "io/safetensors_test_support.hpp"
#include "srformer/io/json.hpp"

namespace srformer {
namespace {

using ::testing::HasSubstr;
using io::DType;
using io::SafetensorsFile;
using test::make_safetensors;
using test::raw_safetensors;
using test::TempDir;
using test::TestTensor;
using test::write_bytes;

const std::filesystem::path kDataDir = SRFORMER_TEST_DATA_DIR;
const std::filesystem::path kT5TinyModel = kDataDir / "hf-tiny/t5_tiny/model.safetensors";
const std::filesystem::path kT5TinyGolden = kDataDir / "hf-tiny/t5_tiny/golden.safetensors";

bool points_into(const SafetensorsFile& file, const float* data) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  return bytes >= file.mapped_bytes() && bytes < file.mapped_bytes() + file.file_size();
}

std::uint32_t bits_of(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// ---------------------------------------------------------------- real files

TEST(Safetensors, ReadsRealT5TinyModelInPlace) {
  const auto file = SafetensorsFile::open(kT5TinyModel);
  EXPECT_EQ(file.size(), 47u);  // 48 header keys including "__metadata__"
  EXPECT_EQ(file.metadata().at("format"), "pt");
  ASSERT_TRUE(file.contains("shared.weight"));
  EXPECT_FALSE(file.contains("lm_head.weight"));

  const auto& info = file.info("shared.weight");
  EXPECT_EQ(info.dtype, DType::F32);
  EXPECT_EQ(info.shape, (Shape{1000, 64}));
  EXPECT_EQ(info.begin, 659456u);
  EXPECT_EQ(info.end, 915456u);

  const FloatTensor shared = file.read_float("shared.weight");
  EXPECT_EQ(shared.name(), "shared.weight");
  EXPECT_EQ(shared.shape(), (Shape{1000, 64}));
  // Reference values read with Python's struct module.
  EXPECT_FLOAT_EQ(shared.data()[0], -0.11931035667657852f);
  EXPECT_FLOAT_EQ(shared.data()[1], 1.0121817588806152f);
  EXPECT_FLOAT_EQ(shared.data()[2], 1.6118615865707397f);
  EXPECT_FLOAT_EQ(shared.data()[shared.numel() - 1], 0.05822770297527313f);
  const double sum = std::accumulate(shared.data(), shared.data() + shared.numel(), 0.0);
  EXPECT_NEAR(sum, 47.90834708832335, 1e-9);

  // Zero copy: the data lives inside the mapping, at the header-declared offset.
  EXPECT_TRUE(points_into(file, shared.data()));
  EXPECT_EQ(reinterpret_cast<const unsigned char*>(shared.data()), file.tensor_bytes("shared.weight"));
  EXPECT_EQ(shared.matrix().rows(), 1000);
  EXPECT_EQ(shared.matrix()(0, 1), shared.data()[1]);
}

TEST(Safetensors, TensorKeepsMappingAliveAfterFileObjectIsGone) {
  FloatTensor shared;
  {
    const auto file = SafetensorsFile::open(kT5TinyModel);
    shared = file.read_float("shared.weight");
  }
  EXPECT_FLOAT_EQ(shared.data()[0], -0.11931035667657852f);
  EXPECT_FLOAT_EQ(shared.data()[shared.numel() - 1], 0.05822770297527313f);
}

TEST(Safetensors, ReadsInt64GoldenIds) {
  const auto file = SafetensorsFile::open(kT5TinyGolden);
  EXPECT_EQ(file.size(), 14u);  // no "__metadata__" in this file
  EXPECT_TRUE(file.metadata().empty());
  const auto& info = file.info("input_ids");
  EXPECT_EQ(info.dtype, DType::I64);
  EXPECT_EQ(info.shape, (Shape{2, 300}));
  const auto ids = file.read_int64("input_ids");
  ASSERT_EQ(ids.size(), 600u);
  EXPECT_EQ(std::vector<std::int64_t>(ids.begin(), ids.begin() + 5), (std::vector<std::int64_t>{271, 307, 478, 153, 624}));
  EXPECT_EQ(std::vector<std::int64_t>(ids.begin() + 300, ids.begin() + 305), (std::vector<std::int64_t>{695, 369, 504, 452, 237}));
  // Row 1 holds 173 tokens ending in </s> = 1, then padding 0.
  EXPECT_EQ(std::vector<std::int64_t>(ids.begin() + 470, ids.begin() + 476), (std::vector<std::int64_t>{624, 836, 1, 0, 0, 0}));
  EXPECT_EQ(std::accumulate(ids.begin(), ids.end(), std::int64_t{0}), 231413);
  EXPECT_EQ(file.read_float("logits").shape(), (Shape{2, 12, 1000}));
}

TEST(Safetensors, WrongKindOfReadNamesTensorAndDtype) {
  const auto file = SafetensorsFile::open(kT5TinyGolden);
  try {
    file.read_float("input_ids");
    FAIL() << "expected TensorError";
  } catch (const TensorError& e) {
    EXPECT_THAT(e.what(), HasSubstr("input_ids"));
    EXPECT_THAT(e.what(), HasSubstr("I64"));
    EXPECT_THAT(e.what(), HasSubstr(kT5TinyGolden.string()));
  }
  try {
    file.read_int64("logits");
    FAIL() << "expected TensorError";
  } catch (const TensorError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'logits'"));
    EXPECT_THAT(e.what(), HasSubstr("F32"));
  }
  try {
    file.info("no_such_tensor");
    FAIL() << "expected TensorError";
  } catch (const TensorError& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing tensor 'no_such_tensor'"));
    EXPECT_THAT(e.what(), HasSubstr(kT5TinyGolden.string()));
  }
}

// ------------------------------------------------------ generated good files

TEST(Safetensors, ConvertsEveryF16ValueExactly) {
  TempDir dir;
  std::vector<std::uint16_t> all(65536);
  std::iota(all.begin(), all.end(), std::uint16_t{0});
  write_bytes(dir / "f16.safetensors", make_safetensors({{"all", "F16", {256, 256}, test::bytes_of(all)}}));
  const auto file = SafetensorsFile::open(dir / "f16.safetensors");
  const FloatTensor values = file.read_float("all");
  ASSERT_EQ(values.shape(), (Shape{256, 256}));
  EXPECT_FALSE(points_into(file, values.data()));  // converted into an owned buffer

  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float got = values.data()[h];
    const bool negative = (h & 0x8000u) != 0;
    const int exponent = static_cast<int>((h >> 10) & 0x1fu);
    const int mantissa = static_cast<int>(h & 0x3ffu);
    if (exponent == 31) {
      if (mantissa == 0) {
        ASSERT_TRUE(std::isinf(got)) << h;
      } else {
        ASSERT_TRUE(std::isnan(got)) << h;
        ASSERT_EQ(bits_of(got) & 0x7fffffu, static_cast<std::uint32_t>(mantissa) << 13) << "NaN payload " << h;
      }
      ASSERT_EQ(std::signbit(got), negative) << h;
      continue;
    }
    // IEEE binary16 value by its definition, in double.
    const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24)
                                           : std::ldexp(1.0 + mantissa / 1024.0, exponent - 15);
    ASSERT_EQ(static_cast<double>(got), negative ? -magnitude : magnitude) << h;
    ASSERT_EQ(std::signbit(got), negative) << h;
  }
  // Spot checks of the interesting cases.
  EXPECT_EQ(values.data()[0x0001], 5.9604644775390625e-08f);  // smallest subnormal 2^-24
  EXPECT_EQ(values.data()[0x03ff], 6.0975551605224609375e-05f);  // largest subnormal
  EXPECT_EQ(values.data()[0x0400], 6.103515625e-05f);  // smallest normal 2^-14
  EXPECT_EQ(values.data()[0x3c00], 1.0f);
  EXPECT_EQ(values.data()[0xc000], -2.0f);
  EXPECT_EQ(values.data()[0x7bff], 65504.0f);
  EXPECT_EQ(values.data()[0x7c00], std::numeric_limits<float>::infinity());
  EXPECT_EQ(values.data()[0xfc00], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(values.data()[0x7e00]));
  EXPECT_EQ(bits_of(values.data()[0x8000]), 0x80000000u);  // negative zero
}

TEST(Safetensors, ConvertsEveryBf16ValueExactly) {
  TempDir dir;
  std::vector<std::uint16_t> all(65536);
  std::iota(all.begin(), all.end(), std::uint16_t{0});
  write_bytes(dir / "bf16.safetensors", make_safetensors({{"all", "BF16", {65536}, test::bytes_of(all)}}));
  const auto file = SafetensorsFile::open(dir / "bf16.safetensors");
  const FloatTensor values = file.read_float("all");
  ASSERT_EQ(values.numel(), 65536);
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float got = values.data()[h];
    const bool negative = (h & 0x8000u) != 0;
    const int exponent = static_cast<int>((h >> 7) & 0xffu);
    const int mantissa = static_cast<int>(h & 0x7fu);
    ASSERT_EQ(std::signbit(got), negative) << h;
    if (exponent == 255) {
      ASSERT_TRUE(mantissa == 0 ? std::isinf(got) : std::isnan(got)) << h;
      continue;
    }
    const double magnitude = exponent == 0 ? std::ldexp(mantissa, -133)
                                           : std::ldexp(1.0 + mantissa / 128.0, exponent - 127);
    ASSERT_EQ(static_cast<double>(got), negative ? -magnitude : magnitude) << h;
  }
  EXPECT_EQ(values.data()[0x3f80], 1.0f);
  EXPECT_EQ(values.data()[0x4049], 3.140625f);
  EXPECT_EQ(values.data()[0x0001], std::ldexp(1.0f, -133));  // float subnormal
  EXPECT_EQ(values.data()[0xff80], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(values.data()[0x7fc0]));
  EXPECT_EQ(bits_of(values.data()[0x8000]), 0x80000000u);
}

TEST(Safetensors, MisalignedF32IsCopiedWithCorrectValues) {
  TempDir dir;
  const std::vector<float> weights = {1.5f, -2.25f, 3.0e-39f /* subnormal */, -0.0f, 7.0f, 1e30f};
  // A 3-byte U8 tensor first puts the F32 data at an odd address.
  write_bytes(dir / "odd.safetensors",
              make_safetensors({{"mask", "U8", {3}, std::string("\x01\x00\x01", 3)},
                                {"weights", "F32", {2, 3}, test::bytes_of(weights)}}));
  const auto file = SafetensorsFile::open(dir / "odd.safetensors");
  EXPECT_NE(reinterpret_cast<std::uintptr_t>(file.tensor_bytes("weights")) % alignof(float), 0u);
  const FloatTensor tensor = file.read_float("weights");
  EXPECT_FALSE(points_into(file, tensor.data()));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(tensor.data()) % alignof(float), 0u);
  EXPECT_EQ(tensor.shape(), (Shape{2, 3}));
  for (std::size_t i = 0; i < weights.size(); ++i) EXPECT_EQ(bits_of(tensor.data()[i]), bits_of(weights[i])) << i;
  EXPECT_EQ(file.read_int64("mask"), (std::vector<std::int64_t>{1, 0, 1}));

  // The same tensor 4-byte aligned is used in place.
  write_bytes(dir / "aligned.safetensors", make_safetensors({{"weights", "F32", {2, 3}, test::bytes_of(weights)}}));
  const auto aligned = SafetensorsFile::open(dir / "aligned.safetensors");
  const FloatTensor in_place = aligned.read_float("weights");
  EXPECT_TRUE(points_into(aligned, in_place.data()));
  EXPECT_EQ(in_place.data()[1], -2.25f);
}

TEST(Safetensors, ReadsIntegerDtypesAndUnalignedInt64) {
  TempDir dir;
  const std::vector<std::int32_t> i32 = {-7, 0, 2147483647, -2147483647 - 1};
  const std::vector<std::int64_t> i64 = {-1, 9007199254740993LL, 42};
  write_bytes(dir / "ints.safetensors",
              make_safetensors({{"flag", "BOOL", {1}, std::string("\x01", 1)},  // pushes the rest off alignment
                                {"i32", "I32", {4}, test::bytes_of(i32)},
                                {"i64", "I64", {3, 1}, test::bytes_of(i64)}},
                               {{"note", "ints"}}));
  const auto file = SafetensorsFile::open(dir / "ints.safetensors");
  EXPECT_EQ(file.metadata().at("note"), "ints");
  EXPECT_EQ(file.info("i32").dtype, DType::I32);
  EXPECT_EQ(io::dtype_name(file.info("i64").dtype), std::string("I64"));
  EXPECT_EQ(io::dtype_size(file.info("i64").dtype), 8u);
  EXPECT_EQ(file.read_int64("i32"), (std::vector<std::int64_t>{-7, 0, 2147483647, -2147483648LL}));
  EXPECT_EQ(file.read_int64("i64"), i64);
  EXPECT_EQ(file.read_int64("flag"), (std::vector<std::int64_t>{1}));
}

TEST(Safetensors, AcceptsScalarsEmptyTensorsEmptyFilesAndUnpaddedHeaders) {
  TempDir dir;
  write_bytes(dir / "edge.safetensors",
              make_safetensors({{"scalar", "F32", {}, test::bytes_of(std::vector<float>{2.5f})},
                                {"empty", "F32", {0, 4}, ""},
                                {"half", "F16", {1}, test::bytes_of(std::vector<std::uint16_t>{0x3c00})}},
                               {}, /*pad_to=*/1));
  const auto file = SafetensorsFile::open(dir / "edge.safetensors");
  EXPECT_EQ(file.read_float("scalar").shape(), Shape{});
  EXPECT_EQ(file.read_float("scalar").data()[0], 2.5f);
  EXPECT_EQ(file.read_float("empty").numel(), 0);
  EXPECT_EQ(file.read_float("half").data()[0], 1.0f);
  EXPECT_EQ(file.names(), (std::vector<std::string>{"empty", "half", "scalar"}));

  write_bytes(dir / "none.safetensors", raw_safetensors("{}", ""));
  EXPECT_EQ(SafetensorsFile::open(dir / "none.safetensors").size(), 0u);
}

TEST(Safetensors, ConcurrentReadsAgree) {
  const auto file = SafetensorsFile::open(kT5TinyGolden);
  std::vector<double> sums(8, 0.0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < sums.size(); ++t)
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 20; ++repeat) {
        const auto logits = file.read_float("logits");
        const auto ids = file.read_int64("input_ids");
        sums[t] = std::accumulate(logits.data(), logits.data() + logits.numel(), 0.0) +
                  static_cast<double>(std::accumulate(ids.begin(), ids.end(), std::int64_t{0}));
      }
    });
  for (auto& thread : threads) thread.join();
  for (double sum : sums) EXPECT_EQ(sum, sums[0]);
}

// ------------------------------------------------------------- bad inputs

// Writes `bytes`, opens the file and returns the FormatError message (fails when nothing is thrown).
std::string open_error(const TempDir& dir, const std::string& bytes, const std::string& name = "bad.safetensors") {
  const auto path = dir / name;
  write_bytes(path, bytes);
  try {
    SafetensorsFile::open(path);
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path.string()));  // every message names the file
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no FormatError for " << path;
  return {};
}

// A one-tensor header with the given entry JSON and `data_size` bytes of data.
std::string one_entry(const std::string& entry, std::size_t data_size) {
  return raw_safetensors("{\"weight\":" + entry + "}", std::string(data_size, '\0'));
}

TEST(SafetensorsErrors, FileShorterThanEightBytes) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, std::string("\x05\x00\x00", 3), "short.safetensors"), HasSubstr("3 bytes long, shorter than"));
  EXPECT_THAT(open_error(dir, "", "empty.safetensors"), HasSubstr("0 bytes long"));
}

TEST(SafetensorsErrors, HeaderLengthOverLimit) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, raw_safetensors("{}", "", 100'000'001)),
              HasSubstr("header length 100000001 exceeds the limit"));
  EXPECT_THAT(open_error(dir, raw_safetensors("{}", "", ~std::uint64_t{0})), HasSubstr("exceeds the limit"));
}

TEST(SafetensorsErrors, HeaderLengthBeyondFile) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, raw_safetensors("{}", "", 50)), HasSubstr("header length 50 runs past the end of the file"));
}

TEST(SafetensorsErrors, InvalidJson) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, raw_safetensors("{\"weight\": {\"dtype\": \"F32\",", "")),
              HasSubstr("header is not valid JSON"));
  EXPECT_THAT(open_error(dir, raw_safetensors("{\"a\":\"\xff\xfe\"}", "")), HasSubstr("not valid JSON"));
  EXPECT_THAT(open_error(dir, raw_safetensors("{} trailing", "")), HasSubstr("not valid JSON"));
}

TEST(SafetensorsErrors, HeaderNotAnObject) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, raw_safetensors("[1, 2]", "")), HasSubstr("header is a JSON array, not an object"));
  EXPECT_THAT(open_error(dir, one_entry("[\"F32\"]", 0)), HasSubstr("tensor 'weight': entry is a JSON array"));
}

TEST(SafetensorsErrors, EntryMissingField) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, one_entry(R"({"shape":[1],"data_offsets":[0,4]})", 4)),
              HasSubstr("tensor 'weight': entry has no \"dtype\""));
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","data_offsets":[0,4]})", 4)),
              HasSubstr("tensor 'weight': entry has no \"shape\""));
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[1]})", 4)),
              HasSubstr("tensor 'weight': entry has no \"data_offsets\""));
}

TEST(SafetensorsErrors, EntryFieldsOfWrongType) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})", 4)),
              HasSubstr("tensor 'weight': \"dtype\" is a JSON number, not a string"));
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":"1","data_offsets":[0,4]})", 4)),
              HasSubstr("tensor 'weight': \"shape\" is a JSON string, not an array"));
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4)),
              HasSubstr("tensor 'weight': \"shape\" [1.5] holds a non-integer dimension"));
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})", 4)),
              HasSubstr("tensor 'weight': \"data_offsets\" [0,4,8] is not a pair"));
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", 4)),
              HasSubstr("tensor 'weight': \"data_offsets\" [-4,0] is not a pair of non-negative integers"));
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":{"begin":0}})", 4)),
              HasSubstr("\"data_offsets\""));
}

TEST(SafetensorsErrors, UnknownDtype) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F12","shape":[1],"data_offsets":[0,4]})", 4)),
              HasSubstr("tensor 'weight': unknown dtype \"F12\""));
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})", 4)),
              HasSubstr("unknown dtype \"f32\""));
}

TEST(SafetensorsErrors, NegativeDimension) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]})", 4)),
              HasSubstr("tensor 'weight': \"shape\" [2,-1] has a negative dimension"));
}

TEST(SafetensorsErrors, SizeDisagreesWithShape) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})", 20)),
              HasSubstr("tensor 'weight': shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] span 20"));
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"BF16","shape":[3],"data_offsets":[0,4]})", 4)),
              HasSubstr("needs 6 bytes"));
  // numel * size overflowing 64 bits must not wrap around to a matching size.
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]})", 0)),
              HasSubstr("tensor 'weight': shape [4611686018427387904, 4] has too many elements"));
}

TEST(SafetensorsErrors, OffsetsOutsideBuffer) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 4)),
              HasSubstr("tensor 'weight': data_offsets [0, 8] lie outside the data buffer of 4 bytes"));
}

TEST(SafetensorsErrors, BeginAfterEnd) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})", 8)),
              HasSubstr("tensor 'weight': data_offsets [8, 4]: begin is after end"));
}

TEST(SafetensorsErrors, GapBetweenTensors) {
  TempDir dir;
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  EXPECT_THAT(open_error(dir, raw_safetensors(header, std::string(12, '\0'))),
              HasSubstr("tensor 'b': data_offsets [8, 12] leave bytes [4, 8) of the data buffer unused"));
}

TEST(SafetensorsErrors, FirstTensorNotAtZero) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})", 8)),
              HasSubstr("tensor 'weight': data_offsets [4, 8] leave bytes [0, 4)"));
}

TEST(SafetensorsErrors, OverlappingTensors) {
  TempDir dir;
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  EXPECT_THAT(open_error(dir, raw_safetensors(header, std::string(12, '\0'))),
              HasSubstr("tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]"));
  const std::string same =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})";
  EXPECT_THAT(open_error(dir, raw_safetensors(same, std::string(4, '\0'))), HasSubstr("overlap tensor 'a'"));
}

TEST(SafetensorsErrors, TrailingBytes) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})", 7)),
              HasSubstr("3 trailing bytes after the last tensor 'weight'"));
  EXPECT_THAT(open_error(dir, raw_safetensors("{}", "x")), HasSubstr("1 trailing bytes"));
}

TEST(SafetensorsErrors, DuplicateTensorName) {
  TempDir dir;
  const std::string header =
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  EXPECT_THAT(open_error(dir, raw_safetensors(header, std::string(8, '\0'))),
              HasSubstr("tensor 'w': name appears more than once"));
}

TEST(SafetensorsErrors, BadMetadata) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, raw_safetensors(R"({"__metadata__":["pt"]})", "")),
              HasSubstr("\"__metadata__\" is a JSON array, not an object"));
  EXPECT_THAT(open_error(dir, raw_safetensors(R"({"__metadata__":{"format":1}})", "")),
              HasSubstr("\"__metadata__\" value for key 'format' is a JSON number"));
}

TEST(SafetensorsErrors, TruncatedRealFile) {
  TempDir dir;
  const std::string original = test::read_bytes(kT5TinyModel);
  ASSERT_EQ(original.size(), 920680u);
  // Cut inside the data: the last tensor (by offset) runs past the end.
  EXPECT_THAT(open_error(dir, original.substr(0, original.size() - 100), "cut_data.safetensors"),
              HasSubstr("lie outside the data buffer"));
  EXPECT_THAT(open_error(dir, original.substr(0, original.size() - 100), "cut_data.safetensors"),
              HasSubstr("file truncated"));
  // Cut inside the header.
  EXPECT_THAT(open_error(dir, original.substr(0, 1000), "cut_header.safetensors"),
              HasSubstr("runs past the end of the file"));
  // Cut exactly after the header: every non-empty tensor is outside the (empty) buffer.
  const std::uint64_t header_size = 5216;
  EXPECT_THAT(open_error(dir, original.substr(0, 8 + header_size), "cut_all_data.safetensors"),
              HasSubstr("data buffer of 0 bytes"));
  // A real file with one extra byte.
  EXPECT_THAT(open_error(dir, original + "!", "extra.safetensors"), HasSubstr("1 trailing bytes after the last tensor"));
}

TEST(SafetensorsErrors, MissingFileAndDirectory) {
  TempDir dir;
  try {
    SafetensorsFile::open(dir / "absent.safetensors");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "absent.safetensors").string()));
    EXPECT_THAT(e.what(), HasSubstr("does not exist"));
  }
  try {
    SafetensorsFile::open(dir.path());
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir.path().string()));
    EXPECT_THAT(e.what(), HasSubstr("is a directory, not a file"));
  }
}

// ------------------------------------------------------------------- json.hpp

TEST(JsonFile, ReadsObjectAndNamesFileOnErrors) {
  TempDir dir;
  write_bytes(dir / "good.json", R"({"d_model": 64, "name": "t5"})");
  const auto good = io::read_json_object_file(dir / "good.json");
  EXPECT_EQ(good.at("d_model").get<int>(), 64);

  write_bytes(dir / "broken.json", "{\"d_model\": 64,\n \"name\": }");
  try {
    io::read_json_file(dir / "broken.json");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "broken.json").string()));
    EXPECT_THAT(e.what(), HasSubstr("invalid JSON"));
    EXPECT_THAT(e.what(), HasSubstr("line 2"));
  }
  write_bytes(dir / "array.json", "[1]");
  try {
    io::read_json_object_file(dir / "array.json");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "array.json").string()));
    EXPECT_THAT(e.what(), HasSubstr("not an object"));
  }
  EXPECT_THROW(io::read_json_file(dir / "missing.json"), FormatError);
  try {
    io::read_json_file(dir / "missing.json");
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "missing.json").string() + " does not exist"));
  }
  try {
    io::read_json_file(dir.path());
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_THAT(e.what(), HasSubstr("is a directory"));
  }
  write_bytes(dir / "empty.json", "");
  EXPECT_THROW(io::read_json_file(dir / "empty.json"), FormatError);
}

}  // namespace
}  // namespace srformer
