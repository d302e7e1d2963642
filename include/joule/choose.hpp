#pragma once
/** @file choose.hpp @brief The energy-aware chooser: see joule/choose/choose.hpp (the SVG/PNG chart is in
 * joule/choose/chart_cairo.hpp, which needs cairo). */
#include <joule/choose/choose.hpp>
