#pragma once
// A per-token hook on generation: see tokens as they are generated (streaming)
// and stop a sequence, or the whole call, on a condition of one's own — what
// CTranslate2's `callback` and HF's streamers / StoppingCriteria offer.
//
// When it is called:
//   * greedy search and sampling: once per generated token, as soon as it is chosen,
//     rows in batch order within a step;
//   * beam search: the tokens of an input's best hypothesis, in order, once that
//     input's search has finished (intermediate beams change until then, so nothing
//     earlier is final). CTranslate2 calls its callback only for greedy decoding;
//     we report the final best beam instead of refusing.
// What it returns:
//   * Continue;
//   * StopSequence: the sequence ends with this token (kept, no eos appended). For beam
//     search the returned best hypothesis is cut after this token;
//   * StopAll: as StopSequence, and every other sequence ends where it is now (greedy /
//     sampling: with the tokens reported so far; beam search: inputs still searching
//     return their best finished hypothesis, else their best running beam). The
//     callback is not called again.
// An exception thrown by the callback leaves generate() at once and reaches its caller;
// the decoder session is then spent, the model untouched.
#include <functional>

#include "srformer/core/tensor.hpp"
#include "srformer/generation/decoder_session.hpp"

namespace srformer {

/// One generated token, as a TokenCallback sees it.
struct GeneratedToken {
  Index batch_row = 0;  ///< the input the token belongs to
  Index sequence = 0;   ///< sampling: which of the input's num_return_sequences; beam search: 0 (the best)
  Index step = 0;       ///< 0 for the first token after the decoder start token
  TokenId token_id = 0;
  bool is_last = false;  ///< the sequence ends with this token (eos or the length limit)
};

enum class TokenAction { Continue, StopSequence, StopAll };

using TokenCallback = std::function<TokenAction(const GeneratedToken&)>;

}  // namespace srformer
