// The Software Carbon Intensity: SCI = (E x I + M) per R, with E in kWh, I in gCO2e/kWh and
// M = embodied x (time per unit / lifetime) x resource share.
//
// Covered: operational emissions from joules (3.6e6 J = 1 kWh) and the default world-average
// intensity, which the report names as a default; a user intensity (no "default" in the report);
// embodied emissions with time share and resource share; M not given; per-inference figures from a
// measurement whose run is a batch; the kind of the energy carried into the report; invalid inputs.
// Values are exact up to a few double roundings (EXPECT_DOUBLE_EQ, 4 ulps).
#include <gtest/gtest.h>

#include <cmath>
#include <joule/energy/sci.hpp>
#include <limits>

namespace {

using namespace joule::energy;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Sci, OperationalWithTheDefaultIntensity) {
  const sci_result r = sci(3.6e6, 1.0, sci_inputs{});
  EXPECT_DOUBLE_EQ(r.energy_kwh, 1.0);
  EXPECT_DOUBLE_EQ(r.operational_g, 475.0);
  EXPECT_DOUBLE_EQ(r.embodied_g, 0.0);
  EXPECT_DOUBLE_EQ(r.sci_g, 475.0);
  const std::string report = r.report();
  EXPECT_TRUE(contains(report, "I = 475 gCO2e/kWh (default world average")) << report;
  EXPECT_TRUE(contains(report, "M = 0 (embodied emissions not given)")) << report;
  EXPECT_TRUE(contains(report, "per inference (measured energy)")) << report;
}

TEST(Sci, UserIntensityAndEmbodiedEmissions) {
  sci_inputs in = sci_inputs::with_intensity(100);
  in.embodied_g = 1e6;  // 1 t CO2e for the server
  in.lifetime_s = 1e6;
  in.resource_share = 0.5;  // half the server reserved
  const sci_result r = sci(36'000, 2.0, in, meter_kind::estimated);
  EXPECT_DOUBLE_EQ(r.energy_kwh, 0.01);
  EXPECT_DOUBLE_EQ(r.operational_g, 1.0);
  EXPECT_DOUBLE_EQ(r.embodied_g, 1.0);  // 1e6 g x (2 s / 1e6 s) x 0.5
  EXPECT_DOUBLE_EQ(r.sci_g, 2.0);
  const std::string report = r.report();
  EXPECT_FALSE(contains(report, "default")) << report;
  EXPECT_TRUE(contains(report, "(estimated energy)")) << report;
  EXPECT_TRUE(contains(report, "M = 1e+06 gCO2e embodied")) << report;
}

TEST(Sci, FromAMeasurementOfBatches) {
  measurement m;
  m.joules_per_run.mean = 64 * 3.6;  // 64 inferences a run, 3.6 J each
  m.seconds_per_run.mean = 64 * 0.01;
  m.kind = meter_kind::estimated;
  sci_inputs in = sci_inputs::with_intensity(1000);
  in.embodied_g = 3.6e6;
  in.lifetime_s = 3.6e6;
  const sci_result r = sci(m, in, 64);
  EXPECT_DOUBLE_EQ(r.energy_kwh, 1e-6);
  EXPECT_DOUBLE_EQ(r.operational_g, 1e-3);
  EXPECT_DOUBLE_EQ(r.embodied_g, 0.01);
  EXPECT_EQ(r.energy_kind, meter_kind::estimated);
  EXPECT_EQ(r.functional_unit, "inference");
}

TEST(Sci, InvalidInputs) {
  const auto error_of = [](double joules, double s, sci_inputs in) -> std::string {
    try {
      sci(joules, s, in);
    } catch (const joule::error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_TRUE(contains(error_of(-1, 1, {}), "energy per unit must be finite and >= 0, got -1"));
  EXPECT_TRUE(contains(error_of(std::nan(""), 1, {}), "energy per unit must be finite"));
  EXPECT_TRUE(contains(error_of(1, -1, {}), "time per unit must be finite"));
  EXPECT_TRUE(contains(error_of(1, 1, sci_inputs::with_intensity(-5)), "grid intensity must be finite and >= 0"));
  sci_inputs share;
  share.resource_share = 0;
  EXPECT_TRUE(contains(error_of(1, 1, share), "resource share must be in (0, 1], got 0"));
  share.resource_share = 1.5;
  EXPECT_TRUE(contains(error_of(1, 1, share), "resource share must be in (0, 1], got 1.5"));
  sci_inputs embodied;
  embodied.embodied_g = 100;
  EXPECT_TRUE(contains(error_of(1, 1, embodied), "need a positive hardware lifetime in seconds, got 0"));
  EXPECT_THROW(sci(measurement{}, sci_inputs{}, 0), joule::error);
}

}  // namespace
