#pragma once
/**
 * @file chart_cairo.hpp
 * @brief Draws shootout charts (chart.hpp) to SVG or PNG with cairo: energy per inference against
 * latency, one marker per candidate labelled "policy/threads", the Pareto front as a line, the
 * winner ringed, the energy axis titled "measured" or "estimated". One panel per model and batch,
 * side by side.
 *
 * Needs cairo (Debian: libcairo2-dev; CMake: pkg_check_modules(CAIRO IMPORTED_TARGET cairo) and
 * link PkgConfig::CAIRO). Not included by joule.hpp, so the library itself does not need cairo.
 */
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <joule/choose/chart.hpp>
#include <joule/core/error.hpp>

namespace joule::tuning {

namespace cairo_detail {

constexpr double kPanelWidth = 600, kPanelHeight = 470, kHeader = 34;
constexpr double kLeft = 78, kRight = 24, kTop = 62, kBottom = 104;

struct rect {
  double x0, y0, x1, y1;
  bool overlaps(const rect& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
  bool inside(const rect& o) const { return x0 >= o.x0 && x1 <= o.x1 && y0 >= o.y0 && y1 <= o.y1; }
};

inline void set_rgb(cairo_t* cr, const std::array<double, 3>& c, double alpha = 1) {
  cairo_set_source_rgba(cr, c[0], c[1], c[2], alpha);
}

inline void font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

inline double text_width(cairo_t* cr, const std::string& s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

/** Draws @p s with its anchor: align 0 left, 0.5 centre, 1 right; y is the baseline. */
inline void text(cairo_t* cr, double x, double y, const std::string& s, double align = 0) {
  cairo_move_to(cr, x - align * text_width(cr, s), y);
  cairo_show_text(cr, s.c_str());
}

inline void draw_panel(cairo_t* cr, const chart_panel& panel, double ox, double oy) {
  const rect plot{ox + kLeft, oy + kTop, ox + kPanelWidth - kRight, oy + kPanelHeight - kBottom};
  std::vector<double> xs, ys;
  for (const auto& p : panel.points) xs.push_back(p.latency_s * 1e3), ys.push_back(p.joules);
  const chart_axis ax = make_axis(xs), ay = make_axis(ys);
  auto px = [&](double ms) { return plot.x0 + ax.position(ms) * (plot.x1 - plot.x0); };
  auto py = [&](double j) { return plot.y1 - ay.position(j) * (plot.y1 - plot.y0); };

  // Title and what the energy figures are.
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  font(cr, 16, true);
  text(cr, ox + kPanelWidth / 2, oy + 24, panel.title, 0.5);
  font(cr, 11.5);
  cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
  text(cr, ox + kPanelWidth / 2, oy + 43,
       "energy " + panel.energy_kind + (panel.meter.empty() ? "" : " (" + panel.meter + ")") + "; winner by " +
           panel.objective,
       0.5);

  // Plot area with grid lines at the ticks.
  cairo_set_source_rgb(cr, 0.985, 0.985, 0.985);
  cairo_rectangle(cr, plot.x0, plot.y0, plot.x1 - plot.x0, plot.y1 - plot.y0);
  cairo_fill(cr);
  cairo_set_line_width(cr, 1);
  font(cr, 11);
  for (double t : ax.ticks) {
    const double x = std::round(px(t)) + 0.5;
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, x, plot.y0);
    cairo_line_to(cr, x, plot.y1);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    text(cr, x, plot.y1 + 16, tick_label(t), 0.5);
  }
  for (double t : ay.ticks) {
    const double y = std::round(py(t)) + 0.5;
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, plot.x0, y);
    cairo_line_to(cr, plot.x1, y);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    text(cr, plot.x0 - 6, y + 4, tick_label(t), 1);
  }
  cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
  cairo_rectangle(cr, plot.x0 + 0.5, plot.y0 + 0.5, plot.x1 - plot.x0 - 1, plot.y1 - plot.y0 - 1);
  cairo_stroke(cr);

  // Axis titles.
  font(cr, 12);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  text(cr, (plot.x0 + plot.x1) / 2, plot.y1 + 36,
       std::string("latency per run, median (ms") + (ax.log ? ", log scale)" : ")"), 0.5);
  cairo_save(cr);
  cairo_translate(cr, ox + 18, (plot.y0 + plot.y1) / 2);
  cairo_rotate(cr, -M_PI / 2);
  text(cr, 0, 0, "energy per inference (J, " + panel.energy_kind + (ay.log ? ", log scale)" : ")"), 0.5);
  cairo_restore(cr);

  // The Pareto front, under the markers.
  std::vector<std::size_t> front;
  for (std::size_t i = 0; i < panel.points.size(); ++i)
    if (panel.points[i].pareto) front.push_back(i);
  std::sort(front.begin(), front.end(),
            [&](std::size_t a, std::size_t b) { return panel.points[a].latency_s < panel.points[b].latency_s; });
  const std::array<double, 3> front_colour{0.93, 0.55, 0.10};
  if (front.size() > 1) {
    set_rgb(cr, front_colour);
    cairo_set_line_width(cr, 2.5);
    cairo_new_path(cr);
    for (std::size_t k = 0; k < front.size(); ++k) {
      const auto& p = panel.points[front[k]];
      k == 0 ? cairo_move_to(cr, px(p.latency_s * 1e3), py(p.joules))
             : cairo_line_to(cr, px(p.latency_s * 1e3), py(p.joules));
    }
    cairo_stroke(cr);
  }

