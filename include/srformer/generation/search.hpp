#pragma once
// generate(): HF's `model.generate()` after the encoder has run. The caller
// starts a DecoderSession with batch_size * num_beams rows (row r belongs to input
// r / num_beams); generate() feeds the decoder start token and everything after.
#include "srformer/generation/beam_search.hpp"
#include "srformer/generation/decoder_session.hpp"
#include "srformer/generation/greedy.hpp"
#include "srformer/generation/logits_processors.hpp"
#include "srformer/generation/options.hpp"
#include "srformer/generation/result.hpp"
#include "srformer/generation/token_callback.hpp"

namespace srformer {

/// Dispatches like HF: num_beams > 1 -> beam search (beam sampling when do_sample),
/// else sampling when do_sample, else greedy. Validates the options first
/// (OptionError naming the bad option).
/// `callback`, when set, sees the generated tokens and may stop sequences
/// (generation/token_callback.hpp says when it is called for each strategy).
inline GenerationResult generate(DecoderSession& session, Index batch_size, const GenerationOptions& options,
                                 const TokenCallback& callback = {}) {
  options.validate();
  if (options.num_beams > 1) return beam_search(session, batch_size, options, callback);
  if (options.do_sample) return sample_search(session, batch_size, options, callback);
  return greedy_search(session, batch_size, options, callback);
}

}  // namespace srformer
