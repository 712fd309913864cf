#pragma once
// Checks shared by the search algorithms: the session is fresh and the right
// size, the special tokens fit its vocabulary, each step returns what it must.
#include <string>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/generation/decoder_session.hpp"
#include "srformer/generation/options.hpp"

namespace srformer::detail {

inline void check_session_start(const DecoderSession& session, Index batch_size, Index rows_per_input) {
  if (batch_size < 1) throw InputError("generate: batch_size must be >= 1, got " + std::to_string(batch_size));
  if (session.rows() != batch_size * rows_per_input)
    throw InputError("generate: the decoder session has " + std::to_string(session.rows()) +
                     " rows but batch_size " + std::to_string(batch_size) + " x " +
                     std::to_string(rows_per_input) + " rows per input (num_beams) = " +
                     std::to_string(batch_size * rows_per_input) + " are needed");
  if (session.position() != 0)
    throw InputError("generate: the decoder session must be fresh (position 0), it is at position " +
                     std::to_string(session.position()));
  if (session.vocab_size() < 1)
    throw InputError("generate: the decoder session reports vocab_size " + std::to_string(session.vocab_size()));
}

inline void check_id_in_vocab(const std::string& option, TokenId id, Index vocab_size) {
  if (id < 0 || id >= vocab_size)
    throw GenerationOptionError(option, "generation option " + option + " = " + std::to_string(id) +
                                            " is outside the model vocabulary (size " + std::to_string(vocab_size) +
                                            ")");
}

inline void check_options_against_vocab(const GenerationOptions& options, Index vocab_size) {
  check_id_in_vocab(options.decoder_start_token_id ? "decoder_start_token_id" : "bos_token_id",
                    options.resolved_decoder_start_token_id(), vocab_size);
  for (TokenId id : options.eos_token_ids) check_id_in_vocab("eos_token_id", id, vocab_size);
  for (TokenId id : options.forced_eos_token_ids) check_id_in_vocab("forced_eos_token_id", id, vocab_size);
  if (options.forced_bos_token_id) check_id_in_vocab("forced_bos_token_id", *options.forced_bos_token_id, vocab_size);
  // Finished rows are filled with it, so it ends up in the returned ids (and in the
  // detokenizer's input); HF would even feed it to the model for greedy search.
  if (options.pad_token_id) check_id_in_vocab("pad_token_id", *options.pad_token_id, vocab_size);
}

inline void check_step_logits(const RowMatrix& logits, Index rows, Index vocab_size, Index step) {
  if (logits.rows() != rows || logits.cols() != vocab_size)
    throw Error("decoder session step " + std::to_string(step) + " returned logits of shape [" +
                std::to_string(logits.rows()) + ", " + std::to_string(logits.cols()) + "], expected [" +
                std::to_string(rows) + ", " + std::to_string(vocab_size) + "]");
}

inline bool is_one_of(TokenId token, const std::vector<TokenId>& set) {
  for (TokenId t : set)
    if (t == token) return true;
  return false;
}

}  // namespace srformer::detail
