#include "client/shell.h"

#include <editline/readline.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "client/progress.h"
#include "common/units.h"

namespace ferry::client {

Result<std::vector<std::string>> SplitShellWords(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < line.size()) word += line[++i];
      else word += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) return Status::BadRequest(fmt::format("unclosed {} quote", quote));
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::string ResolveRemotePath(std::string_view cwd, std::string_view path) {
  std::vector<std::string> parts;
  auto walk = [&parts](std::string_view text) {
    while (!text.empty()) {
      std::size_t slash = text.find('/');
      std::string_view segment = text.substr(0, slash);
      if (segment == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!segment.empty() && segment != ".") {
        parts.emplace_back(segment);
      }
      if (slash == std::string_view::npos) break;
      text.remove_prefix(slash + 1);
    }
  };
  if (!path.starts_with('/')) walk(cwd);
  walk(path);
  std::string joined;
  for (const std::string& part : parts) joined += (joined.empty() ? "" : "/") + part;
  return joined;
}

std::vector<std::string> ListOneLevel(std::string_view folder,
                                      const std::vector<protocol::FileEntry>& entries) {
  std::set<std::string> folders, files;
  for (const protocol::FileEntry& entry : entries) {
    if (!std::string_view(entry.name).starts_with(folder)) continue;
    std::string rest = entry.name.substr(folder.size());
    std::size_t slash = rest.find('/');
    if (slash == std::string::npos) files.insert(rest);
    else folders.insert(rest.substr(0, slash + 1));
  }
  std::vector<std::string> level(folders.begin(), folders.end());
  level.insert(level.end(), files.begin(), files.end());
  return level;
}

namespace {

constexpr std::string_view kHelp =
    "  ls [FOLDER]         list a folder (folders end in /)\n"
    "  cd FOLDER           change the remote folder (.. goes up, / is the root)\n"
    "  pwd                 show the remote folder\n"
    "  get NAME [LOCAL]    download (resumes an interrupted one)\n"
    "  put LOCAL [NAME]    upload into the remote folder (resumes too)\n"
    "  rm NAME             delete a remote file\n"
    "  stat NAME           size, time, checksum, cached?\n"
    "  lcd DIR, lpwd       change / show the local folder\n"
    "  help, quit          this text; leave (or Ctrl-D)\n"
    "Tab completes commands and remote names; Up/Down walk the history.\n";

constexpr const char* kCommands[] = {"cd", "get", "help", "lcd", "lpwd", "ls",
                                     "put", "pwd", "quit", "rm", "stat", "exit"};

class Shell {
 public:
  explicit Shell(ClientOptions options) : options_(std::move(options)) {}
  int Run();
  // Remote names that complete `partial` (relative to the working folder).
  std::vector<std::string> Complete(std::string_view partial);

 private:
  Status Execute(const std::vector<std::string>& words);
  Result<Client*> Connected();
  Status Ls(const std::vector<std::string>& args);
  Status Cd(const std::vector<std::string>& args);
  Status Get(const std::vector<std::string>& args);
  Status Put(const std::vector<std::string>& args);
  Result<ObjectName> RemoteName(std::string_view arg) const;

