// What a STORE argument names (SPEC §9): a directory, or a database by its
// libpq URI. How the daemon, the tools and the store tell them apart, and
// how a database's URI is shown without its password.
#pragma once

#include <string>
#include <string_view>

namespace acidfs {

// Whether `store` is a database URI (postgresql:// or postgres://, as libpq
// accepts them) rather than a directory.
bool isDatabaseStore(std::string_view store);

// `store` as logs, /proc/mounts and messages may show it: a URI's password
// (user:PASSWORD@host, or password=... among its parameters) replaced by
// "***". A directory is returned as it is.
std::string shownStore(std::string_view store);

}  // namespace acidfs
