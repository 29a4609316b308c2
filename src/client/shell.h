// `ferry shell`: an interactive prompt like an FTP client's, but clearer. ls, cd, pwd, get,
// put, rm, stat, lcd, lpwd, help, quit; history and tab completion of commands and remote
// names (libedit) on a terminal, plain lines from a pipe (so it scripts too).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"

namespace ferry::client {

// Splits a command line into words: spaces separate, "double" and 'single' quotes group,
// a backslash escapes the next character. 400 on an unclosed quote.
Result<std::vector<std::string>> SplitShellWords(std::string_view line);

// A remote path typed at the prompt, made absolute from the working folder `cwd` ("" for the
// root, else "a/b/"): "/x" is from the root, "." and ".." move as in a shell (".." of the root
// is the root). Returns the name without a leading '/'; "" is the root itself.
std::string ResolveRemotePath(std::string_view cwd, std::string_view path);

// One level of a recursive listing under `folder`: subfolders first ("sub/"), then files, each
// relative to `folder`, sorted.
std::vector<std::string> ListOneLevel(std::string_view folder,
                                      const std::vector<protocol::FileEntry>& entries);

// Runs the shell until quit or end of input; returns the exit code (0, or 1 if the last
// command failed when input is not a terminal).
int RunShell(const ClientOptions& options);

}  // namespace ferry::client