  ClientOptions options_;
  std::unique_ptr<Client> client_;
  std::string cwd_;  // "" or "a/b/"
  bool quit_ = false;
};

Shell* g_shell = nullptr;  // for libedit's C callbacks

char* CompletionGenerator(const char* text, int state) {
  static std::vector<std::string> matches;
  static std::size_t next = 0;
  if (state == 0) {
    matches = g_shell->Complete(text);
    next = 0;
  }
  return next < matches.size() ? ::strdup(matches[next++].c_str()) : nullptr;
}

char* CommandGenerator(const char* text, int state) {
  static std::size_t next = 0;
  if (state == 0) next = 0;
  while (next < std::size(kCommands)) {
    const char* command = kCommands[next++];
    if (std::string_view(command).starts_with(text)) return ::strdup(command);
  }
  return nullptr;
}

char** CompleteLine(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;  // no fallback to local file names
  return rl_completion_matches(text, start == 0 ? CommandGenerator : CompletionGenerator);
}

std::string Prompt(const std::string& cwd) {
  std::string shown = cwd.empty() ? "/" : "/" + cwd.substr(0, cwd.size() - 1);
  return fmt::format("ferry:{}> ", shown);
}

Result<Client*> Shell::Connected() {
  if (!client_) {
    auto connected = Client::Connect(options_);
    if (!connected.ok()) return connected.status();
    client_ = std::move(*connected);
  }
  return client_.get();
}

Result<ObjectName> Shell::RemoteName(std::string_view arg) const {
  std::string name = ResolveRemotePath(cwd_, arg);
  if (name.empty()) return Status::BadRequest("that is the root folder, not a file");
  return ObjectName::FromDecoded(name);
}

std::vector<std::string> Shell::Complete(std::string_view partial) {
  // The folder part of what was typed stays as typed; the rest completes from a listing.
  std::size_t slash = partial.rfind('/');
  std::string typed_folder(slash == std::string_view::npos ? "" : partial.substr(0, slash + 1));
  std::string folder = ResolveRemotePath(cwd_, typed_folder);
  if (!folder.empty()) folder += '/';
  auto client = Connected();
  if (!client.ok()) return {};
  auto entries = (*client)->List(folder);
  if (!entries.ok()) {
    client_.reset();
    return {};
  }
  std::string_view leaf = slash == std::string_view::npos ? partial : partial.substr(slash + 1);
  std::vector<std::string> matches;
  for (const std::string& entry : ListOneLevel(folder, *entries)) {
    if (std::string_view(entry).starts_with(leaf)) matches.push_back(typed_folder + entry);
  }
  return matches;
}

Status Shell::Ls(const std::vector<std::string>& args) {
  std::string folder = ResolveRemotePath(cwd_, args.size() > 1 ? args[1] : ".");
  if (!folder.empty()) folder += '/';
  auto client = Connected();
  if (!client.ok()) return client.status();
  auto entries = (*client)->List(folder);
  if (!entries.ok()) return entries.status();
  std::map<std::string, const protocol::FileEntry*> by_name;
  for (const protocol::FileEntry& entry : *entries) by_name[entry.name] = &entry;
  for (const std::string& item : ListOneLevel(folder, *entries)) {
    auto file = by_name.find(folder + item);
    if (file == by_name.end()) {
      std::cout << fmt::format("{:>12}  {}\n", "-", item);
    } else {
      std::cout << fmt::format("{:>12}  {}{}\n", FormatBytes(file->second->size), item,
                               file->second->cached ? "  (cached)" : "");
    }
  }
  return Status::Ok();
}

Status Shell::Cd(const std::vector<std::string>& args) {
  std::string folder = ResolveRemotePath(cwd_, args.size() > 1 ? args[1] : "/");
  if (!folder.empty()) {
    folder += '/';
    auto client = Connected();
    if (!client.ok()) return client.status();
    auto entries = (*client)->List(folder);
    if (!entries.ok()) return entries.status();
    if (entries->empty()) return Status::NotFound(fmt::format("no folder /{}", folder));
  }
  cwd_ = folder;
  return Status::Ok();
}

Status Shell::Get(const std::vector<std::string>& args) {
  if (args.size() < 2) return Status::BadRequest("get NAME [LOCAL]");
  auto name = RemoteName(args[1]);
  if (!name.ok()) return name.status();
  std::string local = args.size() > 2 ? args[2] : std::filesystem::path(name->str()).filename().string();
  auto client = Connected();
  if (!client.ok()) return client.status();
  auto entry = (*client)->Stat(*name);
  if (!entry.ok()) return entry.status();
  auto started = std::chrono::steady_clock::now();
  TransferInfo info;
  Result<protocol::GetHead> head = Status::Ok();
  {
    ProgressDisplay progress(IsTerminal(STDERR_FILENO), 1, entry->size);
    head = DownloadFile(**client, *name, local,
                        [&](std::uint64_t done) { progress.Update(name->str(), done, entry->size); }, &info);
  }
  if (!head.ok()) return head.status();
  std::cout << fmt::format("{} -> {}: {}\n", name->str(), local,
                           RenderSummary(1, head->size - info.resumed_from,
                                         std::chrono::steady_clock::now() - started,
                                         info.from_cache ? 1 : 0, info.resumed_from > 0 ? 1 : 0, 0));
  return Status::Ok();
}

Status Shell::Put(const std::vector<std::string>& args) {
  if (args.size() < 2) return Status::BadRequest("put LOCAL [NAME]");
  std::string target = args.size() > 2 ? args[2] : std::filesystem::path(args[1]).filename().string();
  auto name = RemoteName(target);
  if (!name.ok()) return name.status();
  std::error_code error;
  std::uint64_t size = std::filesystem::file_size(args[1], error);
  auto client = Connected();
  if (!client.ok()) return client.status();
  auto started = std::chrono::steady_clock::now();
  TransferInfo info;
  Result<protocol::PutDone> done = Status::Ok();
  {
    ProgressDisplay progress(IsTerminal(STDERR_FILENO), 1, size);
    done = UploadFile(**client, args[1], *name,
                      [&](std::uint64_t sent) { progress.Update(name->str(), sent, size); }, &info);
  }
  if (!done.ok()) return done.status();
  std::cout << fmt::format("{} -> {}: {}\n", args[1], name->str(),
                           RenderSummary(1, done->size - info.resumed_from,
                                         std::chrono::steady_clock::now() - started, 0,
                                         info.resumed_from > 0 ? 1 : 0, 0));
  return Status::Ok();
}

Status Shell::Execute(const std::vector<std::string>& words) {
  const std::string& command = words[0];
  if (command == "quit" || command == "exit") {
    quit_ = true;
    return Status::Ok();
  }
  if (command == "help" || command == "?") {
    std::cout << kHelp;
    return Status::Ok();
  }
  if (command == "pwd") {
    std::cout << "/" << cwd_ << "\n";
    return Status::Ok();
  }
  if (command == "lpwd") {
    std::cout << std::filesystem::current_path().string() << "\n";
    return Status::Ok();
  }
  if (command == "lcd") {
    const char* home = std::getenv("HOME");
    std::string dir = words.size() > 1 ? words[1] : (home != nullptr ? home : "/");
    if (::chdir(dir.c_str()) != 0) return PosixError(errno, fmt::format("lcd {}", dir));
    return Status::Ok();
  }
  if (command == "ls") return Ls(words);
  if (command == "cd") return Cd(words);
  if (command == "get") return Get(words);
  if (command == "put") return Put(words);
  if (command == "rm" || command == "stat") {
    if (words.size() != 2) return Status::BadRequest(command + " NAME");
    auto name = RemoteName(words[1]);
    if (!name.ok()) return name.status();
    auto client = Connected();
    if (!client.ok()) return client.status();
    if (command == "rm") return (*client)->Remove(*name);
    auto entry = (*client)->Stat(*name);
    if (!entry.ok()) return entry.status();
    std::cout << fmt::format("{}: {} ({} bytes), checksum {}{}\n", entry->name,
                             FormatBytes(entry->size), entry->size, entry->checksum->ToString(),
                             entry->cached ? ", in the server's cache" : "");
    return Status::Ok();
  }
  return Status::BadRequest(fmt::format("unknown command '{}' (try help)", command));
}

int Shell::Run() {
  bool terminal = ::isatty(STDIN_FILENO) == 1;
  if (terminal) {
    g_shell = this;
    rl_readline_name = "ferry";
    rl_attempted_completion_function = CompleteLine;
    rl_completion_append_character = '\0';  // "dir/" goes on typing; a file name is complete
    std::cout << fmt::format("ferry shell on {}; help lists the commands\n", options_.server);
  }
  Status last;
  while (!quit_) {
    std::string line;
    if (terminal) {
      char* raw = ::readline(Prompt(cwd_).c_str());
      if (raw == nullptr) break;  // Ctrl-D
      line = raw;
      std::free(raw);
      if (!line.empty()) ::add_history(line.c_str());
    } else if (!std::getline(std::cin, line)) {
      break;
    }
    auto words = SplitShellWords(line);
    if (!words.ok()) {
      last = words.status();
    } else if (words->empty()) {
      continue;
    } else {
      last = Execute(*words);
    }
    if (!last.ok()) {
      std::cerr << "error: " << last.ToString() << "\n";
      // A broken connection is made anew by the next command.
      if (client_ && !client_->in_step()) client_.reset();
    }
  }
  if (terminal) std::cout << "\n";
  g_shell = nullptr;
  return terminal || last.ok() ? 0 : 1;
}

}  // namespace

int RunShell(const ClientOptions& options) {
  Shell shell(options);
  return shell.Run();
}

}  // namespace ferry::client
