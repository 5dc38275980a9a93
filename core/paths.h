// Splitting the paths of SPEC §5 ("/dir/sub/name", relative to the mount's
// root) into their components, the one place that does it.
#pragma once

#include <string_view>
#include <vector>

namespace acidfs {

// The components of `path` after its first character, split at every '/',
// as views into `path` (which must outlive them). Nothing is normalised, so
// that validatePath (cas_ops.h) sees what it must reject:
//   "/" and ""  → no component (the root)
//   "/a/b"      → "a", "b"
//   "/a//b"     → "a", "", "b"   (an empty component stays)
//   "/a/"       → "a", ""        (a trailing '/' gives an empty last one)
//   "/a/./.."   → "a", ".", ".." (returned as they are)
// The first character is taken to be the leading '/' and not looked at:
// validate the path first (validatePath) when it comes from outside.
std::vector<std::string_view> pathComponents(std::string_view path);

}  // namespace acidfs
