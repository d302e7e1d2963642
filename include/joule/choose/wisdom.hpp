#pragma once
/**
 * @file wisdom.hpp
 * @brief The wisdom cache: every measurement the chooser makes, kept in a JSON file and reused
 * while what made it valid still holds (in the spirit of FFTW's wisdom and TensorRT's timing
 * cache, with energy).
 *
 * Each entry is keyed by a wisdom_key (the machine_key, the model and a hash of its config, the
 * input shape, batch, dtype, policy, threads and the meter's kind) and stored under the key's
 * stable hash:
 *
 * @code{.json}
 * {"format_version": 1, "generator": "joule 0.1.0",
 *  "entries": {"5f0c...": {"key": {...}, "result": {...}, "gate": {...}, "recorded_at": "2025-..."}}}
 * @endcode
 *
 * Safety:
 * - Writes are atomic: the new file is written to `<file>.tmp.<pid>`, flushed with fsync and
 *   renamed over the file, so a crash leaves the previous file whole (and at most a temporary
 *   file, which the next writer removes).
 * - Writers hold an flock(2) advisory lock on `<file>.lock` around read-merge-write, re-reading the
 *   file under the lock, so two shootouts writing at once lose neither's entries.
 * - A file that does not parse, has entries that do not validate (a field missing, a hash that is
 *   not its key's) or has another format_version is renamed to `<file>.corrupt-<time>` (or
 *   `<file>.format-<N>-<time>`), reported in notes(), and rebuilt: never fatal, never trusted.
 */
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <joule/choose/machine_key.hpp>
#include <joule/choose/objective.hpp>
#include <joule/core/error.hpp>
#include <joule/io/detail/atomic_file.hpp>

namespace joule::tuning {

/** @brief The wisdom file's format; a file with another version is set aside and rebuilt. */
inline constexpr int kWisdomFormatVersion = 1;

/** @brief Everything that makes one measurement valid. */
struct wisdom_key {
  machine_key machine;
  std::string model;        ///< the model's name ("resnet50")
  std::string config_hash;  ///< stable hash of the model's full configuration
  std::string input;        ///< the input's shape as compiled ("1x3x224x224", "1x128")
  std::int64_t batch = 1;
  std::string dtype = "float32";
  std::string policy;
  int threads = 1;
  std::string meter_kind;  ///< "measured" or "estimated"

