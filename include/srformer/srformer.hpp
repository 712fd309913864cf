#pragma once
// Umbrella header: `#include <srformer/srformer.hpp>` gives the whole public API.
// Layers are added here as they land (io/, kernels/, attention/, nn/, models/,
// tokenizers/, the rest of generation/); each header stays includable on its own.

#include "srformer/version.hpp"

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"

#include "srformer/generation/decoder_session.hpp"
