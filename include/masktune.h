/* masktune's public API for plugins: the node base class, what a node sees while it
 * runs (its context), the kinds of value, the registry and the plugin entry point, and
 * the data a node handles (tensors, bundles, datasets). Include this one header; the
 * headers it includes are exactly the ones `make install` installs. */
#pragma once

#include "base/mt-version.h"
#include "base/mt-error.h"
#include "base/mt-tensor.h"
#include "base/mt-bundle.h"
#include "base/mt-rng.h"
#include "ml/mt-dataset.h"
#include "runtime/mt-kind.h"
#include "runtime/mt-enum.h"
#include "runtime/mt-context.h"
#include "runtime/mt-node.h"
#include "runtime/mt-registry.h"
#include "runtime/mt-plugin.h"