  friend bool operator==(const wisdom_key&, const wisdom_key&) = default;
};

inline void to_json(nlohmann::json& j, const wisdom_key& k) {
  j = nlohmann::json{{"machine", k.machine}, {"model", k.model},     {"config_hash", k.config_hash},
                     {"input", k.input},     {"batch", k.batch},     {"dtype", k.dtype},
                     {"policy", k.policy},   {"threads", k.threads}, {"meter_kind", k.meter_kind}};
}

namespace detail {

// nlohmann converts a JSON float to an integer with a plain cast, which is undefined behaviour when
// the value does not fit (a hand-edited "runs": 1e300): integer fields must hold JSON integers.
inline const nlohmann::json& integer_field(const nlohmann::json& j, const char* field) {
  const auto& value = j.at(field);
  require(value.is_number_integer(), "'", field, "' must be an integer, got ", value.dump());
  return value;
}

}  // namespace detail

inline void from_json(const nlohmann::json& j, wisdom_key& k) {
  detail::integer_field(j.at("machine"), "cores");
  detail::integer_field(j, "batch");
  detail::integer_field(j, "threads");
  j.at("machine").get_to(k.machine);
  j.at("model").get_to(k.model);
  j.at("config_hash").get_to(k.config_hash);
  j.at("input").get_to(k.input);
  j.at("batch").get_to(k.batch);
  j.at("dtype").get_to(k.dtype);
  j.at("policy").get_to(k.policy);
  j.at("threads").get_to(k.threads);
  j.at("meter_kind").get_to(k.meter_kind);
}

/** @brief FNV-1a 64 of @p text as 16 hex digits: stable across platforms, runs and compilers. */
inline std::string stable_hash(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

/** @brief The key's hash: of its JSON with sorted object keys, so field order never matters. */
inline std::string hash_of(const wisdom_key& key) { return stable_hash(nlohmann::json(key).dump()); }

/** @brief The outcome of the correctness gate: a candidate's output against the reference's. */
struct gate_record {
  std::string reference;  ///< "scalar/1": the candidate whose output was the reference
  double max_error = 0;   ///< max |y - ref| / max |ref| over the output (infinity: NaN or a shape mismatch)
  double tolerance = 0;   ///< the tolerance in force when it was checked
  std::string detail;     ///< what failed, when it failed (e.g. "NaN at element 17")
};

inline void to_json(nlohmann::json& j, const gate_record& g) {
  // JSON has no infinity: a failed comparison is written as null.
  j = nlohmann::json{{"reference", g.reference},
                     {"max_error", std::isfinite(g.max_error) ? nlohmann::json(g.max_error) : nlohmann::json(nullptr)},
                     {"tolerance", g.tolerance},
                     {"detail", g.detail}};
}

inline void from_json(const nlohmann::json& j, gate_record& g) {
  j.at("reference").get_to(g.reference);
  const auto& e = j.at("max_error");
  g.max_error = e.is_null() ? std::numeric_limits<double>::infinity() : e.get<double>();
  j.at("tolerance").get_to(g.tolerance);
  j.at("detail").get_to(g.detail);
}

inline void to_json(nlohmann::json& j, const domain_share& d) {
  j = nlohmann::json{{"name", d.name},
                     {"joules_per_run", d.joules_per_run},
                     {"kind", energy::to_string(d.kind)},
                     {"in_total", d.in_total}};
}

inline energy::meter_kind kind_from_json(const nlohmann::json& j) {
  const auto kind = j.get<std::string>();
  require(kind == "measured" || kind == "estimated", "kind must be measured or estimated, got '", kind, "'");
  return kind == "measured" ? energy::meter_kind::measured : energy::meter_kind::estimated;
}

inline void from_json(const nlohmann::json& j, domain_share& d) {
  j.at("name").get_to(d.name);
  j.at("joules_per_run").get_to(d.joules_per_run);
  d.kind = kind_from_json(j.at("kind"));
  j.at("in_total").get_to(d.in_total);
}

inline void to_json(nlohmann::json& j, const measurement& m) {
  j = nlohmann::json{{"domains", m.domains},
                     {"median_s", m.median_s},
                     {"p95_s", m.p95_s},
                     {"mean_s", m.mean_s},
                     {"joules_per_run", m.joules_per_run},
                     {"joules_ci95", m.joules_ci95},
                     {"watts", m.watts},
                     {"kind", energy::to_string(m.kind)},
                     {"meter", m.meter},
                     {"flops_per_run", m.flops_per_run},
                     {"runs", m.runs},
                     {"seconds", m.seconds},
                     {"stop_reason", m.stop_reason}};
}

inline void from_json(const nlohmann::json& j, measurement& m) {
  j.at("median_s").get_to(m.median_s);
  j.at("p95_s").get_to(m.p95_s);
  j.at("mean_s").get_to(m.mean_s);
  j.at("joules_per_run").get_to(m.joules_per_run);
  j.at("joules_ci95").get_to(m.joules_ci95);
  j.at("watts").get_to(m.watts);
  m.kind = kind_from_json(j.at("kind"));
  j.at("meter").get_to(m.meter);
  // Wisdom written before domains were kept has none: still valid, the total is what it was.
  if (j.contains("domains")) j.at("domains").get_to(m.domains);
  j.at("flops_per_run").get_to(m.flops_per_run);
  detail::integer_field(j, "runs").get_to(m.runs);
  j.at("seconds").get_to(m.seconds);
  j.at("stop_reason").get_to(m.stop_reason);
  require(m.runs >= 1 && m.median_s > 0 && m.p95_s > 0 && m.joules_per_run >= 0,
          "a measurement needs runs >= 1, positive latencies and non-negative energy");
}

/** @brief One remembered measurement. */
struct wisdom_entry {
  wisdom_key key;
  measurement result;
  gate_record gate;
  std::string recorded_at;  ///< UTC, ISO 8601
};

/** @brief The current time as ISO 8601 UTC ("2025-01-31T12:00:00Z"). */
inline std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

/** @brief What a lookup found. */
struct wisdom_lookup {
  enum class status { found, stale, missing };
  status what = status::missing;
  std::optional<wisdom_entry> entry;  ///< the matching entry (found)
  std::string reason;                 ///< stale: what changed, in words
};

/** @brief Where the wisdom file lives and the seams tests use. */
struct wisdom_options {
  /**
   * @brief Called after half of the new file's bytes are written, before it is flushed and
   * renamed; tests use it to interrupt a write (throw, or kill the process).
   */
  std::function<void()> after_partial_write;
};

namespace detail {

/** An exclusive flock(2) on `<file>.lock`, held for the object's lifetime. */
class file_lock {
 public:
  explicit file_lock(const std::filesystem::path& path) : path_(path.string() + ".lock") {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0)
      fail("wisdom file '", path.string(), "': cannot open its lock file '", path_,
           "': ", io::detail::errno_text(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd_);
      fail("wisdom file '", path.string(), "': cannot lock '", path_, "': ", io::detail::errno_text(err));
    }
  }
  file_lock(const file_lock&) = delete;
  file_lock& operator=(const file_lock&) = delete;
  ~file_lock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

inline std::string file_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &tm);
  return buffer;
}

/** The fields of two keys that differ, for "stale: compiler changed (gcc 12 -> gcc 13)". */
inline std::string key_differences(const wisdom_key& old_key, const wisdom_key& new_key) {
  const nlohmann::json a = old_key.machine, b = new_key.machine;
  std::string out;
  auto add = [&](const std::string& field, const nlohmann::json& was, const nlohmann::json& now) {
    auto text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    std::string what = field + " changed (" + text(was) + " -> " + text(now) + ")";
    if (field == "cpu_flags") what = "CPU instruction-set flags changed";
    out.append(out.empty() ? "" : ", ").append(what);
  };
  for (auto it = a.begin(); it != a.end(); ++it)
    if (b.contains(it.key()) && b.at(it.key()) != it.value()) add(it.key(), it.value(), b.at(it.key()));
  if (old_key.meter_kind != new_key.meter_kind) add("meter_kind", old_key.meter_kind, new_key.meter_kind);
  return out;
}

/** Whether two keys name the same measurement apart from the machine and the meter. */
inline bool same_identity(const wisdom_key& a, const wisdom_key& b) {
  return a.model == b.model && a.config_hash == b.config_hash && a.input == b.input && a.batch == b.batch &&
         a.dtype == b.dtype && a.policy == b.policy && a.threads == b.threads;
}

}  // namespace detail