  // Markers: circles; the Pareto front's with an orange rim, the winner ringed, rejected crossed.
  std::vector<rect> taken, markers;
  for (const auto& p : panel.points) {
    const double x = px(p.latency_s * 1e3), y = py(p.joules);
    const double half = p.chosen ? 12 : 7;  // the winner's ring is larger
    taken.push_back({x - half, y - half, x + half, y + half});
    markers.push_back(taken.back());
    if (p.chosen) {
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      cairo_set_line_width(cr, 2.5);
      cairo_new_path(cr);
      cairo_arc(cr, x, y, 11, 0, 2 * M_PI);
      cairo_stroke(cr);
    }
    set_rgb(cr, policy_colour(p.policy));
    if (p.rejected) {
      cairo_set_line_width(cr, 2.5);
      cairo_move_to(cr, x - 5, y - 5);
      cairo_line_to(cr, x + 5, y + 5);
      cairo_move_to(cr, x - 5, y + 5);
      cairo_line_to(cr, x + 5, y - 5);
      cairo_stroke(cr);
      continue;
    }
    cairo_new_path(cr);
    cairo_arc(cr, x, y, 6, 0, 2 * M_PI);
    cairo_fill_preserve(cr);
    if (p.pareto)
      set_rgb(cr, front_colour);
    else
      cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 1.5);
    cairo_stroke(cr);
  }

