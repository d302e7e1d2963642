#pragma once
/**
 * @file sci.hpp
 * @brief The Green Software Foundation's Software Carbon Intensity per functional unit.
 *
 *     SCI = (E x I + M) per R                      (GSF SCI specification, ISO/IEC 21031:2024)
 *
 *     E  energy per functional unit, kWh           (joules / 3.6e6)
 *     I  grid carbon intensity, gCO2e/kWh          (from the user; location- and time-specific)
 *     M  embodied emissions per functional unit, gCO2e
 *          = TE x (TiR / EL) x RS
 *          TE  the hardware's total embodied emissions, gCO2e
 *          TiR the time the hardware is reserved for one unit, s (time per inference)
 *          EL  the hardware's expected lifetime, s
 *          RS  the share of the hardware reserved, 0 < RS <= 1 (e.g. CPUs used / CPUs)
 *     R  the functional unit: one inference by default
 *
 * I and M come from the user. Where I is not given, the world average of 475 gCO2e/kWh (IEA,
 * Global Energy & CO2 Status Report 2019, the figure CodeCarbon also falls back to) is used and
 * every report says "(default world average)". Where TE is not given, M is 0 and the report says
 * so. An SCI computed from estimated energy is labelled estimated.
 */
#include <cmath>
#include <joule/core/error.hpp>
#include <joule/energy/measure.hpp>
#include <joule/energy/meter.hpp>
#include <sstream>
#include <string>

namespace joule::energy {

/** @brief World-average grid intensity, gCO2e/kWh (IEA 2019); only ever used as a labelled default. */
inline constexpr double kWorldAverageGridIntensity = 475.0;
/** @brief Joules in one kilowatt-hour. */
inline constexpr double kJoulesPerKwh = 3.6e6;

/** @brief What the SCI needs from the user. */
struct sci_inputs {
  double grid_intensity_g_per_kwh = kWorldAverageGridIntensity;  ///< I, gCO2e/kWh
  bool intensity_is_default = true;  ///< true: I is the world-average default, and reports say so
  double embodied_g = 0;             ///< TE, gCO2e of the whole hardware; 0: not given
  double lifetime_s = 0;             ///< EL, s; needed when embodied_g > 0
  double resource_share = 1.0;       ///< RS, the share of the hardware reserved, in (0, 1]

  /** @brief Inputs with a user-given grid intensity (not the default). */
  static sci_inputs with_intensity(double g_per_kwh) {
    sci_inputs in;
    in.grid_intensity_g_per_kwh = g_per_kwh;
    in.intensity_is_default = false;
    return in;
  }
};

/** @brief An SCI score per functional unit and its parts. */
struct sci_result {
  double energy_kwh = 0;     ///< E per unit
  double operational_g = 0;  ///< E x I per unit
  double embodied_g = 0;     ///< M per unit
  double sci_g = 0;          ///< (E x I + M) per unit, gCO2e
  meter_kind energy_kind = meter_kind::measured;
  std::string functional_unit = "inference";
  sci_inputs inputs;

  /** @brief The score, its parts, and where I and M came from. */
  [[nodiscard]] std::string report() const {
    std::ostringstream out;
    out.precision(4);
    const char* kind = to_string(energy_kind);
    out << "SCI: " << sci_g << " gCO2e per " << functional_unit << " (" << kind << " energy)\n";
    out << "  E = " << energy_kwh << " kWh per " << functional_unit << " (" << kind << ")\n";
    out << "  I = " << inputs.grid_intensity_g_per_kwh << " gCO2e/kWh";
    if (inputs.intensity_is_default)
      out << " (default world average, IEA 2019; give your grid's intensity for a real figure)";
    out << "\n  E x I = " << operational_g << " gCO2e\n";
    if (inputs.embodied_g > 0)
      out << "  M = " << inputs.embodied_g << " gCO2e embodied x (time per " << functional_unit << " / "
          << inputs.lifetime_s << " s lifetime) x " << inputs.resource_share << " share = " << embodied_g << " gCO2e\n";
    else
      out << "  M = 0 (embodied emissions not given)\n";
    return out.str();
  }
};

/**
 * @brief SCI per functional unit from the energy and the time one unit takes.
 * @param joules_per_unit  E, in joules (converted to kWh)
 * @param seconds_per_unit the time the hardware is reserved for one unit (TiR)
 * @throws joule::error for negative or non-finite inputs, a share outside (0, 1], or embodied
 *         emissions without a lifetime.
 */
inline sci_result sci(double joules_per_unit, double seconds_per_unit, const sci_inputs& in,
                      meter_kind energy_kind = meter_kind::measured, std::string functional_unit = "inference") {
  const auto finite_non_negative = [](double x) { return std::isfinite(x) && x >= 0; };
  require(finite_non_negative(joules_per_unit), "energy::sci: energy per unit must be finite and >= 0, got ",
          joules_per_unit);
  require(finite_non_negative(seconds_per_unit), "energy::sci: time per unit must be finite and >= 0, got ",
          seconds_per_unit);
  require(finite_non_negative(in.grid_intensity_g_per_kwh),
          "energy::sci: grid intensity must be finite and >= 0 gCO2e/kWh, got ", in.grid_intensity_g_per_kwh);
  require(finite_non_negative(in.embodied_g), "energy::sci: embodied emissions must be finite and >= 0 gCO2e, got ",
          in.embodied_g);
  require(in.resource_share > 0 && in.resource_share <= 1, "energy::sci: resource share must be in (0, 1], got ",
          in.resource_share);
  require(in.embodied_g == 0 || (std::isfinite(in.lifetime_s) && in.lifetime_s > 0),
          "energy::sci: embodied emissions of ", in.embodied_g,
          " gCO2e need a positive hardware lifetime in seconds, got ", in.lifetime_s);
  sci_result r;
  r.inputs = in;
  r.energy_kind = energy_kind;
  r.functional_unit = std::move(functional_unit);
  r.energy_kwh = joules_per_unit / kJoulesPerKwh;                // J -> kWh
  r.operational_g = r.energy_kwh * in.grid_intensity_g_per_kwh;  // kWh x gCO2e/kWh
  r.embodied_g = in.embodied_g > 0 ? in.embodied_g * (seconds_per_unit / in.lifetime_s) * in.resource_share : 0;
  r.sci_g = r.operational_g + r.embodied_g;
  return r;
}

/**
 * @brief SCI per functional unit from a measurement, where one run processes @p units_per_run
 * units (the batch size, for one inference per unit).
 */
inline sci_result sci(const measurement& m, const sci_inputs& in, double units_per_run = 1.0,
                      std::string functional_unit = "inference") {
  require(units_per_run > 0, "energy::sci: units per run must be positive, got ", units_per_run);
  return sci(m.joules_per_run.mean / units_per_run, m.seconds_per_run.mean / units_per_run, in, m.kind,
             std::move(functional_unit));
}

}  // namespace joule::energy