/**
 * @brief The wisdom file: load, look up, record, save (merging with what others wrote meanwhile).
 * One object is used by one thread at a time; several processes may share the file.
 */
class wisdom_file {
 public:
  /** @brief Opens (and loads) the wisdom at @p path; a missing file is an empty wisdom. */
  explicit wisdom_file(std::filesystem::path path, wisdom_options options = {})
      : path_(std::move(path)), options_(std::move(options)) {
    reload();
  }

  /**
   * @brief The default location: $JOULE_WISDOM if set, else $XDG_CACHE_HOME/joule/wisdom.json,
   * else $HOME/.cache/joule/wisdom.json, else ./joule-wisdom.json.
   */
  static std::filesystem::path default_path() {
    auto env = [](const char* name) -> std::string {
      const char* v = std::getenv(name);
      return v ? v : "";
    };
    if (const auto p = env("JOULE_WISDOM"); !p.empty()) return p;
    if (const auto x = env("XDG_CACHE_HOME"); !x.empty()) return std::filesystem::path(x) / "joule" / "wisdom.json";
    if (const auto h = env("HOME"); !h.empty()) return std::filesystem::path(h) / ".cache" / "joule" / "wisdom.json";
    return "joule-wisdom.json";
  }

  const std::filesystem::path& path() const noexcept { return path_; }
  /** @brief What loading and saving found that the user should know (a corrupt file set aside...). */
  const std::vector<std::string>& notes() const noexcept { return notes_; }
  /** @brief Entries currently known (from the file and recorded since). */
  std::size_t size() const noexcept { return entries_.size(); }
  const std::map<std::string, wisdom_entry>& entries() const noexcept { return entries_; }