  // Labels where they overlap neither another label nor a marker, nor leave the plot: tried beside
  // the marker in eight directions, then further out with a leader line. The winner is placed first.
  // Markers within a few pixels of each other share one label ("blas/2, eigen/2").
  std::vector<std::size_t> order(panel.points.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_partition(order.begin(), order.end(), [&](std::size_t i) { return panel.points[i].chosen; });
  struct label_group {
    std::size_t first;
    std::string text;
  };
  std::vector<label_group> groups;
  for (const std::size_t i : order) {
    const auto& p = panel.points[i];
    const std::string name = p.label + (p.rejected ? " (rejected)" : "");
    bool joined = false;
    for (auto& g : groups) {
      const auto& q = panel.points[g.first];
      if (std::hypot(px(p.latency_s * 1e3) - px(q.latency_s * 1e3), py(p.joules) - py(q.joules)) < 6) {
        g.text += ", " + name;
        joined = true;
        break;
      }
    }
    if (!joined) groups.push_back({i, name});
  }
  for (const auto& g : groups) {
    const auto& p = panel.points[g.first];
    const double x = px(p.latency_s * 1e3), y = py(p.joules);
    const std::string label = p.chosen ? p.label + " (chosen)" + g.text.substr(p.label.size()) : g.text;
    font(cr, 11, p.chosen);
    const double w = text_width(cr, label), h = 11;
    std::optional<rect> placed;
    double distance = 0;
    for (const double d : {1.0, 2.2, 3.6, 5.2}) {
      const double r = (p.chosen ? 13 : 9) * d;
      // Left edge and baseline of the label for each direction, measured from the marker's centre.
      const std::array<std::array<double, 2>, 8> anchors{{{r, h / 2 - 1},
                                                          {-r - w, h / 2 - 1},
                                                          {-w / 2, -r},
                                                          {-w / 2, r + h},
                                                          {r * 0.7, -r * 0.7},
                                                          {r * 0.7, r * 0.7 + h},
                                                          {-r * 0.7 - w, -r * 0.7},
                                                          {-r * 0.7 - w, r * 0.7 + h}}};
      for (const auto& a : anchors) {
        const rect box{x + a[0] - 1, y + a[1] - h, x + a[0] + w + 1, y + a[1] + 3};
        bool free = box.inside(plot);
        for (const auto& t : taken) free = free && !t.overlaps(box);
        // A leader line must not pass over another marker, or it points at the wrong one.
        const double lx = std::clamp(x, box.x0, box.x1), ly = std::clamp(y, box.y0, box.y1);
        for (int k = 1; free && d > 1 && k < 24; ++k) {
          const double sx = x + (lx - x) * k / 24.0, sy = y + (ly - y) * k / 24.0;
          for (std::size_t m = 0; m < markers.size() && free; ++m)
            free = m == g.first || !markers[m].overlaps({sx, sy, sx + 0.01, sy + 0.01});
        }
        if (free) {
          placed = box;
          distance = d;
          break;
        }
      }
      if (placed) break;
    }
    if (!placed) placed = rect{x + 9, y - h + 4, x + 9 + w + 2, y + 7};  // crowded: beside it, overlapping
    taken.push_back(*placed);
    if (distance > 1) {
      // A leader line from the marker to the nearest point of the label's box.
      const double lx = std::clamp(x, placed->x0, placed->x1), ly = std::clamp(y, placed->y0, placed->y1);
      cairo_set_source_rgba(cr, 0.3, 0.3, 0.3, 0.7);
      cairo_set_line_width(cr, 0.8);
      cairo_new_path(cr);
      cairo_move_to(cr, x, y);
      cairo_line_to(cr, lx, ly);
      cairo_stroke(cr);
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, placed->x0 + 1, placed->y1 - 3, label);
  }
  if (panel.points.empty()) {
    font(cr, 13);
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    text(cr, (plot.x0 + plot.x1) / 2, (plot.y0 + plot.y1) / 2, "no candidate was measured", 0.5);
  }

  // Legend: the policies shown, the front, the winner; then what is not on the chart.
  std::vector<std::string> policies;
  for (const auto& p : panel.points)
    if (std::find(policies.begin(), policies.end(), p.policy) == policies.end()) policies.push_back(p.policy);
  font(cr, 11);
  double lx = plot.x0, ly = plot.y1 + 60;
  for (const auto& name : policies) {
    set_rgb(cr, policy_colour(name));
    cairo_new_path(cr);
    cairo_arc(cr, lx + 5, ly - 4, 5, 0, 2 * M_PI);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    text(cr, lx + 14, ly, name);
    lx += 24 + text_width(cr, name);
  }
  set_rgb(cr, front_colour);
  cairo_set_line_width(cr, 2.5);
  cairo_new_path(cr);
  cairo_move_to(cr, lx, ly - 4);
  cairo_line_to(cr, lx + 22, ly - 4);
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
  text(cr, lx + 27, ly, "Pareto front");
  lx += 40 + text_width(cr, "Pareto front");
  cairo_set_line_width(cr, 2);
  cairo_new_path(cr);
  cairo_arc(cr, lx + 6, ly - 4, 7, 0, 2 * M_PI);
  cairo_stroke(cr);
  text(cr, lx + 18, ly, "chosen");
  if (!panel.left_out.empty()) {
    std::string s = "not shown: ";
    for (std::size_t i = 0; i < panel.left_out.size(); ++i) s.append(i ? ", " : "").append(panel.left_out[i]);
    font(cr, 10.5);
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    text(cr, plot.x0, ly + 20, s);
  }
}

}  // namespace cairo_detail

/**
 * @brief Draws @p panels side by side (three per row) to @p path; the format follows the
 * extension, .svg or .png. Throws joule::error for another extension or when cairo fails.
 */
inline void render_chart(const std::vector<chart_panel>& panels, const std::filesystem::path& path,
                         const std::string& heading =
                             "joule shootout: energy per inference against latency "
                             "(lower left is better)") {
  using namespace cairo_detail;
  const std::string ext = path.extension().string();
  require(ext == ".svg" || ext == ".png", "chart '", path.string(), "': the extension must be .svg or .png, got '", ext,
          "'");
  const int columns = static_cast<int>(std::min<std::size_t>(std::max<std::size_t>(panels.size(), 1), 3));
  const int rows = static_cast<int>((std::max<std::size_t>(panels.size(), 1) + columns - 1) / columns);
  const double width = columns * kPanelWidth, height = kHeader + rows * kPanelHeight;
  const double scale = ext == ".png" ? 2.0 : 1.0;  // PNGs at twice the size, sharp on high-density screens

  cairo_surface_t* surface = ext == ".svg"
                                 ? cairo_svg_surface_create(path.c_str(), width, height)
                                 : cairo_image_surface_create(CAIRO_FORMAT_ARGB32, static_cast<int>(width * scale),
                                                              static_cast<int>(height * scale));
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface_guard(surface, cairo_surface_destroy);
  require(cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS, "chart '", path.string(),
          "': cannot create the surface: ", cairo_status_to_string(cairo_surface_status(surface)));
  cairo_t* cr = cairo_create(surface);
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr_guard(cr, cairo_destroy);
  cairo_scale(cr, scale, scale);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  // A single panel is narrow: shrink the heading until it fits rather than cut it off.
  double heading_size = 13;
  for (cairo_text_extents_t extents;; heading_size -= 0.5) {
    font(cr, heading_size, true);
    cairo_text_extents(cr, heading.c_str(), &extents);
    if (extents.x_advance <= width - 32 || heading_size <= 7) break;
  }
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  text(cr, 16, 22, heading);
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const std::size_t row = i / columns, column = i % columns;
    draw_panel(cr, panels[i], static_cast<double>(column) * kPanelWidth,
               kHeader + static_cast<double>(row) * kPanelHeight);
  }
  cr_guard.reset();
  if (ext == ".png") {
    const cairo_status_t status = cairo_surface_write_to_png(surface, path.c_str());
    require(status == CAIRO_STATUS_SUCCESS, "chart '", path.string(),
            "': cannot write the PNG: ", cairo_status_to_string(status));
  }
  cairo_surface_finish(surface);
  require(cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS, "chart '", path.string(),
          "': cannot write it: ", cairo_status_to_string(cairo_surface_status(surface)));
}

}  // namespace joule::tuning
