#pragma once
// Exception types. Every error names what is wrong (file, tensor, value) so
// that a user can act on the message alone.
#include <stdexcept>
#include <string>

namespace srformer {

/// Base of every exception the library throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file on disk is missing, truncated or malformed (safetensors, json, tokenizer files).
class FormatError : public Error {
 public:
  using Error::Error;
};

/// config.json asks for something unknown or unsupported, or disagrees with the weights.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A tensor is absent, or its shape or dtype is not what the model needs.
class TensorError : public Error {
 public:
  using Error::Error;
};

/// A request is invalid: bad token ids, too long, empty batch, inconsistent shapes.
class InputError : public Error {
 public:
  using Error::Error;
};

/// Text cannot be tokenized (invalid UTF-8, unknown tokenizer layout).
class TokenizerError : public Error {
 public:
  using Error::Error;
};

/// Generation or attention options are invalid or contradict each other.
class OptionError : public Error {
 public:
  using Error::Error;
};

/// A request needs more memory than a limit allows or than the machine could give
/// (the message says which limit, or what was being done when memory ran out).
class ResourceError : public Error {
 public:
  using Error::Error;
};

}  // namespace srformer