  /** @brief Re-reads the file, setting it aside if it is corrupt or of another format. */
  void reload() {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) {
      entries_.clear();
      for (const auto& [hash, e] : pending_) entries_[hash] = e;
      return;
    }
    detail::file_lock lock(path_);
    entries_ = read_locked();
    for (const auto& [hash, e] : pending_) entries_[hash] = e;
  }

  /** @brief The entry for @p key, or whether an entry for the same candidate exists under another key. */
  wisdom_lookup lookup(const wisdom_key& key) const {
    wisdom_lookup out;
    if (const auto it = entries_.find(hash_of(key)); it != entries_.end()) {
      out.what = wisdom_lookup::status::found;
      out.entry = it->second;
      return out;
    }
    for (const auto& [hash, e] : entries_) {
      if (!detail::same_identity(e.key, key)) continue;
      out.what = wisdom_lookup::status::stale;
      out.reason = detail::key_differences(e.key, key);
      if (e.key.machine.cpu_model == key.machine.cpu_model) break;  // prefer the same machine's entry
    }
    return out;
  }

  /** @brief Adds or replaces the entry for its key (in memory; save() writes it). */
  void record(wisdom_entry entry) {
    const auto hash = hash_of(entry.key);
    entries_[hash] = entry;
    pending_[hash] = std::move(entry);
  }

  /**
   * @brief Writes every entry recorded since the last save, merged into what the file holds now
   * (re-read under the lock). Throws joule::error if the file cannot be written; the previous
   * file is then left as it was.
   */
  void save() {
    if (pending_.empty()) return;
    if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path());
    detail::file_lock lock(path_);
    remove_leftover_temporaries();
    auto merged = read_locked();
    for (const auto& [hash, e] : pending_) merged[hash] = e;

    nlohmann::json entries = nlohmann::json::object();
    for (const auto& [hash, e] : merged)
      entries[hash] = {{"key", e.key}, {"result", e.result}, {"gate", e.gate}, {"recorded_at", e.recorded_at}};
    // The version first, for a reader with a text editor; entries sorted by hash, so files diff well.
    nlohmann::ordered_json doc;
    doc["format_version"] = kWisdomFormatVersion;
    doc["generator"] = std::string("joule ") + kVersion;
    doc["entries"] = nlohmann::ordered_json::parse(entries.dump());
    const std::string text = doc.dump(1) + "\n";

    io::detail::atomic_file out(path_.string(), "wisdom");
    const std::size_t half = text.size() / 2;
    out.write(text.data(), half);
    if (options_.after_partial_write) options_.after_partial_write();
    out.write(text.data() + half, text.size() - half);
    out.commit();
    entries_ = std::move(merged);
    pending_.clear();
  }

 private:
  // Reads and validates the file; a file that fails is moved aside and reported. Caller holds the lock.
  std::map<std::string, wisdom_entry> read_locked() {
    std::map<std::string, wisdom_entry> out;
    std::ifstream in(path_, std::ios::binary);
    if (!in) return out;  // absent (or vanished): empty wisdom
    std::stringstream buffer;
    buffer << in.rdbuf();
    in.close();
    const std::string text = buffer.str();

    nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return set_aside("corrupt", "it is not valid JSON"), out;
    if (!doc.is_object() || !doc.contains("format_version") || !doc["format_version"].is_number_integer())
      return set_aside("corrupt", "it has no integer format_version"), out;
    if (const int version = doc["format_version"].get<int>(); version != kWisdomFormatVersion)
      return set_aside("format-" + std::to_string(version), "its format_version is " + std::to_string(version) +
                                                                ", this joule reads " +
                                                                std::to_string(kWisdomFormatVersion)),
             out;
    if (!doc.contains("entries") || !doc["entries"].is_object())
      return set_aside("corrupt", "it has no \"entries\" object"), out;
    for (auto it = doc["entries"].begin(); it != doc["entries"].end(); ++it) {
      try {
        wisdom_entry e;
        it.value().at("key").get_to(e.key);
        it.value().at("result").get_to(e.result);
        it.value().at("gate").get_to(e.gate);
        it.value().at("recorded_at").get_to(e.recorded_at);
        require(hash_of(e.key) == it.key(), "its hash is not its key's (edited by hand?)");
        out[it.key()] = std::move(e);
      } catch (const std::exception& ex) {
        set_aside("corrupt", "entry " + it.key() + " does not validate: " + ex.what());
        return {};
      }
    }
    return out;
  }

  void set_aside(const std::string& tag, const std::string& why) {
    std::string aside = path_.string() + "." + tag + "-" + detail::file_timestamp();
    for (int n = 1; std::filesystem::exists(aside); ++n)
      aside = path_.string() + "." + tag + "-" + detail::file_timestamp() + "-" + std::to_string(n);
    std::error_code ec;
    std::filesystem::rename(path_, aside, ec);
    if (ec)
      notes_.push_back("wisdom file '" + path_.string() + "' is ignored: " + why + "; it could not be moved aside (" +
                       ec.message() + ") and will be overwritten");
    else
      notes_.push_back("wisdom file '" + path_.string() + "' was set aside as '" + aside + "': " + why +
                       "; it will be rebuilt");
  }

  // A temporary file next to the wisdom is a writer's that crashed: writers hold the lock while
  // their temporary exists, and the caller holds it now.
  void remove_leftover_temporaries() {
    std::error_code ec;
    const auto dir = path_.has_parent_path() ? path_.parent_path() : std::filesystem::path(".");
    const std::string prefix = path_.filename().string() + ".tmp.";
    for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
      if (f.path().filename().string().starts_with(prefix)) {
        std::filesystem::remove(f.path(), ec);
        notes_.push_back("removed '" + f.path().string() + "', left by an interrupted write");
      }
    }
  }

  std::filesystem::path path_;
  wisdom_options options_;
  std::map<std::string, wisdom_entry> entries_;
  std::map<std::string, wisdom_entry> pending_;
  std::vector<std::string> notes_;
};

}  // namespace joule::tuning
