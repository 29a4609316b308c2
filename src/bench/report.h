// ferry bench's report: text for a person (with a last `key=value` line for scripts that grep)
// and JSON (--json). Pure.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "bench/load.h"

namespace ferry::bench {

std::string FormatReport(const LoadOptions& options, const LoadReport& report);
nlohmann::json ReportJson(const LoadOptions& options, const LoadReport& report);

}  // namespace ferry::bench
