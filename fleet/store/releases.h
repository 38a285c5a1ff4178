// releases.h — uploaded releases: the row (verified metadata) and the blobs it names (the
// release file and each component, content-addressed in the BlobStore).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "page.h"
#include "projects.h"

namespace keel::fleet {

#define KEEL_FLEET_RELEASE_ROW_FIELDS(FIELD)                                                            \
  FIELD(int64_t, id)                                                                                    \
  FIELD(int64_t, project_id)                                                                            \
  FIELD(std::string, name)                                                                              \
  FIELD(std::string, version)                                                                           \
  FIELD(std::string, key_id)  /* the trusted key that signed it */                                      \
  FIELD(std::string, manifest_toml)  /* empty in lists */                                               \
  FIELD(std::string, manifest_json)  /* JSON text: summary, components, signatures, digest, build id */ \
  FIELD(std::string, file_blob)                                                                         \
  FIELD(int64_t, file_size)                                                                             \
  FIELD(int64_t, created_at)                                                                            \
  FIELD(std::string, created_by)
struct ReleaseRow {
  static constexpr const char* table = "releases";
  KEEL_ROW(ReleaseRow, KEEL_FLEET_RELEASE_ROW_FIELDS)
};

struct NewReleaseComponent {
  std::string name{};
  std::string blob{};
  int64_t size = 0;
};

std::optional<ProjectParent> release_parent(Db& db, int64_t id);
std::optional<ReleaseRow> find_release(Db& db, int64_t id);
std::optional<int64_t> release_project(Db& db, int64_t id);
// Without the manifest text (manifest_toml is empty).
Page<ReleaseRow> list_releases(Db& db, const PageRequest& page, std::optional<int64_t> project,
                               std::optional<int64_t> organization);
bool release_exists(Db& db, int64_t project_id, const std::string& name, const std::string& version);
// The row (id, created fields) and its components, in the caller's transaction.
ReleaseRow insert_release(Db& db, const ReleaseRow& release, const std::vector<NewReleaseComponent>& components);
// Blobs of the release's components.
std::vector<std::string> component_blobs(Db& db, int64_t release_id);
// Removes the release row and its components' rows (not the blobs).
void delete_release(Db& db, int64_t release_id);
// Whether any release or component still names the blob.
bool blob_in_use(Db& db, const std::string& blob);
// Every blob a release or component names (start-up garbage collection keeps these).
std::set<std::string> referenced_blobs(Db& db);

}  // namespace keel::fleet
