#include "common/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace ferry {
namespace {

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status().ok());
  Status missing = Status::NotFound("no such file: a.txt");
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(missing.number(), 404);
  EXPECT_EQ(missing.ToString(), "404 not found: no such file: a.txt");
}

TEST(Status, PosixErrorsMapToWireCodes) {
  EXPECT_EQ(PosixError(ENOENT, "open").code(), Code::kNotFound);
  EXPECT_EQ(PosixError(EACCES, "open").code(), Code::kForbidden);
  EXPECT_EQ(PosixError(EXDEV, "open").code(), Code::kForbidden);
  EXPECT_EQ(PosixError(ENXIO, "open").code(), Code::kForbidden);  // a unix socket's file
  EXPECT_EQ(PosixError(ENOSPC, "write").code(), Code::kInsufficientStorage);
  EXPECT_EQ(PosixError(EISDIR, "rename").code(), Code::kConflict);
  EXPECT_EQ(PosixError(EIO, "read").code(), Code::kInternal);
  EXPECT_NE(PosixError(ENOENT, "open a.txt").message().find("open a.txt"), std::string::npos);
}

TEST(Status, CodesRoundTripThroughNumbers) {
  for (int n : {200, 400, 401, 403, 404, 409, 413, 416, 422, 500, 503, 507}) {
    EXPECT_EQ(static_cast<int>(CodeFromNumber(n)), n);
  }
  EXPECT_EQ(CodeFromNumber(418), Code::kInternal);
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> value = 7;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  EXPECT_TRUE(value.status().ok());
  Result<int> error = Status::BadRequest("no");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), Code::kBadRequest);
}

}  // namespace
}  // namespace ferry
