// releases.h — uploaded releases: the row (verified metadata) and the blobs it names (the
// release file and each component, content-addressed in the BlobStore).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "page.h"

namespace keel::fleet {

struct ReleaseRow {
  static constexpr const char* table = "releases";
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name{};
  std::string version{};
  std::string key_id{};         // the trusted key that signed it
  std::string manifest_toml{};  // empty in lists
  std::string manifest_json{};  // JSON text: summary, components, signatures, digest, build id
  std::string file_blob{};
  int64_t file_size = 0;
  int64_t created_at = 0;
  std::string created_by{};
  static constexpr auto columns() {
    return std::tuple{column("id", &ReleaseRow::id),
                      column("project_id", &ReleaseRow::project_id),
                      column("name", &ReleaseRow::name),
                      column("version", &ReleaseRow::version),
                      column("key_id", &ReleaseRow::key_id),
                      column("manifest_toml", &ReleaseRow::manifest_toml),
                      column("manifest_json", &ReleaseRow::manifest_json),
                      column("file_blob", &ReleaseRow::file_blob),
                      column("file_size", &ReleaseRow::file_size),
                      column("created_at", &ReleaseRow::created_at),
                      column("created_by", &ReleaseRow::created_by)};
  }
};

// The ownership chain above a release.
struct ReleaseParent {
  int64_t organization_id = 0;
  int64_t project_id = 0;
  static constexpr auto columns() {
    return std::tuple{column("organization_id", &ReleaseParent::organization_id, "p.organization_id"),
                      column("project_id", &ReleaseParent::project_id, "r.project_id")};
  }
};

struct NewReleaseComponent {
  std::string name{};
  std::string blob{};
  int64_t size = 0;
};

std::optional<ReleaseParent> release_parent(Db& db, int64_t id);
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
