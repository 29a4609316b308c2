#include "bench/workload.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/units.h"

namespace ferry::bench {

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kGet: return "get";
    case Op::kPut: return "put";
    case Op::kList: return "list";
  }
  return "?";
}

Op Mix::Pick(std::uint64_t draw) const {
  if (draw < get) return Op::kGet;
  if (draw < get + put) return Op::kPut;
  return Op::kList;
}

Result<Mix> ParseMix(std::string_view text) {
  Mix mix{.get = 0};
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    std::size_t equals = item.find('=');
    std::string_view op = item.substr(0, equals);
    std::uint64_t weight = 1;
    if (equals != std::string_view::npos &&
        (!ParseUint(item.substr(equals + 1), weight) || weight >= 1'000'000)) {
      return Status::BadRequest(fmt::format("mix: '{}' needs a weight below 1000000, as in get=90", item));
    }
    unsigned* slot = op == "get" ? &mix.get : op == "put" ? &mix.put : op == "list" ? &mix.list : nullptr;
    if (slot == nullptr) {
      return Status::BadRequest(fmt::format("mix: unknown operation '{}' (get, put or list)", op));
    }
    *slot = static_cast<unsigned>(weight);
  }
  if (mix.total() == 0) return Status::BadRequest("mix: no operation has a weight above 0");
  return mix;
}

KeyChooser::KeyChooser(std::uint64_t keys, double alpha) : keys_(std::max<std::uint64_t>(keys, 1)) {
  if (alpha <= 0) return;
  cumulative_.resize(keys_);
  double total = 0;
  for (std::uint64_t i = 0; i < keys_; ++i) {
    total += 1.0 / std::pow(static_cast<double>(i + 1), alpha);
    cumulative_[i] = total;
  }
}

std::uint64_t KeyChooser::Next(std::mt19937_64& random) const {
  if (cumulative_.empty()) return std::uniform_int_distribution<std::uint64_t>(0, keys_ - 1)(random);
  double draw = std::uniform_real_distribution<double>(0, cumulative_.back())(random);
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), draw);
  return std::min<std::uint64_t>(static_cast<std::uint64_t>(it - cumulative_.begin()), keys_ - 1);
}

std::string KeyName(std::string_view prefix, std::uint64_t index) {
  return fmt::format("{}{:06}", prefix, index);
}

}  // namespace ferry::bench
