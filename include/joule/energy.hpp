#pragma once
/** @file energy.hpp @brief Energy meters, measurement statistics and SCI: see joule/energy/energy.hpp. */
#include <joule/energy/energy.hpp>
