#pragma once
// Umbrella header: `#include <srformer/srformer.hpp>` gives the whole public API.
// Each header also stays includable on its own. The data flow, layer by layer:
//   text → tokenizers/ → ids → models/ (encoder, then the decoder with an
//   attention/ cross-attention policy) → generation/ (search over a
//   DecoderSession) → ids → tokenizers/ → text; pipeline/ ties them together.

#include "srformer/version.hpp"

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"

#include "srformer/io/checkpoint.hpp"
#include "srformer/io/json.hpp"
#include "srformer/io/safetensors.hpp"

#include "srformer/kernels/attention.hpp"
#include "srformer/kernels/dispatch.hpp"
#include "srformer/kernels/gemm.hpp"
#include "srformer/kernels/matmul.hpp"
#include "srformer/kernels/raf_step.hpp"
#include "srformer/kernels/softmax.hpp"
#include "srformer/attention/flops.hpp"
#include "srformer/attention/full_cross_attention.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/attention/raf_neuron.hpp"
#include "srformer/attention/segmented_cross_attention.hpp"
#include "srformer/attention/srformer_cross_attention.hpp"

#include "srformer/models/config.hpp"
#include "srformer/models/encoder_decoder.hpp"
#include "srformer/models/load.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "srformer/models/token_batch.hpp"

#include "srformer/generation/decoder_session.hpp"
#include "srformer/generation/options.hpp"
#include "srformer/generation/options_loading.hpp"
#include "srformer/generation/search.hpp"

#include "srformer/pipeline/summarizer.hpp"

#include "srformer/tokenizers/load_tokenizer.hpp"
#include "srformer/tokenizers/tokenizer.hpp"
