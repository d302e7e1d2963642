#pragma once
/**
 * @file energy.hpp
 * @brief All of joule's energy subsystem except the Google Benchmark helper (benchmark.hpp, which
 * needs <benchmark/benchmark.h>): meters, probing, measurement and SCI.
 */
#include <joule/energy/estimate.hpp>
#include <joule/energy/measure.hpp>
#include <joule/energy/meter.hpp>
#include <joule/energy/nvml.hpp>
#include <joule/energy/perf_power.hpp>
#include <joule/energy/probe.hpp>
#include <joule/energy/rapl.hpp>
#include <joule/energy/sci.hpp>
#include <joule/energy/sysfs.hpp>
